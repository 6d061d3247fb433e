"""Checked snapshots (issue 13, item 8), on the memory, SQLite and
PostgreSQL stores.

A snapshot carries a checksum of its bytes, the seq it was taken at and the
journal's chain hash at that seq. One that was edited in the store (a grid
cell flipped with sqlite3 or psql), is garbage, is truncated, was written by
an older omnistock or comes from another journal is ignored everywhere it is
read -- on open and by ``at()`` -- the journal is replayed instead, and the
fallback is logged on the ``omnistock`` logger at WARNING.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import struct
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import PG_DSN as DSN
from omnistock import Inventory, Line, Location, Order
from omnistock.errors import InsufficientStock
from omnistock.ledger.snapshot import SEAL_MAGIC, SEAL_MAGIC_RAW, SNAPSHOT_MAGIC
from omnistock.storage.memory import MemoryStore

T = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SEAL_SIZE = len(SEAL_MAGIC) + struct.calcsize("<qB16s") + 32


def _clock() -> Callable[[], datetime]:
    t = [T]

    def now() -> datetime:
        t[0] += timedelta(seconds=1)
        return t[0]

    return now


class Backend:
    """Opens inventories on one journal, and edits its snapshots behind
    omnistock's back."""

    def __init__(self, kind: str, tmp_path: Path, name: str = "journal") -> None:
        self.kind, self.tmp_path, self.name = kind, tmp_path, name
        self.memory = MemoryStore() if kind == "memory" else None
        self.schema = f"omnistock_test_{uuid.uuid4().hex[:12]}"
        self.others: list[Backend] = []

    def open(self) -> Inventory:
        if self.memory is not None:
            return Inventory(store=self.memory, clock=_clock())
        if self.kind == "sqlite":
            return Inventory.open(f"sqlite:///{self.tmp_path / self.name}.db", clock=_clock())
        sep = "&" if "?" in DSN else "?"
        return Inventory.open(f"{DSN}{sep}schema={self.schema}", clock=_clock())

    def other(self) -> Backend:
        """Another journal of the same kind."""
        b = Backend(self.kind, self.tmp_path, f"{self.name}-other")
        self.others.append(b)
        return b

    def put_snapshot(self, seq: int, blob: bytes) -> None:
        """Overwrite the stored snapshot at ``seq`` with ``blob``, by hand."""
        if self.memory is not None:
            self.memory.save_snapshot(seq, blob)
        elif self.kind == "sqlite":
            with closing(sqlite3.connect(self.tmp_path / f"{self.name}.db")) as con:
                con.execute("UPDATE snapshots SET blob = ? WHERE seq = ?", (blob, seq))
                con.commit()
        else:
            import psycopg

            with psycopg.connect(DSN, autocommit=True) as conn:
                conn.execute(
                    f'UPDATE "{self.schema}".snapshots SET blob = %s WHERE seq = %s', (blob, seq)
                )

    def drop(self) -> None:
        for b in self.others:
            b.drop()
        if self.kind == "postgresql":
            import psycopg

            with psycopg.connect(DSN, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.postgres,
            ],
        ),
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = Backend(request.param, tmp_path)
    try:
        yield b
    finally:
        b.drop()


def _six_available(b: Backend, extra: int = 0) -> tuple[int, bytes]:
    """10 received, 4 sold: 6 available at (A, S); a snapshot at the head,
    then ``extra`` more rows after it. Returns the stored snapshot."""
    with b.open() as inv:
        inv.add_location(Location("S"))
        inv.receive("A", "S", 10)
        inv.sell("S", [("A", 4)])
        seq = inv.snapshot()
        for _ in range(extra):
            inv.receive("B", "S", 1)
        found = inv.store.load_snapshot()
    assert found is not None and found[0] == seq
    return found


def _with_cell(blob: bytes, sku: str, loc: str, value: int) -> bytes:
    """``blob`` with the holdable figure of (sku, loc) set to ``value`` in
    its compressed payload, the seal (its checksum included) left as it was."""
    payload = zlib.decompress(blob[SEAL_SIZE:])
    off = len(SNAPSHOT_MAGIC)
    hlen, _ns, nl = struct.unpack_from("<QQQ", payload, off)
    header = json.loads(payload[off + 24 : off + 24 + hlen])
    cell = off + 24 + hlen + 8 * (header["skus"].index(sku) * nl + header["locs"].index(loc))
    edited = payload[:cell] + struct.pack("<q", value) + payload[cell + 8 :]
    return blob[:SEAL_SIZE] + zlib.compress(edited)


def _resealed(blob: bytes, body: bytes, magic: bytes = SEAL_MAGIC) -> bytes:
    """``body`` stored under ``blob``'s seal (its seq and row hash) with
    ``magic`` and a checksum that matches: what a writer of that format
    would have stored."""
    head = magic + blob[len(SEAL_MAGIC) : SEAL_SIZE - 32]
    return head + hashlib.sha256(head + body).digest() + body


def _refused(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "omnistock.snapshot"
        and r.levelno == logging.WARNING
        and "snapshot" in r.getMessage()
    ]


