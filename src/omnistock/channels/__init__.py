"""Channel adapters: where omnistock meets web shops, tills and marketplaces.

- :mod:`.base`: the :class:`ChannelAdapter` port and :class:`Command`.
- :mod:`.registry`: adapters by name, built-in or from the
  ``omnistock.channels`` entry-point group.
- :mod:`.web`, :mod:`.pos`, :mod:`.marketplace`: the built-in adapters.
- :mod:`.payloads`: their payload schemas; :func:`schemas` as JSON Schema.
"""

from __future__ import annotations

from .base import ChannelAdapter, Command
from .payloads import schemas
from .registry import adapter_class, available, create

__all__ = ["ChannelAdapter", "Command", "adapter_class", "available", "create", "schemas"]
