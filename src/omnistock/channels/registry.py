"""Finding channel adapters: built-ins and the ``omnistock.channels``
entry-point group.

A third-party package adds an adapter without touching omnistock by
declaring, in its ``pyproject.toml``::

    [project.entry-points."omnistock.channels"]
    myshop = "myshop_omnistock:MyShopAdapter"

``adapter_class("myshop")`` then loads it, and ``create("myshop", ...)``
builds one. Stores are found the same way through ``omnistock.storage``
(:func:`omnistock.storage.open_store`). Entry points are read on every
call, so a package installed while the process runs is seen.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from ..errors import InvalidInput
from .base import ChannelAdapter

__all__ = ["GROUP", "adapter_class", "available", "create"]

GROUP = "omnistock.channels"
BUILTIN = {
    "web": "omnistock.channels.web:WebShopAdapter",
    "pos": "omnistock.channels.pos:PosAdapter",
    "marketplace": "omnistock.channels.marketplace:MarketplaceAdapter",
}


def available() -> dict[str, str]:
    """Every adapter name and its ``module:Class`` target. Built-ins win over
    a plugin registering the same name."""
    out = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    out.update(BUILTIN)
    return dict(sorted(out.items()))


def adapter_class(name: str) -> type[ChannelAdapter]:
    """The adapter class registered as ``name``. Raises ``InvalidInput`` if
    none is, or if the target is not a ``ChannelAdapter`` subclass."""
    if not isinstance(name, str) or not name:
        raise InvalidInput("name", name, "must be an adapter name")
    if name in BUILTIN:
        module, _, attr = BUILTIN[name].partition(":")
        obj: Any = getattr(importlib.import_module(module), attr)
    else:
        found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
        if not found:
            raise InvalidInput(
                "name",
                name,
                f"no channel adapter is registered as {name!r} (known: {', '.join(available())})",
            )
        obj = found[0].load()
    if not (isinstance(obj, type) and issubclass(obj, ChannelAdapter)):
        raise InvalidInput("name", name, f"{obj!r} is not a ChannelAdapter subclass")
    return obj


def create(name: str, *args: Any, **options: Any) -> ChannelAdapter:
    """Build the adapter registered as ``name`` with the given options."""
    return adapter_class(name)(*args, **options)
