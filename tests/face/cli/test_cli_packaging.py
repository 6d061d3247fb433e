"""What an installed omnistock says about itself: its version from the
package metadata (one source, pyproject.toml), ``omnistock --version`` and
``python -m omnistock``, and the stores it registers as entry points."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points, version

import pytest

import omnistock
from omnistock.cli import main
from omnistock.storage.postgres import PostgresStore


def test_the_version_is_the_package_metadata() -> None:
    assert omnistock.__version__ == version("omnistock")


def test_omnistock_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"omnistock {version('omnistock')}"


def test_python_dash_m_omnistock_runs_the_command_line() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "omnistock", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"omnistock {version('omnistock')}"


def test_every_built_in_store_is_an_entry_point() -> None:
    stores = {e.name: e for e in entry_points(group="omnistock.storage")}
    assert {"memory", "sqlite", "postgresql", "postgres"} <= stores.keys()
    assert stores["postgresql"].load() is PostgresStore
