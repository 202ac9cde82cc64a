"""The catalog API: a retrying HTTP client for DummyJSON-shaped `/products` and its Dagster resource."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pyarrow as pa
import requests
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


class _CatalogRetry(Retry):
    """urllib3's retry, with a malformed Retry-After falling back to backoff and a ceiling on long waits."""

    max_retry_after: float = 120.0

    def get_retry_after(self, response: Any) -> float | None:
        try:
            seconds = super().get_retry_after(response)
        except InvalidHeader:
            return None
        return None if seconds is None else min(seconds, self.max_retry_after)


class CatalogClient:
    """Pages through `/products` with one session, retries with backoff (honouring Retry-After) and
    consistency checks; a torn catalog raises `CatalogFetchError` instead of yielding a partial one."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.session = requests.Session()
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
        adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=4)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["Accept"] = "application/json"

    def close(self) -> None:
        self.session.close()

    def products_url(self, skip: int, limit: int) -> str:
        return f"{self.settings.base_url.rstrip('/')}/products?{urlencode({'limit': limit, 'skip': skip})}"

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
        try:
            response = self.session.get(url, timeout=self.settings.timeout_seconds, stream=True)
        except requests.exceptions.RequestException as exc:
            raise CatalogFetchError(
                f"GET {url}: gave up after {self.settings.max_retries} retries ({_reason(exc)})"
            ) from exc
        with response:
            if response.status_code >= 400:
                raise CatalogFetchError(f"GET {url}: HTTP {response.status_code} {response.text[:200]!r}")
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
        """The body, at most `max_response_bytes` of it; None when the connection drops mid-body."""
        limit = self.settings.max_response_bytes
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise CatalogFetchError(f"GET {url}: response of {declared} bytes exceeds the {limit}-byte limit")
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=1 << 20):
                size += len(chunk)
                if size > limit:
                    raise CatalogFetchError(f"GET {url}: response exceeds the {limit}-byte limit")
                chunks.append(chunk)
        except requests.exceptions.RequestException:
            return None
        return b"".join(chunks)

    def iter_pages(self, parse: PageParser) -> Iterator[Page]:
        """Every page of `/products` in order until `total` records have been received."""
        skip = 0
        total: int | None = None
        while total is None or skip < total:
            url = self.products_url(skip, self.settings.page_size)
            parsed, size, server_seconds = self._get_page(url, parse)
            fetched_at = datetime.now(UTC)
            page_total = parsed.total
            if total is None:
                total = page_total
                if total > self.settings.max_records:
                    raise CatalogFetchError(
                        f"the API reports {total} products, above the limit of {self.settings.max_records} "
                        "(raise ECOM_API_MAX_RECORDS if the catalog really is that large)"
                    )
            elif page_total != total:
                raise CatalogFetchError(
                    f"`total` changed during the fetch ({total} -> {page_total} at skip={skip}): "
                    "the catalog moved while being read; not storing a torn snapshot"
                )
            if not parsed.count and skip < total:
                raise CatalogFetchError(
                    f"the API returned no records at skip={skip} although total={total}: "
                    f"{total - skip} records are missing; not storing a torn snapshot"
                )
            yield Page(skip=skip, url=self.public_url(url), total=total, count=parsed.count, records=parsed.records,
                       fetched_at=fetched_at, body_bytes=size, server_seconds=server_seconds)
            skip += parsed.count
        if skip != total:
            raise CatalogFetchError(f"received {skip} records but the API reported total={total}")


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
    """The DummyJSON-shaped catalog API."""

    base_url: str = Field(default=DEFAULT_BASE_URL, description="catalog API root ($ECOM_API_BASE_URL)")
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, gt=0, description="products per request ($ECOM_API_PAGE_SIZE)")
    max_records: int = Field(default=DEFAULT_MAX_RECORDS, gt=0,
                             description="largest catalog accepted before the fetch fails ($ECOM_API_MAX_RECORDS)")
    timeout_seconds: float = Field(default=30.0, description="connect and read timeout per request")
    max_retries: int = Field(default=6, description="retries per request on connection errors, 429, 5xx and bad bodies")
    backoff_factor: float = Field(default=0.5, description="exponential backoff base in seconds")
    max_response_bytes: int = Field(default=256 * 1024 * 1024, description="largest response body accepted")

    def settings(self) -> ClientSettings:
        return ClientSettings(
            base_url=self.base_url,
            page_size=self.page_size,
            timeout_seconds=self.timeout_seconds,
            max_retries=self.max_retries,
            backoff_factor=self.backoff_factor,
            max_response_bytes=self.max_response_bytes,
            max_records=self.max_records,
        )

    def client(self) -> CatalogClient:
        return CatalogClient(self.settings())
