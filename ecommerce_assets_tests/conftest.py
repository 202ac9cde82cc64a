"""Real services for the tests: PostgreSQL (a throwaway database per test), an S3 server on loopback (a
throwaway bucket per test) and the bundled catalog server."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from dagster import DagsterInstance
from psycopg import sql

from ecommerce_assets.dsn import with_database
from ecommerce_assets.migrations import migrate
from ecommerce_assets.resources.lake import S3LakeResource
from ecommerce_assets_tests.helpers import clean_env
from ecommerce_catalog_server import CatalogServer, GeneratedCatalog
from ecommerce_local.services import embedded_postgres, embedded_s3, persistent_s3, postgres_answers

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TEST_PG_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def pg_admin_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL superuser DSN: $ECOM_TEST_PG_DSN, the local server, else an embedded pgserver."""
    dsn = os.environ.get("ECOM_TEST_PG_DSN", DEFAULT_TEST_PG_DSN)
    if postgres_answers(dsn):
        yield dsn
        return
    with embedded_postgres(tmp_path_factory.mktemp("pgdata")) as embedded:
        yield embedded


@pytest.fixture
def pg_dsn(pg_admin_dsn: str) -> Iterator[str]:
    """A fresh, migrated warehouse database for this test, dropped afterwards."""
    name = f"ecom_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = with_database(pg_admin_dsn, name)
    with psycopg.connect(dsn) as conn:
        migrate(conn)  # a set-up step, as in every deployment: runs only check the schema
    try:
        yield dsn
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
def lake(s3_endpoint: str) -> Iterator[S3LakeResource]:
    """A fresh bucket for this test, emptied and removed afterwards."""
    yield from throwaway_bucket(s3_endpoint)


@pytest.fixture(params=["moto", "rclone"])
def any_lake(request: pytest.FixtureRequest, s3_endpoint: str) -> Iterator[S3LakeResource]:
    """A fresh bucket on each S3 server the project runs on: moto (tests) and rclone (the local platform)."""
    endpoint = s3_endpoint if request.param == "moto" else request.getfixturevalue("rclone_endpoint")
    yield from throwaway_bucket(endpoint)


def throwaway_bucket(endpoint: str) -> Iterator[S3LakeResource]:
    resource = S3LakeResource(bucket=f"test-{uuid.uuid4().hex[:16]}", endpoint_url=endpoint)
    resource.ensure_bucket()
    yield resource
    client = resource.client()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=resource.bucket_name()):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=resource.bucket_name(), Key=obj["Key"])
    client.delete_bucket(Bucket=resource.bucket_name())


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


def write_instance_yaml(home: Path, pg_dsn: str) -> None:
    """The repository's dagster.yaml, with the storage pointed at `pg_dsn` instead of $DAGSTER_PG_URL."""
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    config["storage"]["postgres"]["postgres_url"] = pg_dsn
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))


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
def services_env(pg_dsn: str, empty_database: str, lake: S3LakeResource, s3_endpoint: str) -> dict[str, str]:
    """Variables naming this test's own warehouse, Dagster database and bucket (configured services)."""
    return clean_env(ECOM_PG_DSN=pg_dsn, DAGSTER_PG_URL=empty_database, ECOM_S3_ENDPOINT_URL=s3_endpoint,
                     ECOM_S3_BUCKET=lake.bucket_name(), AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
