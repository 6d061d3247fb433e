"""A tamper-evident journal (issue 13, item 9) and journal time that never
goes backwards (item 10), on the durable stores, tampered with by hand.

Each journal is written through ``Inventory``, then changed behind
omnistock's back with ``sqlite3`` (SQLite) or ``psycopg`` (PostgreSQL):
a row deleted, inserted or edited, a chain hash corrupted. ``check()`` and
``omnistock check`` must report it, naming the first bad seq. Also: stores
written before the chain existed are migrated on open, and what the chain
cannot see alone (a rewritten tail) is seen against an anchor.

SQLite stores each row's chain hash. PostgreSQL (schema 3) stores each
row's *leaf* (its content hash, written by the appending process) and
readers link the chain over the leaves, checked against ``marks`` (chain
hashes kept at some seqs: every ``hash_at``, so every anchor and snapshot
seal); an edit shows as a row that no longer matches its leaf, and a
rewrite that fixes the leaves breaks the chain at the next mark. Its
counter tables (what the guards are checked against) count every committed
append, so ``check()`` also sees a row deleted, inserted or renumbered by
hand as counters that differ from a replay. A schema 1 or 2 (a global head
row, ``part`` and ``hash`` columns) is built by hand here and migrated on
open.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pytest

from conftest import PG_DSN as DSN
from omnistock import Inventory, Location
from omnistock.audit import anchor, from_snapshot, verify_anchor
from omnistock.cli import main
from omnistock.storage.chain import GENESIS, leaf, link, row_hash
from omnistock.storage.postgres import partition_of

T = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class SqliteJournal:
    """A SQLite journal, and hands that edit its file directly."""

    name = "sqlite"
    table = "entries"
    ts = "ts"

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "journal.db"
        self.url = f"sqlite:///{self.path}"

    def sql(self, stmt: str, *params: Any) -> list[Any]:
        with closing(sqlite3.connect(self.path)) as con:
            rows = con.execute(stmt.format(t=self.table), params).fetchall()
            con.commit()
        return rows

    def set_head(self, head: int) -> None:
        """The SQLite head is max(seq): nothing to move."""

    def renumber_from(self, seq: int, by: int) -> None:
        self.sql("UPDATE {t} SET seq = -seq WHERE seq >= ?", seq)
        self.sql("UPDATE {t} SET seq = -seq + ? WHERE seq < 0", by)

    def corrupt_hash(self, seq: int) -> None:
        """Overwrite the chain hash stored with row ``seq``."""
        self.sql("UPDATE {t} SET hash = ? WHERE seq = ?", b"\x01" * 16, seq)

    def downgrade(self) -> None:
        """Make the file look like one written before the chain (schema 1)."""
        self.sql("ALTER TABLE entries DROP COLUMN hash")
        self.sql("UPDATE meta SET value = '1' WHERE name = 'schema_version'")

    def close(self) -> None:
        pass


_OLD_SCHEMA: Final = """
CREATE SCHEMA {s};
CREATE TABLE {s}.meta (name text PRIMARY KEY, value text NOT NULL);
CREATE TABLE {s}.global_head (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    head bigint NOT NULL{head_chain}
);
CREATE TABLE {s}.part_heads (part integer PRIMARY KEY, head bigint NOT NULL);
CREATE TABLE {s}.journal (
    seq bigint PRIMARY KEY,
    part integer,
    ts_us bigint NOT NULL,
    kind text NOT NULL,
    sku text,
    location text,
    qty bigint NOT NULL,
    ref text,
    channel text,
    key text,
    data text{row_chain}
);
CREATE INDEX journal_sku_seq ON {s}.journal (sku, seq);
CREATE INDEX journal_ts_seq ON {s}.journal (ts_us, seq);
CREATE TABLE {s}.keys (
    key text PRIMARY KEY, fingerprint text NOT NULL, result text, seq bigint NOT NULL
);
CREATE TABLE {s}.snapshots (
    seq bigint PRIMARY KEY, blob bytea NOT NULL, saved_at timestamptz NOT NULL DEFAULT now()
);
-- A stand-in for the old writers' function (its signature is what matters).
CREATE FUNCTION {s}.append(p_expected bigint, p jsonb) RETURNS bigint
    LANGUAGE sql AS $$ SELECT p_expected $$;
