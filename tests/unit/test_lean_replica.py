"""The lean replica (issue 14): which positions were ever stocked is one
bool a grid cell (``grid.Ranged``), not a Python set of tuples, and the grid
starts with one location column.

Correctness only: the marks follow receipts, counts, safety stock and
transfers in; a return restocks only where the SKU is ranged; replay marks
what the live fold marks; a savepoint rollback unmarks what its rows marked;
snapshots keep the old format (an old snapshot loads and writes back the
same bytes) and equal states have equal digests. No timing or memory
assertions: ``benchmarks/memory.py`` measures those.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import numpy as np
import pytest

from conftest import Clock
from omnistock import Inventory, Location
from omnistock.errors import StorageError
from omnistock.ledger import snapshot
from omnistock.ledger.grid import Grid, Ranged
from omnistock.ledger.replay import replay
from omnistock.ledger.savepoint import Savepoint
from omnistock.ledger.snapshot import SNAPSHOT_MAGIC
from omnistock.ledger.state import LedgerState

T0 = 1_704_110_400_000_000  # 2024-01-01 12:00 UTC, in us
EXP = T0 + 3_600_000_000


def loc_row(seq: int, name: str) -> tuple[Any, ...]:
    d = {"location": Location(name).to_dict()}
    return (seq, T0 + seq, "location-added", None, name, 0, None, None, None, json.dumps(d))


def row(seq: int, kind: str, sku: str, loc: str, qty: int, ref: str | None = None,
        data: dict[str, Any] | None = None) -> tuple[Any, ...]:  # fmt: skip
    text = None if data is None else json.dumps(data)
    return (seq, T0 + seq, kind, sku, loc, qty, ref, None, None, text)


def journal() -> list[tuple[Any, ...]]:
    """Three locations; A ranged at L0 and L1, B at L1, C at L2 (counted);
    safety stock, a hold, a damaged return (not a stocking) and a sale."""
    rows = [loc_row(1, "L0"), loc_row(2, "L1"), loc_row(3, "L2")]
    more: list[tuple[Any, ...]] = [
        ("received", "A", "L0", 5, None, None),
        ("received", "B", "L1", 3, None, None),
        ("counted", "C", "L2", 4, None, {"state": "sellable", "to": 4}),
        ("received", "A", "L1", 4, None, None),
        ("safety-set", "A", "L1", 2, None, {"to": 2}),
        ("held", "A", "L0", 2, "R1", {"exp": EXP, "order": "o1"}),
        ("returned", "B", "L2", 1, None, {"state": "damaged"}),
        ("sold", "B", "L1", 1, None, None),
    ]
    for kind, sku, loc, qty, ref, data in more:
        rows.append(row(len(rows) + 1, kind, sku, loc, qty, ref, data))
    return rows


JOURNAL_RANGED = [(0, 0), (0, 1), (1, 1), (2, 2)]  # (A, L0), (A, L1), (B, L1), (C, L2)

# ``journal()`` folded and written by ``to_bytes`` before the ranged set
# became an array (ranged a ``set`` of tuples, the grid 8 columns wide).
OLD_SNAPSHOT = base64.b64decode(
    "T01OSVNOQVAxCqUDAAAAAAAAAwAAAAAAAAADAAAAAAAAAHsiaGVhZCI6IDExLCAibGFzdF90cyI6IDE3MDQxMTA0"
    "MDAwMDAwMTEsICJza3VzIjogWyJBIiwgIkIiLCAiQyJdLCAibG9jcyI6IFsiTDAiLCAiTDEiLCAiTDIiXSwgInNh"
    "ZmV0eSI6IFtbWzAsIDFdLCAyXV0sICJ1bnNlbGwiOiBbW1sxLCAyXSwgWzEsIDAsIDAsIDBdXV0sICJob2xkcyI6"
    "IFtbIlIxIiwgImhlbGQiLCAibzEiLCBudWxsLCAxNzA0MTE0MDAwMDAwMDAwLCA5LCBbWzAsIDAsIDJdXSwgW10s"
    "IG51bGwsIG51bGwsIDBdXSwgInBlcl9vcmRlciI6IFtbIm8xIiwgMV1dLCAic3VwcGx5IjogW10sICJyYW5nZWQi"
    "OiBbWzAsIDBdLCBbMCwgMV0sIFsxLCAxXSwgWzIsIDJdXSwgInBvbGljeSI6IG51bGwsICJsb2NhdGlvbnMiOiBb"
    "eyJpZCI6ICJMMCIsICJraW5kIjogInN0b3JlIiwgInBvaW50IjogbnVsbCwgInNlbGxzIjogdHJ1ZSwgInNoaXBz"
    "IjogdHJ1ZSwgInBpY2t1cCI6IHRydWUsICJhY2NlcHRzX3JldHVybnMiOiB0cnVlLCAicHJpb3JpdHkiOiAwLCAi"
    "ZGFpbHlfY2FwYWNpdHkiOiBudWxsLCAicmV0dXJuc190byI6IG51bGx9LCB7ImlkIjogIkwxIiwgImtpbmQiOiAi"
    "c3RvcmUiLCAicG9pbnQiOiBudWxsLCAic2VsbHMiOiB0cnVlLCAic2hpcHMiOiB0cnVlLCAicGlja3VwIjogdHJ1"
    "ZSwgImFjY2VwdHNfcmV0dXJucyI6IHRydWUsICJwcmlvcml0eSI6IDAsICJkYWlseV9jYXBhY2l0eSI6IG51bGws"
    "ICJyZXR1cm5zX3RvIjogbnVsbH0sIHsiaWQiOiAiTDIiLCAia2luZCI6ICJzdG9yZSIsICJwb2ludCI6IG51bGws"
    "ICJzZWxscyI6IHRydWUsICJzaGlwcyI6IHRydWUsICJwaWNrdXAiOiB0cnVlLCAiYWNjZXB0c19yZXR1cm5zIjog"
    "dHJ1ZSwgInByaW9yaXR5IjogMCwgImRhaWx5X2NhcGFjaXR5IjogbnVsbCwgInJldHVybnNfdG8iOiBudWxsfV0s"
    "ICJjaGFubmVscyI6IFtdLCAicGlja3MiOiBbXSwgImJsb2NrcyI6IFtdfQUAAAAAAAAAAgAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAIAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
)


def applied(rows: list[tuple[Any, ...]]) -> LedgerState:
    st = LedgerState()
    st.apply_all(rows)
    return st


# -- the structure ----------------------------------------------------------------
def test_ranged_reads_like_a_set_of_positions() -> None:
    r = Ranged((4, 3))
    assert len(r) == 0 and list(r) == []
    r.add((2, 1))
    r.add((0, 2))
    r.add((2, 1))  # twice is once
    assert (2, 1) in r and (0, 2) in r and (1, 1) not in r
    assert list(r) == [(0, 2), (2, 1)] and len(r) == 2  # (sku, location) order
    assert r.pairs() == [[0, 2], [2, 1]]
    # Outside the grid, or not a position: not ranged, and no IndexError.
    assert (4, 0) not in r and (0, 3) not in r and (-1, 1) not in r
    assert "x" not in r and (1,) not in r
    r.discard((0, 2))
    r.discard((0, 2))
    r.discard((9, 9))
    assert list(r) == [(2, 1)]
    r.add_many(np.array([3, 1]), np.array([0, 2]))
    assert list(r) == [(1, 2), (2, 1), (3, 0)]
    r.resize(8, 6)
    assert r.marks.shape == (8, 6) and list(r) == [(1, 2), (2, 1), (3, 0)]
    r.clear_outside(3, 2)  # rows >= 3 and columns >= 2 forgotten
    assert list(r) == [(2, 1)]


def test_the_grid_starts_with_one_column_and_doubles() -> None:
    g = Grid()
    assert g.holdable.shape == (64, 1) == g.reserved.shape == g.ranged.marks.shape
    a, l0 = g.sku("A"), g.loc("L0")
    g.holdable[a, l0] = 7
    g.ranged.add((a, l0))
    cols = []
    for j in range(1, 9):
        g.loc(f"L{j}")
        cols.append(g.holdable.shape[1])
    assert cols == [2, 4, 4, 8, 8, 8, 8, 16]  # doubling: amortised O(1) a position
    assert g.reserved.shape == g.ranged.marks.shape == g.holdable.shape
    for i in range(100):  # rows double too, the marks in step
        g.sku(f"S{i}")
    assert g.holdable.shape == (128, 16) == g.ranged.marks.shape
    assert int(g.holdable[a, l0]) == 7 and list(g.ranged) == [(a, l0)]


def test_a_one_location_ledger_keeps_one_column() -> None:
    st = applied([loc_row(1, "L0"), *(row(2 + i, "received", f"S{i}", "L0", 1) for i in range(3))])
    assert st.grid.holdable.shape[1] == 1
    assert list(st.ranged) == [(0, 0), (1, 0), (2, 0)]


# -- the marks through the fold and the face -----------------------------------------
def test_the_fold_marks_stockings_only() -> None:
    st = applied(journal())
    assert list(st.ranged) == JOURNAL_RANGED
    assert (1, 2) not in st.ranged  # B came back damaged at L2: not stocked there
    assert st.violations() == []


def test_a_return_restocks_only_where_the_sku_is_ranged(clock: Clock) -> None:
    inv = Inventory.open("memory://", clock=clock)
    inv.add_location(Location("dc", kind="dc"))
    inv.add_location(Location("s1", returns_to="dc"))
    inv.add_location(Location("s2", returns_to="dc"))
    inv.receive("A", "s1", 2)
    inv.receive("B", "dc", 5)
    g = inv._state.grid
    assert (g.sku_ix["B"], g.loc_ix["s1"]) not in inv._state.ranged
    r = inv.return_items("s1", [("A", 1), ("B", 1)], condition="sellable")
    assert [(t.sku, t.destination) for t in r.transfers] == [("B", "dc")]
    assert inv.on_hand("A", "s1") == 3 and inv.on_hand("B", "s1") == 0
    clock.advance(86_400)
    inv.receive_transfer(r.transfers[0].id)  # a transfer in stocks (and ranges) dc
    inv.count("B", "s2", 0)  # a count ranges even at zero
    inv.set_safety("A", "s2", 0)  # no change, no row: not ranged
    inv.receive("A", "s2", 1)
    got = sorted((g.skus[s], g.locs[l]) for s, l in inv._state.ranged)
    assert got == [("A", "s1"), ("A", "s2"), ("B", "dc"), ("B", "s2")]
    r2 = inv.return_items("s2", [("B", 1)], condition="sellable")
    assert r2.transfers == () and inv.on_hand("B", "s2") == 1  # ranged there now
    assert inv.check().ok
    inv.close()


def test_replay_marks_what_the_live_fold_marks() -> None:
    # 2 SKUs x 100 locations: flushes of 64 rows and more take the kernel path.
    rows = [loc_row(1 + j, f"L{j}") for j in range(100)]
    for k, sku in enumerate("AB"):
        for j in range(100):
            if (j + k) % 3:  # not every position: 66 for A, 67 for B
                rows.append(row(len(rows) + 1, "received", sku, f"L{j}", 2))
    rows.append(row(len(rows) + 1, "sold", "A", "L1", 1))  # a sale stocks nothing
    rows.append(row(len(rows) + 1, "received", "C", "L5", 1))  # a short flush
    live = applied(rows)
    fast = LedgerState()
    assert replay(fast, rows) == len(rows)
    assert list(fast.ranged) == list(live.ranged) and len(live.ranged) == 134
    assert fast.digest() == live.digest()


# -- savepoints -----------------------------------------------------------------------
def test_a_rollback_unmarks_exactly_what_its_rows_marked() -> None:
    prefix = [loc_row(1, "L0"), loc_row(2, "L1"), row(3, "received", "A", "L0", 1)]
    st = applied(prefix)
    before, marks = st.digest(), list(st.ranged)
    sp = Savepoint(st)
    later = [
        row(4, "received", "A", "L0", 1),  # ranged already: stays ranged
        row(5, "received", "A", "L1", 1),  # a new position of a known SKU
        row(6, "received", "B", "L0", 1),  # a new SKU
        loc_row(7, "L2"),  # a new location: the grid grows to 4 columns
        row(8, "received", "B", "L2", 1),
    ]
    for r in later:
        sp.touch(r)
        st.apply(r)
    assert len(st.ranged) == 4 and st.grid.holdable.shape[1] == 4
    sp.rollback()
    assert list(st.ranged) == marks == [(0, 0)]
    assert not st.ranged.marks[:, 2:].any() and not st.ranged.marks[1:, :].any()
    assert st.digest() == before and st.violations() == []
    st.apply_all(later)  # and forward again, as a fresh fold would
    assert st.digest() == applied(prefix + later).digest()


# -- snapshots and digests ------------------------------------------------------------
def header_of(blob: bytes) -> dict[str, Any]:
    off = len(SNAPSHOT_MAGIC)
    hlen = struct.unpack_from("<QQQ", blob, off)[0]
    out: dict[str, Any] = json.loads(blob[off + 24 : off + 24 + hlen])
    return out


def ranged_bits(blob: bytes) -> list[tuple[int, int]]:
    """The ranged marks a snapshot stores as bits after its grids."""
    off = len(SNAPSHOT_MAGIC)
    hlen, ns, nl = struct.unpack_from("<QQQ", blob, off)
    start = off + 24 + hlen + 2 * 8 * ns * nl
    bits = np.unpackbits(np.frombuffer(blob[start:], dtype=np.uint8), count=ns * nl)
    return [(int(i) // nl, int(i) % nl) for i in np.flatnonzero(bits)]


def test_a_snapshot_round_trip_keeps_the_marks_and_the_digest() -> None:
    st = applied(journal())
    blob = st.to_bytes()
    header = header_of(blob)
    assert header["ranged_bits"] is True and "ranged" not in header  # the format
    assert ranged_bits(blob) == JOURNAL_RANGED
    back = LedgerState.from_bytes(blob)
    assert list(back.ranged) == JOURNAL_RANGED
    assert back.grid.holdable.shape[1] == 3  # no columns beyond the locations
    assert back.digest() == st.digest() and back.to_bytes() == blob


@pytest.mark.parametrize("skus", [3, 4096, 4097, 9000])
def test_sealing_a_state_piece_by_piece_stores_what_sealing_its_bytes_does(skus: int) -> None:
    """``seal_state`` compresses the snapshot a few thousand grid rows at a
    time; what it stores is ``seal(to_bytes())`` byte for byte, at grid
    heights on either side of a piece's rows, and it unseals and loads."""
    st = applied(journal()) if skus == 3 else LedgerState()
    if skus != 3:
        rows = [loc_row(1, "L0")]
        rows += [row(i + 2, "received", f"s{i}", "L0", i % 7 + 1) for i in range(skus)]
        st.apply_all(rows)
    assert st.grid.shape[0] == skus
    whole = snapshot.seal(st.to_bytes(), st.head, b"h" * 16)
    assert snapshot.seal_state(st, st.head, b"h" * 16) == whole
    back = LedgerState.from_bytes(snapshot.unseal(whole, st.head, b"h" * 16))
    assert back.digest() == st.digest()


