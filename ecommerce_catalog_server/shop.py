"""What the shop sells, day by day: users who join over time and carts that appear, stay a few days and go —
like dummyjson.com's /users and /carts, each day a pure function of (seed, sizes, day), in closed form (any
day costs the same to produce, in any order).

* **users** — `size` users on 2025-01-01, and `size / 100` more joining every day (ids in joining order).
  Every user carries every field the real service's users carry, personal data and secrets included:
  names, e-mail, phone, username, password, birth date, IP and MAC addresses, SSN, EIN, the address with
  its coordinates, bank card and IBAN, crypto wallet, company, university.
* **carts** — about `size` carts in a day's snapshot: each day `size / 4` new carts appear, each stays
  1–7 days (then the service no longer lists it). A cart is priced at the prices and from the assortment
  of its first day's catalog (`DailyCatalog`); users are drawn with a skew, so many come back; 2% of the
  carts list a product twice; 1% change (a quantity grows) on their last day.
* `awkward` adds carts the rules must reject (every 29th) and odd users (every 31st: a missing e-mail, one
  in capitals padded with spaces, a string id, a record that is not an object).
"""

import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from ecommerce_catalog_server.catalog import ListCatalog
from ecommerce_catalog_server.daily import EPOCH, DailyCatalog, base_product, mix, unit

CART_DAYS = 7  # the longest a cart stays listed
_FIRST = ("Emily", "Michael", "Sophia", "James", "Emma", "Olivia", "Alexander", "Ava", "Ethan", "Isabella",
          "Liam", "Mia", "Noah", "Charlotte", "William", "Amelia", "Benjamin", "Harper", "Lucas", "Evelyn")
_LAST = ("Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Lee",
         "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Thompson", "White", "Harris")
_PLACES = (("Phoenix", "Mississippi", "MS"), ("Houston", "Alabama", "AL"), ("Washington", "Kansas", "KS"),
           ("Seattle", "Pennsylvania", "PA"), ("Jacksonville", "Florida", "FL"), ("San Antonio", "Texas", "TX"),
           ("Columbus", "Ohio", "OH"), ("Denver", "Colorado", "CO"), ("Chicago", "Illinois", "IL"),
           ("Fort Worth", "New Mexico", "NM"))
_ROLES = ("user",) * 18 + ("moderator", "admin")
_CENT = Decimal("0.01")


def _money(value: Decimal) -> float:
    return float(value.quantize(_CENT, rounding=ROUND_HALF_UP))


@lru_cache(maxsize=400_000)
def generate_user(user_id: int, seed: int) -> dict[str, Any]:
    """One user with every field dummyjson.com's users carry (do not modify: shared across days)."""
    h = mix(seed, user_id, 100)
    first, last = _FIRST[h % len(_FIRST)], _LAST[(h >> 8) % len(_LAST)]
    city, state, code = _PLACES[(h >> 16) % len(_PLACES)]
    age = 18 + (h >> 24) % 60
    digits = f"{mix(seed, user_id, 101):020d}"
    return {
        "id": user_id, "firstName": first, "lastName": last, "maidenName": _LAST[(h >> 32) % len(_LAST)],
        "age": age, "gender": "female" if (h >> 40) % 2 else "male",
        "email": f"{first.lower()}.{last.lower()}{user_id}@x.example.com",
        "phone": f"+1 {digits[:3]}-{digits[3:6]}-{digits[6:10]}", "username": f"{first.lower()}{user_id}",
        "password": f"{last.lower()}pass{digits[10:14]}", "birthDate": f"{2025 - age}-{1 + h % 12}-{1 + h % 28}",
        "image": f"https://dummyjson.com/icon/{first.lower()}{user_id}/128", "bloodGroup": "O-",
        "height": 150 + h % 50, "weight": 50 + h % 60, "eyeColor": "Green", "hair": {"color": "Brown", "type": "Curly"},
        "ip": f"{h % 223 + 1}.{(h >> 8) % 256}.{(h >> 16) % 256}.{(h >> 24) % 256}",
        "address": {"address": f"{h % 9000 + 100} Main Street", "city": city, "state": state, "stateCode": code,
                    "postalCode": digits[14:19], "coordinates": {"lat": (h % 18000) / 100 - 90,
                                                                 "lng": ((h >> 20) % 36000) / 100 - 180},
                    "country": "United States"},
        "macAddress": ":".join(f"{(h >> (8 * i)) % 256:02x}" for i in range(6)),
        "university": "University of Wisconsin--Madison",
        "bank": {"cardExpire": f"{1 + h % 12:02d}/{28 + h % 5}", "cardNumber": digits[:16],
                 "cardType": "Visa", "currency": "USD", "iban": f"GB{digits[:2]}UZLR{digits[2:16]}"},
        "company": {"department": "Engineering", "name": f"{last} and Sons", "title": "Sales Manager",
                    "address": {"address": f"{h % 500} Tenth Street", "city": "San Francisco", "state": "Wisconsin",
                                "stateCode": "WI", "postalCode": digits[15:20],
                                "coordinates": {"lat": 37.77, "lng": -122.42}, "country": "United States"}},
        "ein": f"{digits[:3]}-{digits[3:6]}", "ssn": f"{digits[6:9]}-{digits[9:11]}-{digits[11:15]}",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0",
        "crypto": {"coin": "Bitcoin", "wallet": f"0x{mix(seed, user_id, 102):016x}{h:016x}", "network": "Ethereum (ERC20)"},
        "role": _ROLES[(h >> 48) % len(_ROLES)],
    }


