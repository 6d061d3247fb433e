"""The typed errors every public call raises.

Every error derives from :class:`OmnistockError`. A call that raises one of
these has changed nothing: the ledger and the journal are as they were.
Messages name the offending field and its value.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AwaitingSupply",
    "CommandFailed",
    "ConcurrencyConflict",
    "IdempotencyConflict",
    "InsufficientStock",
    "InvalidInput",
    "InvalidQuantity",
    "InvalidTransition",
    "OmnistockError",
    "PayloadError",
    "SignatureError",
    "StorageError",
    "UnknownChannel",
    "UnknownLocation",
    "UnknownLot",
    "UnknownReservation",
    "UnknownSku",
    "UnknownSupply",
]


class OmnistockError(Exception):
    """Base of every omnistock error."""


class InvalidInput(OmnistockError, ValueError):
    """An argument is malformed. The message names the field and the value."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={_show(value)}: {reason}")


class InvalidQuantity(InvalidInput):
    """A quantity is not a whole number in the allowed range."""


class InvalidTransition(InvalidInput):
    """A reservation is not in a state that allows the operation."""


class AwaitingSupply(InvalidTransition):
    """Units asked to ship are backordered: they wait on dated supply.
    ``line`` is the waiting ``ReservationLine`` (its sku, location, qty and
    eta); ship the rest with ``lines=`` or receive the supply first."""

    def __init__(self, res_id: str, line: Any) -> None:
        self.line = line
        why = (
            f"waits for {line.qty} of sku {line.sku!r} due at {line.location!r} on "
            f"{line.eta.isoformat()}; receive that supply first"
        )
        super().__init__("res_id", res_id, why)


class _Unknown(OmnistockError, LookupError):
    what = "id"

    def __init__(self, value: Any, field: str | None = None) -> None:
        self.field = field or self.what
        self.value = value
        super().__init__(f"{self.field}={_show(value)}: unknown {self.what}")


class UnknownSku(_Unknown):
    """The SKU has never been received, counted or expected."""

    what = "sku"


class UnknownLocation(_Unknown):
    """The location was never added with ``add_location``."""

    what = "location"


class UnknownChannel(_Unknown):
    """The channel was never added with ``add_channel``."""

    what = "channel"


class UnknownReservation(_Unknown):
    """No reservation has that id."""

    what = "reservation"


class UnknownSupply(_Unknown):
    """No open purchase order line (or supply item) has that id: never
    expected, fully received, or cancelled."""

    what = "supply"


class UnknownLot(_Unknown):
    """The SKU has no lot (or serial) of that name."""

    what = "lot"


class InsufficientStock(OmnistockError):
    """Fewer units are available than asked for.

    ``available`` is what could be had at the moment of the check, so a caller
    can offer it instead.
    """

    def __init__(
        self,
        sku: str,
        requested: int,
        available: int,
        location: str | None = None,
        channel: str | None = None,
    ) -> None:
        self.sku = sku
        self.requested = requested
        self.available = available
        self.location = location
        self.channel = channel
        where = f" at location={location!r}" if location is not None else ""
        if channel is not None:
            where += f" for channel={channel!r}"
        super().__init__(f"sku={sku!r}{where}: requested {requested}, available {available}")


class IdempotencyConflict(OmnistockError):
    """The same idempotency key was used for a different command."""

    def __init__(self, key: str, first: str, now: str) -> None:
        self.key = key
        super().__init__(f"key={key!r}: already used for {first}; cannot reuse it for {now}")


class ConcurrencyConflict(OmnistockError):
    """Another writer moved the journal head; the command was not applied."""


class StorageError(OmnistockError):
    """The store failed or holds data omnistock cannot read."""


class CommandFailed(OmnistockError):
    """A command failed for a reason that is neither bad input nor a
    refusal (a defect). Nothing of it was written; neighbours in the same
    group commit were not affected. ``__cause__`` is the original error."""


class PayloadError(InvalidInput):
    """A channel payload is malformed."""


class SignatureError(OmnistockError):
    """A channel payload's signature or timestamp is not valid."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
