"""Feeds for integrations: the journal as a durable, acknowledged stream
per consumer (``journal``), and the channel availability changes derived
from it (``availability``). ``Inventory.feed``/``ack``/``availability``
(``face_integration.py``) are the public face; docs/integration.md is the
guide."""

from .availability import AvailabilityChange
from .journal import MAX_LIMIT, MAX_WAIT

__all__ = ["MAX_LIMIT", "MAX_WAIT", "AvailabilityChange"]