def test_an_old_snapshot_loads_and_writes_back_the_current_format() -> None:
    """Ranged pairs in the header (older snapshots) still load, and the
    ledger writes what the same journal replayed writes (bits now)."""
    assert "ranged" in header_of(OLD_SNAPSHOT)
    old = LedgerState.from_bytes(OLD_SNAPSHOT)
    assert list(old.ranged) == JOURNAL_RANGED
    assert old.digest() == applied(journal()).digest()
    assert old.to_bytes() == applied(journal()).to_bytes() != OLD_SNAPSHOT
    assert old.violations() == []


@pytest.mark.parametrize("cut", [1, 3])
def test_a_snapshot_whose_ranged_bits_are_cut_short_is_corrupt(cut: int) -> None:
    """The marks of a 3 x 3 grid are nine bits, two bytes: one byte
    missing, or that and part of the grids."""
    st = applied(journal())
    assert st.grid.shape == (3, 3)
    blob = st.to_bytes()
    with pytest.raises(StorageError, match="corrupt"):
        LedgerState.from_bytes(blob[:-cut])


def test_the_digest_sees_the_marks() -> None:
    a, b = applied(journal()), applied(journal())
    assert a.digest() == b.digest()
    b.ranged.add((1, 0))  # B at L0: ranged in b only
    assert a.digest() != b.digest()


@pytest.mark.parametrize("bad", [[[3, 0]], [[0, 3]], [[-1, 0]], [[0, 1, 2]], [["A", 0]]])
def test_a_snapshot_ranging_a_position_outside_its_grid_is_corrupt(bad: list[Any]) -> None:
    blob = applied(journal()).to_bytes()
    header = header_of(blob)
    del header["ranged_bits"]  # the older format: pairs in the header
    header["ranged"] = bad
    hb = json.dumps(header).encode()
    off = len(SNAPSHOT_MAGIC)
    _, ns, nl = struct.unpack_from("<QQQ", blob, off)
    grids = blob[off + 24 + len(json.dumps(header_of(blob)).encode()) :]
    forged = SNAPSHOT_MAGIC + struct.pack("<QQQ", len(hb), ns, nl) + hb + grids
    with pytest.raises(StorageError, match="corrupt"):
        LedgerState.from_bytes(forged)
