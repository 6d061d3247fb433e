"""A Ctrl-C swallowed where Python cannot raise it (a C callback: numba's
object cache during a kernel's compilation) still stops a simulation and
the CLI exits 130. Deterministic: the swallowing is done by the test."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest

from omnistock import cli, interrupts


def _swallowed_sigint() -> None:
    """What a C callback does with the KeyboardInterrupt a SIGINT raised in it."""
    with contextlib.suppress(KeyboardInterrupt):  # "Exception ignored on calling ctypes ..."
        os.kill(os.getpid(), signal.SIGINT)


def test_check_raises_after_a_swallowed_sigint_and_only_inside() -> None:
    interrupts.check()  # nothing asked
    with interrupts.watched():
        interrupts.check()
        _swallowed_sigint()
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    interrupts.check()  # forgotten once outside
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_simulation_stops_on_a_swallowed_ctrl_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from omnistock.simulate import play

    calls = {"n": 0}
    real = play.Play.order

    def order(self: play.Play, d: dict[str, object]) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            _swallowed_sigint()  # as if inside a kernel's first compilation
        real(self, d)

    monkeypatch.setattr(play.Play, "order", order)
    store = f"sqlite:///{tmp_path / 'sim.db'}"
    code = cli.main(["--store", store, "simulate", "--no-progress", "--days", "1"])
    err = capsys.readouterr().err
    assert code == 130 and "interrupted" in err
    assert calls["n"] == 5  # it stopped at the next event, not at the end of the day
