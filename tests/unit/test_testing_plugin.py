"""The pytest plugin as a third party meets it: a throwaway package in
tmp_path registers a store and a channel adapter through entry points (a
``*.dist-info`` on its path, as an installed wheel leaves) and tests them with
the contract suites, in a pytest subprocess that loads omnistock's plugin by
its ``pytest11`` entry point. A sound package passes every contract test; a
store that loses a row and an adapter that lets a KeyError escape fail."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from omnistock.testing import AdapterContract, StoreContract

PACKAGE = '''
import json

from omnistock.channels.base import ChannelAdapter, Command
from omnistock.errors import PayloadError
from omnistock.storage.memory import MemoryStore


class TinyStore(MemoryStore):
    """A third-party store: the memory store under its own scheme."""

    def __init__(self, url="tiny://"):
        super().__init__("memory://")
        self.url = url
{store_bug}

class TinyAdapter(ChannelAdapter):
    """Deliveries: {{"id": "d1", "sku": "A", "qty": 3}} received at S."""

    name = "tiny"

    def parse(self, payload, headers=None):
        if not isinstance(payload, bytes) or len(payload) > 4096:
            raise PayloadError("body", payload[:20], "must be at most 4096 bytes")
        try:
            doc = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise PayloadError("body", payload[:20], f"is not JSON ({{exc}})") from None
        if not isinstance(doc, dict):
            raise PayloadError("body", doc, "must be an object")
{adapter_checks}
        qty = doc["qty"]
        if type(qty) is not int or not 1 <= qty <= 1000:
            raise PayloadError("qty", qty, "must be an integer in 1..1000")
        if not isinstance(doc["sku"], str) or not doc["sku"].isalnum():
            raise PayloadError("sku", doc["sku"], "must be letters and digits")
        if not isinstance(doc["id"], str) or not doc["id"].isalnum():
            raise PayloadError("id", doc["id"], "must be letters and digits")
        key = "tiny:" + doc["id"]
        return [Command("receive", {{"sku": doc["sku"], "location": "S", "qty": qty}}, key)]

    def publish(self, inv, skus=None):
        return {{s: inv.available(s, location="S") for s in (inv.skus if skus is None else skus)}}
'''

SOUND_CHECKS = """
        for f in ("id", "sku", "qty"):
            if f not in doc:
                raise PayloadError(f, None, "is required")
        for f in doc:
            if f not in ("id", "sku", "qty"):
                raise PayloadError(f, doc[f], "is not a known field")
"""

# Drops the last row of every commit of two or more rows it is asked to append.
LOSSY_STORE = """
    def append(self, commits, expected_head):
        import attrs

        kept = [attrs.evolve(c, rows=c.rows[:-1]) if len(c.rows) > 1 else c for c in commits]
        return super().append(kept, expected_head)
"""

TESTS = """
import json

from omnistock.channels import create
from omnistock.storage import open_store
from omnistock.testing import AdapterContract, StoreContract


class TestTinyStore(StoreContract):
    durable = False

    def make_store(self, tmp_path):
        return open_store("tiny://")


class TestTinyAdapter(AdapterContract):
    def make_adapter(self):
        return create("tiny")

    def valid_payloads(self):
        return [json.dumps({"id": "d1", "sku": "A", "qty": 3}).encode()]

    def invalid_payloads(self):
        return [(json.dumps({"id": "d2", "sku": "A", "qty": 0}).encode(), "qty")]
