"""Issue 13 item 11, fuzzed: hypothesis throws messy CSVs at the importer.

- every file the importer refuses raises ``ImportRefused`` (a typed
  ``InvalidInput``) and leaves the journal exactly as it was (same head, same
  digest); nothing else escapes;
- every file it accepts is applied exactly once however often it is
  imported, whatever its line endings, BOM or quoting, and rows appended
  later are applied once too.

Runs on ``memory://`` and on the SQLite store (an in-memory database, so
that each example gets a fresh one cheaply).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnistock import Inventory, Location, importer
from omnistock.errors import InvalidInput

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
STORES = ["memory://", "sqlite://"]
LOCS = ["ST-LONDON", "DC-LEEDS"]

NASTY = [
    "",
    " ",
    "lots",
    "-1",
    "0",
    "1.5",
    "1e3",
    "+2",
    "٣",
    "１",
    str(2**62),
    str(2**63),
    "9" * 40,
    "ST-LONDON",
    "ST-PARIS",
    "DC-LEEDS",
    "A",
    "B",
    '"',
    '""',
    ",",
    "a,b",
    "\n",
    "\r",
    "x\ny",
    "\x00",
    "\x1b[31m",
    "true",
    "store",
    "dc",
    "=cmd|' /C calc'!A0",
    "Ω≈ç√",
    "a" * 300,
    "nan",
    "inf",
    "53.8",
    "-200",
]
COLUMNS = [
    "sku",
    "location",
    "qty",
    "ref",
    "key",
    "id",
    "kind",
    "lat",
    "lon",
    "sells",
    "priority",
    "returns_to",
    "price",
    "",
    "SKU",
    " qty ",
]


def world(url: str) -> Inventory:
    inv = Inventory.open(url)
    inv.add_location(Location("ST-LONDON"))
    inv.add_location(Location("DC-LEEDS", kind="dc"))
    inv.receive("A", "ST-LONDON", 3)
    return inv


def render(rows: list[list[str]], newline: str, bom: bool, quoting: int) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline, quoting=quoting)
    for r in rows:
        w.writerow(r)
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8", "surrogatepass")


field = st.sampled_from(NASTY) | st.text(max_size=12)
messy_rows = st.lists(st.lists(field, min_size=0, max_size=6), min_size=0, max_size=8)
header = st.lists(st.sampled_from(COLUMNS), min_size=0, max_size=6)
newline = st.sampled_from(["\n", "\r\n", "\r"])
quoting = st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC])


GOOD = {
    "sku": st.sampled_from(["A", "B", "TEE-BLK-M", "Ω", "x y"]),
    "location": st.sampled_from(LOCS),
    "qty": st.integers(0, 50).map(str),
    "ref": st.sampled_from(["r1", "r2", "r3", "po-9"]),
    "id": st.sampled_from(["N1", "N2", "ST-LONDON", "DC-LEEDS"]),
    "kind": st.sampled_from(["store", "dc", "warehouse", "dark_store"]),
    "lat": st.sampled_from(["51.5", "53.8", ""]),
    "lon": st.sampled_from(["-0.1", "-1.5", ""]),
    "sells": st.sampled_from(["true", "no", ""]),
    "priority": st.sampled_from(["0", "3", ""]),
    "returns_to": st.sampled_from(["", "DC-LEEDS", "N1", "N2"]),
}
HEADERS = [
    ["sku", "location", "qty"],
    ["sku", "location", "qty", "ref"],
    ["qty", "sku", "location"],
    ["id", "kind"],
    ["id", "kind", "lat", "lon", "sells", "priority", "returns_to"],
]


@st.composite
def row_of(draw: Any, head: list[str]) -> list[str]:
    """A row for ``head``: mostly good values, some nasty ones, sometimes the
    wrong number of fields."""
    out = [draw(field) if draw(st.integers(0, 9)) == 0 else draw(GOOD.get(c, field)) for c in head]
    if draw(st.integers(0, 9)) == 0:
        out = out[: draw(st.integers(0, len(out)))] + draw(st.lists(field, max_size=2))
    return out


@st.composite
def messy_csv(draw: Any) -> bytes:
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return bytes(draw(st.binary(max_size=300)))
    if choice == 1:
        rows = [draw(header), *draw(messy_rows)]
    else:
        head = draw(st.sampled_from(HEADERS))
        rows = [head, *draw(st.lists(row_of(head), max_size=8))]
    try:
        data = render(rows, draw(newline), draw(st.booleans()), draw(quoting))
    except (csv.Error, UnicodeEncodeError, ValueError):
        data = b"sku,location,qty\n"
    if choice == 2 and data:  # and then damage the bytes
        at = draw(st.integers(0, len(data)))
        junk = draw(st.sampled_from([b"\x00", b'"', b"\xff\xfe", b",", b"\r", b"\n,,\n", b"\xe2"]))
        data = data[:at] + junk + data[at:]
    return data


def attempt(inv: Inventory, data: bytes, **kw: Any) -> importer.ImportResult | None:
    """Plan and apply ``data``; on refusal check that nothing was written."""
    head, digest = inv.head, inv.digest()
    try:
        plan = importer.plan(inv, importer.read_csv("f.csv", data), **kw)
    except importer.ImportRefused as exc:
        assert exc.problems, "a refusal names its problems"
        for p in exc.problems:
            assert p.render("f.csv").startswith("f.csv")
        assert (inv.head, inv.digest()) == (head, digest)
        return None
    return importer.apply(inv, plan)


@pytest.mark.parametrize("url", STORES)
@FUZZ
@given(
    data=messy_csv(),
    count=st.booleans(),
    kind=st.sampled_from([None, None, None, "stock", "locations"]),
)
def test_messy_files_are_refused_typed_or_applied_exactly_once(
    url: str, data: bytes, count: bool, kind: str | None
) -> None:
    inv = world(url)
    try:
        first = attempt(inv, data, kind=kind, count=count)
        if first is None:
            return
        head, digest = inv.head, inv.digest()
        again = attempt(inv, data, kind=kind, count=count)
        assert again is not None and again.written == 0
        assert (inv.head, inv.digest()) == (head, digest)
        assert inv.check().ok
    finally:
        inv.close()


good_row = st.tuples(
    st.sampled_from(["A", "B", "C", "TEE-BLK-M", "sku with spaces", "Ω"]),
    st.sampled_from(LOCS),
    st.integers(1, 10**6),
)


@pytest.mark.parametrize("url", STORES)
@FUZZ
@given(
    rows=st.lists(good_row, min_size=1, max_size=12),
    more=st.lists(good_row, min_size=0, max_size=6),
    refs=st.booleans(),
    styles=st.lists(st.tuples(newline, st.booleans(), quoting), min_size=2, max_size=4),
    blank_lines=st.booleans(),
)
def test_a_good_file_is_applied_exactly_once(
    url: str,
    rows: list[tuple[str, str, int]],
    more: list[tuple[str, str, int]],
    refs: bool,
    styles: list[tuple[str, bool, int]],
    blank_lines: bool,
) -> None:
    inv = world(url)
    try:

        def table(rs: list[tuple[str, str, int]]) -> list[list[str]]:
            head = ["sku", "location", "qty"] + (["ref"] if refs else [])
            body = [
                [s, loc, str(q)] + ([f"r-{i}"] if refs else []) for i, (s, loc, q) in enumerate(rs)
            ]
            return [head, *body]

        base = Counter({("A", "ST-LONDON"): 3})
        for nl, bom, q in styles:  # the same file, written differently each time
            data = render(table(rows), nl, bom, q)
            if blank_lines:
                data = data.replace(nl.encode(), (nl + nl).encode(), 1)
            assert attempt(inv, data) is not None
        want = Counter(base)
        for s, loc, q in rows:
            want[(s, loc)] += q
        for (s, loc), q in want.items():
            assert inv.on_hand(s, loc) == q
        nl, bom, q = styles[0]
        for _ in range(2):  # rows appended, imported twice
            assert attempt(inv, render(table(rows + more), nl, bom, q)) is not None
        for s, loc, q in more:
            want[(s, loc)] += q
        for (s, loc), n in want.items():
            assert inv.on_hand(s, loc) == n
        assert inv.check().ok
    finally:
        inv.close()


@FUZZ
@given(text=st.text(max_size=200), batch=st.text(max_size=20))
def test_text_and_batch_names_never_escape_untyped(text: str, batch: str) -> None:
    inv = world("memory://")
    head = inv.head
    try:
        try:
            plan = importer.plan(inv, importer.read_csv("t.csv", text), batch=batch)
        except InvalidInput:
            assert inv.head == head
            return
        importer.apply(inv, plan)
    finally:
        inv.close()
