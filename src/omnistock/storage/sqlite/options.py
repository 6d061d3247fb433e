"""The ``sqlite://`` URL and its options, checked where they enter.

An unknown option, an option given twice, or a value that is not a number,
is NaN, infinite or out of range raises ``InvalidInput`` naming the option
and the value.
"""

from __future__ import annotations

import math
from typing import Any, Final
from urllib.parse import parse_qsl

from ...errors import InvalidInput

__all__ = ["MAX_BUSY_TIMEOUT", "MAX_KEEP_SNAPSHOTS", "Options", "parse_url"]

SYNCHRONOUS: Final = {"off": 0, "normal": 1, "full": 2, "extra": 3}
OPTIONS: Final = ("synchronous", "busy_timeout", "keep_snapshots")
MAX_BUSY_TIMEOUT: Final = 86_400.0  # seconds: a day; longer is a typo, not a wait
MAX_KEEP_SNAPSHOTS: Final = 1_000


def parse_url(url: str) -> tuple[str, dict[str, str]]:
    """Split a ``sqlite:///path?opt=value`` URL into the path and its options.

    Raises ``InvalidInput`` naming the URL if it is not a ``sqlite://`` URL or
    names a host.
    """
    if not isinstance(url, str):
        raise InvalidInput("url", url, "must be a string like 'sqlite:///path.db'")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "sqlite":
        raise InvalidInput("url", url, "must look like 'sqlite:///path.db'")
    rest, _, query = rest.partition("?")
    if rest == "":
        path = ":memory:"
    elif rest.startswith("/"):
        path = rest[1:]  # "/rel.db" -> "rel.db", "//abs.db" -> "/abs.db"
    else:
        raise InvalidInput(
            "url",
            url,
            "a SQLite URL has no host: use 'sqlite:///relative.db' or "
            "'sqlite:////absolute/path.db'",
        )
    if path == "":
        raise InvalidInput("url", url, "names no file: use 'sqlite:///path.db'")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise InvalidInput("url", url, f"malformed query string: {exc}") from None
    options: dict[str, str] = {}
    for name, value in pairs:
        if name in options:
            raise InvalidInput(name, value, f"option given twice in {url!r}")
        options[name] = value
    return path, options


class Options:
    """A store's checked options: ``path``, ``synchronous``, ``busy_timeout``
    (seconds) and ``keep_snapshots``. URL options and keywords are merged
    (keywords win)."""

    __slots__ = ("busy_timeout", "keep_snapshots", "path", "synchronous")

    def __init__(self, url: str, keywords: dict[str, Any]) -> None:
        path, opts = parse_url(url)
        for given in (opts, keywords):
            unknown = sorted(set(given) - set(OPTIONS))
            if unknown:
                raise InvalidInput(
                    unknown[0],
                    given[unknown[0]],
                    f"unknown option of a sqlite:// store; known: {', '.join(OPTIONS)}",
                )
        merged: dict[str, Any] = {**opts, **keywords}
        raw_sync = merged.get("synchronous", "normal")
        sync = raw_sync.lower() if isinstance(raw_sync, str) else ""
        if sync not in SYNCHRONOUS:
            raise InvalidInput("synchronous", raw_sync, f"must be one of {', '.join(SYNCHRONOUS)}")
        self.path = path
        self.synchronous = sync
        self.busy_timeout = seconds(
            "busy_timeout", merged.get("busy_timeout", 10.0), MAX_BUSY_TIMEOUT
        )
        self.keep_snapshots = whole(
            "keep_snapshots", merged.get("keep_snapshots", 3), 1, MAX_KEEP_SNAPSHOTS
        )


def seconds(field: str, value: Any, hi: float) -> float:
    """``value`` (a URL string or a keyword) as seconds in ``[0, hi]``, or
    ``InvalidInput`` naming the option and the value (NaN, infinities and
    non-numbers included)."""
    if isinstance(value, bool):
        raise InvalidInput(field, value, "must be a number of seconds, not a bool")
    if isinstance(value, str):
        try:
            f = float(value.strip())
        except ValueError:
            raise InvalidInput(field, value, "must be a number of seconds") from None
    elif isinstance(value, int | float):
        try:
            f = float(value)
        except OverflowError:
            raise InvalidInput(field, value, f"must be from 0 to {hi:g} seconds") from None
    else:
        raise InvalidInput(field, value, "must be a number of seconds")
    if not math.isfinite(f) or not 0 <= f <= hi:
        raise InvalidInput(field, value, f"must be a finite number from 0 to {hi:g} seconds")
    return f


def whole(field: str, value: Any, lo: int, hi: int) -> int:
    """``value`` (a URL string or a keyword) as a whole number in ``[lo, hi]``,
    or ``InvalidInput`` naming the option and the value."""
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()):
            raise InvalidInput(field, value, f"must be a whole number from {lo} to {hi}")
        v = int(text) if len(text) <= 18 else hi + 1
    elif isinstance(value, int) and not isinstance(value, bool):
        v = value
    else:
        raise InvalidInput(field, value, f"must be a whole number from {lo} to {hi}")
    if not lo <= v <= hi:
        raise InvalidInput(field, value, f"must be a whole number from {lo} to {hi}")
    return v
