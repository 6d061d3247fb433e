"""Fulfilment services: deciding where each order is served from.

This package is a service layer (see DESIGN.md, Layering): it imports
``omnistock.values``, ``omnistock.errors`` and ``omnistock.ledger`` only,
never the face (``inventory.py``) or storage. The sourcing core works on
plain values and numpy arrays so it can be tested, and reused, alone.
"""

from __future__ import annotations

from .cover import EXACT_WORK
from .geo import EARTH_RADIUS_KM, haversine_km, haversine_km_array
from .policy import DEFAULT_POLICY, FILTERS, PREFERENCES, Policy
from .sourcing import LinePlan, SourcingPlan, source, source_order
from .trace import CandidateTrace, Trace

__all__ = [
    "DEFAULT_POLICY",
    "EARTH_RADIUS_KM",
    "EXACT_WORK",
    "FILTERS",
    "PREFERENCES",
    "CandidateTrace",
    "LinePlan",
    "Policy",
    "SourcingPlan",
    "Trace",
    "haversine_km",
    "haversine_km_array",
    "source",
    "source_order",
]
