"""The sync face and the async face behind one interface, for the facts both keep.

``SyncFace`` drives an ``AsyncInventory`` from sync test code: each coroutine
method runs to completion on a private event loop, and the sync face's
properties (coroutine methods on the async face) read as properties again.
``faces(kind, store, clock, tmp_path)`` yields a ``make_inventory``-shaped
factory that opens ``Inventory`` (kind ``sync``) or ``SyncFace`` (``async``)
on a fresh store of the given kind each call; ``tests/face/async_face/``
overrides the ``make_inventory`` fixture with it, so the facts of
``tests/face`` run through both faces unchanged.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from conftest import PG_DSN, Clock, require_pg
from omnistock import AsyncInventory, Inventory

# The facts run both ways are imported from their own modules by bare name.
for _dir in ("face", "face/fulfilment"):
    sys.path.insert(0, str(Path(__file__).parent / _dir))

T = TypeVar("T")

FACE_KINDS = ("sync", "async")
FACES = [(kind, store) for kind in FACE_KINDS for store in ("memory", "sqlite")]
FACE_IDS = [f"{kind}-{store}" for kind, store in FACES]


class SyncFace:
    """An ``AsyncInventory`` with the sync face's calling convention: every
    coroutine runs on ``runner``'s loop until done (so the loop and the
    worker threads are both in play, as in a service)."""

    def __init__(self, ainv: AsyncInventory, runner: asyncio.Runner) -> None:
        self.ainv = ainv
        self._runner = runner

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.ainv, name)
        if not inspect.iscoroutinefunction(attr):
            return attr  # ``store``, ``inventory``
        if isinstance(inspect.getattr_static(Inventory, name, None), property):
            return self._run(attr())
        return lambda *args, **kwargs: self._run(attr(*args, **kwargs))

    def close(self) -> None:
        self._run(self.ainv.aclose())


def _pg_url(schemas: list[str]) -> str:
    require_pg()
    schema = f"omnistock_t_{uuid.uuid4().hex[:12]}"
    schemas.append(schema)
    sep = "&" if "?" in PG_DSN else "?"
    return f"{PG_DSN}{sep}schema={schema}"


def _drop(schemas: list[str]) -> None:
    if not schemas:
        return
    import psycopg
    from psycopg import sql

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@contextmanager
def faces(kind: str, store: str, clock: Clock, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """A factory ``make(url=None, **options)``: a face of ``kind`` (``sync``
    or ``async``) on ``url``, or on a fresh ``store`` (``memory``, ``sqlite``,
    ``postgresql``) when no url is given, with ``clock``. Everything it
    opened is closed (and PostgreSQL schemas dropped) on exit."""
    opened: list[Inventory | SyncFace] = []
    schemas: list[str] = []
    runner = asyncio.Runner()

    def fresh_url() -> str:
        if store == "memory":
            return "memory://"
        if store == "sqlite":
            return f"sqlite:///{tmp_path / f'face-{len(opened)}.db'}"
        return _pg_url(schemas)

    def make(url: str | None = None, **options: Any) -> Inventory | SyncFace:
        url = url or fresh_url()
        face: Inventory | SyncFace
        if kind == "sync":
            face = Inventory.open(url, clock=clock, **options)
        else:
            face = SyncFace(runner.run(AsyncInventory.open(url, clock=clock, **options)), runner)
        opened.append(face)
        return face

    try:
        yield make
    finally:
        for face in opened:
            face.close()
        runner.close()
        _drop(schemas)
