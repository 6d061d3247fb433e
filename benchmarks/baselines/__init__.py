"""Baselines: how retail backends keep stock today, each as fast as that
approach can reasonably be. Every baseline loads a workload's stock (not
timed), then runs its reservation stream (timed) and returns the number of
successful reservations, so a benchmark can check it agrees with omnistock.

A baseline that needs a service raises ``ServiceDown`` when it cannot reach
it; benchmarks skip and the comparison reports "skipped (service down)".
"""

from __future__ import annotations


class ServiceDown(RuntimeError):
    """The service a baseline needs (PostgreSQL, Redis) is not reachable."""


__all__ = ["ServiceDown"]
