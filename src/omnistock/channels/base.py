"""The channel adapter port.

A channel adapter stands where omnistock meets the outside world. It turns a
channel's raw payloads (webhook bodies, POS receipts, marketplace messages)
into :class:`Command` values, applies them to an :class:`~omnistock.Inventory`,
and publishes availability back to the channel.

Guarantees every adapter gives (the built-in ones are fuzzed for them):

- ``parse`` is pure: it reads only the payload, the headers and the adapter's
  configuration, never the ledger, and it changes nothing.
- A payload that is malformed raises :class:`~omnistock.errors.PayloadError`
  naming the field; one that fails authentication raises
  :class:`~omnistock.errors.SignatureError`. Nothing else escapes ``parse``.
- Every command carries a deterministic idempotency key derived from the
  payload (an event id, a receipt id), so a redelivered payload changes
  nothing the second time.
- ``handle`` applies nothing when ``parse`` raises; a command the ledger
  refuses raises a typed ``omnistock.errors`` exception and, commands being
  atomic, leaves the ledger as it was.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from ..errors import InvalidInput

if TYPE_CHECKING:
    from ..inventory import Inventory
    from ..queries import Queries

__all__ = ["INVENTORY_OPS", "ChannelAdapter", "Command"]

INVENTORY_OPS = frozenset(
    {
        "receive",
        "count",
        "sell",
        "return_items",
        "hold",
        "allocate",
        "commit",
        "release",
        "extend",
        "ship",
        "collect",
    }
)
"""Inventory commands an adapter may run directly. Anything else is an
adapter-specific operation the adapter's ``execute`` must handle."""


@attrs.frozen
class Command:
    """One command parsed from a payload, not yet applied.

    ``op`` names an :class:`~omnistock.Inventory` command (see
    :data:`INVENTORY_OPS`) or an adapter-specific operation; ``kwargs`` are
    its arguments; ``key`` its idempotency key."""

    op: str
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)
    key: str | None = None


class ChannelAdapter(ABC):
    """Port every channel adapter implements.

    Subclasses set ``name`` (the entry-point name they register under) and
    implement :meth:`parse` and :meth:`publish`. The default :meth:`apply`
    runs each command in order through :meth:`execute`.
    """

    name: ClassVar[str] = ""

    @abstractmethod
    def parse(self, payload: bytes, headers: Mapping[str, str] | None = None) -> list[Command]:
        """Verify and validate ``payload`` and return the commands it asks for.
        Pure; raises ``PayloadError`` or ``SignatureError``."""

    @abstractmethod
    def publish(self, inv: Queries, skus: Iterable[str] | None = None) -> dict[str, int]:
        """Availability to show on the channel: ``{sku: units}`` for ``skus``
        (every SKU of the ledger when None)."""

    def execute(self, inv: Inventory, command: Command) -> Any:
        """Apply one command. The default runs the allowed inventory
        commands; adapters override it for their own operations."""
        if command.op not in INVENTORY_OPS:
            raise InvalidInput("op", command.op, f"is not an operation of adapter {self.name!r}")
        fn = getattr(inv, command.op)
        return fn(**command.kwargs, key=command.key)

    def apply(self, inv: Inventory, commands: Sequence[Command]) -> list[Any]:
        """Apply ``commands`` in order; returns their results. Stops at the
        first error (earlier commands stay applied; their keys make a retry
        of the whole payload finish the job without doing anything twice)."""
        return [self.execute(inv, c) for c in commands]

    def handle(
        self, inv: Inventory, payload: bytes, headers: Mapping[str, str] | None = None
    ) -> list[Any]:
        """Parse ``payload`` and apply it: the one call a webhook endpoint or
        receipt printer hook needs."""
        return self.apply(inv, self.parse(payload, headers))
