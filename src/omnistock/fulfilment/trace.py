"""What a sourcing decision says about its candidates: :class:`Trace`.

Every :class:`~omnistock.fulfilment.sourcing.SourcingPlan` carries one. It
names every candidate location, in the caller's order, with the filter that
dropped it or its rank and preference keys, and explains how the plan won.
"""

from __future__ import annotations

import math

import attrs

__all__ = ["CandidateTrace", "Trace"]


@attrs.frozen
class CandidateTrace:
    """What the policy did with one candidate location.

    ``kept`` False: ``reason`` is the filter that dropped it (a policy filter
    name or ``no_stock``) and ``detail`` says why. ``kept`` True: ``keys``
    holds the location-level preference values in policy order, ``rank`` its
    place among the kept (0 best). ``used`` tells whether the plan takes
    units there and ``take`` how many."""

    location: str
    kept: bool
    reason: str | None = None
    detail: str | None = None
    distance_km: float = math.inf
    stock: int = 0
    keys: tuple[tuple[str, float], ...] = ()
    rank: int | None = None
    used: bool = False
    take: int = 0


@attrs.frozen
class Trace:
    """Per candidate location (every one, in the caller's order), plus an
    explanation of how the plan won."""

    candidates: tuple[CandidateTrace, ...]
    preferences: tuple[str, ...]
    filters: tuple[str, ...]
    explanation: tuple[str, ...]

    def get(self, location: str) -> CandidateTrace:
        """The entry of ``location``; ``KeyError`` if it was not a candidate."""
        for c in self.candidates:
            if c.location == location:
                return c
        raise KeyError(location)

    def text(self) -> str:
        """Human-readable, one line per candidate then the explanation."""
        rows = []
        for c in self.candidates:
            if c.kept:
                keys = ", ".join(f"{k}={v:g}" for k, v in c.keys)
                mark = f" -> takes {c.take}" if c.used else ""
                rows.append(f"{c.location}: kept, rank {c.rank} ({keys}){mark}")
            else:
                rows.append(f"{c.location}: filtered by {c.reason}: {c.detail}")
        return "\n".join(rows + list(self.explanation))
