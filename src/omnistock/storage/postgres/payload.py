"""The argument of the schema's ``append()`` function: a command's rows,
their leaf hashes, its keys and its conditions, as one JSON text."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from ...errors import InvalidInput
from ..base import Commit, Conditions
from ..chain import leaves

__all__ = ["append_payload"]

_json = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_orjson: Callable[[Any], bytes] | None
try:  # in omnistock[postgres]: a hold's payload in 0.4 us instead of 3.7
    from orjson import dumps as _orjson
except ImportError:  # pragma: no cover - the extra brings it
    _orjson = None


def _dumps(body: dict[str, Any]) -> str:
    """``body`` as compact JSON text (orjson when installed, else the
    standard library: the same JSON value). A payload holds only strings,
    integers and None, so orjson's one difference, NaN as null, never
    arises."""
    if _orjson is not None:
        return _orjson(body).decode()
    text = _json(body)
    text.encode("utf-8")  # a lone surrogate: refused here, as orjson refuses it
    return text


def append_payload(commits: Sequence[Commit], conditions: Conditions) -> str:
    """The argument of the schema's ``append()`` function for ``commits``
    under ``conditions``: the rows, their leaf hashes, the keys and the
    conditions, as JSON. ``InvalidInput`` naming what cannot be stored.
    O(rows + conditions)."""
    rows: list[Any] = []
    keys: list[tuple[str, str, str | None, int]] = []
    for c in commits:
        rows.extend(c.rows)
        if c.key is not None:
            if c.fingerprint is None:
                raise InvalidInput("fingerprint", None, f"is required with key={c.key!r}")
            keys.append((c.key, c.fingerprint, c.result, max(1, len(rows))))
    for r in rows:
        if len(r) != 9:
            raise InvalidInput(
                "row", r, "must be (ts_us, kind, sku, location, qty, ref, channel, key, data)"
            )
    hashes = [h.hex() for h in leaves(rows)]  # before any lock
    if keys and not rows:  # a keyed command that moved nothing: its key's seq
        keys = [(k, f, r, 0) for k, f, r, _ in keys]
    body: dict[str, Any] = {
        "r": rows,
        "h": hashes,
        "k": keys,
        "res": conditions.reservations,
        "p0": conditions.planned,
        "pos": [
            [
                sku,
                loc,
                *d,
                (0 if free is None else 1) | (0 if seen is None else 2),
                free or 0,
                *(seen or ()),
            ]
            for sku, loc, d, free, seen in conditions.positions
        ],
        "use": conditions.usage,
        "c": [[c] for c in conditions.claims],
    }
    if conditions.network is not None:
        body["net"] = conditions.network
    try:
        payload = _dumps(body)
    except (TypeError, ValueError) as e:
        raise InvalidInput("commits", commits, f"cannot be stored: {e}") from None
    return payload
