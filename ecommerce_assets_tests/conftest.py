"""Real services for the tests: PostgreSQL (a throwaway database per test, copied from a migrated template),
an S3 server on loopback (a throwaway bucket per test) and the bundled catalog server. Every test belongs to
one tier, by its folder: unit/, integration/, system/, and soak/ (long runs at production durations, only with
`--soak`)."""

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from dagster import DagsterInstance
from psycopg import sql

from ecommerce_assets.dsn import with_database
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.warehouse import migrate
from ecommerce_assets.warehouse.migrations import migration_names
from ecommerce_assets_tests.support.helpers import REPO_ROOT, clean_env, write_instance_yaml
from ecommerce_assets_tests.support.services import embedded_s3, postgres_answers
from ecommerce_catalog_server import CatalogServer, GeneratedCatalog
from ecommerce_local.services import embedded_postgres, persistent_s3

pytest_plugins = ["ecommerce_assets_tests.support.cpu_time"]  # the CPU each test cost, printed at the end

DEFAULT_TEST_PG_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
TIERS = ("unit", "integration", "system", "soak")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true",
                     help="run only the soak tier: minutes-long runs at production durations (./scripts/test.sh --soak)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test is marked with the tier of its folder; a test outside the tier folders is an error. The slowest
    tier is collected first (and in each tier the property tests), so that on several workers its long tests
    start first and the unit tests fill in around them (the suite's wall time is then close to its work divided
    by the workers). The soak tier runs alone, with `--soak`, and never otherwise (it would double the suite's
    time)."""
    for item in items:
        tier = Path(str(item.path)).parent.name
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: tests live in one of {', '.join(TIERS)}/ (their tier)")
        item.add_marker(getattr(pytest.mark, tier))
    soak = config.getoption("--soak")
    deselected = [item for item in items if (Path(str(item.path)).parent.name == "soak") != soak]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]
    items.sort(key=_longest_first)


def _longest_first(item: pytest.Item) -> tuple[int, bool]:
    """The slowest tier first; within a tier, the property tests (hypothesis: the unit tier's long ones) before
    the rest, so that none of them starts last and leaves the other workers idle while it runs alone."""
    prop = bool(getattr(getattr(item, "obj", None), "is_hypothesis_test", False))
    return -TIERS.index(Path(str(item.path)).parent.name), not prop


@pytest.fixture(autouse=True)
def _no_step_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs made by a test fail at once on a transient fault — a fault is what most such tests are about, and
    five retries would take minutes; the tests of the retries turn them on themselves. (Processes a test starts
    with `clean_env()` get the platform's default.)"""
    monkeypatch.setenv("ECOM_STEP_RETRIES", "0")


@pytest.fixture(scope="session")
def pg_admin_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL superuser DSN: $ECOM_TEST_PG_DSN, the local server, else an embedded pgserver."""
    dsn = os.environ.get("ECOM_TEST_PG_DSN", DEFAULT_TEST_PG_DSN)
    if postgres_answers(dsn):
        yield dsn
        return
    with embedded_postgres(tmp_path_factory.mktemp("pgdata")) as embedded:
        yield embedded


def _template_name() -> str:
    """The migrated template's name: it changes whenever a migration file does."""
    digest = hashlib.sha256()
    for name in migration_names():
        digest.update(name.encode())
        digest.update((REPO_ROOT / "ecommerce_assets/warehouse/sql/migrations" / name).read_bytes())
    return f"ecom_template_{digest.hexdigest()[:12]}"


@pytest.fixture(scope="session")
def pg_template(pg_admin_dsn: str) -> str:
    """A database with every migration applied, made once (whichever test worker comes first, under an
    advisory lock) and copied for each test: CREATE DATABASE … TEMPLATE takes a fraction of migrating."""
    name = _template_name()
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('ecommerce test template'))")
        try:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                building = f"{name}_building"
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(building)))
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
                with psycopg.connect(with_database(pg_admin_dsn, building)) as template:
                    migrate(template)  # a set-up step, as in every deployment: runs only check the schema
                conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(building), sql.Identifier(name)))
            for (old,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'ecom\\_template\\_%%' "
                                       "AND datname <> %s", (name,)).fetchall():
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(old)))
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('ecommerce test template'))")
    return name


@pytest.fixture
def pg_dsn(pg_admin_dsn: str, pg_template: str) -> Iterator[str]:
    """A fresh, migrated warehouse database for this test, dropped afterwards."""
    name = f"ecom_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(pg_template)))
    try:
        yield with_database(pg_admin_dsn, name)
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on loopback, with dummy credentials in the environment for boto3 and pyarrow."""
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1")
    try:
        with embedded_s3() as endpoint:
            yield endpoint
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def rclone_endpoint(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The local platform's S3 server (`rclone serve s3` over a folder), with the same credentials as moto's."""
    with persistent_s3(tmp_path_factory.mktemp("rclone") / "lake", credentials=("testing", "testing")) as served:
        yield served.endpoint_url


@pytest.fixture
def lake(s3_endpoint: str) -> Iterator[LakeResource]:
    """A fresh bucket for this test, emptied and removed afterwards."""
    yield from throwaway_bucket(s3_endpoint)


@pytest.fixture(params=["moto", "rclone"])
def any_lake(request: pytest.FixtureRequest, s3_endpoint: str) -> Iterator[LakeResource]:
    """A fresh bucket on each S3 server the project runs on: moto (tests) and rclone (the local platform)."""
    endpoint = s3_endpoint if request.param == "moto" else request.getfixturevalue("rclone_endpoint")
    yield from throwaway_bucket(endpoint)


def throwaway_bucket(endpoint: str) -> Iterator[LakeResource]:
    resource = LakeResource(bucket=f"test-{uuid.uuid4().hex[:16]}", endpoint_url=endpoint)
    resource.ensure_bucket()
    yield resource
    client = resource.get_client()
    for key, _, _ in resource.objects(""):
        client.delete_object(Bucket=resource.bucket, Key=key)
    client.delete_bucket(Bucket=resource.bucket)


@pytest.fixture
def catalog_server() -> Iterator[CatalogServer]:
    """The bundled catalog server with an awkward 250-product catalog."""
    with CatalogServer(GeneratedCatalog(size=250, seed=7, awkward=True)) as server:
        yield server


@pytest.fixture
def dagster_instance(pg_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterInstance]:
    """A real Dagster instance whose runs, events and schedules live in this test's PostgreSQL database."""
    home = tmp_path_factory.mktemp("dagster_home")
    write_instance_yaml(home, pg_dsn)
    with DagsterInstance.from_config(str(home)) as instance:
        yield instance


@pytest.fixture
def empty_database(pg_admin_dsn: str) -> Iterator[str]:
    """A throwaway database with nothing in it (Dagster's instance storage for one test)."""
    name = f"ecom_dagster_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(pg_admin_dsn, name)
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def services_env(pg_dsn: str, empty_database: str, lake: LakeResource, s3_endpoint: str) -> dict[str, str]:
    """Variables naming this test's own warehouse, Dagster database and bucket (configured services)."""
    return clean_env(ECOM_PG_DSN=pg_dsn, DAGSTER_PG_URL=empty_database, ECOM_S3_ENDPOINT_URL=s3_endpoint,
                     ECOM_S3_BUCKET=lake.bucket, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