"""


def build_old_pg_schema(
    schema: str,
    version: int,
    rows: Sequence[Any],
    keys: Sequence[tuple[str, str, str | None, int]] = (),
    snapshots: Sequence[tuple[int, bytes]] = (),
    partitions: int = 16,
) -> list[bytes]:
    """Create ``schema`` as omnistock's PostgreSQL schema ``version`` 1 or 2
    wrote it (one global head row, per-partition heads, a ``part`` column
    and, from version 2, a ``hash`` column and the head's hash and time),
    holding ``rows`` (``Row`` tuples, in seq order). Returns the chain
    hashes a version-2 writer stored (computed for version 1 too)."""
    import psycopg
    from psycopg import sql

    hashes: list[bytes] = []
    prev = GENESIS
    for r in rows:
        prev = row_hash(prev, r)
        hashes.append(prev)
    chained = version >= 2
    ddl = _OLD_SCHEMA.format(
        s="{s}",
        head_chain=",\n    hash bytea NOT NULL, ts_us bigint" if chained else "",
        row_chain=",\n    hash bytea" if chained else "",
    )
    s = sql.Identifier(schema)
    heads = dict.fromkeys(range(partitions), 0)
    for r in rows:
        sku = r[3]
        touched = range(partitions) if not sku else [partition_of(sku, partitions)]
        for part in touched:
            heads[part] = r[0]
    with psycopg.connect(DSN) as conn:  # one transaction
        conn.execute(sql.SQL(ddl).format(s=s))
        conn.execute(
            sql.SQL("INSERT INTO {}.meta VALUES ('version', %s), ('partitions', %s)").format(s),
            (str(version), str(partitions)),
        )
        last = rows[-1] if rows else None
        if chained:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.global_head (head, hash, ts_us) VALUES (%s, %s, %s)"
                ).format(s),
                (last[0] if last else 0, hashes[-1] if hashes else GENESIS, last and last[1]),
            )
        else:
            conn.execute(
                sql.SQL("INSERT INTO {}.global_head (head) VALUES (%s)").format(s),
                (last[0] if last else 0,),
            )
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL("INSERT INTO {}.part_heads (part, head) VALUES (%s, %s)").format(s),
                list(heads.items()),
            )
            cols = "seq, part, ts_us, kind, sku, location, qty, ref, channel, key, data"
            cur.executemany(
                sql.SQL(
                    "INSERT INTO {}.journal ("
                    + cols
                    + (", hash" if chained else "")
                    + ") VALUES ("
                    + ", ".join(["%s"] * (12 if chained else 11))
                    + ")"
                ).format(s),
                [
                    (
                        r[0],
                        partition_of(r[3], partitions) if r[3] else None,
                        *r[1:],
                        *((h,) if chained else ()),
                    )
                    for r, h in zip(rows, hashes, strict=True)
                ],
            )
            cur.executemany(
                sql.SQL("INSERT INTO {}.keys VALUES (%s, %s, %s, %s)").format(s), list(keys)
            )
            cur.executemany(
                sql.SQL("INSERT INTO {}.snapshots (seq, blob) VALUES (%s, %s)").format(s),
                list(snapshots),
            )
    return hashes


class PgJournal:
    """A PostgreSQL journal in a fresh schema, and hands that edit it with psql."""

    name = "postgresql"
    ts = "ts_us"

    def __init__(self, tmp_path: Path) -> None:
        self.schema = f"omnistock_test_{uuid.uuid4().hex[:12]}"
        sep = "&" if "?" in DSN else "?"
        self.url = f"{DSN}{sep}schema={self.schema}"
        self.table = f'"{self.schema}".journal'

    def sql(self, stmt: str, *params: Any) -> list[Any]:
        import psycopg

        text = stmt.replace("?", "%s").format(t=self.table, s=f'"{self.schema}"')
        with psycopg.connect(DSN, autocommit=True) as conn:
            cur = conn.execute(text, params)
            return cur.fetchall() if cur.description else []

    def set_head(self, head: int) -> None:
        """Move the seq sequence (the head) as the tamperer would, to hide a change."""
        self.sql("SELECT setval(?::regclass, ?)", f'"{self.schema}".seq', head)

    def renumber_from(self, seq: int, by: int) -> None:
        self.sql("UPDATE {t} SET seq = -seq WHERE seq >= ?", seq)
        self.sql("UPDATE {t} SET seq = -seq + ? WHERE seq < 0", by)

    def corrupt_hash(self, seq: int) -> None:
        """Overwrite the leaf (content hash) stored with row ``seq``: schema 3
        stores no chain hash per row."""
        self.sql("UPDATE {t} SET leaf = ? WHERE seq = ?", b"\x01" * 16, seq)

    def rows(self) -> list[Any]:
        return self.sql(
            "SELECT seq, ts_us, kind, sku, location, qty, ref, channel, key, data"
            " FROM {t} ORDER BY seq"
        )

    def downgrade(self, version: int = 1) -> list[bytes]:
        """Rebuild the schema as omnistock's schema ``version`` (1: before the
        chain) wrote it, with the same rows, keys and snapshots."""
        rows = self.rows()
        keys = self.sql("SELECT key, fingerprint, result, seq FROM {s}.keys")
        snaps = [(s, bytes(b)) for s, b in self.sql("SELECT seq, blob FROM {s}.snapshots")]
        self.close()
        return build_old_pg_schema(self.schema, version, rows, keys, snaps)

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
    journal.corrupt_hash(4)
    problems = _journal_problems(journal.url)
    if journal.name == "sqlite":
        assert problems and "chain is broken at row 4" in problems[0]
    else:  # a leaf that no longer matches its row: what an edit looks like
        assert problems == [problems[0]] and "row 4 was edited" in problems[0]
    assert main(["check", "--store", journal.url]) == 1


def test_a_row_inserted_at_the_end_without_a_hash_is_reported(journal: Journal) -> None:
    _write(journal.url)
    ts = journal.sql(f"SELECT max({journal.ts}) FROM {{t}}")[0][0]
    insert = f"INSERT INTO {{t}} (seq, {journal.ts}, kind, sku, location, qty"
    if journal.name == "sqlite":
        journal.sql(insert + ") VALUES (7, ?, 'received', 'A', 'S', 1000)", ts)
        message = "row 7 has no chain hash"
    else:
        import psycopg

        with pytest.raises(psycopg.errors.NotNullViolation):  # every row keeps its leaf
            journal.sql(insert + ") VALUES (7, ?, 'received', 'A', 'S', 1000)", ts)
        journal.sql(insert + ", leaf) VALUES (7, ?, 'received', 'A', 'S', 1000, ?)", ts, b"")
        message = "row 7 does not match its chain hash"
    journal.set_head(7)
    problems = _journal_problems(journal.url)
    assert problems and message in problems[0]
    assert main(["check", "--store", journal.url]) == 1


def test_a_row_inserted_with_a_forged_hash_is_reported(journal: Journal) -> None:
    _write(journal.url)
    if journal.name == "sqlite":
        ts, prev = journal.sql("SELECT ts, hash FROM {t} WHERE seq = 6")[0]
        # A plausible forgery that does not know the canonical row text.
        forged = link(bytes(prev), 7, ts, b"\x00" * 16)
        column = "hash"
    else:
        (ts,) = journal.sql("SELECT ts_us FROM {t} WHERE seq = 6")[0]
        # The leaf of an innocent row, on a row that receives 1000.
        forged = leaf((ts, "received", "A", "S", 1, None, None, None, None))
        column = "leaf"
    journal.sql(
        f"INSERT INTO {{t}} (seq, {journal.ts}, kind, sku, location, qty, {column}) "
        "VALUES (7, ?, 'received', 'A', 'S', 1000, ?)",
        ts,
        forged,
    )
    journal.set_head(7)
    problems = _journal_problems(journal.url)
    assert problems and "row 7 does not match its chain hash" in problems[0]


def test_a_row_inserted_in_the_middle_is_reported(journal: Journal) -> None:
    _write(journal.url)
    column = "hash" if journal.name == "sqlite" else "leaf"
    # Row 3's stored hash (SQLite) or leaf (PostgreSQL), reused for the forgery.
    ts, h3 = journal.sql(f"SELECT {journal.ts}, {column} FROM {{t}} WHERE seq = 3")[0]
    journal.renumber_from(3, 1)
    journal.sql(
        f"INSERT INTO {{t}} (seq, {journal.ts}, kind, sku, location, qty, {column}) "
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
    if journal.name == "sqlite":
        problems = _journal_problems(journal.url)
        assert problems and "row 2" in problems[0]
    else:
        # Readers link the chain over the leaves, which still match their
        # rows; the counters still count row 2's receipt.
        problems = _problems(journal.url)
        assert any(p.startswith("counters: position ('A', 'S')") for p in problems), problems
    assert main(["check", "--store", journal.url]) == 1


def test_deleting_the_last_row(journal: Journal) -> None:
    """SQLite's head is the last row, so only an anchor kept elsewhere sees
    a deleted last row. PostgreSQL's counter tables still count it (even
    when the head is moved back too), and so does the anchor."""
    _write(journal.url)
    with Inventory.open(journal.url) as inv:
        kept = anchor(inv.store)
    assert kept[0] == 6
    journal.sql("DELETE FROM {t} WHERE seq = 6")
    journal.set_head(5)
    problems = _problems(journal.url)
    if journal.name == "postgresql":
        assert problems == [
            "counters: position ('B', 'S'): replay says (3, 0, 0, 0), counters say (7, 0, 0, 0)"
        ]
    else:
        assert problems == []
    with Inventory.open(journal.url) as inv:
        assert verify_anchor(inv.store, *kept) == "journal: row 6 of the anchor is missing"


def test_a_rewritten_tail_passes_the_chain_but_not_the_anchor(journal: Journal) -> None:
    """What the chain cannot prove alone: someone who edits a row and
    recomputes every hash after it (on PostgreSQL: the row's leaf, the
    chain marks after it and the counters). An anchor kept outside the
    store sees it."""
    _write(journal.url)
    with Inventory.open(journal.url) as inv:
        kept = anchor(inv.store)
    journal.sql("UPDATE {t} SET qty = 500 WHERE seq = 3")
    if journal.name == "sqlite":
        with Inventory.open(journal.url) as inv:
            prev = inv.store.hash_at(2)
            assert prev is not None
            for row, _ in list(inv.store.read_chain(2)):
                prev = row_hash(prev, row)
                journal.sql("UPDATE {t} SET hash = ? WHERE seq = ?", prev, row[0])
    else:
        edited = journal.rows()[2]
        journal.sql("UPDATE {t} SET leaf = ? WHERE seq = 3", leaf(edited, 2))
        journal.sql("DELETE FROM {s}.marks WHERE seq >= 3")
        journal.sql(
            "UPDATE {s}.positions SET holdable = holdable + 495 WHERE sku = 'A' AND location = 'S'"
        )
    assert _problems(journal.url) == []  # the chain alone is satisfied
    with Inventory.open(journal.url) as inv:
        problem = verify_anchor(inv.store, *kept)
        assert problem is not None and "row 6 has chain hash" in problem
        assert verify_anchor(inv.store, 2, inv.store.hash_at(2).hex()) is None  # type: ignore[union-attr]


# -- PostgreSQL: the chain marks and the counter tables -----------------------------------


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[PgJournal]:
    """A PostgreSQL journal (tests using it are marked ``postgres``:
    skipped without a server, failed in CI)."""
    j = PgJournal(tmp_path)
    try:
        yield j
    finally:
        j.close()


@pytest.mark.postgres
@pytest.mark.parametrize("mark", [6, 4, 3])
def test_a_rewritten_leaf_breaks_the_chain_at_the_next_mark(pg: PgJournal, mark: int) -> None:
    """A mark records what the chain was at its seq: a row edited before
    it with its leaf rewritten to match no longer links to the mark."""
    _write(pg.url)
    with Inventory.open(pg.url) as inv:
        anchor(inv.store, mark)  # hash_at(): leaves a mark at ``mark``
    assert [m for (m,) in pg.sql("SELECT seq FROM {s}.marks")] == [mark]
    pg.sql("UPDATE {t} SET qty = 500 WHERE seq = 3")
    pg.sql("UPDATE {t} SET leaf = ? WHERE seq = 3", leaf(pg.rows()[2], 2))
    problems = _journal_problems(pg.url)
    assert problems and f"row {mark}" in problems[0], problems
    assert main(["check", "--store", pg.url]) == 1


@pytest.mark.postgres
def test_a_corrupted_mark_is_reported(pg: PgJournal) -> None:
    _write(pg.url)
    with Inventory.open(pg.url) as inv:
        inv.store.hash_at(4)
    pg.sql("UPDATE {s}.marks SET hash = ? WHERE seq = 4", b"\x01" * 16)
    problems = _journal_problems(pg.url)
    assert problems == [problems[0]] and "row 4" in problems[0]


@pytest.mark.postgres
def test_a_renumbering_across_a_mark_breaks_the_chain_there(pg: PgJournal) -> None:
    _write(pg.url)
    with Inventory.open(pg.url) as inv:
        anchor(inv.store, 3)  # leaves a mark at 3
    pg.sql("DELETE FROM {t} WHERE seq = 2")
    pg.renumber_from(3, -1)
    pg.set_head(5)
    problems = _journal_problems(pg.url)
    assert problems and "row 3" in problems[0], problems


@pytest.mark.postgres
def test_a_row_inserted_with_its_true_leaf_is_seen_by_the_counters(pg: PgJournal) -> None:
    """Readers link the chain over the stored leaves, so a row appended by
    hand with the right leaf extends the chain; no append counted it, so
    the counters differ from a replay."""
    _write(pg.url)
    (ts,) = pg.sql("SELECT ts_us FROM {t} WHERE seq = 6")[0]
    forged = (7, ts, "received", "A", "S", 1000, None, None, None, None)
    pg.sql(
        "INSERT INTO {t} (seq, ts_us, kind, sku, location, qty, leaf)"
        " VALUES (7, ?, 'received', 'A', 'S', 1000, ?)",
        ts,
        leaf(forged, 2),
    )
    pg.set_head(7)
    assert _problems(pg.url) == [
        "counters: position ('A', 'S'): replay says (1013, 0, 0, 0), counters say (13, 0, 0, 0)"
    ]


# -- migration: stores written before the chain, and PostgreSQL schemas 1 and 2 ----------


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
        assert inv.head == 1


def _columns(pg: PgJournal, table: str) -> list[str]:
    return [
        c
        for (c,) in pg.sql(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            pg.schema,
            table,
        )
    ]


def _tables(pg: PgJournal) -> set[str]:
    return {
        n
        for (n,) in pg.sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", pg.schema
        )
    }


def _append_signatures(pg: PgJournal) -> list[str]:
    return [
        a
        for (a,) in pg.sql(
            "SELECT pg_get_function_identity_arguments(p.oid) FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = ? AND p.proname = 'append'",
            pg.schema,
        )
    ]


@pytest.mark.postgres
def test_a_version_2_schema_is_migrated_on_open(
    pg: PgJournal, caplog: pytest.LogCaptureFixture
) -> None:
    """Schema 2 (a global head row, partition heads, a chain hash per row)
    becomes schema 3 on open: same rows, keys and snapshots; the chain
    readers link over the computed leaves is the one schema 2 stored, so
    anchors and snapshot seals taken before still hold; the counters equal
    a replay; the old writers' function is gone."""
    _write(pg.url)
    with Inventory.open(pg.url) as inv:
        inv.snapshot()  # sealed with the chain hash at seq 6
    pg.sql("INSERT INTO {s}.keys VALUES ('k-old', 'fp', '\"r\"', 3)")
    rows = pg.rows()
    hashes = pg.downgrade(version=2)
    assert {"global_head", "part_heads"} <= _tables(pg)
    assert "hash" in _columns(pg, "journal") and "part" in _columns(pg, "journal")
    kept = (6, hashes[-1].hex())
    with caplog.at_level(logging.WARNING, logger="omnistock"), Inventory.open(pg.url) as inv:
        assert inv.head == 6
        assert list(inv.store.read()) == rows
        assert [h for _, h in inv.store.read_chain()] == hashes
        assert verify_anchor(inv.store, *kept) is None
        assert from_snapshot(inv.store).head == 6  # its seal holds: not refused
        assert inv.store.counters() is not None
        assert inv.store.counters().positions == {  # type: ignore[union-attr]
            ("A", "S"): (13, 0, 0, 0),
            ("B", "S"): (7, 0, 0, 0),
        }
        rec = inv.store.lookup_key("k-old")
        assert rec is not None and (rec.fingerprint, rec.result, rec.seq) == ("fp", '"r"', 3)
        assert inv.check().ok
        inv.receive("A", "S", 1)
        assert inv.head == 7
        assert inv.check().ok
    assert not [r for r in caplog.records if "snapshot" in r.getMessage()]  # the seal held
    meta = dict(pg.sql("SELECT name, value FROM {s}.meta"))
    assert (meta["version"], meta["partitions"]) == ("3", "16")
    assert not {"global_head", "part_heads"} & _tables(pg)
    assert {"positions", "reservations", "usage", "claims", "network", "marks", "holes"} <= (
        _tables(pg)
    )
    assert _columns(pg, "journal") == [
        "seq", "ts_us", "kind", "sku", "location", "qty", "ref", "channel", "key", "data", "leaf",
    ]  # fmt: skip
    assert pg.sql("SELECT count(*) FROM {t} WHERE leaf IS NULL") == [(0,)]
    assert _append_signatures(pg) == ["p jsonb"]  # append(expected_head, payload) is gone
    with Inventory.open(pg.url) as inv:  # opened again: nothing to migrate
        assert [h for _, h in inv.store.read_chain(0, 6)] == hashes
        assert inv.check().ok


