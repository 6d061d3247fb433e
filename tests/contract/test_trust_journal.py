"""A tamper-evident journal (issue 13, item 9) and journal time that never
goes backwards (item 10), on the durable stores, tampered with by hand.

Each journal is written through ``Inventory``, then changed behind
omnistock's back with ``sqlite3`` (SQLite) or ``psycopg`` (PostgreSQL):
a row deleted, inserted or edited, a chain hash corrupted. ``check()`` and
``omnistock check`` must report it, naming the first bad seq. Also: stores
written before the chain existed are migrated on open, and what the chain
cannot see alone (a rewritten tail) is seen against an anchor.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import PG_DSN as DSN
from conftest import pg_unreachable
from omnistock import Inventory, Location
from omnistock.audit import anchor, verify_anchor
from omnistock.cli import main
from omnistock.storage.chain import GENESIS, link, row_hash

T = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


_PG_WHY = pg_unreachable()


class SqliteJournal:
    """A SQLite journal, and hands that edit its file directly."""

    name = "sqlite"
    table = "entries"

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "journal.db"
        self.url = f"sqlite:///{self.path}"

    def sql(self, stmt: str, *params: Any) -> list[Any]:
        with closing(sqlite3.connect(self.path)) as con:
            rows = con.execute(stmt.format(t=self.table, g="unused"), params).fetchall()
            con.commit()
        return rows

    def set_head(self, head: int) -> None:
        """The SQLite head is max(seq): nothing to move."""

    def renumber_from(self, seq: int, by: int) -> None:
        self.sql("UPDATE {t} SET seq = -seq WHERE seq >= ?", seq)
        self.sql("UPDATE {t} SET seq = -seq + ? WHERE seq < 0", by)

    def downgrade(self) -> None:
        """Make the file look like one written before the chain (schema 1)."""
        self.sql("ALTER TABLE entries DROP COLUMN hash")
        self.sql("UPDATE meta SET value = '1' WHERE name = 'schema_version'")

    def close(self) -> None:
        pass


class PgJournal:
    """A PostgreSQL journal in a fresh schema, and hands that edit it with psql."""

    name = "postgresql"

    def __init__(self, tmp_path: Path) -> None:
        self.schema = f"omnistock_test_{uuid.uuid4().hex[:12]}"
        sep = "&" if "?" in DSN else "?"
        self.url = f"{DSN}{sep}schema={self.schema}"
        self.table = f'"{self.schema}".journal'
        self.head_table = f'"{self.schema}".global_head'

    def sql(self, stmt: str, *params: Any) -> list[Any]:
        import psycopg

        text = stmt.replace("?", "%s").format(t=self.table, g=self.head_table)
        with psycopg.connect(DSN, autocommit=True) as conn:
            cur = conn.execute(text, params)
            return cur.fetchall() if cur.description else []

    def set_head(self, head: int) -> None:
        self.sql("UPDATE {g} SET head = ?", head)

    def renumber_from(self, seq: int, by: int) -> None:
        self.sql("UPDATE {t} SET seq = -seq WHERE seq >= ?", seq)
        self.sql("UPDATE {t} SET seq = -seq + ? WHERE seq < 0", by)

    def downgrade(self) -> None:
        s = f'"{self.schema}"'
        self.sql(f"ALTER TABLE {s}.journal DROP COLUMN hash")
        self.sql(f"ALTER TABLE {s}.global_head DROP COLUMN hash, DROP COLUMN ts_us")
        self.sql(f"UPDATE {s}.meta SET value = '1' WHERE name = 'version'")

    def close(self) -> None:
        import psycopg

        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


Journal = SqliteJournal | PgJournal


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(_PG_WHY is not None, reason=f"no PostgreSQL: {_PG_WHY}"),
            ],
        ),
    ]
)
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Journal]:
    j: Journal = SqliteJournal(tmp_path) if request.param == "sqlite" else PgJournal(tmp_path)
    try:
        yield j
    finally:
        j.close()


def _write(url: str) -> int:
    """Six rows: a location, then receipts and a sale. Returns the head."""
    t = [T]

    def clock() -> datetime:
        t[0] += timedelta(seconds=1)
        return t[0]

    with Inventory.open(url, clock=clock) as inv:
        inv.add_location(Location("S"))
        inv.receive("A", "S", 10)
        inv.receive("A", "S", 5)
        inv.receive("B", "S", 3)
        inv.sell("S", [("A", 2)])
        inv.receive("B", "S", 4)
        assert inv.check().ok
        return inv.head


def _problems(url: str) -> list[str]:
    with Inventory.open(url) as inv:
        report = inv.check()
    assert report.ok is (not report.problems)
    return list(report.problems)


def _journal_problems(url: str) -> list[str]:
    return [p for p in _problems(url) if p.startswith("journal:")]


def test_an_untouched_journal_checks_ok(
    journal: Journal, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _write(journal.url) == 6
    assert _problems(journal.url) == []
    assert main(["check", "--store", journal.url]) == 0
    assert "check ok" in capsys.readouterr().out


def test_a_deleted_row_is_reported(journal: Journal, capsys: pytest.CaptureFixture[str]) -> None:
    _write(journal.url)
    journal.sql("DELETE FROM {t} WHERE seq = 3")
    problems = _journal_problems(journal.url)
    assert problems and "seq 3 missing" in problems[0]
    assert main(["check", "--store", journal.url]) == 1
    assert "seq 3 missing" in capsys.readouterr().out


def test_an_edited_row_is_reported(journal: Journal) -> None:
    _write(journal.url)
    journal.sql("UPDATE {t} SET qty = 500 WHERE seq = 3")
    problems = _journal_problems(journal.url)
    assert problems == [problems[0]] and "row 3 was edited" in problems[0]
    assert main(["check", "--store", journal.url]) == 1


def test_an_edited_last_row_is_reported(journal: Journal) -> None:
    _write(journal.url)
    journal.sql("UPDATE {t} SET location = 'elsewhere' WHERE seq = 6")
    problems = _journal_problems(journal.url)
    assert problems and "row 6 does not match its chain hash" in problems[0]


def test_a_corrupted_chain_hash_is_reported(journal: Journal) -> None:
    _write(journal.url)
    journal.sql("UPDATE {t} SET hash = ? WHERE seq = 4", b"\x01" * 16)
    problems = _journal_problems(journal.url)
    assert problems and "chain is broken at row 4" in problems[0]
    assert main(["check", "--store", journal.url]) == 1


def test_a_row_inserted_at_the_end_without_a_hash_is_reported(journal: Journal) -> None:
    _write(journal.url)
    ts = journal.sql("SELECT max(" + ("ts" if journal.name == "sqlite" else "ts_us") + ") FROM {t}")
    cols = (
        "seq, ts, kind, sku, location, qty"
        if journal.name == "sqlite"
        else ("seq, ts_us, kind, sku, location, qty")
    )
    journal.sql(
        "INSERT INTO {t} (" + cols + ") VALUES (7, ?, 'received', 'A', 'S', 1000)", ts[0][0]
    )
    journal.set_head(7)
    problems = _journal_problems(journal.url)
    assert problems and "row 7 has no chain hash" in problems[0]
    assert main(["check", "--store", journal.url]) == 1


def test_a_row_inserted_with_a_forged_hash_is_reported(journal: Journal) -> None:
    _write(journal.url)
    ts_col = "ts" if journal.name == "sqlite" else "ts_us"
    ts, prev = journal.sql(f"SELECT {ts_col}, hash FROM {{t}} WHERE seq = 6")[0]
    # A plausible forgery that does not know the canonical row text.
    forged = link(bytes(prev), 7, ts, b"\x00" * 16)
    journal.sql(
        f"INSERT INTO {{t}} (seq, {ts_col}, kind, sku, location, qty, hash) "
        "VALUES (7, ?, 'received', 'A', 'S', 1000, ?)",
        ts,
        forged,
    )
    journal.set_head(7)
    problems = _journal_problems(journal.url)
    assert problems and "row 7 does not match its chain hash" in problems[0]


def test_a_row_inserted_in_the_middle_is_reported(journal: Journal) -> None:
    _write(journal.url)
    ts_col = "ts" if journal.name == "sqlite" else "ts_us"
    ts, h3 = journal.sql(f"SELECT {ts_col}, hash FROM {{t}} WHERE seq = 3")[0]
    journal.renumber_from(3, 1)
    journal.sql(
        f"INSERT INTO {{t}} (seq, {ts_col}, kind, sku, location, qty, hash) "
        "VALUES (3, ?, 'received', 'A', 'S', 1000, ?)",
        ts,
        h3,
    )
    journal.set_head(7)
    problems = _journal_problems(journal.url)
    assert problems and "row 3" in problems[0]
    assert "chain is broken at row 3" in problems[0] or "row 3 was edited" in problems[0]
    assert main(["check", "--store", journal.url]) == 1


def test_a_row_deleted_and_the_rest_renumbered_is_reported(journal: Journal) -> None:
    _write(journal.url)
    journal.sql("DELETE FROM {t} WHERE seq = 2")
    journal.renumber_from(3, -1)
    journal.set_head(5)
    problems = _journal_problems(journal.url)
    assert problems and "row 2" in problems[0]


def test_deleting_the_last_row(journal: Journal) -> None:
    """PostgreSQL keeps the head apart from the rows, so a deleted last row
    is a gap; SQLite's head is the last row, so only an anchor kept
    elsewhere sees it."""
    _write(journal.url)
    with Inventory.open(journal.url) as inv:
        kept = anchor(inv.store)
    assert kept[0] == 6
    journal.sql("DELETE FROM {t} WHERE seq = 6")
    problems = _journal_problems(journal.url)
    if journal.name == "postgresql":
        assert problems and "6..6 missing" in problems[0]
    else:
        assert problems == []
    with Inventory.open(journal.url) as inv:
        assert verify_anchor(inv.store, *kept) == "journal: row 6 of the anchor is missing"


def test_a_rewritten_tail_passes_the_chain_but_not_the_anchor(journal: Journal) -> None:
    """What the chain cannot prove alone: someone who edits a row and
    recomputes every hash after it. An anchor kept outside the store sees it."""
    _write(journal.url)
    with Inventory.open(journal.url) as inv:
        kept = anchor(inv.store)
    journal.sql("UPDATE {t} SET qty = 500 WHERE seq = 3")
    with Inventory.open(journal.url) as inv:
        prev = inv.store.hash_at(2)
        assert prev is not None
        for row, _ in list(inv.store.read_chain(2)):
            prev = row_hash(prev, row)
            journal.sql("UPDATE {t} SET hash = ? WHERE seq = ?", prev, row[0])
        if journal.name == "postgresql":
            journal.sql("UPDATE {g} SET hash = ?", prev)
    assert _problems(journal.url) == []  # the chain alone is satisfied
    with Inventory.open(journal.url) as inv:
        problem = verify_anchor(inv.store, *kept)
        assert problem is not None and "row 6 has chain hash" in problem
        assert verify_anchor(inv.store, 2, inv.store.hash_at(2).hex()) is None  # type: ignore[union-attr]


# -- migration: stores written before the chain ---------------------------------------


def test_a_store_without_the_chain_is_migrated_on_open(journal: Journal) -> None:
    _write(journal.url)
    with Inventory.open(journal.url) as inv:
        before = list(inv.store.read_chain())
    journal.downgrade()
    with Inventory.open(journal.url) as inv:  # migrates, once
        assert list(inv.store.read_chain()) == before
        assert inv.check().ok
        inv.receive("A", "S", 1)
        assert inv.check().ok
        assert inv.store.hash_at(7) is not None
    with Inventory.open(journal.url) as inv:
        assert list(inv.store.read_chain())[:6] == before
        assert inv.check().ok


def test_an_empty_store_without_the_chain_is_migrated(journal: Journal) -> None:
    with Inventory.open(journal.url) as inv:
        assert inv.head == 0
    journal.downgrade()
    with Inventory.open(journal.url) as inv:
        assert inv.store.hash_at(0) == GENESIS
        inv.add_location(Location("S"))
        assert inv.check().ok


@pytest.mark.postgres
@pytest.mark.skipif(_PG_WHY is not None, reason=f"no PostgreSQL: {_PG_WHY}")
def test_an_older_writer_cannot_append_unchained_rows(tmp_path: Path) -> None:
    """An omnistock from before the chain calls append() without leaf hashes:
    the function refuses instead of writing an unchained row."""
    import psycopg

    j = PgJournal(tmp_path)
    try:
        _write(j.url)
        old_payload = (
            '{"u": [], "r": [[null, 1, "x", null, null, 1, null, null, null, null]], "k": []}'
        )
        with pytest.raises(psycopg.Error, match="hash chain"):
            j.sql(f'SELECT "{j.schema}".append(6, ?::jsonb)', old_payload)
        assert _problems(j.url) == []
    finally:
        j.close()


# -- time never goes backwards -----------------------------------------------------------


def test_skewed_writers_never_date_a_row_before_its_predecessor(journal: Journal) -> None:
    """Two processes on one store, the second's clock an hour behind: its
    rows are dated no earlier than the rows before them, and ``at(time)``
    never includes an entry from the future."""
    ahead = Inventory.open(journal.url, clock=lambda: T)
    behind = Inventory.open(journal.url, clock=lambda: T - timedelta(hours=1))
    try:
        ahead.add_location(Location("S"))
        ahead.receive("A", "S", 5)
        behind.refresh()
        behind.receive("A", "S", 7)  # its clock says 11:00; the journal says 12:00
        entries = ahead.history()
        assert [e.seq for e in entries] == [1, 2, 3]
        times = [e.at for e in entries]
        assert times == sorted(times) and times[-1] == T
        assert ahead.at(T - timedelta(minutes=30)).head == 0
        assert ahead.at(T - timedelta(seconds=1)).head == 0
        assert ahead.at(T).available("A", "S") == 12
        assert ahead.check().ok and behind.check().ok
    finally:
        ahead.close()
        behind.close()
