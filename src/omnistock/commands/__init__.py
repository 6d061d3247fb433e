"""Plan functions, one module per area.

Each public command of ``Inventory`` is one plan function here,
``(state, context, ...arguments) -> Plan``: it validates against the ledger
it can see, changes nothing, and returns the rows to append, the guards it
relies on and how to read its result after the fold (``omnistock.planning``).
The runner (``omnistock.runner``) commits it.

- ``network``: locations, channels, the sourcing policy;
- ``stock``: receive, count, sell, safety, state changes, returns, expected supply;
- ``reservations``: hold, commit, release, extend, resize, ship, collect;
- ``purchases``: purchase-order lines: cancel, redate, receipts against them;
- ``amendments``: order changes: release some lines, amend a reservation;
- ``holdbatches``: ``hold_many(HoldBatch)``, a whole batch in one kernel call;
- ``transfers``: transfers out and in;
- ``allocation``: allocate (with BOPIS), waves, store rejections;
- ``lookup``: the validating lookups and channel figures plans and queries share.
"""
