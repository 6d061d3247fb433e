"""Claims the docs make about start-up and snapshots, as tests that can fail."""

from __future__ import annotations

import subprocess
import sys

from omnistock import Inventory, Location
from omnistock.storage.memory import KEEP_SNAPSHOTS, MemoryStore


def test_single_commands_never_import_numba() -> None:
    """A POS or backend process doing single commands does not pay for numba."""
    code = (
        "import sys\n"
        "from omnistock import Inventory, Location, Order, Line\n"
        "inv = Inventory.open('memory://')\n"
        "inv.add_location(Location('S'))\n"
        "inv.receive('a', 'S', 5)\n"
        "r = inv.hold(Order('o', lines=[Line('a', 1, 'S')]))\n"
        "inv.commit(r.id); inv.ship(r.id); assert inv.check().ok\n"
        "print('numba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_a_running_inventory_snapshots_every_n_rows_and_reopens_from_it() -> None:
    store = MemoryStore()
    inv = Inventory(store=store, snapshot_every=5)
    inv.add_location(Location("S"))
    for i in range(12):
        inv.receive("a", "S", i + 1)
    snap = store.load_snapshot()
    assert snap is not None and snap[0] >= 10
    assert Inventory(store=store).digest() == inv.digest()


def test_the_memory_store_keeps_the_newest_snapshots() -> None:
    store = MemoryStore()
    for seq in range(1, 8):
        store.save_snapshot(seq, b"x%d" % seq)
    assert [s for s, _ in store._snaps] == list(range(8 - KEEP_SNAPSHOTS, 8))
    assert store.load_snapshot(2) is None
    assert store.load_snapshot(5) == (5, b"x5")
