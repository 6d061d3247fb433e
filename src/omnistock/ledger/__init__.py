"""The core ledger: position arrays and their kernels, holds, supply, the
journal's row kinds (``rows``), the fold of rows into state (``fold``, into
``state.LedgerState``), its invariants, snapshots, savepoints and replay.

Imports nothing from storage adapters, services or the face."""