@pytest.mark.postgres
def test_a_version_1_schema_with_clocks_going_backwards_is_migrated(pg: PgJournal) -> None:
    """Schema 1 kept the writers' clocks: migrating clamps each row's time
    to its predecessor's, so the journal's time never goes backwards."""
    _write(pg.url)
    rows = pg.rows()
    skewed = [r if r[0] != 4 else (4, rows[1][1], *r[2:]) for r in rows]  # 4 dated as 2
    assert skewed[3][1] < skewed[2][1]
    pg.close()
    build_old_pg_schema(pg.schema, 1, skewed, partitions=4)
    assert "hash" not in _columns(pg, "journal")
    with Inventory.open(pg.url) as inv:
        got = list(inv.store.read())
        times = [r[1] for r in got]
        assert times == sorted(times)
        assert times[3] == times[2] == rows[2][1]
        assert [r[2:] for r in got] == [r[2:] for r in rows]
        assert inv.check().ok
        inv.receive("B", "S", 1)
        assert inv.check().ok
        assert inv.store.hash_at(7) is not None
    assert pg.sql("SELECT value FROM {s}.meta WHERE name = 'partitions'") == [("4",)]


@pytest.mark.postgres
def test_two_processes_opening_an_old_schema_at_once_migrate_it_once(pg: PgJournal) -> None:
    _write(pg.url)
    rows = pg.rows()
    pg.downgrade(version=2)
    n = 4
    barrier = threading.Barrier(n, timeout=30)
    errors: list[BaseException] = []
    seen: list[list[Any]] = []

    def opener() -> None:
        try:
            barrier.wait()
            with Inventory.open(pg.url) as inv:
                seen.append(list(inv.store.read()))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=opener) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors
    assert seen == [rows] * n
    assert _problems(pg.url) == []


