"""Services for tests and benchmarks only: moto's in-memory S3 server, and whether a PostgreSQL answers."""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

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
