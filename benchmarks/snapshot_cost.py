"""What a snapshot of a big replica costs: its size and the time to write and read it.

A ``LedgerState`` is built by ``ledger.replay`` of a generated journal
(``workloads.journal_rows``: the locations, then one receipt per position,
every position stocked), then timed once each: ``to_bytes``, ``seal``
(compress and checksum, what a store keeps), ``unseal`` and ``from_bytes``.
Sizes: the payload and what is stored. The journal's quantities are all
alike, so its grids compress better than a real retailer's would.

    python -m benchmarks.snapshot_cost                      # 100,000 SKUs x 200 locations
    python -m benchmarks.snapshot_cost --skus 10000 --locs 50
"""

from __future__ import annotations

import argparse
import itertools
import time

from omnistock.ledger import snapshot
from omnistock.ledger.replay import replay
from omnistock.ledger.state import LedgerState

from .workloads import journal_rows


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
    mb = 2**20
    print(f"{a.skus:,} SKUs x {a.locs} locations ({a.skus * a.locs:,} positions stocked)")
    print(f"payload {len(payload) / mb:,.1f} MB, stored {len(blob) / mb:,.1f} MB")
    print(f"to_bytes {t1 - t0:.2f} s, seal {t2 - t1:.2f} s, unseal {t3 - t2:.2f} s, ", end="")
    print(f"from_bytes {t4 - t3:.2f} s")


if __name__ == "__main__":
    main()
