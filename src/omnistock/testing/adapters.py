"""The channel-adapter contract, as one pytest base class.

What :class:`~omnistock.channels.base.ChannelAdapter` promises (its module
docstring), checked for any adapter: ``parse`` is pure and deterministic and
lets nothing but ``PayloadError``/``SignatureError`` escape, whatever the
bytes; every command carries an idempotency key, so a redelivered payload
changes nothing; a refused payload leaves the ledger exactly as it was;
``publish`` gives whole, non-negative units per SKU; and the adapter is
found under its ``name`` in the ``omnistock.channels`` entry points.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import ClassVar

import pytest

from ..channels.base import ChannelAdapter, Command
from ..channels.registry import adapter_class
from ..errors import PayloadError, SignatureError
from ..inventory import Inventory
from .world import FakeClock, standard_inventory

__all__ = ["HOSTILE", "AdapterContract"]

HOSTILE: tuple[bytes, ...] = (
    b"",
    b"   ",
    b"\x00" * 16,
    b"\xff\xfe\xfd",
    b"null",
    b"[]",
    b"{}",
    b"42",
    b'"text"',
    b'{"a": ',
    b"[" * 10_000 + b"]" * 10_000,
    b'{"a": ' * 5_000 + b"1" + b"}" * 5_000,
    b"x" * 1_000_000,
)
"""Bodies no adapter may accept: empty, binary, not UTF-8, scalars, empty
containers, truncated, nesting bombs, a megabyte of junk."""


def _state(inv: Inventory) -> tuple[int, str]:
    return inv.head, inv.digest()


class AdapterContract(abc.ABC):
    """Pytest base class: the guarantees of ``ChannelAdapter``.

    Subclass it as ``Test...`` and implement :meth:`make_adapter` and
    :meth:`valid_payloads`. The ledger is :func:`standard_inventory` on the
    plugin's ``omnistock_clock`` (override :meth:`make_inventory` for
    another); :meth:`headers` signs payloads for adapters that check a
    signature; :meth:`invalid_payloads` lists payloads with the field each
    must be refused for. Set ``registered = False`` for an adapter that is
    not (yet) in the ``omnistock.channels`` entry points.
    """

    registered: ClassVar[bool] = True

    @abc.abstractmethod
    def make_adapter(self) -> ChannelAdapter:
        """A fresh adapter."""

    @abc.abstractmethod
    def valid_payloads(self) -> Sequence[bytes]:
        """Payloads that parse and apply, in order, on a fresh
        :meth:`make_inventory` ledger (at least one)."""

    def invalid_payloads(self) -> Sequence[tuple[bytes, str]]:
        """``(payload, field)``: payloads ``parse`` must refuse with a
        ``PayloadError`` whose ``field`` is ``field``."""
        return ()

    def headers(self, payload: bytes, clock: FakeClock) -> Mapping[str, str] | None:
        """The headers a genuine sender adds to ``payload`` (a signature)."""
        return None

    def make_inventory(self, clock: FakeClock) -> Inventory:
        """The ledger the valid payloads apply to."""
        return standard_inventory(clock)

    # -- fixtures ----------------------------------------------------------------------------
    @pytest.fixture
    def adapter(self) -> ChannelAdapter:
        return self.make_adapter()

    @pytest.fixture
    def inventory(self, omnistock_clock: FakeClock) -> Iterator[Inventory]:
        inv = self.make_inventory(omnistock_clock)
        try:
            yield inv
        finally:
            inv.close()

    # -- parse -------------------------------------------------------------------------------
    def test_valid_payloads_parse_to_keyed_commands(
        self, adapter: ChannelAdapter, inventory: Inventory, omnistock_clock: FakeClock
    ) -> None:
        payloads = list(self.valid_payloads())
        assert payloads, "valid_payloads() must give at least one payload"
        before = _state(inventory)
        for p in payloads:
            cmds = adapter.parse(p, self.headers(p, omnistock_clock))
            assert cmds, f"no command from {p[:80]!r}"
            for c in cmds:
                assert isinstance(c, Command)
                assert isinstance(c.key, str) and c.key, f"{c.op} has no idempotency key"
            # pure and deterministic: the same payload gives the same commands
            assert adapter.parse(p, self.headers(p, omnistock_clock)) == cmds
        assert _state(inventory) == before

    @pytest.mark.parametrize("body", HOSTILE, ids=lambda b: repr(b[:12]) + f"/{len(b)}")
    def test_hostile_bodies_are_refused_typed(
        self,
        adapter: ChannelAdapter,
        inventory: Inventory,
        omnistock_clock: FakeClock,
        body: bytes,
    ) -> None:
        before = _state(inventory)
        with pytest.raises((PayloadError, SignatureError)):
            adapter.handle(inventory, body, self.headers(body, omnistock_clock))
        assert _state(inventory) == before

    def test_damaged_payloads_never_escape_untyped(
        self, adapter: ChannelAdapter, omnistock_clock: FakeClock
    ) -> None:
        """Every prefix of a valid payload, and the payload with each byte
        flipped, either parses or is refused with a typed error."""
        for p in self.valid_payloads():
            damaged = [p[:i] for i in range(len(p))]
            damaged += [p[:i] + bytes([p[i] ^ 0x5A]) + p[i + 1 :] for i in range(len(p))]
            for body in damaged:
                with contextlib.suppress(PayloadError, SignatureError):
                    adapter.parse(body, self.headers(body, omnistock_clock))

    def test_invalid_payloads_name_the_field(
        self, adapter: ChannelAdapter, inventory: Inventory, omnistock_clock: FakeClock
    ) -> None:
        before = _state(inventory)
        for body, field in self.invalid_payloads():
            with pytest.raises(PayloadError) as e:
                adapter.handle(inventory, body, self.headers(body, omnistock_clock))
            assert e.value.field == field, f"{body[:80]!r}: named {e.value.field!r}"
        assert _state(inventory) == before

    # -- apply -------------------------------------------------------------------------------
    def test_redelivery_changes_nothing(
        self, adapter: ChannelAdapter, inventory: Inventory, omnistock_clock: FakeClock
    ) -> None:
        first = []
        for p in self.valid_payloads():
            first.append(adapter.handle(inventory, p, self.headers(p, omnistock_clock)))
        applied = _state(inventory)
        assert applied[0] > 0, "the valid payloads wrote nothing"
        for p in self.valid_payloads():  # a channel retries its webhooks
            adapter.handle(inventory, p, self.headers(p, omnistock_clock))
        assert _state(inventory) == applied

    # -- publish ------------------------------------------------------------------------------
    def test_publish_gives_units_per_sku(
        self, adapter: ChannelAdapter, inventory: Inventory
    ) -> None:
        figures = adapter.publish(inventory)
        assert set(figures) <= set(inventory.skus)
        for sku, units in figures.items():
            assert type(units) is int and units >= 0, f"{sku}: {units!r}"
        one = sorted(inventory.skus)[:1]
        assert set(adapter.publish(inventory, one)) == set(one)

    def test_registered_under_its_name(self, adapter: ChannelAdapter) -> None:
        if not self.registered:
            pytest.skip("registered = False: not in the omnistock.channels entry points")
        assert adapter.name, "set the class attribute name to the entry-point name"
        assert adapter_class(adapter.name) is type(adapter)