def _awkward_user(user: dict[str, Any], user_id: int) -> Any:
    kind = (user_id // 31) % 4
    if kind == 0:
        return {k: v for k, v in user.items() if k != "email"}            # no e-mail: no customer key
    if kind == 1:
        return {**user, "email": f"  {str(user['email']).upper()} "}      # the same customer key as trimmed, lower
    if kind == 2:
        return {**user, "id": str(user_id)}                               # rejected: id not an integer
    return f"user {user['email']}"                                        # rejected: not an object (personal text)


@dataclass(frozen=True)
class DailyUsers:
    """The users listed on `day`: ids 1 .. size + joined."""

    size: int
    day: date
    seed: int = 42
    awkward: bool = False

    def total(self) -> int:
        return users_on(self.size, self.day)

    def record(self, user_id: int) -> Any:
        user = generate_user(user_id, self.seed)
        if self.awkward and user_id % 31 == 0:
            return _awkward_user(user, user_id)
        return user

    def page(self, skip: int, limit: int) -> list[Any]:
        return [self.record(u) for u in range(skip + 1, min(self.total(), skip + limit) + 1)]

    def categories(self) -> list[str]:
        return []


def users_on(size: int, day: date) -> int:
    return size + max(0, (day - EPOCH).days) * max(1, size // 100)


@dataclass(frozen=True)
class DailyCarts:
    """The carts listed on `day`, about `size` of them, priced from the catalog of `products` products."""

    size: int
    products: int
    users: int
    day: date
    seed: int = 42
    awkward: bool = False

    @property
    def per_day(self) -> int:
        return max(1, self.size * 2 // (CART_DAYS + 1))  # new carts a day; each stays (1 + 7) / 2 days on average

    @cached_property
    def ids(self) -> list[int]:
        today = (self.day - EPOCH).days
        listed = []
        for first in range(max(0, today - CART_DAYS + 1), today + 1):
            for k in range(self.per_day):
                cart_id = first * self.per_day + k + 1
                if today - first < self.lifetime(cart_id):
                    listed.append(cart_id)
        return listed

    def lifetime(self, cart_id: int) -> int:
        return 1 + mix(self.seed, cart_id, 200) % CART_DAYS

    def first_day(self, cart_id: int) -> date:
        return EPOCH + timedelta(days=(cart_id - 1) // self.per_day)

    def total(self) -> int:
        return len(self.ids)

    def page(self, skip: int, limit: int) -> list[Any]:
        return [self.cart(c) for c in self.ids[skip : skip + limit]]

    def categories(self) -> list[str]:
        return []

    def cart(self, cart_id: int) -> Any:
        first = self.first_day(cart_id)
        lines = _cart_lines(cart_id, self.seed, self.products, first)
        last_day = first + timedelta(days=self.lifetime(cart_id) - 1)
        if self.day == last_day and self.lifetime(cart_id) > 1 and unit(self.seed, cart_id, 201) < 0.01:
            lines = [_line(lines[0], int(lines[0]["quantity"]) + 1), *lines[1:]]  # changed after first seen
        joined = users_on(self.users, first)
        user_id = 1 + int(joined * unit(self.seed, cart_id, 202) ** 2)  # skewed: low ids come back often
        cart = {"id": cart_id, "products": lines,
                "total": _money(sum((Decimal(str(line["total"])) for line in lines), Decimal(0))),
                "discountedTotal": _money(sum((Decimal(str(line["discountedTotal"])) for line in lines), Decimal(0))),
                "userId": user_id, "totalProducts": len(lines), "totalQuantity": sum(int(x["quantity"]) for x in lines)}
        if self.awkward and cart_id % 29 == 0:
            return _awkward_cart(cart, cart_id)
        return cart


def _line(line: dict[str, Any], quantity: int) -> dict[str, Any]:
    price = Decimal(str(line["price"]))
    total = price * quantity
    discounted = (total * (1 - Decimal(str(line["discountPercentage"])) / 100)).quantize(_CENT, rounding=ROUND_HALF_UP)
    return {**line, "quantity": quantity, "total": _money(total), "discountedTotal": float(discounted)}


@lru_cache(maxsize=64)
def _catalog(products: int, first: date, seed: int) -> DailyCatalog:
    return DailyCatalog(products, first, seed)


@lru_cache(maxsize=200_000)
def _cart_lines(cart_id: int, seed: int, products: int, first: date) -> list[dict[str, Any]]:
    catalog = _catalog(products, first, seed)
    ids = catalog.ids
    count = 1 + mix(seed, cart_id, 203) % 5
    lines = []
    for n in range(count):
        product_id = ids[mix(seed, cart_id, 204, n) % len(ids)]
        base = base_product(product_id, seed)
        line = {"id": product_id, "title": base["title"], "price": catalog.state(product_id)["price"],
                "quantity": 0, "total": 0.0, "discountPercentage": base["discountPercentage"], "discountedTotal": 0.0,
                "thumbnail": base["thumbnail"]}
        lines.append(_line(line, 1 + mix(seed, cart_id, 205, n) % 5))
    if unit(seed, cart_id, 206) < 0.02:
        lines.append(dict(lines[0]))  # the same product on two lines: both count
    return lines


def _awkward_cart(cart: dict[str, Any], cart_id: int) -> Any:
    """Carts the rules reject, one reason each (cycling through them by id)."""
    kind = (cart_id // 29) % 9
    lines = [dict(x) for x in cart["products"]]
    if kind == 0:
        lines[0]["total"] = float(lines[0]["total"]) + 1                   # line_total_mismatch
    elif kind == 1:
        lines[0]["price"] = -abs(float(lines[0]["price"]))                 # price_negative
    elif kind == 2:
        lines[0]["quantity"] = 0                                           # quantity_not_whole (not >= 1)
    elif kind == 3:
        lines[0]["quantity"] = 1.5                                         # quantity_not_whole
    elif kind == 4:
        return {**cart, "products": {"0": lines[0]}}                       # lines_not_a_list
    elif kind == 5:
        return {k: v for k, v in cart.items() if k != "userId"}            # user_id_missing
    elif kind == 6:
        return {**cart, "total": float(cart["total"]) + 5}                 # cart_total_mismatch
    elif kind == 7:
        lines[0]["id"] = "p1"                                              # product_id_not_integer
    else:
        return [cart_id]                                                   # not_an_object
    return {**cart, "products": lines}


@dataclass(frozen=True)
class RealService:
    """dummyjson.com's complete answers (`GET /<name>?limit=0` saved as <name>.json), served as they are."""

    folder: Path

    def collection(self, name: str) -> ListCatalog:
        return ListCatalog(records=json.loads((self.folder / f"{name}.json").read_text())[name])

    def collections(self) -> dict[str, ListCatalog]:
        return {name: self.collection(name) for name in ("products", "carts", "users")}
