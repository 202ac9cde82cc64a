"""Real services on loopback for a machine that has none: PostgreSQL from pgserver, S3 from moto's server."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def postgres_answers(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


@contextmanager
def embedded_postgres(datadir: Path) -> Iterator[str]:
    """PostgreSQL 16 from the `pgserver` wheel, data kept in `datadir`; yields a libpq URL on loopback."""
    import pgserver  # a dev dependency: imported only when no PostgreSQL is configured

    server = pgserver.get_server(str(datadir), cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@contextmanager
def embedded_s3(host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    """moto's S3-compatible server on loopback; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer  # a dev dependency

    port = port or free_port(host)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
