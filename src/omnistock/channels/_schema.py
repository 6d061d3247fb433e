"""Strict payload decoding shared by the built-in adapters.

:func:`decode` reads a raw body into one of the msgspec structs of
:mod:`.payloads`. Every failure raises :class:`~omnistock.errors.PayloadError`
with the field's path (``data.lines[2].qty``) and the offending value;
nothing else escapes. The JSON loader bounds the body's size and nesting
depth *before* parsing, refuses duplicate keys, NaN/Infinity and non-UTF-8
text, so hostile bodies (nesting bombs, huge numbers, invalid encodings)
cost O(size) and fail typed. msgspec then checks the types, lengths,
ranges and field names in C.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from ..errors import PayloadError
from .payloads import MAX_ID, MAX_LINES, MAX_QTY

__all__ = [
    "MAX_BODY",
    "MAX_DEPTH",
    "MAX_ID",
    "MAX_LINES",
    "MAX_QTY",
    "decode",
    "event_id",
    "ident",
    "integer",
    "load_json",
    "payload_error",
    "printable",
    "printable_lines",
]

MAX_BODY = 64 * 1024
MAX_DEPTH = 8

EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}")
_ENCODER = msgspec.json.Encoder()
_DECODERS: dict[int, msgspec.json.Decoder[Any]] = {}


def _decoder(tp: Any) -> msgspec.json.Decoder[Any]:
    # by id: hashing a union type costs more than decoding a small body
    dec = _DECODERS.get(id(tp))
    if dec is None:
        dec = _DECODERS[id(tp)] = msgspec.json.Decoder(tp)
    return dec


def decode(body: Any, tp: Any, max_bytes: int = MAX_BODY, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``body`` and check it against ``tp`` (a struct of
    :mod:`.payloads`, or a union of them), under every bound of
    :func:`load_json`. O(size of the body).

    Fast path: msgspec decodes the bytes straight into ``tp`` in C (the
    schema bounds the depth). msgspec keeps the last of two equal keys, so
    the body's colons are counted against the decoded value re-encoded
    (structs omit absent and default fields, strings keep their colons): a
    duplicate key drops a key's colon, so the counts differ. A body whose
    counts differ, that escapes a colon (``\\u003a``), or that msgspec
    refuses takes the exact path: :func:`load_json` re-reads it for the
    precise refusal (a duplicate key, the depth, NaN, bad UTF-8) and the
    schema error names the field. A valid body that spells out a default
    (``"commit": false``) is accepted there too, only slower."""
    refusal = None
    if isinstance(body, bytes) and len(body) <= max_bytes:
        try:
            out = _decoder(tp).decode(body)
        except msgspec.ValidationError as exc:
            refusal = str(exc)
        except (msgspec.DecodeError, RecursionError, UnicodeError):
            pass
        else:
            if body.count(b":") == _ENCODER.encode(out).count(b":") and not _escapes_colon(body):
                return out
    return _exact(body, tp, max_bytes, max_depth, refusal)


def _escapes_colon(body: bytes) -> bool:
    return b"\\u003" in body and (b"\\u003a" in body or b"\\u003A" in body)


def _exact(body: Any, tp: Any, max_bytes: int, max_depth: int, refusal: str | None = None) -> Any:
    """The slow path: the bounded loader's refusals first, then msgspec's
    (``refusal``: its message from the fast path, if it got that far)."""
    doc = load_json(body, max_bytes, max_depth)
    if refusal is not None:
        raise payload_error(doc, refusal)
    try:
        return msgspec.convert(doc, tp, strict=True)
    except msgspec.ValidationError as exc:
        raise payload_error(doc, str(exc)) from None
    except UnicodeEncodeError:
        # msgspec cannot quote a lone surrogate (valid JSON escape, not
        # Unicode text) in its error message: name where it is instead
        path, value = _surrogate(doc, "")
        raise PayloadError(path or "body", value, "contains a lone surrogate") from None


def _surrogate(v: Any, path: str) -> tuple[str, Any]:
    """The path and value of the first string (key or value) in ``v`` that
    is not encodable Unicode; ("", None) if none."""
    if isinstance(v, str):
        return (path, v) if not _encodable(v) else ("", None)
    items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
    for k, x in items:
        p = f"{path}[{k}]" if isinstance(k, int) else _join(path, k)
        if isinstance(k, str) and not _encodable(k):
            return p, k
        found = _surrogate(x, p)
        if found[0]:
            return found
    return "", None


