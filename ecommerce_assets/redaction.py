"""Credentials never reach logs, metadata or error messages: passwords in URLs and DSNs are masked."""

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@")
_KEYWORD = re.compile(r"(?i)\b(password|secret|token)=(?P<value>[^\s&;'\"]+)")


def redact_url(url: str) -> str:
    """`url` with the password of its userinfo masked."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{parts.username}:{MASK}@{host}", parts.path, parts.query, parts.fragment))


def redact_text(text: str) -> str:
    """Every `scheme://user:password@` and `password=…` in free text, masked."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return _KEYWORD.sub(lambda m: f"{m.group(1)}={MASK}", text)
