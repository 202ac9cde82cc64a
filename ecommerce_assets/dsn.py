"""libpq URLs: the same server under another database or login."""

from urllib.parse import quote, urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict


def with_database(dsn: str, database: str, login: tuple[str, str] | None = None) -> str:
    """`dsn` pointing at `database` (query such as `?host=/socket` kept), optionally as another login."""
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if login is not None:
        host = netloc.rpartition("@")[2]
        netloc = f"{quote(login[0], safe='')}:{quote(login[1], safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, f"/{database}", parts.query, parts.fragment))


def same_database(a: str, b: str) -> bool:
    """Whether two libpq URLs name the same database on the same server (logins aside)."""
    def where(dsn: str) -> tuple[str, str, str]:
        parts = conninfo_to_dict(dsn)
        return (str(parts.get("host") or "localhost"), str(parts.get("port") or "5432"),
                str(parts.get("dbname") or parts.get("user") or ""))

    return where(a) == where(b)
