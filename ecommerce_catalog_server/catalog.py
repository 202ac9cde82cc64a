"""Deterministic DummyJSON-shaped product catalogs."""

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

CATEGORIES: tuple[str, ...] = (
    "beauty", "fragrances", "furniture", "groceries", "home-decoration", "kitchen-accessories",
    "laptops", "mens-shirts", "mens-shoes", "mens-watches", "mobile-accessories", "motorcycle",
    "skin-care", "smartphones", "sports-accessories", "sunglasses", "tablets", "tops", "vehicle",
    "womens-bags", "womens-dresses", "womens-jewellery", "womens-shoes", "womens-watches",
)
_BRANDS = ("Essence", "Glamour Beauty", "Velvet Touch", "Chic Cosmetics", "Nail Couture", "Apple",
           "Samsung", "Oppo", "Huawei", "Dell", "Lenovo", "Asus", "Nike", "Puma", None)
_WORDS = ("classic", "premium", "compact", "deluxe", "eco", "smart", "wireless", "organic",
          "vintage", "ultra", "portable", "handmade", "sport", "travel", "studio", "daily")
_STATUSES = ("In Stock", "Low Stock", "Out of Stock")


class Catalog(Protocol):
    """What the server needs from a catalog: its size and a slice of records."""

    def total(self) -> int: ...

    def page(self, skip: int, limit: int) -> list[dict[str, Any]]: ...

    def categories(self) -> list[str]: ...


@dataclass(frozen=True)
class ListCatalog:
    """A catalog of explicit records, served in order (tests build exact cases with it)."""

    records: Sequence[dict[str, Any]]

    def total(self) -> int:
        return len(self.records)

    def page(self, skip: int, limit: int) -> list[dict[str, Any]]:
        return list(self.records[skip : skip + limit])

    def categories(self) -> list[str]:
        return sorted({str(r["category"]) for r in self.records if isinstance(r.get("category"), str)})


@dataclass(frozen=True)
class JsonTextCatalog:
    """A catalog of records given as the exact bytes of their JSON (anything a real API could send: lone
    surrogate escapes, bytes that are not UTF-8, NaN, huge numbers), served verbatim."""

    records: Sequence[bytes]

    def total(self) -> int:
        return len(self.records)

    def page(self, skip: int, limit: int) -> list[dict[str, Any]]:
        raise NotImplementedError("JsonTextCatalog pages are served as bytes (page_bytes)")

    def page_bytes(self, skip: int, limit: int) -> list[bytes]:
        return list(self.records[skip : skip + limit])

    def categories(self) -> list[str]:
        return []


