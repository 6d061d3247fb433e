"""The ``postgresql://`` URL and its options, checked where they enter, and
the driver."""

from __future__ import annotations

import zlib
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ...errors import InvalidInput, StorageError

__all__ = [
    "OPTIONS",
    "check_lock_timeout",
    "check_partitions",
    "check_schema",
    "driver",
    "partition_of",
    "split_url",
]

OPTIONS: Final = ("schema", "partitions", "lock_timeout")
LOCK_TIMEOUT: Final = 10.0
"""Seconds a write waits for a row another session holds (``lock_timeout``)."""


def partition_of(sku: str, partitions: int) -> int:
    """The journal partition of ``sku``: CRC-32 of its UTF-8 bytes mod ``partitions``."""
    return zlib.crc32(sku.encode("utf-8")) % partitions


def driver() -> Any:
    """The psycopg module, or ``StorageError`` saying how to install it."""
    try:
        import psycopg
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise StorageError(
            "the PostgreSQL store needs psycopg 3: pip install 'omnistock[postgres]'"
        ) from e
    return psycopg


def redact(url: str) -> str:
    """``url`` with any password (user-info or ``password=``) replaced by ``***``."""
    from .. import redact as _redact

    return _redact(url)


_SECRETS = frozenset({"password", "passwd", "pwd", "sslpassword"})
_PORT_RULE = "must be a whole number from 1 to 65535"
# libpq's numeric URL parameters, checked here so that a typo is a typed error
# naming the parameter rather than a driver message at connect time.
_LIBPQ_SECONDS = frozenset({"connect_timeout", "keepalives_idle", "keepalives_interval"})
_LIBPQ_INTS = {"keepalives": (0, 1), "keepalives_count": (0, 1000), "port": (1, 65535)}


def _check_libpq_int(name: str, value: str, lo: int, hi: int) -> None:
    text = value.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 9 and lo <= int(text) <= hi):
        raise InvalidInput(name, value, f"must be a whole number from {lo} to {hi}")


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """(libpq conninfo without our options, our options) from ``url``;
    ``InvalidInput`` naming a malformed part (never showing a password)."""
    try:
        parts = urlsplit(url)
    except ValueError as e:
        raise InvalidInput("url", redact(url), f"not a URL: {e}") from e
    if parts.scheme.lower() not in ("postgresql", "postgres"):
        raise InvalidInput("url", redact(url), "must start with postgresql:// or postgres://")
    try:
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as e:
        raise InvalidInput("url", redact(url), f"malformed query string: {e}") from None
    seen: set[str] = set()
    for k, v in query:
        if k in seen:
            shown = "***" if k.lower() in _SECRETS else v
            raise InvalidInput(k, shown, "option given twice in the URL")
        seen.add(k)
        if k in _LIBPQ_SECONDS:
            _check_libpq_int(k, v, 0, 86_400)
        elif k in _LIBPQ_INTS:
            _check_libpq_int(k, v, *_LIBPQ_INTS[k])
    hostport = parts.netloc.rpartition("@")[2]
    if "," not in hostport:  # libpq's multi-host form is libpq's to check
        try:
            port = parts.port
        except ValueError:
            raise InvalidInput("port", hostport.rpartition(":")[2], _PORT_RULE) from None
        if port == 0:
            raise InvalidInput("port", port, _PORT_RULE)
    ours = {k: v for k, v in query if k in OPTIONS}
    rest = [(k, v) for k, v in query if k not in OPTIONS]
    return urlunsplit(parts._replace(query=urlencode(rest))), ours


def check_schema(value: Any) -> str:
    """The ``schema`` option, checked."""
    if not isinstance(value, str) or not value:
        raise InvalidInput("schema", value, "must be a non-empty string")
    if "\x00" in value or len(value.encode("utf-8")) > 63:
        raise InvalidInput("schema", value, "must be at most 63 bytes, without NUL")
    return value


def check_partitions(value: Any) -> int:
    """The ``partitions`` option, checked."""
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise InvalidInput("partitions", value, "must be a whole number") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
        raise InvalidInput("partitions", value, "must be a whole number from 1 to 4096")
    return value


def check_lock_timeout(value: Any) -> float:
    """The ``lock_timeout`` option: seconds from 0 (wait as long as it
    takes) to 3600, as a number or its text."""
    rule = "must be a number of seconds from 0 (no limit) to 3600"
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise InvalidInput("lock_timeout", value, rule) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3600:
        raise InvalidInput("lock_timeout", value, rule)  # NaN fails the range test too
    return float(value)
