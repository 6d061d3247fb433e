"""Policy values: defaults, dict and TOML round trips, and bad policies."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnistock.errors import InvalidInput
from omnistock.fulfilment import DEFAULT_POLICY, FILTERS, PREFERENCES, Policy


def test_default_is_fewest_splits_closest_priority() -> None:
    assert DEFAULT_POLICY.preferences == ("fewest_splits", "closest", "priority")
    assert DEFAULT_POLICY.filters == FILTERS
    assert DEFAULT_POLICY.protect_safety is True


def test_toml_with_policy_table() -> None:
    text = """
[policy]
preferences = ["fewest_splits", "lowest_cost"]
radius_km = 25
per_parcel = 4.5
per_km = 0.2
exclude = ["dc-north"]
"""
    p = Policy.from_toml(text)
    assert p == Policy(
        preferences=("fewest_splits", "lowest_cost"),
        radius_km=25.0,
        per_parcel=4.5,
        per_km=0.2,
        exclude=("dc-north",),
    )


policies = st.builds(
    Policy,
    filters=st.permutations(FILTERS).flatmap(lambda f: st.integers(0, len(f)).map(lambda n: f[:n])),
    preferences=st.permutations(PREFERENCES[1:]).flatmap(
        lambda p: st.tuples(st.booleans(), st.integers(0, len(p))).map(
            lambda t: (("fewest_splits",) if t[0] else ()) + tuple(p[: t[1]])
        )
    ),
    radius_km=st.none() | st.floats(0.5, 2e4),
    protect_safety=st.booleans(),
    exclude=st.lists(st.text("abc-1", min_size=1, max_size=5), unique=True, max_size=3),
    per_parcel=st.floats(0, 100),
    per_km=st.floats(0, 10),
)


@settings(max_examples=100, deadline=None)
@given(policies)
def test_round_trips(p: Policy) -> None:
    assert Policy.from_dict(p.to_dict()) == p
    assert Policy.from_toml(p.to_toml()) == p


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"preferences": ["closest", "fewest_splits"]}, "preferences"),
        ({"preferences": ["nearest"]}, "preferences"),
        ({"preferences": "closest"}, "preferences"),
        ({"preferences": ["closest", "closest"]}, "preferences"),
        ({"filters": ["capability", "weather"]}, "filters"),
        ({"radius_km": 0}, "radius_km"),
        ({"radius_km": -3}, "radius_km"),
        ({"radius_km": float("nan")}, "radius_km"),
        ({"radius_km": "10"}, "radius_km"),
        ({"per_km": -1}, "per_km"),
        ({"per_parcel": float("inf")}, "per_parcel"),
        ({"per_parcel": True}, "per_parcel"),
        ({"protect_safety": 1}, "protect_safety"),
        ({"exclude": "s1"}, "exclude"),
        ({"exclude": ["s1", "s1"]}, "exclude"),
        ({"exclude": [""]}, "exclude"),
    ],
)
def test_bad_policy_names_the_field(bad: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as ei:
        Policy.from_dict(bad)
    assert ei.value.field == field


def test_bad_toml() -> None:
    with pytest.raises(InvalidInput) as ei:
        Policy.from_toml("preferences = [")
    assert ei.value.field == "policy"
    with pytest.raises(InvalidInput) as ei:
        Policy.from_toml('radius_km = "far"')
    assert ei.value.field == "radius_km"
    with pytest.raises(InvalidInput):
        Policy.from_dict(["closest"])  # type: ignore[arg-type]
