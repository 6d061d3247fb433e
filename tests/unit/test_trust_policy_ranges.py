"""Issue 13 item 7: every policy number and every store URL option is
range-checked where it enters, and a bad one raises a typed error naming the
field (or option) and the value. Tables of bad values, not one example."""

from __future__ import annotations

import math
from typing import Any

import pytest

from omnistock.errors import InvalidInput
from omnistock.fulfilment.policy import MAX_HOURS, MAX_KM, Policy
from omnistock.storage import open_store, redact, secrets_of

BAD_POLICY_VALUES: list[tuple[str, Any]] = [
    ("transfer_hours", 1e9),
    ("transfer_hours", MAX_HOURS + 1),
    ("transfer_hours", -1),
    ("transfer_hours", math.nan),
    ("transfer_hours", math.inf),
    ("transfer_hours", 10**400),
    ("transfer_hours", "24"),
    ("transfer_hours", True),
    ("radius_km", -5),
    ("radius_km", 0),
    ("radius_km", MAX_KM * 2),
    ("radius_km", math.nan),
    ("radius_km", -math.inf),
    ("transfer_radius_km", -0.5),
    ("transfer_radius_km", 1e12),
    ("transfer_radius_km", math.inf),
    ("per_parcel", -1),
    ("per_parcel", 1e300),
    ("per_parcel", math.nan),
    ("per_km", 1e7),
    ("per_km", -0.01),
    ("per_km", math.inf),
    ("suggestions", 10**9),
    ("suggestions", 51),
    ("suggestions", -1),
    ("suggestions", 3.0),
    ("suggestions", False),
    ("candidates", 0),
    ("candidates", 10**12),
    ("candidates", 2.5),
    ("protect_safety", "yes"),
    ("filters", "radius"),
    ("preferences", ["closest", "fewest_splits"]),
    ("bopis_fallback", ["teleport"]),
    ("exclude", "S1"),
    ("pickup_window_hours", -1),
    ("pickup_window_hours", MAX_HOURS + 1),
    ("pickup_window_hours", math.nan),
    ("pickup_window_hours", "168"),
    ("pickup_grace_hours", -0.5),
    ("pickup_grace_hours", math.inf),
    ("pickup_grace_hours", True),
    ("keep_paid_pickups", "no"),
    ("keep_paid_pickups", 1),
]


