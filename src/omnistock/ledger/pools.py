"""Ring-fencing: per-channel pools with a guaranteed minimum, a cap and shared
overflow. Pure functions over integers (and numpy arrays for many SKUs at
once); nothing here reads the ledger, a store or a channel adapter.

The rule, for one SKU
---------------------

Each channel ``c`` sees ``stock[c]``: the sum of ``max(0, atp)`` over the
locations that serve it (already net of every reservation). Its
:class:`Fence` gives

- ``minimum``: units ring-fenced for it (the store floor's stock that a
  marketplace must not drain);
- ``used``: units it holds now in open reservations of this SKU;
- ``buffer``: units held back from what it is shown;
- ``cap``: most units it may have promised at once (``None``: no cap).

Then::

    unconsumed[c] = max(0, minimum[c] - used[c])       # fence still to honour
    aside[c]      = min(unconsumed[c], stock[c])       # what the fence can claim
    own[c]        = aside[c]
    others[c]     = sum(aside[d] for every other channel d)
    shared[c]     = max(0, stock[c] - own[c] - others[c])
    figure[c]     = max(0, own[c] + shared[c] - buffer[c])
    if cap[c] is not None:
        figure[c] = min(figure[c], max(0, cap[c] - used[c]))

In words: a channel may take its own unconsumed minimum plus whatever is left
of the shared pool once every other channel's unconsumed minimum is set aside,
less its buffer, and never more than its cap leaves room for.

Guarantees (tested in ``tests/channels/test_pools.py``):

- ``0 <= figure[c] <= stock[c]``: no channel is shown more than it can see.
- Takes within the figures never add up to more than the stock: if channels
  take units one after another, each take at most its current figure, the
  total taken never exceeds the starting stock.
- Minimums hold while stock allows: if the stock covers every unconsumed
  minimum, no sequence of takes by other channels can bring channel ``c``'s
  figure below ``min(unconsumed[c] - buffer[c], cap room)``; and in any state
  ``figure[c] >= min(max(0, min(unconsumed[c], stock[c]) - buffer[c]), cap room)``.
- With no minimums the rule reduces to the plain channel formula
  ``min(cap - used, max(0, stock - buffer))``.

When channels see different location sets, each channel sets aside the other
channels' fences from its own view. That is conservative: a fence is never
over-promised, and overflow may be under-offered when fences sit at
locations the channel does not see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Fence", "channel_figure", "figures", "figures_array", "unconsumed"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Fence:
    """One channel's ring-fence terms for one SKU (see the module rule)."""

    minimum: int = 0
    cap: int | None = None
    buffer: int = 0
    used: int = 0

    def __post_init__(self) -> None:
        for name in ("minimum", "buffer", "used"):
            v = getattr(self, name)
            if type(v) is not int or v < 0:
                raise ValueError(f"{name}={v!r}: must be an int >= 0")
        if self.cap is not None and (type(self.cap) is not int or self.cap < 0):
            raise ValueError(f"cap={self.cap!r}: must be an int >= 0 or None")


def unconsumed(fence: Fence) -> int:
    """The part of the fence's minimum not yet taken by its own reservations."""
    return max(0, fence.minimum - fence.used)


def channel_figure(stock: int, fence: Fence, others_aside: int) -> int:
    """The figure of one channel, given its visible ``stock`` (>= 0 units) and
    the units ``others_aside`` set aside for every other channel's fence."""
    stock = max(0, stock)
    own = min(unconsumed(fence), stock)
    shared = max(0, stock - own - max(0, others_aside))
    fig = max(0, own + shared - fence.buffer)
    if fence.cap is not None:
        fig = min(fig, max(0, fence.cap - fence.used))
    return fig


def figures(stock: Mapping[str, int], fences: Mapping[str, Fence]) -> dict[str, int]:
    """Every channel's figure for one SKU.

    ``stock[c]`` is what channel ``c`` sees (sum of positive ATP over its
    locations); ``fences`` holds every channel's terms (a channel missing from
    ``fences`` has no fence). Returns ``{channel: figure}`` for the channels in
    ``stock``. O(channels)."""
    aside = {
        c: min(unconsumed(fences.get(c, _NONE)), max(0, stock.get(c, 0)))
        for c in set(stock) | set(fences)
    }
    total = sum(aside.values())
    return {c: channel_figure(s, fences.get(c, _NONE), total - aside[c]) for c, s in stock.items()}


_NONE = Fence()


def figures_array(
    stock: IntArray,
    minimum: int,
    buffer: int,
    cap: int | None,
    used: IntArray,
    others_aside: IntArray,
) -> IntArray:
    """The rule for one channel over many SKUs at once (numpy int64 arrays of
    equal length, one entry per SKU). Same result as :func:`channel_figure`
    element by element. O(n) in numpy, no Python loop.

    Bounds: with ``used >= 0`` and ``minimum``, ``buffer`` and ``cap`` in
    ``[0, 2**62]`` (what ``Channel`` accepts) no step wraps int64: every
    intermediate lies in ``[-(2**63 - 1), 2**63 - 1]``. ``stock`` must fit
    int64 (a caller summing positive ATP over locations clamps it there);
    :func:`channel_figure` and :func:`figures` work in Python ints and are
    exact at any size."""
    stock = np.maximum(np.asarray(stock, dtype=np.int64), 0)
    used = np.asarray(used, dtype=np.int64)
    uncons = np.maximum(np.int64(minimum) - used, 0)
    own = np.minimum(uncons, stock)
    shared = np.maximum(stock - own - np.maximum(np.asarray(others_aside, np.int64), 0), 0)
    fig = np.maximum(own + shared - np.int64(buffer), 0)
    if cap is not None:
        fig = np.minimum(fig, np.maximum(np.int64(cap) - used, 0))
    out: IntArray = fig.astype(np.int64)
    return out
