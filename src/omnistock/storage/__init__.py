"""Journal stores, chosen by URL scheme.

``open_store(url)`` looks the scheme up among the built-in stores and the
``omnistock.storage`` entry-point group, so a third-party package can add a
store without touching omnistock. Every URL option is checked where it
enters: an unknown option, a malformed value, NaN, an infinity or a value out
of range raises :class:`~omnistock.errors.InvalidInput` naming the option and
the value. :func:`redact` hides a URL's password for printing.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from ..errors import InvalidInput
from .base import Commit, Conditions, Counted, KeyRecord, NewRow, Row, Store, StoreCounters

__all__ = [
    "Commit",
    "Conditions",
    "Counted",
    "KeyRecord",
    "NewRow",
    "Row",
    "Store",
    "StoreCounters",
    "open_store",
    "redact",
    "secrets_of",
]

_BUILTIN = {
    "memory": "omnistock.storage.memory:MemoryStore",
    "sqlite": "omnistock.storage.sqlite:SQLiteStore",
    "postgresql": "omnistock.storage.postgres:PostgresStore",
    "postgres": "omnistock.storage.postgres:PostgresStore",
}


def _load(target: str) -> Any:
    import importlib

    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


_SECRET_PARAMS = frozenset({"password", "passwd", "pwd", "sslpassword"})


def _password_parts(url: str) -> tuple[str, list[tuple[str, str]], bool]:
    """(netloc with the user-info password masked, query pairs with secret
    values masked, whether anything was masked). Raises ``ValueError`` on a
    URL that does not parse."""
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    masked = bool(at) and ":" in userinfo
    if masked:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
    query = []
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        if k.lower() in _SECRET_PARAMS:
            masked, v = True, "***"
        query.append((k, v))
    return netloc, query, masked


def redact(url: Any) -> str:
    """``url`` with any password replaced by ``***``: the one in the user-info
    part (``postgresql://user:secret@host/db``) and any ``password=`` query
    parameter. Anything that is not a URL is returned as ``str(url)``; a URL
    that does not parse as ``<unparsable url>``."""
    text = str(url)
    if "://" not in text:
        return text
    try:
        netloc, query, masked = _password_parts(text)
    except ValueError:
        return "<unparsable url>"
    if not masked:
        return text
    parts = urlsplit(text)._replace(netloc=netloc, query=urlencode(query, safe="*"))
    return urlunsplit(parts)


def secrets_of(url: Any) -> list[str]:
    """The password strings in ``url`` (as written and percent-decoded),
    longest first: what to scrub out of any text that might quote them."""
    text = str(url)
    found: set[str] = set()
    try:
        parts = urlsplit(text)
        userinfo = parts.netloc.rpartition("@")[0]
        if ":" in userinfo:
            found.add(userinfo.split(":", 1)[1])
        for k, v in parse_qsl(parts.query, keep_blank_values=True):
            if k.lower() in _SECRET_PARAMS:
                found.add(v)
    except ValueError:
        return []
    found |= {unquote(x) for x in found}
    return sorted((x for x in found if x), key=len, reverse=True)


def open_store(url: str, **options: Any) -> Store:
    """Open the store for ``url`` (``memory://``, ``sqlite:///path.db``,
    ``postgresql://...`` or a plugin's scheme)."""
    if not isinstance(url, str) or "://" not in url:
        raise InvalidInput("url", redact(url), "must look like 'memory://' or 'sqlite:///path.db'")
    scheme = url.split("://", 1)[0].lower()
    if scheme == "memory":
        if url.split("://", 1)[1]:
            raise InvalidInput(
                "url", url, "a memory store takes no path or options: use 'memory://'"
            )
        if options:
            name = sorted(options)[0]
            raise InvalidInput(name, options[name], "unknown option: a memory store takes none")
    if scheme in _BUILTIN:
        cls = _load(_BUILTIN[scheme])
    else:
        found = [ep for ep in entry_points(group="omnistock.storage") if ep.name == scheme]
        if not found:
            raise InvalidInput("url", redact(url), f"no store is registered for scheme {scheme!r}")
        cls = found[0].load()
    store: Store = cls(url, **options)
    return store
