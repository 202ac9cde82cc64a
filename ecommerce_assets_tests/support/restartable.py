"""Servers a test stops and starts again for real, at the same address and with their data kept: a PostgreSQL
server of its own (pgserver's binaries, `pg_ctl stop -m fast`: sessions get "terminating connection due to
administrator command", new ones are refused) and an S3 server over a folder (`rclone serve s3`, its process
gone). The shared services stay up for the other tests."""

import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import psycopg

from ecommerce_assets.warehouse import migrate
from ecommerce_local.services import free_port, persistent_s3


class RestartablePostgres:
    """pgserver's binaries on a data folder of this test, listening on a loopback TCP port (so relays and other
    network namespaces reach it) and on no socket."""

    def __init__(self, datadir: Path) -> None:
        import pgserver

        server = pgserver.get_server(str(datadir), cleanup_mode=None)  # initdb, then a server on a socket
        self._pgdata, self._user, self._log = server.pgdata, server.system_user, server.log
        self._pg_ctl(["-w", "-m", "fast", "stop"])
        self.port = free_port()
        self.uri = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, args: list[str]) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(args, pgdata=self._pgdata, user=self._user, timeout=60)

    def start(self) -> None:
        self._pg_ctl(["-w", "-o", f"-h 127.0.0.1 -p {self.port} -k ''", "-l", str(self._log), "start"])

    def stop(self) -> None:
        """What an administrator's restart does: sessions terminated ("terminating connection due to
        administrator command"), new connections refused until start()."""
        self._pg_ctl(["-w", "-m", "fast", "stop"])

    def down_for(self, seconds: float) -> None:
        """Stop now, start again `seconds` later (in the background)."""
        self.stop()
        timer = threading.Timer(seconds, self.start)
        timer.daemon = True
        timer.start()

    def wait_for_a_session(self, where: str, what: str, seconds: float = 300) -> None:
        """Poll until a session of the pipeline (`application_name` ecommerce_assets) matching the SQL
        condition `where` on pg_stat_activity exists; `what` names it when none comes."""
        deadline = time.monotonic() + seconds
        with psycopg.connect(self.uri, autocommit=True) as watcher:
            while time.monotonic() < deadline:
                if watcher.execute(f"SELECT 1 FROM pg_stat_activity WHERE application_name = 'ecommerce_assets' "
                                   f"AND pid <> pg_backend_pid() AND {where}").fetchone():
                    return
                time.sleep(0.1)
        raise AssertionError(f"{what} never reached the warehouse in {seconds:.0f} s")


@contextmanager
def restartable_postgres(datadir: Path) -> Iterator[RestartablePostgres]:
    """A migrated warehouse on a PostgreSQL server of its own."""
    server = RestartablePostgres(datadir)
    server.start()
    try:
        with psycopg.connect(server.uri) as conn:
            migrate(conn)
        yield server
    finally:
        with suppress(Exception):  # stopped already
            server.stop()


class RestartableS3:
    def __init__(self, directory: Path, bucket: str) -> None:
        self.directory = directory
        self.port = free_port()
        # the credentials the tests' processes already carry (the daemon inherits them)
        self.credentials = (os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
                            os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"))
        (directory / bucket).mkdir(parents=True, exist_ok=True)  # a bucket is a folder
        self._running: ExitStack | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        stack = ExitStack()
        stack.enter_context(persistent_s3(self.directory, port=self.port, credentials=self.credentials))
        self._running = stack

    def stop(self) -> None:
        if self._running is not None:
            self._running.close()
            self._running = None


@contextmanager
def restartable_s3(directory: Path, bucket: str) -> Iterator[RestartableS3]:
    server = RestartableS3(directory, bucket)
    server.start()
    try:
        yield server
    finally:
        server.stop()
