"""What an installed omnistock says about itself: its version from the
package metadata (one source, pyproject.toml), ``omnistock --version`` and
``python -m omnistock``, the stores, adapters and pytest plugin it registers
as entry points, its classifiers, and what a user install can pull in (no
developer tools: those are dependency groups)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points, metadata, requires, version
from pathlib import Path

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


def test_the_pytest_plugin_and_the_adapters_are_entry_points() -> None:
    (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "omnistock"]
    assert plugin.value == "omnistock.testing.plugin"
    adapters = {e.name for e in entry_points(group="omnistock.channels")}
    assert {"web", "pos", "marketplace"} <= adapters


def test_classifiers_say_what_it_is() -> None:
    classifiers = metadata("omnistock").get_all("Classifier") or []
    for wanted in (
        "Programming Language :: Python :: 3.11",
        "Typing :: Typed",
        "Framework :: Pytest",
    ):
        assert wanted in classifiers


DEV_ONLY = ("ortools", "scipy", "redis", "pytest", "hypothesis", "ruff", "mypy", "mkdocs")


def test_no_user_install_pulls_in_developer_tools() -> None:
    """Every requirement of the package, with any extra, is a runtime one:
    OR-tools and the test tools live in dependency groups."""
    names = {
        re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in requires("omnistock") or []
    }
    assert "msgspec" in names  # the adapters' payload validation
    assert not names & set(DEV_ONLY)


PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


@pytest.mark.parametrize(
    "group, needs",
    [
        ("test", ("pytest", "hypothesis", "pytest-benchmark", "opentelemetry-sdk")),
        ("lint", ("ruff", "mypy")),
        ("docs", ("mkdocs", "mkdocstrings")),
        ("bench", ("ortools", "scipy", "redis", "pydantic")),
    ],
)
def test_the_dev_group_holds_every_developer_tool(group: str, needs: tuple[str, ...]) -> None:
    doc = tomllib.loads(PYPROJECT.read_text())
    groups = doc["dependency-groups"]
    assert {"include-group": group} in groups["dev"]
    names = {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0] for r in groups[group]}
    assert set(needs) <= names
    assert "dev" not in doc["project"]["optional-dependencies"]
