"""Journal stores, chosen by URL scheme.

``open_store(url)`` looks the scheme up among the built-in stores and the
``omnistock.storage`` entry-point group, so a third-party package can add a
store without touching omnistock.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from ..errors import InvalidInput
from .base import Commit, KeyRecord, NewRow, Row, Store

__all__ = ["Commit", "KeyRecord", "NewRow", "Row", "Store", "open_store"]

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


def open_store(url: str, **options: Any) -> Store:
    """Open the store for ``url`` (``memory://``, ``sqlite:///path.db``,
    ``postgresql://...`` or a plugin's scheme)."""
    if not isinstance(url, str) or "://" not in url:
        raise InvalidInput("url", url, "must look like 'memory://' or 'sqlite:///path.db'")
    scheme = url.split("://", 1)[0].lower()
    if scheme in _BUILTIN:
        cls = _load(_BUILTIN[scheme])
    else:
        found = [ep for ep in entry_points(group="omnistock.storage") if ep.name == scheme]
        if not found:
            raise InvalidInput("url", url, f"no store is registered for scheme {scheme!r}")
        cls = found[0].load()
    store: Store = cls(url, **options)
    return store
