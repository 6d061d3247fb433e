"""The policy's hard filters on one candidate location.

:func:`rejection` is the one place that says what each filter of
:data:`~omnistock.fulfilment.policy.FILTERS` means. Both sourcing paths use
it: :func:`~omnistock.fulfilment.sourcing.source` with every input, and the
wave and K-nearest paths through :func:`static_ok`, which leaves out the
filters that change during a wave (``radius``, ``capacity``) by passing no
distance and no capacity. Whether a candidate holds any stock (``no_stock``)
is part of the sourcing decision, not a policy filter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..values import Channel, Location
from .policy import Policy

__all__ = ["rejection", "static_ok"]


def rejection(
    c: Location,
    policy: Policy,
    method: str,
    channel: Channel | None,
    *,
    distance_km: float | None = None,
    capacity_left: Mapping[str, int] | None = None,
) -> tuple[str, str] | None:
    """The first of ``policy.filters`` (in policy order) that drops ``c``,
    as ``(filter, detail)``; None when ``c`` passes them all.

    ``method`` is ``"ship"`` or ``"pickup"`` (anything but ``"ship"`` is
    checked as pickup). ``radius`` is checked only when ``distance_km`` is
    given (``inf`` for unknown), ``capacity`` only when ``capacity_left``
    is (a location absent from it has unlimited picks)."""
    for f in policy.filters:
        if f == "capability":
            if method == "ship" and not c.ships:
                return f, "does not ship"
            if method != "ship" and not c.pickup:
                return f, "does not offer pickup"
        elif f == "channel":
            if (
                channel is not None
                and channel.locations is not None
                and c.id not in channel.locations
            ):
                return f, f"not a location of channel {channel.id!r}"
        elif f == "radius":
            r = policy.radius_km
            d = distance_km
            if r is not None and d is not None and not d <= r:
                why = "distance unknown" if math.isinf(d) else f"{d:.3f} km"
                return f, f"{why} > radius {r:g} km"
        elif f == "capacity":
            left = None if capacity_left is None else capacity_left.get(c.id)
            if left is not None and left <= 0:
                return f, "no picks left today"
        elif c.id in policy.exclude:  # excluded
            return f, "excluded by the policy"
    return None


def static_ok(c: Location, method: str, channel: Channel | None, policy: Policy) -> bool:
    """``c`` passes the filters that do not change during a wave
    (``capability``, ``channel``, ``excluded``)."""
    return rejection(c, policy, method, channel) is None
