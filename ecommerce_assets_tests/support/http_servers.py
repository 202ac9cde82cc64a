"""Small HTTP servers on loopback for tests and benchmarks: `serving` runs any request handler while a context is
open, `receiving` is an alert webhook that records what is posted to it. (The catalog server, with its fault plans,
is the project's own: `ecommerce_catalog_server`.)"""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing (the test's output stays its own)."""

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def reply_json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def json_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else None


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` answering on a free loopback port, on a thread of its own, while the context is open: the base URL
    (`http://127.0.0.1:PORT`). On exit the server stops serving and its socket is closed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name=f"http-{handler.__name__}", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass(frozen=True)
class Receiver:
    """A webhook endpoint: its URL and every JSON body POSTed to it, in order."""

    url: str
    received: list[dict[str, Any]]


@contextmanager
def receiving(status: int = 200) -> Iterator[Receiver]:
    """A webhook at `<base>/hook` that records each JSON body POSTed to it and answers `status`."""
    received: list[dict[str, Any]] = []

    class Hook(QuietHandler):
        def do_POST(self) -> None:
            received.append(self.json_body())
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(Hook) as base:
        yield Receiver(f"{base}/hook", received)
