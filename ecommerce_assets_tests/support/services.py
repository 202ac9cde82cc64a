"""Services for tests and benchmarks only: moto's in-memory S3 server, whether a PostgreSQL answers, and
throwaway databases and buckets (generators: closing one drops what it made)."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from ecommerce_assets.dsn import with_database
from ecommerce_assets.lake import LakeResource
from ecommerce_local.services import free_port


def postgres_answers(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


@contextmanager
def embedded_s3(host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    """moto's S3-compatible server on loopback, in memory (tests); yields its endpoint URL."""
    import logging

    from moto.server import ThreadedMotoServer  # a dev dependency

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
    port = port or free_port(host)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def throwaway_database(pg_admin_dsn: str, pg_template: str) -> Iterator[str]:
    """A fresh copy of the migrated template (its DSN), dropped when the generator is closed."""
    name = f"ecom_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(pg_template)))
    try:
        yield with_database(pg_admin_dsn, name)
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def throwaway_bucket(endpoint: str) -> Iterator[LakeResource]:
    """A fresh bucket on the S3 server at `endpoint`, emptied and removed when the generator is closed."""
    resource = LakeResource(bucket=f"test-{uuid.uuid4().hex[:16]}", endpoint_url=endpoint)
    resource.ensure_bucket()
    try:
        yield resource
    finally:
        client = resource.get_client()
        for key, _, _ in resource.objects(""):
            client.delete_object(Bucket=resource.bucket, Key=key)
        client.delete_bucket(Bucket=resource.bucket)
