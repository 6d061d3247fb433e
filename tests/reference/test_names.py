"""ledger/names.py: the column kernels agree with plain Python on any strings."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnistock.ledger.grid import SYNC_EVERY, Grid
from omnistock.ledger.heldbatches import PackedNames, pack_strs, packed, unpack_strs
from omnistock.ledger.names import ASCII, BAD, OTHER, NameBuffer, NameIndex, index_ready

# Short names over a small alphabet (so duplicates and shared prefixes are
# common), with non-ASCII, astral and empty names mixed in.
NAME = st.text(alphabet=st.sampled_from("ab\u00e9\u4e2d\U0001f600 ~"), max_size=5)
COLUMN = st.lists(NAME, max_size=30)


def _flag(names: list[str]) -> int:
    return ASCII if all(" " <= c <= "~" for c in "".join(names)) else OTHER


@settings(max_examples=300, deadline=None)
@given(st.lists(COLUMN, min_size=1, max_size=3))
def test_encoded_lengths_flag_and_parts_match_python(cols: list[list[str]]) -> None:
    enc = NameBuffer(*cols)
    flat = list(itertools.chain(*cols))
    assert enc.charset == _flag(flat)
    assert enc.lengths().tolist() == [len(x) for x in flat]
    lo = 0
    for c in cols:  # each column as its own view of the shared buffer
        part = enc.part(lo, lo + len(c))
        assert part.lengths().tolist() == [len(x) for x in c]
        lo += len(c)


@settings(max_examples=300, deadline=None)
@given(COLUMN)
def test_first_duplicate_is_the_first_repeat(names: list[str]) -> None:
    seen: set[str] = set()
    want = -1
    for i, x in enumerate(names):
        if x in seen:
            want = i
            break
        seen.add(x)
    assert NameBuffer(names).first_duplicate() == want


@pytest.mark.parametrize(
    "names",
    [
        ["a", 1],
        [None],
        ["a\x00b"],
        ["\ud800"],
        [b"a"],
        ["ok", "x\x00"],
    ],
)
def test_what_cannot_be_encoded_is_flagged_bad(names: list[Any]) -> None:
    assert NameBuffer(names).charset == BAD


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(NAME, max_size=40), min_size=1, max_size=6), COLUMN)
def test_name_index_finds_what_a_dict_finds(chunks: list[list[str]], query: list[str]) -> None:
    """Names appended in chunks (the table and buffer grow); every lookup
    matches a dict over the same list, known or not."""
    names: list[str] = []
    ix = NameIndex()
    for chunk in chunks:
        for x in chunk:
            if x not in names:
                names.append(x)
        ix.sync(names)
        d = {x: i for i, x in enumerate(names)}
        q = query + names[::3]
        pos, missing = ix.find(NameBuffer(q))
        want = [d.get(x, -1) for x in q]
        assert pos.tolist() == want
        assert missing == want.count(-1)


@pytest.mark.parametrize("follows", [True, False])
def test_name_index_through_thousands_of_growths(follows: bool) -> None:
    """A grid made once the kernels are loaded keeps its index in step as
    it interns (``SYNC_EVERY`` names at a time); one made before builds it
    on its first lookup. Either way lookups match the interning."""
    NameBuffer(["warm"]).first_duplicate()  # the index kernels are loaded
    assert index_ready()
    g = Grid()
    if not follows:
        g._names = None
    for i in range(5000):
        g.sku(f"S{i:05d}")
        if i % 997 == 0 and not follows:  # lookups part-way, between receipts
            g.find(NameBuffer([f"S{i:05d}"]), NameBuffer([]))
    if follows:
        assert g._names is not None
        assert 5000 - SYNC_EVERY < g._names[0].n <= 5000
    g.loc("L1")
    q = [f"S{i:05d}" for i in range(0, 6000, 7)]
    s, l = g.find(NameBuffer(q), NameBuffer(["L1", "L2"]))
    assert s.tolist() == [i if i < 5000 else -1 for i in range(0, 6000, 7)]
    assert l.tolist() == [0, -1]


@settings(max_examples=200, deadline=None)
@given(COLUMN)
def test_packed_reads_like_the_list(names: list[str]) -> None:
    p = PackedNames("".join(names), np.array([len(x) for x in names], dtype=np.int64))
    assert len(p) == len(names)
    assert [p[j] for j in range(len(names))] == names
    assert list(p) == names
    if names:
        assert p[-1] == names[-1]
        assert p[1:] == names[1:]
    assert unpack_strs(pack_strs(p)) == names
    assert list(packed(pack_strs(names))) == names


ID = st.text(alphabet=st.sampled_from('ab"\\\u00e9\U0001f600 /'), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(ID, ID, st.integers(0, 2), st.integers(1, 5)),
        min_size=1,
        max_size=20,
        unique_by=lambda t: t[0],
    ),
    st.lists(ID, min_size=3, max_size=3, unique=True),
)
def test_a_held_batch_row_is_json_that_reads_back(
    lines: list[tuple[str, str, int, int]], locs: list[str]
) -> None:
    """The row text is written by hand, not by json.dumps: names with quotes,
    backslashes and non-ASCII characters must still read back exactly."""
    import json

    from omnistock.ledger import heldbatches

    g = Grid()
    for x in locs:
        g.loc(x)
    orders = [t[0] for t in lines]
    skus = [t[1] for t in lines]
    lens = np.array([len(x) for x in orders], dtype=np.int64)
    slens = np.array([len(x) for x in skus], dtype=np.int64)
    l = np.array([t[2] for t in lines], dtype=np.int64)
    q = np.array([t[3] for t in lines], dtype=np.int64)
    table, li = np.unique(l, return_inverse=True)
    text = heldbatches.encode(
        PackedNames("".join(orders), lens),
        None,
        PackedNames("".join(skus), slens),
        table,
        li,
        q,
        1234,
        g,
    )
    d = json.loads(text)
    assert d["exp"] == 1234
    got_orders, start, got_skus, got_locs, got_q = heldbatches.columns(d)
    assert (got_orders, got_skus, got_q.tolist()) == (orders, skus, q.tolist())
    assert got_locs == [locs[i] for i in l.tolist()]
    assert start.tolist() == list(range(len(lines) + 1))