@pytest.mark.postgres
def test_an_older_writer_cannot_append(pg: PgJournal) -> None:
    """An omnistock from before schema 3 calls ``append(expected_head,
    payload)``, which the migration dropped; one that sends rows without
    their leaves (the ``h`` array) is refused with SQLSTATE OS003. Neither
    writes."""
    import psycopg

    _write(pg.url)
    pg.downgrade(version=2)
    assert _append_signatures(pg) == ["p_expected bigint, p jsonb"]
    assert _problems(pg.url) == []  # opened: migrated
    old_payload = '{"u": [], "r": [[null, 1, "x", null, null, 1, null, null, null, null]], "k": []}'
    with pytest.raises(psycopg.errors.UndefinedFunction):
        pg.sql("SELECT {s}.append(6, ?::jsonb)", old_payload)
    unchained = '{"r": [[1, "received", "A", "S", 1, null, null, null, null]], "k": []}'
    with pytest.raises(psycopg.Error, match="schema version 3") as info:
        pg.sql("SELECT {s}.append(?::jsonb)", unchained)
    assert info.value.sqlstate == "OS003"
    short = '{"r": [[1, "received", "A", "S", 1, null, null, null, null]], "h": [], "k": []}'
    with pytest.raises(psycopg.Error, match="upgrade omnistock"):
        pg.sql("SELECT {s}.append(?::jsonb)", short)
    assert len(pg.rows()) == 6
    assert _problems(pg.url) == []


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
