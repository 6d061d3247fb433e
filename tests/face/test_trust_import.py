"""Issue 13 item 11: ``omnistock import`` never double-counts.

- the whole file is checked first and EVERY bad row is reported (line,
  column, value); unknown or extra columns are refused; a refused file
  writes nothing;
- each row has a stable key (its position in the file, or its ``ref``), so
  importing the same file again, with CRLF line endings, with a BOM or with
  rows appended applies only the new rows; an edited row is a conflict,
  never applied twice;
- a write that fails part-way is finished by running the same import again;
- redefining an existing location needs ``--update``, which prints the
  differences; without it the row is a conflict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omnistock import Inventory, Location, cli, importer
from omnistock.errors import StorageError

LOCATIONS = """id,kind,lat,lon,daily_capacity,returns_to
DC-LEEDS,dc,53.80,-1.55,,
ST-LONDON,store,51.51,-0.13,50,DC-LEEDS
ST-MANCH,store,53.48,-2.24,,DC-LEEDS
"""
STOCK = "sku,location,qty\nTEE,DC-LEEDS,40\nTEE,ST-LONDON,5\nJEAN,ST-MANCH,3\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(cli.STORE_ENV, raising=False)
    (tmp_path / "locations.csv").write_text(LOCATIONS)
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    code, out, err = run(capsys, "import", "locations.csv", "--store", url)
    assert code == 0, err
    assert "3 location(s)" in out and "3 added" in out
    return url


def state(url: str) -> tuple[int, str, dict[tuple[str, str], int]]:
    with Inventory.open(url) as inv:
        stock = {(s, loc): inv.on_hand(s, loc) for s in inv.skus for loc in sorted(inv.locations)}
        return inv.head, inv.digest(), {k: v for k, v in stock.items() if v}


def write(path: Path, text: str, newline: str = "\n", bom: bool = False) -> None:
    data = text.replace("\n", newline).encode()
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)


# -- the same file, again ------------------------------------------------------------------
def test_reimport_crlf_bom_and_appended_rows_apply_only_new_rows(
    capsys: pytest.CaptureFixture[str], shop: str, tmp_path: Path
) -> None:
    f = tmp_path / "stock.csv"
    write(f, STOCK)
    code, out, _ = run(capsys, "import", "stock.csv", "--store", shop)
    assert code == 0 and "48 unit(s) received" in out and "3 new" in out
    after_first = state(shop)

    for newline, bom in (("\n", False), ("\r\n", False), ("\r\n", True), ("\r", False)):
        write(f, STOCK, newline, bom)
        code, out, _ = run(capsys, "import", "stock.csv", "--store", shop)
        assert code == 0 and "nothing changed: every row was imported before" in out
        assert state(shop) == after_first

    write(f, STOCK + "TEE,ST-MANCH,2\n\nJEAN,ST-LONDON,4\n", "\r\n")  # appended, a blank line
    code, out, _ = run(capsys, "import", "stock.csv", "--store", shop)
    assert code == 0 and "6 unit(s) received" in out and "(2 new, 3 imported before)" in out
    head, _, stock = state(shop)
    assert stock == {
        ("JEAN", "ST-LONDON"): 4,
        ("JEAN", "ST-MANCH"): 3,
        ("TEE", "DC-LEEDS"): 40,
        ("TEE", "ST-LONDON"): 5,
        ("TEE", "ST-MANCH"): 2,
    }
    assert run(capsys, "import", "stock.csv", "--store", shop)[0] == 0
    assert state(shop)[0] == head


def test_the_same_file_under_another_name_is_the_same_rows(
    capsys: pytest.CaptureFixture[str], shop: str, tmp_path: Path
) -> None:
    write(tmp_path / "a.csv", STOCK)
    write(tmp_path / "copy.csv", STOCK)
    run(capsys, "import", "a.csv", "--store", shop)
    before = state(shop)
    assert run(capsys, "import", "copy.csv", "--store", shop)[0] == 0
    assert state(shop) == before


def test_an_edited_or_shifted_row_is_a_conflict_not_a_second_receipt(
    capsys: pytest.CaptureFixture[str], shop: str, tmp_path: Path
) -> None:
    f = tmp_path / "stock.csv"
    write(f, STOCK)
    run(capsys, "import", "stock.csv", "--store", shop)
    before = state(shop)
    write(f, STOCK.replace("TEE,ST-LONDON,5", "TEE,ST-LONDON,7"))
    code, _, err = run(capsys, "import", "stock.csv", "--store", shop)
    assert code == 2 and "stock.csv:3" in err and "conflicts" in err and "--batch" in err
    write(f, "sku,location,qty\nNEW,ST-MANCH,1\n" + STOCK.split("\n", 1)[1])  # a row inserted
    code, _, err = run(capsys, "import", "stock.csv", "--store", shop)
    assert code == 2 and err.count("conflicts") == 3
    assert state(shop) == before


def test_a_new_delivery_goes_under_its_own_batch(
    capsys: pytest.CaptureFixture[str], shop: str, tmp_path: Path
) -> None:
    write(tmp_path / "stock.csv", STOCK)
    run(capsys, "import", "stock.csv", "--store", shop, "--batch", "asn-1")
    code, out, _ = run(capsys, "import", "stock.csv", "--store", shop, "--batch", "asn-2")
    assert code == 0 and "48 unit(s) received" in out
    assert state(shop)[2][("TEE", "DC-LEEDS")] == 80
    run(capsys, "import", "stock.csv", "--store", shop, "--batch", "asn-2")
    assert state(shop)[2][("TEE", "DC-LEEDS")] == 80


def test_a_ref_column_keys_rows_whatever_their_order(
    capsys: pytest.CaptureFixture[str], shop: str, tmp_path: Path
) -> None:
    f = tmp_path / "asn.csv"
    write(f, "sku,location,qty,ref\nTEE,DC-LEEDS,10,po-1\nJEAN,ST-MANCH,2,po-2\n")
    assert run(capsys, "import", "asn.csv", "--store", shop)[0] == 0
    write(
        f,
        "ref,sku,location,qty\npo-3,TEE,ST-LONDON,1\npo-2,JEAN,ST-MANCH,2\npo-1,TEE,DC-LEEDS,10\n",
    )
    code, out, _ = run(capsys, "import", "asn.csv", "--store", shop)
    assert code == 0 and "(1 new, 2 imported before)" in out
    before = state(shop)
    write(f, "ref,sku,location,qty\npo-1,TEE,DC-LEEDS,11\n")  # the same ref, other content
    code, _, err = run(capsys, "import", "asn.csv", "--store", shop)
    assert code == 2 and "po-1" in err and "conflicts" in err
    write(f, "ref,sku,location,qty\npo-9,TEE,DC-LEEDS,1\npo-9,TEE,DC-LEEDS,1\n")
    code, _, err = run(capsys, "import", "asn.csv", "--store", shop)
    assert code == 2 and "used twice" in err
    assert state(shop) == before


def test_counts_are_keyed_too(
    capsys: pytest.CaptureFixture[str], shop: str, tmp_path: Path
) -> None:
    write(tmp_path / "stock.csv", STOCK)
    run(capsys, "import", "stock.csv", "--store", shop)
    write(tmp_path / "count.csv", "sku,location,qty\nTEE,ST-LONDON,2\n")
    assert run(capsys, "import", "count.csv", "--count", "--store", shop)[0] == 0
    with Inventory.open(shop) as inv:
        inv.receive("TEE", "ST-LONDON", 10)  # a delivery after the count
    # re-importing the old count file must not reset the shelf to 2
    code, out, _ = run(capsys, "import", "count.csv", "--count", "--store", shop)
    assert code == 0 and "imported before" in out
    assert state(shop)[2][("TEE", "ST-LONDON")] == 12
    write(tmp_path / "twice.csv", "sku,location,qty\nTEE,ST-LONDON,2\nTEE,ST-LONDON,3\n")
    code, _, err = run(capsys, "import", "twice.csv", "--count", "--store", shop)
    assert code == 2 and "counted twice" in err


# -- every bad row, nothing written -------------------------------------------------------
def test_every_bad_row_is_reported_and_nothing_is_written(
    capsys: pytest.CaptureFixture[str], shop: str, tmp_path: Path
) -> None:
    before = state(shop)
    write(
        tmp_path / "bad.csv",
        "sku,location,qty\n"
        "GOOD,ST-LONDON,1\n"  # 2: fine, but must not be written
        "X,ST-LONDON,lots\n"  # 3
        ",ST-LONDON,1\n"  # 4: empty sku
        "Y,ST-PARIS,1\n"  # 5: unknown location
        "Z,ST-LONDON,0\n"  # 6: a receipt of 0
        "W,ST-LONDON,1,extra\n"  # 7: a field too many
        "V,ST-LONDON\n"  # 8: a field short
        "U,ST-LONDON,-4\n"  # 9
        "T,ST-LONDON,1.5\n"  # 10
        f"S,ST-LONDON,{2**62 + 1}\n",  # 11
    )
    code, out, err = run(capsys, "import", "bad.csv", "--store", shop)
    assert code == 2 and out == ""
    assert "9 problem(s); nothing was written" in err
    for line in range(3, 12):
        assert f"bad.csv:{line}:" in err, line
    assert "'lots' is not a whole number" in err
    assert "import the locations first" in err
    assert state(shop) == before


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("sku,location,qty,price", "price"),
        ("sku,location,qty,", "#4"),
        ("sku,location,qty,sku", "sku"),
        ("sku,location,qty,ref,key", "key"),
        ("id,kind,colour", "colour"),
        ("id,kind,qty", "qty"),
    ],
)
def test_unknown_and_extra_columns_are_refused(
    capsys: pytest.CaptureFixture[str], shop: str, tmp_path: Path, header: str, column: str
) -> None:
    before = state(shop)
    width = header.count(",") + 1
    row = ",".join(["TEE", "ST-LONDON", "1", "r1", "x"][:width]).replace("TEE,ST", "X,ST")
    write(tmp_path / "extra.csv", f"{header}\n{row}\n")
    code, _, err = run(capsys, "import", "extra.csv", "--store", shop)
    assert code == 2 and f"column {column!r}" in err
    assert state(shop) == before


def test_a_failed_write_is_finished_by_running_the_import_again(
    capsys: pytest.CaptureFixture[str],
    shop: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = "".join(f"SKU-{i},ST-LONDON,{i + 1}\n" for i in range(10))
    write(tmp_path / "stock.csv", "sku,location,qty\n" + rows)
    real = Inventory.receive
    calls = {"n": 0}

    def flaky(self: Inventory, *a: Any, **k: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise StorageError("disk full")
        return real(self, *a, **k)

    monkeypatch.setattr(Inventory, "receive", flaky)
    code, _, err = run(capsys, "import", "stock.csv", "--store", shop)
    assert code == 2 and "after 3 of 10" in err and "run the same import again" in err
    monkeypatch.setattr(Inventory, "receive", real)
    code, out, _ = run(capsys, "import", "stock.csv", "--store", shop)
    assert code == 0 and "(7 new, 3 imported before)" in out
    stock = state(shop)[2]
    assert sum(stock.values()) == sum(range(1, 11))  # every unit exactly once
    with Inventory.open(shop) as inv:
        assert inv.check().ok


def test_ctrl_c_during_an_import_then_a_rerun(
    capsys: pytest.CaptureFixture[str],
    shop: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write(tmp_path / "stock.csv", "sku,location,qty\n" + "A,ST-MANCH,1\n" * 6)
    real = Inventory.receive
    calls = {"n": 0}

    def interrupted(self: Inventory, *a: Any, **k: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(Inventory, "receive", interrupted)
    code, _, err = run(capsys, "import", "stock.csv", "--store", shop)
    assert code == 130 and "run the same import again" in err
    monkeypatch.setattr(Inventory, "receive", real)
    assert run(capsys, "import", "stock.csv", "--store", shop)[0] == 0
    assert state(shop)[2][("A", "ST-MANCH")] == 6  # six identical rows: six units


# -- locations ---------------------------------------------------------------------------
def test_redefining_a_location_needs_update_and_shows_the_differences(
    capsys: pytest.CaptureFixture[str], shop: str, tmp_path: Path
) -> None:
    before = state(shop)
    code, out, _ = run(capsys, "import", "locations.csv", "--store", shop)
    assert code == 0 and "0 added, 0 updated, 3 unchanged" in out
    assert state(shop) == before

    changed = LOCATIONS.replace("ST-LONDON,store,51.51,-0.13,50", "ST-LONDON,store,51.51,-0.13,80")
    write(tmp_path / "locations.csv", changed + "ST-LEEDS,store,53.79,-1.54,,DC-LEEDS\n")
    code, out, err = run(capsys, "import", "locations.csv", "--store", shop)
    assert code == 2 and "ST-LONDON" in err and "daily_capacity 50 -> 80" in err
    assert "--update" in err
    assert state(shop) == before  # not even the new ST-LEEDS

    code, out, _ = run(capsys, "import", "locations.csv", "--update", "--store", shop)
    assert code == 0 and "update ST-LONDON: daily_capacity 50 -> 80" in out
    assert "1 added, 1 updated, 2 unchanged" in out
    with Inventory.open(shop) as inv:
        assert inv.locations["ST-LONDON"].daily_capacity == 80


def test_dry_run_writes_nothing(
    capsys: pytest.CaptureFixture[str], shop: str, tmp_path: Path
) -> None:
    write(tmp_path / "stock.csv", STOCK)
    before = state(shop)
    code, out, _ = run(capsys, "import", "stock.csv", "--dry-run", "--store", shop)
    assert code == 0 and "dry run" in out and "48 unit(s) would be received" in out
    assert state(shop) == before


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("id,kind,returns_to\nA,store,NOWHERE\n", "names no location"),
        ("id,kind,returns_to\nA,store,B\nB,store,A\n", "cycle"),
        ("id,kind\nA,store\nA,dc\n", "defined twice"),
        ("id,kind\nA,castle\n", "'kind'"),
        ("id,kind,lat,lon\nA,store,91,0\n", "lat"),
        ("id,kind,lat,lon\nA,store,nan,0\n", "lat"),
        ("id,kind,lat\nA,store,50\n", "both lat and lon"),
        ("id,kind,sells\nA,store,maybe\n", "'sells'"),
        ("id,kind,priority\nA,store,high\n", "'priority'"),
        ("id,kind,daily_capacity\nA,store,-1\n", "'daily_capacity'"),
    ],
)
def test_bad_location_files(
    capsys: pytest.CaptureFixture[str], shop: str, tmp_path: Path, text: str, needle: str
) -> None:
    before = state(shop)
    write(tmp_path / "locs.csv", text)
    code, _, err = run(capsys, "import", "locs.csv", "--as", "locations", "--store", shop)
    assert code == 2 and needle in err, err
    assert state(shop) == before


def test_a_chain_of_returns_to_in_one_file(make_inventory: Any) -> None:
    inv: Inventory = make_inventory()
    data = importer.read_csv("l.csv", "id,kind,returns_to\nC,store,B\nB,store,A\nA,dc,\n")
    importer.apply(inv, importer.plan(inv, data))
    assert [inv.locations[x].returns_to for x in "ABC"] == [None, "A", "B"]


def test_overflow_is_refused_before_writing(make_inventory: Any) -> None:
    inv: Inventory = make_inventory()
    inv.add_location(Location("S"))
    inv.receive("A", "S", 2**62 - 5)
    data = importer.read_csv("s.csv", "sku,location,qty\nB,S,1\nA,S,3\nA,S,3\n")
    head = inv.head
    with pytest.raises(importer.ImportRefused) as e:
        importer.plan(inv, data)
    assert [p.line for p in e.value.problems] == [4]
    assert inv.head == head
