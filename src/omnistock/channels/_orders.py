"""Finding a channel's own reservations for an order id, and acting on them.

An order id is unique only within its channel: the web shop's order "123"
and the marketplace's order "123" are different orders. Every lookup here is
therefore scoped to one channel, so a web ``order.cancelled`` can never
release the marketplace's reservation (and the reverse).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..errors import IdempotencyConflict, InvalidTransition, UnknownReservation
from ..values import Reservation

if TYPE_CHECKING:
    from ..inventory import Inventory
    from ..queries import Queries

__all__ = ["by_order", "reservations_of", "scope"]

OPEN = ("held", "committed")


def scope(instance: str) -> str:
    """``instance`` as one idempotency-key component: ``%`` and ``:`` are
    percent-encoded, so the first ``:`` after it always ends it and two
    different instances can never produce the same key."""
    return quote(instance, safe="/@")


def reservations_of(inv: Queries, order_id: str, channel: str | None = None) -> list[Reservation]:
    """The reservations made for ``order_id`` in ``channel`` (any channel
    when None), oldest first. Tries the ledger's ``<order>#<n>`` ids first
    (O(reservations of the order id)); falls back to a scan of every
    reservation when that finds none of the channel's."""

    def mine(r: Reservation) -> bool:
        return r.order_id == order_id and (channel is None or r.channel == channel)

    out: list[Reservation] = []
    n = 1
    while True:
        try:
            r = inv.reservation(f"{order_id}#{n}")
        except UnknownReservation:
            break
        if mine(r):
            out.append(r)
        n += 1
    if not out:
        out = [r for r in inv.reservations() if mine(r)]
    return out


def by_order(
    inv: Inventory,
    order_id: str,
    channel: str,
    fn: Callable[..., Reservation],
    key: str | None,
    field: str = "data.order_id",
) -> Reservation:
    """Run ``fn(res_id, key=key)`` on ``channel``'s open reservation for
    ``order_id``. A redelivered event (its key already used) returns the
    first result. Another channel's reservation for the same order id is
    never touched: if the channel has none, ``UnknownReservation``."""
    res = reservations_of(inv, order_id, channel)
    if key is not None and inv.store.lookup_key(key) is not None:
        for r in reversed(res):  # find the reservation the key was used on
            try:
                return fn(r.id, key=key)
            except IdempotencyConflict:
                continue
    open_ = [r for r in res if r.state in OPEN]
    if not open_:
        if not res:
            raise UnknownReservation(order_id, field)
        raise InvalidTransition(
            field, order_id, f"has no open reservation (last is {res[-1].state})"
        )
    return fn(open_[-1].id, key=key)