def generate_product(product_id: int, seed: int) -> dict[str, Any]:
    """One product with every DummyJSON field, a pure function of (id, seed)."""
    rng = random.Random(seed * 1_000_003 + product_id)
    category = CATEGORIES[rng.randrange(len(CATEGORIES))]
    words = rng.sample(_WORDS, 2)
    title = f"{words[0].title()} {words[1]} {category.replace('-', ' ')} {product_id}"
    stock = rng.randrange(0, 150)
    created = f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:" \
              f"{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z"
    return {
        "id": product_id,
        "title": title,
        "description": f"The {words[0]} {words[1]} choice in {category}, item {product_id}.",
        "category": category,
        "price": round(rng.uniform(0.5, 2500.0), 2),
        "discountPercentage": round(rng.uniform(0, 25), 2),
        "rating": round(rng.uniform(1, 5), 2),
        "stock": stock,
        "tags": [category.split("-")[0], words[0]],
        "brand": _BRANDS[rng.randrange(len(_BRANDS))],
        "sku": f"{category[:3].upper()}-{product_id:07d}-{rng.randrange(36**3):04X}",
        "weight": rng.randrange(1, 10),
        "dimensions": {"width": round(rng.uniform(5, 30), 2), "height": round(rng.uniform(5, 30), 2),
                       "depth": round(rng.uniform(5, 30), 2)},
        "warrantyInformation": f"{rng.randrange(1, 4)} year warranty",
        "shippingInformation": f"Ships in {rng.randrange(1, 8)} business days",
        "availabilityStatus": "Out of Stock" if stock == 0 else _STATUSES[0 if stock > 10 else 1],
        "reviews": [
            {"rating": rng.randrange(1, 6), "comment": "Would buy again!", "date": created,
             "reviewerName": "Reviewer", "reviewerEmail": "reviewer@example.com"}
        ],
        "returnPolicy": "30 days return policy",
        "minimumOrderQuantity": rng.randrange(1, 50),
        "meta": {"createdAt": created, "updatedAt": created, "barcode": f"{rng.randrange(10**12, 10**13)}",
                 "qrCode": "https://cdn.example.com/qr.png"},
        "images": [f"https://cdn.example.com/products/{product_id}/1.webp"],
        "thumbnail": f"https://cdn.example.com/products/{product_id}/thumbnail.webp",
    }


def _awkward(product: dict[str, Any], product_id: int) -> dict[str, Any] | None:
    """Deterministic awkward variants of some records; None keeps the product as generated."""
    kind = product_id % 23
    p = dict(product)
    if kind == 1:
        p["price"] = f"{p['price']}"                      # numeric string
        p["stock"] = f" {p['stock']} "                     # padded numeric string
    elif kind == 2:
        p["price"] = None                                  # null price
        p["rating"] = ""                                   # empty string -> null
    elif kind == 3:
        p["category"] = f"  {p['category']}\t"            # padded category
    elif kind == 4:
        p.pop("category")                                  # missing category -> unknown
    elif kind == 5:
        p["category"] = "   "                              # blank category -> unknown
    elif kind == 6:
        p["price"] = -abs(float(p["price"]))               # rejected: negative price
    elif kind == 7:
        p["stock"] = -3                                    # rejected: negative stock
    elif kind == 8:
        p["price"] = "12,50"                               # rejected: not numeric
    elif kind == 9:
        p.pop("id")                                        # rejected: no id
    elif kind == 10:
        p["stock"] = 4.5                                   # rejected: not a whole number
    elif kind == 11:
        p["rating"] = 5.5                                  # rejected: rating out of range
    elif kind == 12:
        p["warehouseZone"] = {"aisle": 7}                  # unknown field (schema drift)
        p["stock"] = None                                  # null stock
    elif kind == 13:
        p["id"] = True                                     # rejected: a boolean is not an id
    elif kind == 14:
        p["id"] = str(product_id)                          # rejected: id not an integer
    else:
        return None
    return p


@dataclass(frozen=True)
class GeneratedCatalog:
    """`size` generated products with ids 1..size; `awkward` mixes in the hard cases tests need.

    With `awkward`, every 23rd product takes one awkward shape and every 97th id is served twice
    (the second copy, with changed stock, comes at the end of the catalog), and `drop_ids` /
    `category_override` let a test change the catalog between two fetches.
    """

    size: int
    seed: int = 42
    awkward: bool = False
    drop_ids: frozenset[int] = field(default_factory=frozenset)
    price_factor: float = 1.0

    @cached_property
    def _ids(self) -> list[int] | None:
        if not self.drop_ids:
            return None  # ids are 1..size: no list needed, even for a million products
        return [i for i in range(1, self.size + 1) if i not in self.drop_ids]

    @cached_property
    def _duplicates(self) -> list[int]:
        return [i for i in range(97, self.size + 1, 97) if i not in self.drop_ids] if self.awkward else []

    def total(self) -> int:
        base = self.size if self._ids is None else len(self._ids)
        return base + len(self._duplicates)

    def record(self, position: int) -> dict[str, Any]:
        ids = self._ids
        base_count = len(ids) if ids is not None else self.size
        if position < base_count:
            product_id = ids[position] if ids is not None else position + 1
            product = self._product(product_id)
            if self.awkward:
                return _awkward(product, product_id) or product
            return product
        dup_id = self._duplicates[position - base_count]
        later = self._product(dup_id)
        later["stock"] = int(later["stock"]) + 1000       # the later copy wins
        return later

    def _product(self, product_id: int) -> dict[str, Any]:
        product = generate_product(product_id, self.seed)
        if self.price_factor != 1.0:
            product["price"] = round(float(product["price"]) * self.price_factor, 2)
        return product

    def page(self, skip: int, limit: int) -> list[dict[str, Any]]:
        end = min(self.total(), skip + limit)
        return [self.record(i) for i in range(skip, end)]

    def categories(self) -> list[str]:
        return list(CATEGORIES)
