"""A threaded HTTP server answering like dummyjson.com: /products (and its category lists), /carts, /users."""

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlparse

from ecommerce_catalog_server.catalog import Catalog, GeneratedCatalog, JsonTextCatalog
from ecommerce_catalog_server.faults import Fault, FaultPlan

DEFAULT_LIMIT = 30  # dummyjson's page size when `limit` is not given


@dataclass
class ServerState:
    """What the server serves; tests swap `catalog` and `faults` between runs."""

    catalog: Catalog  # /products
    collections: dict[str, Catalog] = field(default_factory=dict)  # the other paths: "carts", "users"
    faults: FaultPlan = field(default_factory=FaultPlan)
    max_limit: int | None = None  # cap on records per page, like a server that ignores large limits
    page_cache: dict[tuple[int, int], bytes] = field(default_factory=dict)
    requests: int = 0
    log: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_request(self, path: str) -> int:
        with self.lock:
            self.requests += 1
            self.log.append(path)
            return self.requests


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: with Nagle's algorithm the body of a small answer waited for the
    # client's delayed ACK of the headers, 40 ms an answer on loopback (a page of 40 products took 44 ms)
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        state = self.server.state
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path in ("/products/categories", "/products/category-list"):
            names = state.catalog.categories()
            body: Any = names if url.path.endswith("list") else [
                {"slug": n, "name": n.replace("-", " ").title(), "url": f"/products/category/{n}"} for n in names
            ]
            self._send_json(body)
            return
        name = url.path.strip("/")
        collection = state.catalog if name == "products" else state.collections.get(name)
        if collection is None:
            self._send_json({"message": f"Route GET:{url.path} not found"}, HTTPStatus.NOT_FOUND)
            return
        started = time.perf_counter()
        number = state.next_request(self.path)
        if state.faults.delay_seconds:
            time.sleep(state.faults.delay_seconds)
        try:
            limit = int(query.get("limit", DEFAULT_LIMIT))
            skip = int(query.get("skip", 0))
        except ValueError:
            self._send_json({"message": "limit and skip must be integers"}, HTTPStatus.BAD_REQUEST)
            return
        total = collection.total()
        if limit <= 0:
            limit = total
        if state.max_limit is not None:
            limit = min(limit, state.max_limit)
        fault = state.faults.fault_for(number)
        cached = state.page_cache.get((skip, limit)) if fault is None and name == "products" else None
        if cached is not None:
            self._send_bytes(cached, "application/json", headers=_server_timing(started))
            return
        if isinstance(collection, JsonTextCatalog):
            texts = collection.page_bytes(max(skip, 0), limit)
            body = f'{{"{name}":['.encode() + b",".join(texts) + \
                f'],"total":{total},"skip":{skip},"limit":{len(texts)}}}'.encode()
            self._send_bytes(body, "application/json", headers=_server_timing(started))
            return
        records = collection.page(max(skip, 0), limit)
        payload = {name: records, "total": total, "skip": skip, "limit": len(records)}
        if fault is not None and self._inject(fault, payload):
            return
        self._send_json(payload, headers=_server_timing(started))

    def _inject(self, fault: Fault, payload: dict[str, Any]) -> bool:
        """Apply `fault`; True when the answer has been sent (or the connection dropped)."""
        if fault.kind == "delay":
            time.sleep(fault.seconds)
            return False
        if fault.kind == "total_shift":
            payload["total"] = int(payload["total"]) + fault.status
            return False
        if fault.kind == "status":
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            self._send_json({"message": "injected fault"}, HTTPStatus(fault.status), headers)
        elif fault.kind == "truncate":
            body = json.dumps(payload).encode()
            self._send_bytes(body[: len(body) // 2], "application/json")
        elif fault.kind == "cut":
            body = json.dumps(payload).encode()
            self._send_bytes(body, "application/json", sent=len(body) // 2)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif fault.kind == "not_json":
            self._send_bytes(b"<html><body>502 Bad Gateway</body></html>", "text/html")
        elif fault.kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.close_connection = True
            self.connection.close()
        return True

    def _send_json(self, body: Any, status: HTTPStatus = HTTPStatus.OK, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(json.dumps(body).encode(), "application/json", status, headers)

    def _send_bytes(self, data: bytes, content_type: str, status: HTTPStatus = HTTPStatus.OK,
                    headers: dict[str, str] | None = None, sent: int | None = None) -> None:
        """`data` declared whole; its first `sent` bytes written (all of them unless told)."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data if sent is None else data[:sent])


def _server_timing(started: float) -> dict[str, str]:
    # The server's own time, so clients (the benchmark) can tell it from theirs.
    return {"Server-Timing": f"app;dur={(time.perf_counter() - started) * 1000:.3f}"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: ServerState, verbose: bool) -> None:
        super().__init__(address, _Handler)
        self.state = state
        self.verbose = verbose


class CatalogServer:
    """Runs the catalog server on a background thread: `with CatalogServer(catalog) as server: server.url`."""

    def __init__(self, catalog: Catalog | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 faults: FaultPlan | None = None, max_limit: int | None = None, verbose: bool = False,
                 collections: dict[str, Catalog] | None = None) -> None:
        self.state = ServerState(catalog=catalog or GeneratedCatalog(size=194), faults=faults or FaultPlan(),
                                 max_limit=max_limit, collections=dict(collections or {}))
        self._httpd = _Server((host, port), self.state, verbose)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def pregenerate(self, page_size: int) -> None:
        """Serialize every page of `page_size` up front, so serving costs the server next to nothing."""
        total = self.state.catalog.total()
        for skip in range(0, total, page_size):
            products = self.state.catalog.page(skip, page_size)
            body = {"products": products, "total": total, "skip": skip, "limit": len(products)}
            self.state.page_cache[(skip, page_size)] = json.dumps(body).encode()

    def start(self) -> "CatalogServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="catalog-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "CatalogServer":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
