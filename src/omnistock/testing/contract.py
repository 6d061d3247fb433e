"""The whole store contract, as one pytest base class."""

from __future__ import annotations

from .guards import GuardTests
from .journal import JournalTests
from .peers import PeerTests
from .trust import TrustTests

__all__ = ["StoreContract"]


class StoreContract(JournalTests, PeerTests, TrustTests, GuardTests):
    """Pytest base class: the guarantees of ``Store``, for any store,
    including the trust ones (``TrustTests``: a hash chain that verifies,
    time that never goes backwards) and the guard ones (``GuardTests``: a
    command planned on a stale ledger never lands on changed facts).

    Subclass it as ``Test...`` and implement :meth:`make_store`. Override
    :meth:`reopen` or :meth:`open_peer` when a second store object on the same
    journal is made differently; set ``durable = False`` for stores whose data
    dies with the object.
    """
