import sys

from ecommerce_local.arguments import answer_early

answer_early(sys.argv[1:])  # before the platform's modules load: they take seconds to import

from ecommerce_local.cli import main  # noqa: E402

main()
