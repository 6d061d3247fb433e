"""What a snapshot of a big replica costs: its size and the time to write and read it.

A ``LedgerState`` is built by ``ledger.replay`` of a generated journal
(``workloads.journal_rows``: the locations, then one receipt per position,
every position stocked), then timed once each: ``to_bytes``, ``seal``
(compress and checksum, what a store keeps), ``unseal`` and ``from_bytes``.
Sizes: the payload and what is stored. The journal's quantities are all
alike, so its grids compress better than a real retailer's would. On
Linux it also reports the peak resident set above where it stood (``VmHWM``,
reset before each) while sealing, piece by piece (``seal_state``, what a
store saves) and the whole payload first (``seal(to_bytes())``), and while
loading, as it decompresses (``check_seal``, then ``from_bytes`` of the
sealed blob, what a store's reader does) and the whole payload first
(``from_bytes(unseal())``); a load's peak includes the ledger it builds.

    python -m benchmarks.snapshot_cost                      # 100,000 SKUs x 200 locations
    python -m benchmarks.snapshot_cost --skus 10000 --locs 50
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections.abc import Callable

from omnistock.ledger import snapshot
from omnistock.ledger.replay import replay
from omnistock.ledger.state import LedgerState

from .workloads import journal_rows


def _peak_mb(work: Callable[[], object]) -> tuple[float, float] | None:
    """MB the resident set peaked above where it stood while ``work`` ran,
    and its seconds; None where ``/proc`` cannot reset the peak."""

    def status(key: str) -> int:
        with open("/proc/self/status") as f:
            return next(int(x.split()[1]) for x in f if x.startswith(key))

    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current resident set
        base = status("VmRSS:")
    except OSError:
        return None
    t = time.perf_counter()
    made = work()
    secs = time.perf_counter() - t
    del made
    return (status("VmHWM:") - base) / 1024, secs


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--skus", type=int, default=100_000)
    ap.add_argument("--locs", type=int, default=200)
    a = ap.parse_args(argv)
    st = LedgerState()
    n = a.locs + a.skus * a.locs
    replay(st, itertools.islice(journal_rows(a.locs + 2 * a.skus * a.locs, a.skus, a.locs), n))
    t0 = time.perf_counter()
    payload = st.to_bytes()
    t1 = time.perf_counter()
    blob = snapshot.seal(payload, st.head, None)
    t2 = time.perf_counter()
    back = snapshot.unseal(blob, st.head, None)
    t3 = time.perf_counter()
    loaded = LedgerState.from_bytes(back)
    t4 = time.perf_counter()
    assert loaded.digest() == st.digest()
    head = st.head
    mb = 2**20
    print(f"{a.skus:,} SKUs x {a.locs} locations ({a.skus * a.locs:,} positions stocked)")
    print(f"payload {len(payload) / mb:,.1f} MB, stored {len(blob) / mb:,.1f} MB")
    print(f"to_bytes {t1 - t0:.2f} s, seal {t2 - t1:.2f} s, unseal {t3 - t2:.2f} s, ", end="")
    print(f"from_bytes {t4 - t3:.2f} s")
    if os.path.exists("/proc/self/clear_refs"):
        ways: dict[str, Callable[[], object]] = {
            "piece by piece (seal_state)": lambda: snapshot.seal_state(st, st.head, None),
            "whole payload first (seal(to_bytes()))": lambda: snapshot.seal(
                st.to_bytes(), st.head, None
            ),
        }
        for name, fn in ways.items():
            got = _peak_mb(fn)
            if got is not None:
                print(f"sealing {name}: peak {got[0]:,.0f} MB above the ledger, {got[1]:.2f} s")
        sealed = snapshot.seal_state(st, st.head, None)
        del st, loaded, payload, back, blob
        loads: dict[str, Callable[[], object]] = {
            "as it decompresses (check_seal, from_bytes)": lambda: (
                snapshot.check_seal(sealed, head, None),
                LedgerState.from_bytes(sealed),
            ),
            "whole payload first (from_bytes(unseal()))": lambda: LedgerState.from_bytes(
                snapshot.unseal(sealed, head, None)
            ),
        }
        for name, fn in loads.items():
            got = _peak_mb(fn)
            if got is not None:
                print(
                    f"loading {name}: peak {got[0]:,.0f} MB (with the new ledger), {got[1]:.2f} s"
                )


if __name__ == "__main__":
    main()
