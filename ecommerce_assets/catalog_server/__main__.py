from ecommerce_assets.catalog_server.cli import main

main()
