"""Webhook validation: the hand-written checks against msgspec and pydantic
(issue 17).

The corpus is the web-shop fuzz corpus of
``tests/face/channels/test_channels_fuzz.py``: its valid templates (and the
same with 1, 5 and 50 lines), and payloads drawn from its mutation,
truncation and random-JSON strategies with a fixed seed (hypothesis
``derandomize``). Each candidate parses every body into commands, or refuses
it with a ``PayloadError``:

- ``handwritten``: the checks omnistock had before (baseline,
  ``baselines/handwritten_schema.py``);
- ``msgspec``: production (``WebShopAdapter.parse_unsigned``,
  ``_schema.decode``): msgspec decodes the bytes in C, a colon count
  catches duplicate keys, and a refused body is re-read by the bounded JSON
  loader (size, depth, duplicate keys, NaN) for the exact error;
- ``msgspec-convert``: the simple design: always the loader, then
  ``msgspec.convert`` on the parsed dict;
- ``pydantic``: production's design with pydantic v2 (``validate_json``,
  the same colon count, the loader and ``validate_python`` on refusal;
  ``baselines/pydantic_schema.py``);
- ``pydantic-python``: always the loader, then ``validate_python``.

All candidates run in one process, interleaved round by round; a round times
each candidate over the whole valid set and then the whole invalid set.
Printed: the median over rounds of the microseconds per payload, and the
ratio to ``handwritten``; then how often each candidate's outcome (accepted,
or the field it named) differs from ``handwritten``.

    python -m benchmarks.validation                 # 9 rounds, 600 drawn payloads
    python -m benchmarks.validation --rounds 21 --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from omnistock.channels import _schema as S
from omnistock.channels import payloads as P
from omnistock.channels.base import Command
from omnistock.channels.web import WebShopAdapter
from omnistock.errors import OmnistockError, PayloadError

from .baselines.handwritten_schema import HandWrittenWebAdapter

SECRET = b"validation-bench-0123456789"
FUZZ = Path(__file__).resolve().parents[1] / "tests/face/channels/test_channels_fuzz.py"


def fuzz_module() -> Any:
    spec = importlib.util.spec_from_file_location("channels_fuzz_corpus", FUZZ)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def draw(strategy: st.SearchStrategy[bytes], n: int) -> list[bytes]:
    """``n`` examples of ``strategy``, the same on every run."""
    out: list[bytes] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(body: bytes) -> None:
        out.append(body)

    collect()
    return out


def corpus(examples: int) -> list[bytes]:
    """The fuzz corpus: templates, widened templates, then drawn payloads
    (mutated 60%, truncated 20%, random JSON 20%)."""
    fz = fuzz_module()
    bodies = []
    for doc, _ in fz.TEMPLATES["web"]:
        bodies.append(json.dumps(doc).encode())
        lines = doc["data"].get("lines")
        for n in (5, 50) if lines else ():
            wide = json.loads(json.dumps(doc))
            wide["data"]["lines"] = lines * n
            bodies.append(json.dumps(wide).encode())
    truncated = st.sampled_from(fz.TEMPLATES["web"]).flatmap(
        lambda t: st.integers(0, len(json.dumps(t[0])) - 1).map(
            lambda i: json.dumps(t[0]).encode()[:i]
        )
    )
    bodies += draw(fz.mutated("web"), examples * 6 // 10)
    bodies += draw(truncated, examples * 2 // 10)
    bodies += draw(fz.json_values.map(lambda v: json.dumps(v).encode()), examples * 2 // 10)
    return bodies


class MsgspecConvertAdapter(WebShopAdapter):
    """The bounded loader on every body, then ``msgspec.convert``."""

    def parse_unsigned(self, payload: bytes) -> list[Command]:
        ev = S._exact(payload, P.WebEvent, self.max_bytes, self.max_depth)
        key = self.prefix + ev.id
        if isinstance(ev, P.OrderPlaced):
            return self._placed(ev.data, key)
        if isinstance(ev, P.ReturnRequested):
            S.printable(ev.data.order_id, "data.order_id")
            S.printable(ev.data.location, "data.location")
            S.printable_lines(ev.data.lines, "data.lines")
            return [Command("return_items", {"location": ev.data.location}, key)]
        order_id = S.printable(ev.data.order_id, "data.order_id")
        return [Command("release_order", {"order_id": order_id}, key)]


def candidates() -> dict[str, Callable[[bytes], list[Command]]]:
    from .baselines.pydantic_schema import PydanticWebAdapter

    return {
        "handwritten": HandWrittenWebAdapter(SECRET).parse_unsigned,
        "msgspec": WebShopAdapter(SECRET).parse_unsigned,
        "msgspec-convert": MsgspecConvertAdapter(SECRET).parse_unsigned,
        "pydantic": PydanticWebAdapter(SECRET).parse_unsigned,
        "pydantic-python": PydanticWebAdapter(SECRET, fast=False).parse_unsigned,
    }


def outcome(parse: Callable[[bytes], list[Command]], body: bytes) -> tuple[str, str]:
    """("ok", "") or ("refused", field); any other exception escapes."""
    try:
        parse(body)
    except PayloadError as exc:
        return "refused", exc.field
    except OmnistockError as exc:  # a value rule the schema does not state (Order's own)
        return "refused", type(exc).__name__
    return "ok", ""


def split(bodies: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """(valid, invalid) by the baseline's verdict."""
    base = HandWrittenWebAdapter(SECRET).parse_unsigned
    valid = [b for b in bodies if outcome(base, b)[0] == "ok"]
    invalid = [b for b in bodies if outcome(base, b)[0] != "ok"]
    return valid, invalid


