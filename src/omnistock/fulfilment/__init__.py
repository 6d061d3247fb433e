"""Fulfilment services: deciding where each order is served from.

This package is a service layer (see DESIGN.md, Layering): it imports
``omnistock.values``, ``omnistock.errors`` and ``omnistock.ledger`` only,
never the face (``inventory.py``) or storage. The sourcing core works on
plain values and numpy arrays so it can be tested, and reused, alone.
"""

from __future__ import annotations

from .geo import EARTH_RADIUS_KM, haversine_km, haversine_km_array
from .policy import DEFAULT_POLICY, FILTERS, PREFERENCES, Policy
from .sourcing import EXACT_WORK, CandidateTrace, LinePlan, Plan, Trace, source, source_order

__all__ = [
    "DEFAULT_POLICY",
    "EARTH_RADIUS_KM",
    "EXACT_WORK",
    "FILTERS",
    "PREFERENCES",
    "CandidateTrace",
    "LinePlan",
    "Plan",
    "Policy",
    "Trace",
    "haversine_km",
    "haversine_km_array",
    "source",
    "source_order",
]
