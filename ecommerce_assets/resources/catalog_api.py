"""The shop API: a retrying HTTP client for DummyJSON-shaped paginated endpoints (`/products`, `/carts`,
`/users`) and its Dagster resource."""

import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pyarrow as pa
import requests
import urllib3
from dagster import ConfigurableResource
from pydantic import Field
from requests.adapters import HTTPAdapter
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from ecommerce_assets.redaction import redact_text, redact_url
from ecommerce_assets.transforms.raw_snapshot import PageParser, PageShapeError, ParsedPage

DEFAULT_BASE_URL = "https://dummyjson.com"
DEFAULT_PAGE_SIZE = 100
DEFAULT_MAX_RECORDS = 5_000_000
DEFAULT_CONCURRENCY = 1  # the public API allows 100 requests / 10 s: one at a time stays within it
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class CatalogFetchError(RuntimeError):
    """The catalog could not be fetched completely and consistently; nothing must be stored."""


class _UnreadableBody(Exception):
    """An answer whose body was cut short or is not JSON: asked for again."""


@dataclass(frozen=True)
class Page:
    """One answered request: its records exactly as parsed, and where they came from."""

    skip: int
    url: str
    total: int
    count: int
    records: pa.Table
    fetched_at: datetime
    body_bytes: int
    server_seconds: float = 0.0  # what the server reported as its own time (Server-Timing), when it does


@dataclass(frozen=True)
class ClientSettings:
    base_url: str
    page_size: int
    timeout_seconds: float
    max_retries: int
    backoff_factor: float
    max_response_bytes: int
    max_records: int
    concurrency: int = DEFAULT_CONCURRENCY


class PauseGate:
    """Shared by every request of one fetch: a Retry-After received by any of them holds back all the
    others until it has passed, so concurrent requests do not keep hitting a rate-limited API."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def wait(self) -> None:
        while (left := self._until - time.monotonic()) > 0:
            time.sleep(left)


class _CatalogRetry(Retry):
    """urllib3's retry, with a malformed Retry-After falling back to backoff and a ceiling on long waits."""

    max_retry_after: float = 120.0
    gate: PauseGate | None = None

    def new(self, **kw: Any) -> "_CatalogRetry":
        retry = super().new(**kw)
        retry.gate = self.gate
        return retry

    def get_retry_after(self, response: Any) -> float | None:
        try:
            seconds = super().get_retry_after(response)
        except InvalidHeader:
            return None
        return None if seconds is None else min(seconds, self.max_retry_after)

    def sleep_for_retry(self, response: Any) -> bool:
        seconds = self.get_retry_after(response) if self.respect_retry_after_header else None
        if seconds and self.gate is not None:
            self.gate.hold(seconds)
            self.gate.wait()
            return True
        return bool(super().sleep_for_retry(response))


