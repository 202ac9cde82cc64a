"""The platform on this machine: the services the environment does not configure are started embedded (their
data in the state folder), and the definitions are built on them with explicit resources — nothing is
configured by changing this process's environment. Commands that start other processes (`dev`, `exec`) hand
those the same services as environment variables.

The simulator's state is kept apart from the real API's: `--offline` runs use `<state folder>/offline`."""

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from dagster import EnvVar
from psycopg.conninfo import conninfo_to_dict

from ecommerce_assets.diagnosis import SetupProblem
from ecommerce_assets.dsn import with_database
from ecommerce_assets.environment import catalog_api_from_env, lake_from_env, resources_from_env
from ecommerce_assets.io_managers import WarehouseDayIOManager
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.snapshots.factory import stored_source
from ecommerce_assets.warehouse import WarehouseResource, migrate, missing_migrations
from ecommerce_catalog_server import Catalog, CatalogServer, GeneratedCatalog
from ecommerce_catalog_server.daily import DailyCatalog
from ecommerce_catalog_server.shop import DailyCarts, DailyUsers
from ecommerce_deploy.init_warehouse import ensure_database
from ecommerce_local import preflight
from ecommerce_local.services import embedded_postgres, persistent_s3

REPO_ROOT = Path(__file__).resolve().parents[1]
WAREHOUSE_DATABASE = "warehouse"


def say(line: str) -> None:
    print(line, flush=True)


def dagster_database(warehouse_dsn: str) -> str:
    """Where Dagster's run history goes when DAGSTER_PG_URL is unset: `<warehouse database>_dagster` on the
    same server — never the warehouse itself, and one per warehouse."""
    database = conninfo_to_dict(warehouse_dsn).get("dbname") or WAREHOUSE_DATABASE
    return f"{database}_dagster"


