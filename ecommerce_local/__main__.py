import sys

from ecommerce_local.arguments import answer_help

answer_help(sys.argv[1:])  # before the platform's modules load: they take seconds to import

from ecommerce_local.cli import main  # noqa: E402

main()
