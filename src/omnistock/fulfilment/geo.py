"""Great-circle distances (haversine) in kilometres.

Both functions use the mean Earth radius and the same formula. They are not
guaranteed to agree to the last bit (libm ``math.sin`` versus numpy's
possibly SIMD ``np.sin``), so a caller that needs two code paths to make
identical decisions (``source`` one order at a time versus a wave kernel)
computes distances once and passes the same numbers to both.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..values import Point

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG), km."""


def haversine_km(a: Point | None, b: Point | None) -> float:
    """Distance in km between two points; ``math.inf`` when either is None
    (unknown distance ranks last and fails any radius). O(1)."""
    if a is None or b is None:
        return math.inf
    p1 = math.radians(a.lat)
    p2 = math.radians(b.lat)
    dp = p2 - p1
    dl = math.radians(b.lon - a.lon)
    h = math.sin(dp / 2.0) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def haversine_km_array(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> NDArray[np.float64]:
    """Vectorised haversine over broadcastable arrays of degrees.

    Returns float64 km with the broadcast shape; a NaN coordinate (the way
    to say "no point") gives ``inf``. O(n) for n broadcast elements."""
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    l1 = np.radians(np.asarray(lon1, dtype=np.float64))
    l2 = np.radians(np.asarray(lon2, dtype=np.float64))
    h = np.sin((p2 - p1) / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2.0) ** 2
    d = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    out: NDArray[np.float64] = np.where(np.isnan(d), np.inf, d)
    return out
