"""Argument types and checks of the public face (``Inventory``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from ._validate import check_ttl
from .errors import InvalidInput
from .fulfilment.policy import Policy
from .fulfilment.returns import CONDITIONS
from .values import Order

Ttl = timedelta | float
"""A hold's lifetime: a timedelta or a number of seconds."""
State = Literal["sellable", "damaged", "inspection", "quarantine", "display", "expired"]
Condition = Literal["sellable", "damaged", "inspection", "quarantine", "display", "write_off"]
RejectReason = Literal["not_found", "damaged", "mismatch"]
REJECT_REASONS = ("not_found", "damaged", "mismatch")


_ONE_US = timedelta(microseconds=1)
_TEN_YEARS = timedelta(days=3650)
_ZERO = timedelta(0)


def ttl_micros(ttl: Any) -> int:
    """A positive lifetime of at most ten years, in microseconds."""
    if type(ttl) is timedelta and _ZERO < ttl <= _TEN_YEARS:  # the common case, checked
        return ttl // _ONE_US
    return check_ttl("ttl", ttl) // _ONE_US


def order_arg(order: Any) -> Order:
    if not isinstance(order, Order):
        raise InvalidInput("order", order, "must be an Order")
    return order


def policy_arg(policy: Any) -> Policy | None:
    if policy is not None and not isinstance(policy, Policy):
        raise InvalidInput("policy", policy, "must be a Policy")
    return policy


def condition_arg(condition: Any) -> None:
    if condition not in CONDITIONS:
        raise InvalidInput("condition", condition, f"must be one of {', '.join(CONDITIONS)}")


def reason_arg(reason: Any) -> None:
    if reason not in REJECT_REASONS:
        raise InvalidInput("reason", reason, f"must be one of {', '.join(REJECT_REASONS)}")