@dataclass(frozen=True)
class Simulator:
    """What the bundled catalog server serves: the day-by-day simulator (products, carts and users of each
    day), or the fixed awkward catalog with the day's awkward carts and users."""

    products: int
    awkward: bool
    seed: int = 42

    @property
    def shoppers(self) -> int:
        """Carts in a day's snapshot, and users on the first day: half the catalog."""
        return max(20, self.products // 2)

    def catalog(self, day: date) -> Catalog:
        if self.awkward:
            return GeneratedCatalog(size=self.products, seed=self.seed, awkward=True)
        return DailyCatalog(size=self.products, day=day, seed=self.seed)

    def collections(self, day: date) -> dict[str, Catalog]:
        """/carts and /users of the day."""
        return {"carts": DailyCarts(self.shoppers, self.products, self.shoppers, day, self.seed, self.awkward),
                "users": DailyUsers(self.shoppers, day, self.seed, self.awkward)}

    @property
    def source_name(self) -> str:
        """How its snapshots name their source: another seed, size or kind of catalog is another source."""
        kind = "awkward catalog" if self.awkward else "daily catalog"
        return f"ecommerce_catalog_server ({kind}, seed {self.seed}, {self.products} products)"

    def serve(self, server: CatalogServer, day: date) -> None:
        server.state.catalog = self.catalog(day)
        server.state.collections.update(self.collections(day))

@dataclass
class Services:
    """The services in use and how to reach them."""

    warehouse_dsn: str  # a value for the embedded server; for a configured one, ECOM_PG_DSN (an EnvVar)
    warehouse_configured: bool
    dagster_url: str
    lake: LakeResource
    api_url: str
    source_name: str | None
    dagster_home: Path
    server: CatalogServer | None = None
    env: dict[str, str] = field(default_factory=dict)  # what another process needs to reach the same services

    def warehouse(self) -> WarehouseResource:
        return WarehouseResource(dsn=EnvVar("ECOM_PG_DSN") if self.warehouse_configured else self.warehouse_dsn)

    def resources(self) -> dict[str, Any]:
        """Every resource of the definitions, on these services (the other settings from the environment)."""
        warehouse = self.warehouse()
        catalog_api = catalog_api_from_env(base_url=self.api_url, source_name=self.source_name)
        return {**resources_from_env(), "catalog_api": catalog_api, "lake": self.lake, "warehouse": warehouse,
                "warehouse_io_manager": WarehouseDayIOManager(warehouse=warehouse)}


def _ensure_database(admin_dsn: str, name: str, variable: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
        try:
            ensure_database(conn, name, owner=conn.info.user)
        except psycopg.errors.InsufficientPrivilege:
            raise SetupProblem(
                f"{variable} is unset and the database {name} does not exist; the login of ECOM_PG_DSN may not "
                f"create it\n  → create it (createdb {name}) or set {variable} to a database for Dagster's run history"
            ) from None


def _postgres(stack: ExitStack, state_dir: Path) -> tuple[str, bool, str]:
    """(warehouse DSN, configured?, Dagster's instance URL)."""
    configured = os.environ.get("ECOM_PG_DSN")
    if configured:
        hint = "\n    (or unset ECOM_PG_DSN: ./scripts/run.sh then starts an embedded PostgreSQL in .local/pgdata)"
        preflight.check_postgres(configured, "ECOM_PG_DSN", hint)
        dagster_url = os.environ.get("DAGSTER_PG_URL")
        if dagster_url:
            preflight.check_postgres(dagster_url, "DAGSTER_PG_URL")
            where = "DAGSTER_PG_URL"
        else:
            name = dagster_database(configured)
            _ensure_database(configured, name, "DAGSTER_PG_URL")
            dagster_url = with_database(configured, name)
            where = f"database {name} beside the warehouse (DAGSTER_PG_URL unset)"
        preflight.check_separate_databases(configured, dagster_url)
        say(f"PostgreSQL: ECOM_PG_DSN; Dagster's run history in {where}")
        return configured, True, dagster_url
    admin = stack.enter_context(embedded_postgres(state_dir / "pgdata"))
    warehouse = with_database(admin, WAREHOUSE_DATABASE)
    name = dagster_database(warehouse)
    for database in (WAREHOUSE_DATABASE, name):
        _ensure_database(admin, database, "DAGSTER_PG_URL")
    say(f"PostgreSQL: embedded, data in {state_dir / 'pgdata'} (databases {WAREHOUSE_DATABASE} and {name})")
    return warehouse, False, with_database(admin, name)


def _lake(stack: ExitStack, state_dir: Path, env: dict[str, str]) -> LakeResource:
    if os.environ.get("ECOM_S3_ENDPOINT_URL"):
        lake = lake_from_env()
        preflight.check_lake(lake, "\n    (or unset ECOM_S3_ENDPOINT_URL: the embedded lake keeps its objects in .local/lake)")
        say(f"lake: ECOM_S3_ENDPOINT_URL {lake.endpoint_url}")
        return lake
    served = stack.enter_context(persistent_s3(state_dir / "lake"))
    lake = lake_from_env(endpoint_url=served.endpoint_url, aws_access_key_id=served.access_key_id,
                         aws_secret_access_key=served.secret_access_key)
    env.update({"ECOM_S3_ENDPOINT_URL": served.endpoint_url, "AWS_ACCESS_KEY_ID": served.access_key_id,
                "AWS_SECRET_ACCESS_KEY": served.secret_access_key})
    preflight.check_lake(lake)
    say(f"lake: embedded S3 (rclone) at {served.endpoint_url}, objects kept in {served.directory}")
    return lake


def _catalog(stack: ExitStack, simulator: Simulator | None, first_day: date | None, needs_api: bool,
             lake: LakeResource, stored_key: str | None) -> tuple[str, str | None, CatalogServer | None]:
    """(API base URL, the source's name, the bundled server when it runs)."""
    if simulator is not None:
        server = stack.enter_context(CatalogServer(simulator.catalog(first_day or date.today()),
                                                   collections=simulator.collections(first_day or date.today())))
        kind = "awkward records mixed in" if simulator.awkward else "a catalog that changes from day to day"
        say(f"catalog: bundled catalog server at {server.url} (up to {simulator.products} products, {kind}; "
            f"about {simulator.shoppers} carts a day)")
        return server.url, simulator.source_name, server
    api = catalog_api_from_env()
    if needs_api and stored_key and lake.exists(stored_key):
        source = stored_source(lake.footer(stored_key)[1])
        say(f"catalog: {api.base_url} not needed: the snapshot of {first_day} is stored (from {source})")
        return api.base_url, api.source_name, None
    if needs_api:
        preflight.check_api(api.base_url)
        say(f"catalog: {api.base_url}")
    else:
        try:  # dev, exec: the API may not be needed; say so, do not stop
            preflight.check_api(api.base_url)
        except SetupProblem as problem:
            say(f"warning: {problem}")
    return api.base_url, api.source_name, None


def _pii_key(state_dir: Path, env: dict[str, str]) -> None:
    """The customer-key secret: $ECOM_PII_KEY when set, else one made once and kept in the state folder (never
    printed). Dagster reads it as an EnvVar when a run starts: it is put in this process's environment, and
    in the environment of the processes the runner starts."""
    if os.environ.get("ECOM_PII_KEY"):
        return
    path = state_dir / "pii.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    key = path.read_text().strip()
    os.environ["ECOM_PII_KEY"] = env["ECOM_PII_KEY"] = key
    say(f"customer keys: HMAC secret kept in {path} (ECOM_PII_KEY)")


def _migrate(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        if not missing_migrations(conn):
            return
        try:
            applied = migrate(conn)  # the set-up step; runs themselves only check the schema
        except psycopg.errors.InsufficientPrivilege:
            raise SetupProblem(
                "ECOM_PG_DSN: the warehouse schema is not current and this login may not change it\n"
                "  → run `.venv/bin/ecommerce-warehouse migrate` once with ECOM_PG_DSN set to the schema owner"
            ) from None
    say(f"warehouse migrations applied: {', '.join(applied)}")


@contextmanager
def local_platform(state_dir: Path, simulator: Simulator | None, first_day: date | None = None,
                   needs_api: bool = False, stored_key: str | None = None) -> Iterator[Services]:
    """Check what is configured, start what is not, apply the warehouse's migrations; yields the services. A run
    of one day whose snapshot is stored (`stored_key`, no refetch) does not need the API."""
    env: dict[str, str] = {}
    with ExitStack() as stack:
        warehouse_dsn, configured, dagster_url = _postgres(stack, state_dir)
        lake = _lake(stack, state_dir, env)
        api_url, source_name, server = _catalog(stack, simulator, first_day, needs_api, lake, stored_key)
        dagster_home = Path(os.environ["DAGSTER_HOME"]) if os.environ.get("DAGSTER_HOME") else state_dir / "dagster_home"
        if not os.environ.get("DAGSTER_HOME"):
            dagster_home.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
        _migrate(warehouse_dsn)
        _pii_key(state_dir, env)
        if not configured:
            env["ECOM_PG_DSN"] = warehouse_dsn
        env.update({"DAGSTER_PG_URL": dagster_url, "DAGSTER_HOME": str(dagster_home), "ECOM_API_BASE_URL": api_url})
        if source_name:
            env["ECOM_API_SOURCE_NAME"] = source_name
        yield Services(warehouse_dsn=warehouse_dsn, warehouse_configured=configured, dagster_url=dagster_url,
                       lake=lake, api_url=api_url, source_name=source_name, dagster_home=dagster_home, server=server,
                       env=env)