def agreement(bodies: list[bytes]) -> dict[str, dict[str, int]]:
    """Per candidate: payloads whose verdict (accept/refuse) or named field
    differs from ``handwritten``."""
    cands = candidates()
    base = [outcome(cands["handwritten"], b) for b in bodies]
    out = {}
    for name, parse in cands.items():
        got = [outcome(parse, b) for b in bodies]
        out[name] = {
            "verdict_differs": sum(g[0] != w[0] for g, w in zip(got, base, strict=True)),
            "field_differs": sum(
                g[0] == w[0] == "refused" and g[1] != w[1] for g, w in zip(got, base, strict=True)
            ),
        }
    return out


def timed(parse: Callable[[bytes], list[Command]], bodies: list[bytes]) -> float:
    """Microseconds per payload for one pass over ``bodies``."""
    t0 = time.perf_counter()
    for b in bodies:
        with contextlib.suppress(OmnistockError):
            parse(b)
    return (time.perf_counter() - t0) * 1e6 / len(bodies)


def measure(valid: list[bytes], invalid: list[bytes], rounds: int) -> dict[str, dict[str, float]]:
    cands = candidates()
    samples: dict[str, dict[str, list[float]]] = {n: {"valid": [], "invalid": []} for n in cands}
    for parse in cands.values():  # warm-up: imports, caches
        timed(parse, valid + invalid)
    for _ in range(rounds):
        for name, parse in cands.items():
            samples[name]["valid"].append(timed(parse, valid))
            samples[name]["invalid"].append(timed(parse, invalid))
    return {
        name: {part: statistics.median(xs) for part, xs in parts.items()}
        for name, parts in samples.items()
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--examples", type=int, default=600)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    bodies = corpus(args.examples)
    valid, invalid = split(bodies)
    print(f"corpus: {len(valid)} valid, {len(invalid)} invalid web-shop payloads")
    medians = measure(valid, invalid, args.rounds)
    base = medians["handwritten"]
    print(f"\nmedian of {args.rounds} rounds, us per payload (ratio to handwritten)")
    print(f"{'candidate':<15}{'valid':>18}{'invalid':>18}")
    for name, m in medians.items():
        v, i = m["valid"], m["invalid"]
        print(
            f"{name:<15}{v:>10.2f} ({v / base['valid']:4.2f}x)"
            f"{i:>10.2f} ({i / base['invalid']:4.2f}x)"
        )
    agree = agreement(bodies)
    print("\noutcomes differing from handwritten (of", len(bodies), "payloads)")
    for name, a in agree.items():
        print(f"{name:<15} verdict {a['verdict_differs']:>4}   field {a['field_differs']:>4}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "valid": len(valid),
                    "invalid": len(invalid),
                    "rounds": args.rounds,
                    "us_per_payload": medians,
                    "agreement": agree,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