class CatalogClient:
    """Pages through an endpoint (`/products`, say), `concurrency` requests at a time (pages still come out in order), with
    retries and backoff (a Retry-After pauses every request) and consistency checks; a torn catalog raises
    `CatalogFetchError` instead of yielding a partial one."""

    def __init__(self, settings: ClientSettings, quote_errors: bool = True) -> None:
        self.settings = settings
        self.quote_errors = quote_errors
        self.gate = PauseGate()
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        """This thread's session (a requests.Session is not meant to be shared between threads)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._new_session()
            self._local.session = session
            # the session's headers and auth (the API's one host) merged into a request once, for `_request`
            self._local.prepared = session.prepare_request(requests.Request("GET", self.settings.base_url))
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def _request(self, url: str) -> requests.PreparedRequest:
        """A GET of `url` as this thread's session prepares one — its headers, its auth, its cookies of the moment —
        copied from the request prepared with the session. `Session.request` merges the session's settings into
        every request anew: requests' runtime Protocol checks, 0.2 ms a page under the GIL the fetching threads
        share."""
        session = self.session
        request: requests.PreparedRequest = self._local.prepared.copy()
        request.prepare_url(url, None)
        if session.cookies:  # set by an earlier answer: sent as Session.request would send them
            request.headers.pop("Cookie", None)
            request.prepare_cookies(session.cookies)
        return request

    def _new_session(self) -> requests.Session:
        settings = self.settings
        session = requests.Session()
        retry = _CatalogRetry(
            total=settings.max_retries,
            connect=settings.max_retries,
            read=settings.max_retries,
            status=settings.max_retries,
            backoff_factor=settings.backoff_factor,
            backoff_max=30,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET"}),
            respect_retry_after_header=True,
            raise_on_status=True,
        )
        retry.gate = self.gate
        adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=1)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["Accept"] = "application/json"
        # The environment (proxies, NO_PROXY, ~/.netrc, a CA bundle) read once for the API's one host, by requests'
        # own rules, as it would read it on every request: there its look-ups cost a fifth of a page's client time,
        # under the GIL the fetching threads share.
        base = settings.base_url
        environment = session.merge_environment_settings(base, {}, None, True, None)
        session.proxies.update(environment["proxies"])
        session.auth = requests.utils.get_netrc_auth(base)
        if base.lower().startswith("https:"):  # a plain-HTTP API has no certificate to verify
            session.verify = environment["verify"]
        session.trust_env = False
        return session

    def close(self) -> None:
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def page_url(self, path: str, skip: int, limit: int) -> str:
        return f"{self.settings.base_url.rstrip('/')}/{path}?{urlencode({'limit': limit, 'skip': skip})}"

    def public_url(self, url: str) -> str:
        """`url` as it may be logged or stored: credentials masked."""
        return redact_url(url)

    def _get_page(self, url: str, parse: PageParser) -> tuple[ParsedPage, int, float]:
        """GET `url` and parse it; a body that is cut short or not JSON is asked for again."""
        try:
            return self._get_page_once(url, parse)
        except CatalogFetchError as exc:
            # Messages name the URL; a base URL with credentials must not leak through them.
            raise CatalogFetchError(redact_text(str(exc))) from None

    def _get_page_once(self, url: str, parse: PageParser) -> tuple[ParsedPage, int, float]:
        # Connection errors, 429 and 5xx are retried by urllib3 inside the session; a body cut short or
        # not JSON is asked for again here, with the same backoff.
        attempts = self.settings.max_retries + 1
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=self.settings.backoff_factor, max=30),
            retry=retry_if_exception_type(_UnreadableBody),
            reraise=True,
        )
        try:
            return retrying(self._get_and_parse, url, parse)
        except _UnreadableBody as exc:
            raise CatalogFetchError(f"GET {url}: {exc}, still after {attempts} attempts") from None

    def _get_and_parse(self, url: str, parse: PageParser) -> tuple[ParsedPage, int, float]:
        self.gate.wait()
        try:
            response = self.session.send(self._request(url), timeout=self.settings.timeout_seconds, stream=True)
        except requests.exceptions.RequestException as exc:
            raise CatalogFetchError(
                f"GET {url}: gave up after {self.settings.max_retries} retries ({_reason(exc)})"
            ) from exc
        with response:
            if response.status_code >= 400:
                # an error page is quoted only where it cannot hold personal data (see `quote_errors`)
                said = f" {response.text[:200]!r}" if self.quote_errors else ""
                raise CatalogFetchError(f"GET {url}: HTTP {response.status_code}{said}")
            body = self._read_bounded(response, url)
            server_seconds = _server_seconds(response.headers.get("Server-Timing"))
        if body is None:
            raise _UnreadableBody("connection dropped while reading the body")
        try:
            return parse(body), len(body), server_seconds
        except PageShapeError as exc:
            raise CatalogFetchError(f"GET {url}: {exc}") from exc
        except ValueError as exc:
            raise _UnreadableBody(f"body of {len(body)} bytes is not JSON ({str(exc)[:120]})") from exc

    def _read_bounded(self, response: requests.Response, url: str) -> bytes | None:
        """The body, at most `max_response_bytes` of it; None when the connection drops mid-body. Read in one call —
        the declared length, already bounded, or (a body of unknown or encoded length) up to one byte past the
        bound — not in chunks joined after."""
        limit = self.settings.max_response_bytes
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise CatalogFetchError(f"GET {url}: response of {declared} bytes exceeds the {limit}-byte limit")
        whole = declared is not None and declared.isdigit() and not response.headers.get("Content-Encoding")
        try:
            body: bytes = response.raw.read(None if whole else limit + 1, decode_content=True)
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError):
            return None
        if len(body) > limit:
            raise CatalogFetchError(f"GET {url}: response exceeds the {limit}-byte limit")
        return body

    def _page(self, path: str, skip: int, parse: PageParser) -> Page:
        url = self.page_url(path, skip, self.settings.page_size)
        parsed, size, server_seconds = self._get_page(url, parse)
        return Page(skip=skip, url=self.public_url(url), total=parsed.total, count=parsed.count,
                    records=parsed.records, fetched_at=datetime.now(UTC), body_bytes=size,
                    server_seconds=server_seconds)

    def _checked(self, page: Page, total: int | None) -> int:
        """The catalog's total as `page` confirms it; raises when the page tears the snapshot."""
        if total is None:
            if page.total > self.settings.max_records:
                raise CatalogFetchError(
                    f"the API reports {page.total} records, above the limit of {self.settings.max_records} "
                    "(raise ECOM_API_MAX_RECORDS if the catalog really is that large)"
                )
            total = page.total
        elif page.total != total:
            raise CatalogFetchError(
                f"`total` changed during the fetch ({total} -> {page.total} at skip={page.skip}): "
                "the catalog moved while being read; not storing a torn snapshot"
            )
        if not page.count and page.skip < total:
            raise CatalogFetchError(
                f"the API returned no records at skip={page.skip} although total={total}: "
                f"{total - page.skip} records are missing; not storing a torn snapshot"
            )
        return total

    def iter_pages(self, path: str, new_parser: Callable[[], PageParser]) -> Iterator[Page]:
        """Every page of `/<path>` in order until `total` records have been received. With a concurrency
        above 1 the pages after the first are asked for ahead, that many at a time, each parsed in its
        worker thread (`new_parser` makes each thread's parser) while earlier pages are consumed; a page
        shorter than the first leaves a gap that is asked for, in order, before going on."""
        parse = new_parser()
        first = self._page(path, 0, parse)
        total = self._checked(first, None)
        yield first
        skip = first.count
        if self.settings.concurrency > 1 and skip < total:
            skip = yield from self._pages_ahead(path, skip, first.count, total, new_parser, parse)
        while skip < total:
            page = self._page(path, skip, parse)
            total = self._checked(page, total)
            yield page
            skip += page.count
        if skip != total:
            raise CatalogFetchError(f"received {skip} records but the API reported total={total}")

    def _pages_ahead(self, path: str, start: int, step: int, total: int, new_parser: Callable[[], PageParser],
                     parse: PageParser) -> Generator[Page, None, int]:
        """Pages from `start` in steps of `step`, fetched `concurrency` at a time, yielded in order; returns
        the skip reached."""
        local = threading.local()

        def fetch(skip: int) -> Page:
            if not hasattr(local, "parse"):
                local.parse = new_parser()
            return self._page(path, skip, local.parse)

        skips = iter(range(start, total, step))
        ahead = 2 * self.settings.concurrency  # requests in flight or parsed and waiting: bounds memory
        window: deque[tuple[int, Future[Page]]] = deque()
        pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="catalog-fetch")
        try:
            for skip in skips:
                window.append((skip, pool.submit(fetch, skip)))
                if len(window) >= ahead:
                    break
            reached = start
            while window:
                skip, future = window.popleft()
                for next_skip in skips:
                    window.append((next_skip, pool.submit(fetch, next_skip)))
                    break
                if reached > skip:
                    raise CatalogFetchError(
                        f"the page at skip={skip - step} returned more records than the first page ({step}): the "
                        "API pages inconsistently; not storing a snapshot with overlapping pages")
                while reached < skip:  # a short page before this one: ask for the gap, in order
                    gap = self._page(path, reached, parse)
                    total = self._checked(gap, total)
                    yield gap
                    reached += gap.count
                page = future.result()
                total = self._checked(page, total)
                yield page
                reached = skip + page.count
            return reached
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _server_seconds(header: str | None) -> float:
    """Seconds from a `Server-Timing: app;dur=<ms>` header; 0 when absent or unreadable."""
    for part in (header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "dur":
            try:
                return float(value) / 1000
            except ValueError:
                return 0.0
    return 0.0


def _reason(exc: BaseException) -> str:
    reason = getattr(getattr(exc, "args", [None])[0], "reason", None)
    return str(reason or exc)


class CatalogApiResource(ConfigurableResource):
    """The DummyJSON-shaped shop API: the catalog (`/products`), the carts and the users."""

    base_url: str = Field(default=DEFAULT_BASE_URL, description="API root ($ECOM_API_BASE_URL)")
    source_name: str | None = Field(default=None, description="how raw snapshots name the source they came from "
                                                                "($ECOM_API_SOURCE_NAME); unset: the base URL")
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, gt=0, description="records per request ($ECOM_API_PAGE_SIZE)")
    max_records: int = Field(default=DEFAULT_MAX_RECORDS, gt=0,
                             description="largest catalog accepted before the fetch fails ($ECOM_API_MAX_RECORDS)")
    timeout_seconds: float = Field(default=30.0, description="connect and read timeout per request")
    max_retries: int = Field(default=6, description="retries per request on connection errors, 429, 5xx and bad bodies")
    backoff_factor: float = Field(default=0.5, description="exponential backoff base in seconds")
    max_response_bytes: int = Field(default=256 * 1024 * 1024, description="largest response body accepted")
    concurrency: int = Field(default=DEFAULT_CONCURRENCY, ge=1, le=64,
                             description="requests in flight at once; 1 for the public API (100 requests / 10 s), "
                                         "more for an API that allows it ($ECOM_API_CONCURRENCY)")

    def settings(self) -> ClientSettings:
        return ClientSettings(
            base_url=self.base_url,
            page_size=self.page_size,
            timeout_seconds=self.timeout_seconds,
            max_retries=self.max_retries,
            backoff_factor=self.backoff_factor,
            max_response_bytes=self.max_response_bytes,
            max_records=self.max_records,
            concurrency=self.concurrency,
        )

    def client(self, quote_errors: bool = True) -> CatalogClient:
        """A new client; `quote_errors=False` for endpoints whose error pages could carry personal data."""
        return CatalogClient(self.settings(), quote_errors=quote_errors)

    def source(self) -> str:
        """Where snapshots come from, as their provenance records it: the source's name, else the base URL
        (credentials masked)."""
        return self.source_name or redact_url(self.base_url.rstrip("/"))