def _toml(v: Any) -> str | None:
    """``v`` as a TOML value, or None when TOML cannot say it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v) if abs(v) < 2**63 else None
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, list):
        return "[" + ", ".join(str(_toml(x)) for x in v) + "]"
    return None


@pytest.mark.parametrize(("field", "value"), BAD_POLICY_VALUES)
def test_policy_constructor_refuses(field: str, value: Any) -> None:
    with pytest.raises(InvalidInput) as e:
        Policy(**{field: value})
    assert e.value.field == field
    assert field in str(e.value)


@pytest.mark.parametrize(("field", "value"), BAD_POLICY_VALUES)
def test_policy_toml_refuses(field: str, value: Any) -> None:
    text = _toml(value)
    if text is None:
        pytest.skip("not expressible in TOML")
    for doc in (f"{field} = {text}\n", f"[policy]\n{field} = {text}\n"):
        with pytest.raises(InvalidInput) as e:
            Policy.from_toml(doc)
        assert e.value.field == field, doc
        assert field in str(e.value)


def test_the_issue_value_is_named_in_the_message() -> None:
    with pytest.raises(InvalidInput) as e:
        Policy.from_toml("transfer_hours = 1e9")
    assert "transfer_hours=1000000000.0" in str(e.value)
    assert "8760" in str(e.value)


@pytest.mark.parametrize(
    "doc",
    [
        "transfer_hours = 0\n",
        f"transfer_hours = {MAX_HOURS}\n",
        f"radius_km = {MAX_KM}\n",
        "transfer_radius_km = 0\n",
        "per_parcel = 1000000\nper_km = 0.5\n",
        "suggestions = 0\ncandidates = 100000\n",
    ],
)
def test_edge_values_are_accepted_and_round_trip(doc: str) -> None:
    p = Policy.from_toml(doc)
    assert Policy.from_toml(p.to_toml()) == p


def test_an_absurd_exclude_list_is_refused() -> None:
    with pytest.raises(InvalidInput) as e:
        Policy(exclude=[f"L{i}" for i in range(100_001)])
    assert e.value.field == "exclude"


# -- store URL options ------------------------------------------------------------------
BAD_SQLITE = [
    ("busy_timeout=nan", "busy_timeout"),
    ("busy_timeout=inf", "busy_timeout"),
    ("busy_timeout=-inf", "busy_timeout"),
    ("busy_timeout=1e400", "busy_timeout"),
    ("busy_timeout=-1", "busy_timeout"),
    ("busy_timeout=86401", "busy_timeout"),
    ("busy_timeout=ten", "busy_timeout"),
    ("busy_timeout=", "busy_timeout"),
    ("busy_timeout=1&busy_timeout=2", "busy_timeout"),
    ("keep_snapshots=0", "keep_snapshots"),
    ("keep_snapshots=-3", "keep_snapshots"),
    ("keep_snapshots=1.5", "keep_snapshots"),
    ("keep_snapshots=nan", "keep_snapshots"),
    ("keep_snapshots=" + "9" * 40, "keep_snapshots"),
    ("synchronous=fast", "synchronous"),
    ("synchronous=", "synchronous"),
    ("busytimeout=5", "busytimeout"),
    ("journal_mode=delete", "journal_mode"),
]


@pytest.mark.parametrize(("query", "option"), BAD_SQLITE)
def test_sqlite_url_options(query: str, option: str) -> None:
    with pytest.raises(InvalidInput) as e:
        open_store(f"sqlite:///:memory:?{query}")
    assert e.value.field == option
    assert option in str(e.value)


@pytest.mark.parametrize(
    ("kw", "option"),
    [
        ({"busy_timeout": math.nan}, "busy_timeout"),
        ({"busy_timeout": math.inf}, "busy_timeout"),
        ({"busy_timeout": -0.1}, "busy_timeout"),
        ({"busy_timeout": True}, "busy_timeout"),
        ({"busy_timeout": [1]}, "busy_timeout"),
        ({"keep_snapshots": 2.0}, "keep_snapshots"),
        ({"keep_snapshots": 0}, "keep_snapshots"),
        ({"synchronous": 1}, "synchronous"),
        ({"synchronous": ["full"]}, "synchronous"),
        ({"cache": 5}, "cache"),
    ],
)
def test_sqlite_keyword_options(kw: dict[str, Any], option: str) -> None:
    with pytest.raises(InvalidInput) as e:
        open_store("sqlite:///:memory:", **kw)
    assert e.value.field == option


def test_sqlite_good_options_are_kept() -> None:
    st = open_store("sqlite:///:memory:?busy_timeout=2.5&keep_snapshots=4&synchronous=FULL")
    try:
        assert (st.busy_timeout, st.keep_snapshots, st.synchronous) == (  # type: ignore[attr-defined]
            2.5,
            4,
            "full",
        )
    finally:
        st.close()


BAD_PG = [
    ("postgresql://bob:hunter2@db/x?partitions=nan", "partitions"),
    ("postgresql://bob:hunter2@db/x?partitions=0", "partitions"),
    ("postgresql://bob:hunter2@db/x?partitions=99999", "partitions"),
    ("postgresql://bob:hunter2@db/x?partitions=1&partitions=2", "partitions"),
    ("postgresql://bob:hunter2@db/x?schema=", "schema"),
    ("postgresql://bob:hunter2@db/x?connect_timeout=nan", "connect_timeout"),
    ("postgresql://bob:hunter2@db/x?connect_timeout=-1", "connect_timeout"),
    ("postgresql://bob:hunter2@db/x?keepalives=7", "keepalives"),
    ("postgresql://bob:hunter2@db:99999/x", "port"),
    ("postgresql://bob:hunter2@db:abc/x", "port"),
    ("postgresql://bob@db/x?password=hunter2&password=hunter2", "password"),
]


@pytest.mark.parametrize(("url", "option"), BAD_PG)
def test_postgres_url_options(url: str, option: str) -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(InvalidInput) as e:
        open_store(url)
    assert e.value.field == option
    assert "hunter2" not in str(e.value)


def test_postgres_unknown_keyword_option() -> None:
    with pytest.raises(InvalidInput) as e:
        open_store("postgresql://bob:hunter2@db/x", shards=4)
    assert e.value.field == "shards"


@pytest.mark.parametrize(
    ("url", "kw", "option"),
    [
        ("memory://?busy_timeout=1", {}, "url"),
        ("memory://somewhere", {}, "url"),
        ("memory://", {"busy_timeout": 1}, "busy_timeout"),
    ],
)
def test_memory_takes_no_options(url: str, kw: dict[str, Any], option: str) -> None:
    with pytest.raises(InvalidInput) as e:
        open_store(url, **kw)
    assert e.value.field == option


@pytest.mark.parametrize(
    ("url", "shown", "secrets"),
    [
        (
            "postgresql://bob:s3cr%40t@db:5432/x?sslmode=require",
            "postgresql://bob:***@db:5432/x?sslmode=require",
            {"s3cr%40t", "s3cr@t"},
        ),
        (
            "postgresql://bob@db/x?password=hunter2",
            "postgresql://bob@db/x?password=***",
            {"hunter2"},
        ),
        ("postgresql://bob:p@ss@db/x", "postgresql://bob:***@db/x", {"p@ss"}),
        ("sqlite:///shop.db", "sqlite:///shop.db", set()),
        ("memory://", "memory://", set()),
    ],
)
def test_redact(url: str, shown: str, secrets: set[str]) -> None:
    assert redact(url) == shown
    assert set(secrets_of(url)) == secrets
