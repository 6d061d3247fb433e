"""Redis with a Lua check-and-decrement, the usual flash-sale answer.

One key a position holds the units available. The script decrements only if
enough are left, atomically inside Redis, and returns 1 or 0: the
per-reservation result. It is loaded once and called by ``EVALSHA``:

- ``reserve_each``: one round trip a reservation (redis-py, ``EVALSHA``);
- ``reserve_pipelined``: ``EVALSHA`` calls pipelined (no MULTI) in batches.

Keys carry a private prefix and ``close()`` deletes them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

from ..workloads import Workload
from . import ServiceDown

LUA = """
local a = tonumber(redis.call('GET', KEYS[1]) or '0')
local q = tonumber(ARGV[1])
if a >= q then
  redis.call('DECRBY', KEYS[1], q)
  return 1
end
return 0
"""

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def client() -> Any:
    try:
        import redis
    except ImportError as exc:  # pragma: no cover
        raise ServiceDown(f"redis-py is not installed: {exc}") from exc
    url = os.environ.get("OMNISTOCK_REDIS_URL", DEFAULT_URL)
    r = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        r.ping()
    except redis.exceptions.ConnectionError as exc:
        raise ServiceDown(f"Redis at {url} is not reachable: {exc}") from exc
    return r


class RedisLua:
    def __init__(self) -> None:
        self.r = client()
        self.prefix = f"omnistock:bench:{os.getpid()}:{uuid.uuid4().hex[:8]}:"
        self.sha = self.r.script_load(LUA)
        self.keys: dict[tuple[int, int], str] = {}

    def load(self, w: Workload) -> None:
        ts, tl = w.touched()
        vals = w.stock[ts, tl].tolist()
        pipe = self.r.pipeline(transaction=False)
        for i, (a, b) in enumerate(zip(ts.tolist(), tl.tolist(), strict=True)):
            k = f"{self.prefix}{a}:{b}"
            self.keys[(a, b)] = k
            pipe.set(k, vals[i])
            if i % 5_000 == 4_999:
                pipe.execute()
        pipe.execute()

    def key_list(self, s: list[int], l: list[int]) -> list[str]:
        keys = self.keys
        return [keys[(a, b)] for a, b in zip(s, l, strict=True)]

    def reserve_each(self, keys: list[str], qty: list[int]) -> int:
        ev = self.r.evalsha
        sha = self.sha
        n = 0
        for k, q in zip(keys, qty, strict=True):
            n += ev(sha, 1, k, q)
        return n

    def reserve_pipelined(self, keys: list[str], qty: list[int], batch: int = 1_000) -> int:
        sha = self.sha
        n = 0
        for lo in range(0, len(keys), batch):
            pipe = self.r.pipeline(transaction=False)
            for k, q in zip(keys[lo : lo + batch], qty[lo : lo + batch], strict=True):
                pipe.evalsha(sha, 1, k, q)
            n += sum(pipe.execute())
        return n

    def close(self) -> None:
        ks = list(self.keys.values())
        for lo in range(0, len(ks), 5_000):
            self.r.unlink(*ks[lo : lo + 5_000])
        self.r.close()


def prepare(w: Workload, pipelined: bool, cleanup: list[Callable[[], None]]) -> Callable[[], int]:
    db = RedisLua()
    cleanup.append(db.close)
    db.load(w)
    keys = db.key_list(w.s.tolist(), w.l.tolist())
    q = w.qty.tolist()
    if pipelined:
        return lambda: db.reserve_pipelined(keys, q)
    return lambda: db.reserve_each(keys, q)
