"""A compressed snapshot is decompressed as it loads (``ledger.snapshot``):
loading never holds the whole payload beside the ledger it fills, and a
body cut short or not compressed is still refused as ``StorageError``."""

from __future__ import annotations

import tracemalloc
import zlib

import numpy as np
import pytest

from omnistock.errors import StorageError
from omnistock.ledger import snapshot
from omnistock.ledger.state import LedgerState

SKUS, LOCS = 65_536, 16  # 1M positions: a 16 MB payload


def _big() -> LedgerState:
    st = LedgerState()
    g = st.grid
    g.reserve_capacity(SKUS, LOCS)
    for i in range(SKUS):
        g.sku(f"s{i}")
    for j in range(LOCS):
        g.loc(f"L{j}")
    rng = np.random.default_rng(7)
    g.holdable[:SKUS, :LOCS] = rng.integers(0, 1000, (SKUS, LOCS))
    g.reserved[:SKUS, :LOCS] = g.holdable[:SKUS, :LOCS] // 3
    st.ranged.marks[:SKUS, :LOCS] = g.holdable[:SKUS, :LOCS] > 500
    st.head = 9
    return st


def _peak_while_loading(blob: bytes) -> int:
    tracemalloc.start()
    try:
        LedgerState.from_bytes(blob)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_loading_a_compressed_snapshot_never_holds_its_whole_payload() -> None:
    st = _big()
    payload = snapshot.to_bytes(st)
    sealed = snapshot.seal_state(st, 9, None)
    assert len(payload) > 16_000_000
    # Loading the raw payload reads it in place: the ledger's own arrays.
    # Loading the sealed blob may add only the pieces being decompressed.
    raw = _peak_while_loading(payload)
    streamed = _peak_while_loading(sealed)
    assert streamed - raw < len(payload) // 4, (streamed, raw, len(payload))
    back = LedgerState.from_bytes(sealed)
    assert snapshot.digest(back) == snapshot.digest(st)


def _seal_body(body: bytes) -> bytes:
    """``body`` behind a sound seal (the checksum matches what is stored)."""
    return snapshot._sealed(body, 9, None)


@pytest.mark.parametrize(
    ("what", "cut"),
    [
        ("cut in the grids", lambda b: b[: len(b) // 2]),
        ("cut in the header", lambda b: b[:40]),
        ("not zlib", lambda b: b"not compressed at all" * 10),
        ("empty", lambda b: b""),
    ],
)
def test_a_broken_compressed_body_is_refused(what: str, cut: object) -> None:
    st = _small()
    body = zlib.compress(snapshot.to_bytes(st), 1)
    blob = _seal_body(cut(body))  # type: ignore[operator]
    with pytest.raises(StorageError):
        snapshot.check_seal(blob, 9, None)
        LedgerState.from_bytes(blob)


def _small() -> LedgerState:
    st = LedgerState()
    for i in range(300):
        st.grid.sku(f"s{i}")
    st.grid.loc("L")
    st.grid.holdable[:300, 0] = np.arange(300)
    st.head = 9
    return st


def test_a_small_snapshot_round_trips_sealed_and_raw() -> None:
    st = _small()
    for blob in (snapshot.seal_state(st, 9, None), snapshot.to_bytes(st)):
        assert snapshot.digest(LedgerState.from_bytes(blob)) == snapshot.digest(st)
    assert snapshot.unseal(snapshot.seal_state(st, 9, None), 9, None) == snapshot.to_bytes(st)


def test_a_forged_grid_size_is_refused_before_anything_is_sized_by_it() -> None:
    """A sound seal around a header that claims a grid of 2**24 x 2**10
    SKUs by locations (a forgery: the checksum covers what it was given;
    the grids would take 256 GB) is ``StorageError``, and nothing is
    allocated for it."""
    import json
    import struct

    st = _small()
    payload = snapshot.to_bytes(st)
    hlen = struct.unpack_from("<Q", payload, len(snapshot.SNAPSHOT_MAGIC))[0]
    start = len(snapshot.SNAPSHOT_MAGIC) + 24
    header = json.loads(payload[start : start + hlen])
    forged = (
        snapshot.SNAPSHOT_MAGIC
        + struct.pack("<QQQ", hlen, 2**24, 2**10)
        + json.dumps(header).encode()[:hlen].ljust(hlen)
    )
    blob = _seal_body(zlib.compress(forged, 1))
    snapshot.check_seal(blob, 9, None)  # the seal itself is sound
    tracemalloc.start()
    try:
        with pytest.raises(StorageError, match="corrupt"):
            LedgerState.from_bytes(blob)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000, peak
