"""Issue 13 item 15: a LICENSE file (MIT), declared in pyproject.toml and
shipped inside the wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_license_file_is_mit_and_names_the_authors() -> None:
    text = (ROOT / "LICENSE").read_text("utf-8")
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 the omnistock authors" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text


def test_pyproject_declares_the_license_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["license"] == "MIT"
    assert "LICENSE" in project["license-files"]


@pytest.mark.slow
def test_the_wheel_contains_the_license(tmp_path: Path) -> None:
    """Build a wheel from a copy of the project (so no build/ or egg-info
    lands in the checkout) and look inside it."""
    src = tmp_path / "project"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    out = tmp_path / "wheel"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if r.returncode != 0:
        offline = ("No matching distribution", "Could not find a version", "connection")
        if any(m.lower() in (r.stdout + r.stderr).lower() for m in offline):
            pytest.skip("building needs the build backend from the package index")
        raise AssertionError(r.stdout + r.stderr)
    (wheel,) = out.glob("omnistock-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        licenses = [n for n in names if n.endswith("/LICENSE") and ".dist-info/" in n]
        assert licenses, names
        assert z.read(licenses[0]).decode().startswith("MIT License")
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        lines = z.read(meta).decode().splitlines()
        assert "License-Expression: MIT" in lines
        assert "License-File: LICENSE" in lines
