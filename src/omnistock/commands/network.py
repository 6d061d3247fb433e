"""Network plans: locations, channels and the sourcing policy. Journaled,
so a reopened store, or another process on it, sees the same network."""

from __future__ import annotations

import json
from typing import Any

from ..errors import UnknownLocation
from ..fulfilment.policy import Policy
from ..ledger.rows import Kind, make
from ..ledger.state import LedgerState
from ..planning import Context, Plan, done
from ..values import Channel, Location


def add_location(st: LedgerState, cx: Context, location: Location) -> Plan[Location]:
    """Add (or replace) a location; its ``returns_to`` must exist (or be itself)."""
    d = location.to_dict()
    rt = location.returns_to
    if rt is not None and rt not in st.locations and rt != location.id:
        raise UnknownLocation(rt, "returns_to")
    old = st.locations.get(location.id)
    if old == location and old.to_dict() == d:
        return Plan([], [], done(location))
    data = {"location": d}
    row = make(Kind.LOCATION_ADDED, cx.ts, location=location.id, key=cx.key, data=json.dumps(data))
    return Plan([row], [data], done(location))


def add_channel(st: LedgerState, cx: Context, channel: Channel) -> Plan[Channel]:
    """Add (or replace) a channel; its locations must exist."""
    for loc in channel.locations or ():
        if loc not in st.locations:
            raise UnknownLocation(loc, "locations")
    d = channel.to_dict()
    old = st.channels.get(channel.id)
    if old is not None and old.to_dict() == d:
        return Plan([], [], done(channel))
    data = {"channel": d}
    row = make(Kind.CHANNEL_ADDED, cx.ts, channel=channel.id, key=cx.key, data=json.dumps(data))
    return Plan([row], [data], done(channel))


def set_policy(_st: LedgerState, cx: Context, policy: Policy) -> Plan[None]:
    """Make ``policy`` the sourcing policy."""
    data: dict[str, Any] = {"policy": policy.to_dict()}
    row = make(Kind.POLICY_SET, cx.ts, key=cx.key, data=json.dumps(data))
    return Plan([row], [data], done(None))