def _encodable(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_MISSING = re.compile(r"^Object missing required field `(.*)`$", re.DOTALL)
_UNKNOWN = re.compile(r"^Object contains unknown field `(.*)`$", re.DOTALL)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def payload_error(doc: Any, message: str) -> PayloadError:
    """A msgspec validation message (``Expected `int`, got `str` - at
    `$.lines[0].qty```) as a ``PayloadError`` naming the field and the value
    found there in ``doc``."""
    reason, at, where = message.rpartition(" - at `$")
    if at:
        where = where.removesuffix("`")
    else:
        reason, where = message, ""
    path = where.removeprefix(".")
    if missing := _MISSING.match(reason):
        return PayloadError(_join(path, missing.group(1)), None, "is required")
    if unknown := _UNKNOWN.match(reason):
        key = unknown.group(1)
        parent = _lookup(doc, where)
        value = parent.get(key) if isinstance(parent, dict) else None
        return PayloadError(_join(path, key), value, "is not a known field")
    if not path and not isinstance(doc, dict):
        return PayloadError("body", doc, "must be a JSON object")
    return PayloadError(path or "body", _lookup(doc, where), _house(reason))


def _house(reason: str) -> str:
    # msgspec says "Expected `int`, got `float`"; the house style is lower case
    return reason[:1].lower() + reason[1:]


def _lookup(doc: Any, where: str) -> Any:
    """The value at a msgspec path (``.data.lines[0]``); None if absent.
    Paths come from the schema's own field names, so ``.`` and ``[`` split
    them unambiguously."""
    v = doc
    for key, index in _STEP.findall(where):
        try:
            v = v[int(index)] if index else v[key]
        except (KeyError, IndexError, TypeError):
            return None
    return v


def load_json(body: Any, max_bytes: int = MAX_BODY, max_depth: int = MAX_DEPTH) -> Any:
    """Parse a raw JSON body under the bounds above."""
    if isinstance(body, bytearray | memoryview):
        body = bytes(body)
    if not isinstance(body, bytes):
        raise PayloadError("body", body, "must be the raw request body as bytes")
    if len(body) > max_bytes:
        raise PayloadError("body", f"<{len(body)} bytes>", f"larger than {max_bytes} bytes")
    if not body.strip():
        raise PayloadError("body", body, "is empty")
    try:
        text = body.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise PayloadError("body", body[:40], f"is not UTF-8 ({exc.reason})") from None
    _check_depth(text, max_depth)
    try:
        return json.loads(text, object_pairs_hook=_no_dupes, parse_constant=_no_constant)
    except PayloadError:
        raise
    except (ValueError, RecursionError) as exc:
        raise PayloadError("body", text[:40], f"is not valid JSON ({exc})") from None


def _check_depth(text: str, max_depth: int) -> None:
    depth = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                raise PayloadError("body", text[:40], f"nested deeper than {max_depth} levels")
        elif ch in "]}":
            depth -= 1


def _no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise PayloadError(k, v, "appears twice in one object")
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise PayloadError("body", name, "NaN and Infinity are not JSON numbers")


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


def ident(v: Any, path: str, max_len: int = MAX_ID) -> str:
    """An opaque id: a string of 1..max_len printable characters without
    leading or trailing whitespace. Quotes, slashes, ``;`` and any other
    printable character are allowed: ids reach the store only as bound
    parameters, never as SQL text or file paths."""
    if not isinstance(v, str):
        raise PayloadError(path, v, "must be a string")
    if not v:
        raise PayloadError(path, v, "must not be empty")
    if len(v) > max_len:
        raise PayloadError(path, v, f"longer than {max_len} characters")
    if not v.isprintable():
        raise PayloadError(path, v, "contains control or non-printable characters")
    if v != v.strip():
        raise PayloadError(path, v, "has leading or trailing whitespace")
    return v


def event_id(v: Any, path: str) -> str:
    """An event or receipt id used in idempotency keys: 1..128 of
    ``A-Z a-z 0-9 _ . : -``, starting with a letter or digit."""
    if not isinstance(v, str) or EVENT_ID.fullmatch(v) is None:
        raise PayloadError(
            path,
            v,
            "must be 1-128 characters of A-Z a-z 0-9 _ . : - starting with a letter or digit",
        )
    return v


def integer(v: Any, path: str, lo: int, hi: int) -> int:
    if type(v) is not int:
        raise PayloadError(path, v, "must be an integer")
    if not lo <= v <= hi:
        raise PayloadError(path, v, f"must be between {lo} and {hi}")
    return v


def printable(v: str, path: str) -> str:
    """``v`` (already a string of the right length) has only printable
    characters and no leading or trailing whitespace: the part of an id's
    rule a JSON Schema cannot state."""
    if not v.isprintable():
        raise PayloadError(path, v, "contains control or non-printable characters")
    if v != v.strip():
        raise PayloadError(path, v, "has leading or trailing whitespace")
    return v


def printable_lines(lines: Any, path: str) -> None:
    """:func:`printable` for each line's ``sku`` and ``location``."""
    for i, line in enumerate(lines):
        printable(line.sku, f"{path}[{i}].sku")
        loc = getattr(line, "location", None)
        if loc is not None:
            printable(loc, f"{path}[{i}].location")
