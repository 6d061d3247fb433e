"""What a store's test class provides: the store, a reopened one, a peer."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..storage.base import Store

__all__ = ["StoreHooks"]


class StoreHooks(abc.ABC):
    """The hooks every part of :class:`~omnistock.testing.StoreContract`
    uses, and the ``store`` fixture."""

    durable: bool = True
    """Data outlives the store object: reopening shows it, and a second object
    made by ``make_store`` sees the same journal."""

    @abc.abstractmethod
    def make_store(self, tmp_path: Path) -> Store:
        """A store at a place derived only from ``tmp_path`` (empty the first
        time)."""

    def reopen(self, store: Store, tmp_path: Path) -> Store:
        """Close ``store`` and open the same journal again."""
        store.close()
        return self.make_store(tmp_path)

    def open_peer(self, store: Store, tmp_path: Path) -> Store:
        """Another store object on the same journal (a second writer); for a
        non-durable store, ``store`` itself (shared between threads)."""
        if not self.durable:
            return store
        return self.make_store(tmp_path)

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        s = self.make_store(tmp_path)
        try:
            yield s
        finally:
            s.close()
