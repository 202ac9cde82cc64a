"""Registers the warehouse in Metabase (through its REST API) with the read-only BI login, and creates a
starter dashboard: per category over time, product count, total stock, average price and rating, and
change over time: price changes per day, products out of stock, a product's price history, products
added and removed. Idempotent: what exists (by name) is kept."""

import time
from dataclasses import dataclass
from typing import Any

import requests

from ecommerce_assets.sql_files import SqlFiles

SQL = SqlFiles("ecommerce_deploy")

DATABASE_NAME = "E-commerce warehouse"
DASHBOARD_NAME = "E-commerce catalog by category"


@dataclass(frozen=True)
class Card:
    name: str
    query: str  # sql/metabase/<query>.sql
    display: str
    dimensions: tuple[str, ...]
    metrics: tuple[str, ...]
    template_tags: tuple[str, ...] = ()  # number variables the query may use in an optional clause


CARDS: tuple[Card, ...] = (
    Card("Product count by category", "product_count", "line", ("report_date", "category"), ("product_count",)),
    Card("Total stock by category", "total_stock", "line", ("report_date", "category"), ("total_stock",)),
    Card("Average price by category", "avg_price", "line", ("report_date", "category"), ("avg_price",)),
    Card("Average rating by category", "avg_rating", "line", ("report_date", "category"), ("avg_rating",)),
    Card("Price changes per day", "price_changes_per_day", "bar", ("change_date",), ("price_changes",)),
    Card("Out-of-stock products over time", "out_of_stock_over_time", "line", ("report_date", "category"),
         ("out_of_stock_count",)),
    Card("A product's price history", "product_price_history", "line", ("valid_from",), ("price",), ("product_id",)),
    Card("Products added and removed per day", "added_removed_per_day", "bar", ("change_date",), ("added", "removed")),
    Card("Revenue by category over time", "revenue_by_category", "line", ("order_date", "category"), ("net_revenue",)),
    Card("Orders per day", "orders_per_day", "bar", ("report_date",), ("orders",)),
    Card("New vs returning customers per day", "new_vs_returning", "bar", ("report_date",),
         ("new_customers", "returning_customers")),
)


@dataclass(frozen=True)
class MetabaseAdmin:
    email: str
    password: str
    site_name: str = "E-commerce data platform"


@dataclass(frozen=True)
class WarehouseConnection:
    host: str
    port: int
    database: str
    user: str
    password: str


class Metabase:
    """The few Metabase API calls the setup needs."""

    def __init__(self, url: str, timeout_seconds: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.timeout = timeout_seconds

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"Metabase {method} {path}: HTTP {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def wait_until_up(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                if self.session.get(f"{self.url}/api/health", timeout=5).json().get("status") == "ok":
                    return
            except (requests.RequestException, ValueError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"Metabase at {self.url} did not become healthy in {seconds:.0f}s")
            time.sleep(3)

    def log_in(self, admin: MetabaseAdmin) -> None:
        """First start: create the admin with the setup token; later starts: log in as that admin."""
        properties = self.call("GET", "/api/session/properties") or {}
        token = properties.get("setup-token")
        if token and not properties.get("has-user-setup"):
            session = self.call("POST", "/api/setup", json={
                "token": token,
                "user": {"email": admin.email, "password": admin.password, "first_name": "Data",
                         "last_name": "Platform", "site_name": admin.site_name},
                "prefs": {"site_name": admin.site_name, "allow_tracking": False},
            })
        else:
            session = self.call("POST", "/api/session", json={"username": admin.email, "password": admin.password})
        self.session.headers["X-Metabase-Session"] = str(session["id"])

    def ensure_database(self, warehouse: WarehouseConnection) -> int:
        listing = self.call("GET", "/api/database")
        databases = listing.get("data", listing) if isinstance(listing, dict) else listing
        for database in databases:
            if database.get("name") == DATABASE_NAME:
                return int(database["id"])
        created = self.call("POST", "/api/database", json={
            "engine": "postgres",
            "name": DATABASE_NAME,
            "details": {"host": warehouse.host, "port": warehouse.port, "dbname": warehouse.database,
                        "user": warehouse.user, "password": warehouse.password, "ssl": False},
        })
        return int(created["id"])

    def ensure_dashboard(self, database_id: int) -> int:
        cards = {c["name"]: int(c["id"]) for c in self.call("GET", "/api/card") or []}
        card_ids = []
        for card in CARDS:
            if card.name not in cards:
                native: dict[str, Any] = {"query": SQL.text(f"metabase/{card.query}.sql")}
                if card.template_tags:
                    native["template-tags"] = {tag: {"id": tag, "name": tag, "display-name": tag.replace("_", " "),
                                                     "type": "number", "required": False}
                                               for tag in card.template_tags}
                cards[card.name] = int(self.call("POST", "/api/card", json={
                    "name": card.name,
                    "display": card.display,
                    "dataset_query": {"type": "native", "database": database_id, "native": native},
                    "visualization_settings": {"graph.dimensions": list(card.dimensions),
                                               "graph.metrics": list(card.metrics)},
                })["id"])
            card_ids.append(cards[card.name])
        for dashboard in self.call("GET", "/api/dashboard") or []:
            if dashboard.get("name") == DASHBOARD_NAME:
                return int(dashboard["id"])
        dashboard_id = int(self.call("POST", "/api/dashboard", json={"name": DASHBOARD_NAME})["id"])
        self.call("PUT", f"/api/dashboard/{dashboard_id}", json={"dashcards": [
            {"id": -(i + 1), "card_id": card_id, "row": (i // 2) * 8, "col": (i % 2) * 12, "size_x": 12, "size_y": 8}
            for i, card_id in enumerate(card_ids)
        ]})
        return dashboard_id


def init_metabase(url: str, admin: MetabaseAdmin, warehouse: WarehouseConnection, wait_seconds: float = 600) -> int:
    """Set Metabase up end to end; returns the dashboard id."""
    metabase = Metabase(url)
    metabase.wait_until_up(wait_seconds)
    metabase.log_in(admin)
    return metabase.ensure_dashboard(metabase.ensure_database(warehouse))
