from ecommerce_local.cli import main

main()