def test_a_sound_snapshot_is_used_silently(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    seq, _ = _six_available(backend, extra=2)
    with caplog.at_level(logging.WARNING, "omnistock"), backend.open() as inv:
        assert inv.available("A", "S") == 6
        assert inv.at(seq).available("A", "S") == 6
        assert inv.check().ok
    assert _refused(caplog) == []


def test_a_snapshot_with_an_edited_cell_is_ignored(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """Today: 996 available against 6 real, and a hold of 500 is accepted."""
    seq, blob = _six_available(backend)
    backend.put_snapshot(seq, _with_cell(blob, "A", "S", 996))
    with caplog.at_level(logging.WARNING, "omnistock"), backend.open() as inv:
        assert inv.available("A", "S") == 6
        with pytest.raises(InsufficientStock):
            inv.hold(Order("o-500", lines=[Line("A", 500, "S")]))
        assert inv.at(seq).available("A", "S") == 6
        assert inv.at(T + timedelta(hours=1)).available("A", "S") == 6
        assert inv.check().ok
    refused = _refused(caplog)
    assert refused and f"seq {seq}" in refused[0] and "checksum" in refused[0]


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda blob: b"garbage, not a snapshot" * 20, id="garbage"),
        pytest.param(lambda blob: blob[: len(blob) // 2], id="truncated"),
        pytest.param(lambda blob: blob[:SEAL_SIZE], id="truncated-to-the-seal"),
        pytest.param(lambda blob: blob[:20], id="truncated-in-the-seal"),
        pytest.param(lambda blob: b"", id="empty"),
        pytest.param(lambda blob: zlib.decompress(blob[SEAL_SIZE:]), id="unsealed-older-format"),
        pytest.param(lambda blob: blob[SEAL_SIZE:], id="compressed-without-its-seal"),
        pytest.param(
            lambda blob: _resealed(blob, blob[SEAL_SIZE:-8]), id="checksum-right-body-cut"
        ),
        pytest.param(
            lambda blob: _resealed(blob, b"not zlib at all" * 8), id="checksum-right-not-zlib"
        ),
        pytest.param(lambda blob: blob[:-1] + bytes([blob[-1] ^ 1]), id="last-bit-flipped"),
    ],
)
def test_a_bad_snapshot_is_ignored_on_open_and_by_at(
    backend: Backend,
    caplog: pytest.LogCaptureFixture,
    spoil: Callable[[bytes], bytes],
) -> None:
    seq, blob = _six_available(backend, extra=1)
    backend.put_snapshot(seq, spoil(blob))
    with caplog.at_level(logging.WARNING, "omnistock"), backend.open() as inv:
        assert inv.available("A", "S") == 6
        assert inv.available("B", "S") == 1
        caplog.clear()
        view = inv.at(seq)  # today: raises StorageError on a garbage or truncated one
        assert view.head == seq and view.available("A", "S") == 6
        assert _refused(caplog), "at() must log the fallback too"
        assert inv.check().ok


def test_a_snapshot_is_stored_compressed(backend: Backend) -> None:
    """The grids are dense and mostly zeros: what is stored is the payload
    compressed, under the current seal."""
    _seq, blob = _six_available(backend, extra=2)
    assert blob.startswith(SEAL_MAGIC)
    payload = zlib.decompress(blob[SEAL_SIZE:])
    assert payload.startswith(SNAPSHOT_MAGIC) and len(blob) < SEAL_SIZE + len(payload)


def test_a_snapshot_sealed_uncompressed_by_an_older_omnistock_is_used(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    seq, blob = _six_available(backend, extra=2)
    raw = _resealed(blob, zlib.decompress(blob[SEAL_SIZE:]), SEAL_MAGIC_RAW)
    backend.put_snapshot(seq, raw)
    with caplog.at_level(logging.WARNING, "omnistock"), backend.open() as inv:
        assert inv.available("A", "S") == 6 and inv.available("B", "S") == 2
        assert inv.at(seq).available("A", "S") == 6
        assert inv.check().ok
    assert _refused(caplog) == []


def test_a_snapshot_stored_under_another_seq_is_ignored(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    seq, blob = _six_available(backend, extra=2)
    with backend.open() as inv:
        inv.store.save_snapshot(seq + 2, blob)  # the bytes of seq, filed under seq + 2
    with caplog.at_level(logging.WARNING, "omnistock"), backend.open() as inv:
        assert inv.available("A", "S") == 6 and inv.available("B", "S") == 2
    assert any(f"taken at seq {seq}" in m for m in _refused(caplog))


def test_a_snapshot_from_another_journal_is_refused(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """Same head, same shape, other rows: the chain hash at the head differs."""
    seq, _ = _six_available(backend)
    other = backend.other()
    with other.open() as inv:
        inv.add_location(Location("S"))
        inv.receive("A", "S", 900)
        inv.sell("S", [("A", 1)])
        assert inv.snapshot() == seq
        found = inv.store.load_snapshot()
        assert found is not None
    backend.put_snapshot(seq, found[1])
    with caplog.at_level(logging.WARNING, "omnistock"), backend.open() as inv:
        assert inv.available("A", "S") == 6
        assert inv.at(seq).available("A", "S") == 6
    assert any("does not match the journal" in m for m in _refused(caplog))


def test_an_older_sound_snapshot_is_used_when_the_newest_is_bad(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    first, _ = _six_available(backend)
    with backend.open() as inv:
        inv.receive("A", "S", 1)
        newest = inv.snapshot()
    backend.put_snapshot(newest, b"garbage")
    with caplog.at_level(logging.WARNING, "omnistock"), backend.open() as inv:
        assert inv.available("A", "S") == 7
        assert inv.at(first).available("A", "S") == 6
    assert len(_refused(caplog)) == 1  # the newest; the one before it was sound