"""


def make_package(root: Path, store_bug: str = "", adapter_checks: str = SOUND_CHECKS) -> Path:
    """``root``/site holds the package and its dist-info; ``root``/proj its tests."""
    site, proj = root / "site", root / "proj"
    (site / "tinystore").mkdir(parents=True)
    (proj / "tests").mkdir(parents=True)
    (site / "tinystore" / "__init__.py").write_text(
        PACKAGE.format(store_bug=store_bug, adapter_checks=adapter_checks)
    )
    info = site / "tinystore-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinystore\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[omnistock.storage]\ntiny = tinystore:TinyStore\n\n"
        "[omnistock.channels]\ntiny = tinystore:TinyAdapter\n"
    )
    (proj / "pytest.ini").write_text("[pytest]\n")  # its own rootdir: none of our ini/conftest
    (proj / "tests" / "test_tiny.py").write_text(textwrap.dedent(TESTS))
    return site


def run_pytest(root: Path, site: Path) -> tuple[int, str, ET.Element]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), *sys.path])
    report = root / "report.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={report}", "tests"],
        cwd=root / "proj",
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    return proc.returncode, proc.stdout + proc.stderr, ET.parse(report).getroot()


def outcomes(xml: ET.Element) -> dict[str, str]:
    """``Class.test_name`` (parameters stripped) -> worst outcome."""
    out: dict[str, str] = {}
    rank = {"passed": 0, "skipped": 1, "failed": 2}
    for case in xml.iter("testcase"):
        name = (
            f"{case.get('classname', '').rsplit('.', 1)[-1]}.{case.get('name', '').split('[')[0]}"
        )
        tags = {child.tag for child in case}
        got = (
            "failed"
            if tags & {"failure", "error"}
            else "skipped"
            if "skipped" in tags
            else "passed"
        )
        if rank[got] >= rank[out.get(name, "passed")]:
            out[name] = got
    return out


def contract_tests(cls: type, prefix: str) -> set[str]:
    return {f"{prefix}.{n}" for n in dir(cls) if n.startswith("test_")}


EXPECTED = contract_tests(StoreContract, "TestTinyStore") | contract_tests(
    AdapterContract, "TestTinyAdapter"
)


def test_a_sound_third_party_package_passes_the_contracts(tmp_path: Path) -> None:
    rc, output, xml = run_pytest(tmp_path, make_package(tmp_path))
    assert rc == 0, output[-3000:]
    assert "omnistock " in output and "contract suites" in output  # the plugin's header
    got = outcomes(xml)
    assert set(got) == EXPECTED  # every contract test was collected
    assert "failed" not in got.values()
    passed = {n for n, o in got.items() if o == "passed"}
    # a store that is not durable skips only the reopen-after-close tests
    assert set(got) - passed <= {
        "TestTinyStore.test_chain_survives_reopening",
        "TestTinyStore.test_reopen_shows_identical_journal",
    }


def test_a_store_that_loses_rows_fails_the_store_contract(tmp_path: Path) -> None:
    rc, output, xml = run_pytest(tmp_path, make_package(tmp_path, store_bug=LOSSY_STORE))
    assert rc == 1, output[-3000:]
    got = outcomes(xml)
    failed = {n for n, o in got.items() if o == "failed"}
    assert failed and all(n.startswith("TestTinyStore.") for n in failed), sorted(failed)


def test_an_adapter_that_lets_keyerror_escape_fails_the_adapter_contract(
    tmp_path: Path,
) -> None:
    rc, output, xml = run_pytest(tmp_path, make_package(tmp_path, adapter_checks=""))
    assert rc == 1, output[-3000:]
    failed = {n for n, o in outcomes(xml).items() if o == "failed"}
    assert "TestTinyAdapter.test_damaged_payloads_never_escape_untyped" in failed
    assert all(n.startswith("TestTinyAdapter.") for n in failed), sorted(failed)


@pytest.mark.parametrize("name", ["AdapterContract", "StoreContract"])
def test_omnistock_testing_imports_without_pytest(name: str) -> None:
    """With pytest unimportable, the helpers work and only the pytest
    classes fail, naming pytest."""
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules["pytest"] = None  # an install without pytest
        import omnistock.testing as t
        inv = t.standard_inventory(t.FakeClock())
        assert inv.available("A", "S") == 10 and t.new_row()[2] == "A"
        try:
            getattr(t, {name!r})
        except ImportError as exc:
            print("refused:", exc)
        else:
            raise SystemExit("{name} loaded without pytest")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "refused:" in proc.stdout and "pytest" in proc.stdout
