"""Preloaded by the forkserver of ``_workers.warm_context`` (never imported
by a test).

The server imports omnistock and the test helpers and loads the bulk-hold
kernels once; each contention worker or crash writer forked from it starts
warm instead of importing numba itself (about a second each on a small
machine, eight at once for the contention test, fifty times for the crash
test).
"""

from __future__ import annotations

import _workers

_workers.warm_kernels()
