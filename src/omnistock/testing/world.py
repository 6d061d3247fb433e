"""A fake clock and a small standard ledger for adapter tests (no pytest
needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..inventory import Inventory
from ..values import Channel, Location

__all__ = ["NOW", "FakeClock", "standard_inventory"]

NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """An aware-UTC clock that moves only when told: call it for "now",
    :meth:`advance` to move it."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward by ``seconds``; returns the new "now"."""
        self.now = self.now + timedelta(seconds=seconds)
        return self.now


def standard_inventory(clock: FakeClock | None = None, url: str = "memory://") -> Inventory:
    """A ledger on ``url`` with the network adapter tests assume:

    - locations ``S`` (a store that sells, ships, offers pickup and takes
      returns) and ``W`` (a warehouse);
    - channels ``web`` (S and W), ``pos`` (S) and ``marketplace`` (S and W);
    - SKUs ``A`` and ``B`` with 10 units at each location.
    """
    inv = Inventory.open(url, clock=clock or FakeClock())
    inv.add_location(Location("S", kind="store"))
    inv.add_location(Location("W", kind="warehouse"))
    inv.add_channel(Channel("web"))
    inv.add_channel(Channel("pos", locations=["S"]))
    inv.add_channel(Channel("marketplace"))
    for sku in ("A", "B"):
        for loc in ("S", "W"):
            inv.receive(sku, loc, 10)
    return inv
