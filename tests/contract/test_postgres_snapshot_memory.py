"""A snapshot moved through the PostgreSQL store leaves nothing of its size
resident once it is loaded or saved.

libpq grows a connection's input and output buffers to the largest message
and never shrinks them while the connection lives. A replica of 100k SKUs x
200 locations has a snapshot of about 300 MB: read on the store's reading
connection as hex text, it kept about 600 MB resident for the life of the
process, and saving one kept its size again on the writing connection.
Each case runs in a fresh interpreter and compares its resident set before
and after, with the blob itself dropped (real server, no mocks).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator

import pytest

psycopg = pytest.importorskip("psycopg", reason="psycopg 3 is not installed (omnistock[postgres])")

from conftest import PG_DSN as DSN  # noqa: E402
from conftest import REQUIRE_PG, pg_unreachable  # noqa: E402

_WHY = pg_unreachable()
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        _WHY is not None and not REQUIRE_PG,
        reason=f"no PostgreSQL server reachable via OMNISTOCK_PG_DSN ({_WHY})",
    ),
]

MB = 2**20
BLOB = 96 * MB
"""Big enough that a buffer kept for it stands far above the noise of an
interpreter's resident set (a few MB)."""

CHILD = textwrap.dedent(
    """
    import gc, json, os, sys
    from omnistock.storage.postgres import PostgresStore

    def rss():
        gc.collect()
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    dsn, schema, what, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    store = PostgresStore(dsn, schema=schema)
    store.head()  # both connections in use before the first reading
    before = rss()
    if what == "save":
        # Pages that differ (not all zero), so none is shared or left unmapped.
        blob = bytes(range(256)) * (size // 256)
        store.save_snapshot(1, blob)
    else:
        seq, blob = store.load_snapshot()
        assert (seq, len(blob)) == (1, size)
    del blob
    print(json.dumps({"grew": rss() - before}))
    store.close()
    """
)


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"omnistock_snapmem_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(psycopg.sql.Identifier(name))
        )


def _grew(schema: str, what: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, DSN, schema, what, str(BLOB)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return int(json.loads(out.stdout.strip().splitlines()[-1])["grew"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_saving_then_loading_a_big_snapshot_keeps_nothing_of_its_size(schema: str) -> None:
    saved = _grew(schema, "save")
    loaded = _grew(schema, "load")
    # Before: about 1x the blob kept after a save, about 2x after a load.
    assert saved < BLOB // 4, f"saving a {BLOB // MB} MB snapshot kept {saved // MB} MB"
    assert loaded < BLOB // 4, f"loading a {BLOB // MB} MB snapshot kept {loaded // MB} MB"
