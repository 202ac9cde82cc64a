from ecommerce_catalog_server.cli import main

main()
