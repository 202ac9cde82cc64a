"""The bundled catalog server answers like dummyjson.com and is deterministic."""

import requests

from ecommerce_catalog_server import CatalogServer, GeneratedCatalog
from ecommerce_catalog_server.catalog import CATEGORIES, generate_product


def test_pages_and_shape() -> None:
    with CatalogServer(GeneratedCatalog(size=95, seed=1)) as server:
        first = requests.get(f"{server.url}/products", params={"limit": 40, "skip": 0}, timeout=5).json()
        last = requests.get(f"{server.url}/products", params={"limit": 40, "skip": 80}, timeout=5).json()
        default = requests.get(f"{server.url}/products", timeout=5).json()
        everything = requests.get(f"{server.url}/products", params={"limit": 0}, timeout=5).json()
        categories = requests.get(f"{server.url}/products/category-list", timeout=5).json()
        missing = requests.get(f"{server.url}/nope", timeout=5)
    assert (first["total"], first["skip"], first["limit"], len(first["products"])) == (95, 0, 40, 40)
    assert (last["skip"], last["limit"], [p["id"] for p in last["products"]]) == (80, 15, list(range(81, 96)))
    assert default["limit"] == 30
    assert len(everything["products"]) == 95
    assert categories == list(CATEGORIES)
    assert missing.status_code == 404
    assert set(first["products"][0]) >= {
        "id", "title", "description", "category", "price", "discountPercentage", "rating", "stock", "tags", "brand",
        "sku", "weight", "dimensions", "availabilityStatus", "reviews", "minimumOrderQuantity", "meta", "images",
    }


def test_deterministic_from_seed() -> None:
    assert generate_product(5, seed=1) == generate_product(5, seed=1)
    assert generate_product(5, seed=1) != generate_product(5, seed=2)
    assert GeneratedCatalog(size=10, seed=9).page(0, 10) == GeneratedCatalog(size=10, seed=9).page(0, 10)


def test_awkward_catalog_has_duplicates_at_the_end() -> None:
    catalog = GeneratedCatalog(size=200, seed=1, awkward=True)
    assert catalog.total() == 202
    tail = catalog.page(200, 10)
    assert [p["id"] for p in tail] == [97, 194]


def test_drop_ids() -> None:
    catalog = GeneratedCatalog(size=10, drop_ids=frozenset({2, 3}))
    assert catalog.total() == 8
    assert [p["id"] for p in catalog.page(0, 100)] == [1, 4, 5, 6, 7, 8, 9, 10]
