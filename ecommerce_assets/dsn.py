"""libpq URLs: the same server under another database or login."""

from urllib.parse import quote, urlsplit, urlunsplit


def with_database(dsn: str, database: str, login: tuple[str, str] | None = None) -> str:
    """`dsn` pointing at `database` (query such as `?host=/socket` kept), optionally as another login."""
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if login is not None:
        host = netloc.rpartition("@")[2]
        netloc = f"{quote(login[0], safe='')}:{quote(login[1], safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, f"/{database}", parts.query, parts.fragment))
