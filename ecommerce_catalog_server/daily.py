"""A catalog that changes from day to day: day D's catalog is a pure function of (seed, size, D).

Every product follows its own schedule, computed in closed form (no day is derived from the one before, so
any day costs the same to produce, in any order):

* **price** — each product holds a price for a stretch of 20–60 days, then moves up or down within ±10% of
  its base price (about 2.5% of the products change price on a given day);
* **stock** — every product sells a few units every 1–5 days from a restocked level and is restocked at
  the end of its 10–40 day cycle; many run out of stock for the last days of a cycle. The availability
  status follows the stock (0: Out of Stock, up to 10: Low Stock, else In Stock);
* **assortment** — `size` slots, each holding one product for 200–600 days before a new product (a new
  id) replaces it: about `size / 400` products disappear for good and as many appear each day; and about
  1% are away at any time, in stretches of 5–15 days (they disappear and come back);
* **category** — about 2% of the products sit in another category for 30-day stretches.

Every other field is the generated product's (`generate_product`).
"""

from dataclasses import dataclass
from datetime import date
from functools import cached_property, lru_cache
from typing import Any

from ecommerce_catalog_server.catalog import CATEGORIES, generate_product

EPOCH = date(2025, 1, 1)
_MASK = (1 << 64) - 1


def mix(*parts: int) -> int:
    """splitmix64 over the parts: a fast, well-spread 64-bit hash of small integers."""
    h = 0x9E3779B97F4A7C15
    for part in parts:
        h = (h ^ (part & _MASK)) * 0xBF58476D1CE4E5B9 & _MASK
        h = (h ^ (h >> 27)) * 0x94D049BB133111EB & _MASK
        h ^= h >> 31
    return h


def unit(*parts: int) -> float:
    return mix(*parts) / 2**64


@lru_cache(maxsize=250_000)
def base_product(product_id: int, seed: int) -> dict[str, Any]:
    """The fields that never change (shared across days: do not modify; `product` copies it)."""
    return generate_product(product_id, seed)


def status_of(stock: int) -> str:
    return "Out of Stock" if stock == 0 else "Low Stock" if stock <= 10 else "In Stock"


@dataclass(frozen=True)
class DailyCatalog:
    """The catalog of `day` (from 2025-01-01 on): up to `size` products, ids in ascending order."""

    size: int
    day: date
    seed: int = 42

    @property
    def day_number(self) -> int:
        return (self.day - EPOCH).days

    def _generation(self, slot: int) -> int:
        lifetime = 200 + mix(self.seed, slot, 20) % 401
        return (self.day_number + mix(self.seed, slot, 21) % lifetime) // lifetime

    def _away(self, product_id: int) -> bool:
        block = 5 + mix(self.seed, product_id, 1) % 11
        return unit(self.seed, product_id, 2, self.day_number // block) < 0.01

    def present(self, product_id: int) -> bool:
        slot, generation = (product_id - 1) % self.size + 1, (product_id - 1) // self.size
        return generation == self._generation(slot) and not self._away(product_id)

    @cached_property
    def ids(self) -> list[int]:
        ids = (slot + self.size * self._generation(slot) for slot in range(1, self.size + 1))
        return sorted(p for p in ids if not self._away(p))

    def state(self, product_id: int) -> dict[str, Any]:
        """The fields that change from day to day, for a product present on this day."""
        n, seed, p = self.day_number, self.seed, product_id
        base = base_product(p, seed)
        period = 20 + mix(seed, p, 3) % 41
        epoch = (n + mix(seed, p, 4) % period) // period
        price = round(float(base["price"]) * (0.9 + 0.2 * unit(seed, p, 5, epoch)), 2)
        cycle = 10 + mix(seed, p, 6) % 31
        level = 20 + mix(seed, p, 7) % 130
        every = 1 + mix(seed, p, 8) % 5
        t = (n + mix(seed, p, 9) % cycle) % cycle
        per_sale = max(1, round(level * every / (cycle * 0.8)))
        stock = max(0, level - per_sale * (t // every))
        category = str(base["category"])
        if unit(seed, p, 10, n // 30) < 0.02:
            category = CATEGORIES[(CATEGORIES.index(category) + 1 + mix(seed, p, 11) % 5) % len(CATEGORIES)]
        return {"price": price, "stock": stock, "availabilityStatus": status_of(stock), "category": category}

    def product(self, product_id: int) -> dict[str, Any]:
        record = dict(base_product(product_id, self.seed))
        record.update(self.state(product_id))
        record["tags"] = [record["category"].split("-")[0], record["tags"][1]]
        return record

    def total(self) -> int:
        return len(self.ids)

    def page(self, skip: int, limit: int) -> list[dict[str, Any]]:
        return [self.product(p) for p in self.ids[skip : skip + limit]]

    def categories(self) -> list[str]:
        return sorted({self.state(p)["category"] for p in self.ids})
