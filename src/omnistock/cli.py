"""The ``omnistock`` command.

Verbs work on any store URL (``--store``, before or after the verb; default
``sqlite:///omnistock.db``, the embedded store in the current directory):

    omnistock simulate [--seed N] [--days N | --week] [--json F] [--report F]
    omnistock compare A.toml B.toml [...]   the same events under each policy
    omnistock demo                          an omnichannel morning, end to end
    omnistock import FILE.csv               stock (sku,location,qty) or locations
    omnistock available SKU [--location L] [--channel C]
    omnistock explain SKU [--location L] [--channel C]
    omnistock history [--sku S] [--location L] [--ref R] [--limit N]
    omnistock check                         replay the journal, check invariants
    omnistock bench                         a quick holds/s micro benchmark

Exit codes: 0 success, 1 a failed check (or a simulation that oversold),
2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import errors
from .inventory import Inventory
from .values import Channel, Line, Location, Order, Point

DEFAULT_STORE = "sqlite:///omnistock.db"
EXIT_OK, EXIT_CHECK, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input the user can fix; the message says how (exit 2)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="omnistock",
        description="omnistock: one truthful stock ledger for omnichannel retail. Simulate "
        "a retailer's day, compare sourcing policies, and inspect or check any store.",
        epilog="Run 'omnistock VERB --help' for a verb's options.",
    )
    p.add_argument(
        "--store",
        default=DEFAULT_STORE,
        help=f"store URL (default {DEFAULT_STORE}; memory://, sqlite:///path, postgresql://...)",
    )
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument(
        "--store", default=argparse.SUPPRESS, help=f"store URL (default {DEFAULT_STORE})"
    )
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    from .simulate.console import add_sim_arguments

    s = sub.add_parser(
        "simulate",
        parents=[store],
        help="simulate an omnichannel day and print KPIs",
        description="Simulate a day (or week) of an omnichannel "
        "retailer on real UK cities through omnistock and print KPIs. "
        "Deterministic for a given --seed (wall-time figures aside).",
    )
    s.add_argument(
        "--fresh",
        action="store_true",
        help="start from an empty store (deletes a sqlite file first)",
    )
    s.add_argument("--policy", metavar="POLICY.toml", help="sourcing policy (TOML)")
    add_sim_arguments(s)
    c = sub.add_parser(
        "compare",
        help="the same simulated events under several policies",
        description="Run the same simulated events (same seed) under each "
        "policy, each on a fresh SQLite store, and print the KPIs side by "
        "side with their differences.",
    )
    c.add_argument(
        "policies",
        nargs="+",
        metavar="POLICY.toml",
        help="two or more policy files (TOML, see docs/cli.md)",
    )
    c.add_argument(
        "--store-dir",
        metavar="DIR",
        help="keep each run's SQLite store in DIR (default: a temporary directory)",
    )
    add_sim_arguments(c)
    d = sub.add_parser(
        "demo", parents=[store], help="run an omnichannel morning on the store and report"
    )
    d.add_argument("--fresh", action="store_true", help="start from an empty store file")
    i = sub.add_parser(
        "import",
        parents=[store],
        help="import a CSV of stock or locations",
        description="Import a CSV file. Stock: columns sku,location,qty "
        "(received, or set with --count). Locations: columns id,kind and "
        "optionally lat,lon,sells,ships,pickup,accepts_returns,priority,"
        "daily_capacity,returns_to. The kind is told from the header. "
        "Importing the same file again changes nothing.",
    )
    i.add_argument("file", help="CSV file with a header row")
    i.add_argument(
        "--as",
        dest="kind",
        choices=("stock", "locations"),
        help="what the file holds (default: told from its header)",
    )
    i.add_argument(
        "--count",
        action="store_true",
        help="stock rows are cycle counts (set sellable units) instead of receipts",
    )
    for name, helptext in (
        ("available", "units that can be promised now"),
        ("explain", "every term of the ATP formula"),
    ):
        q = sub.add_parser(name, parents=[store], help=helptext, description=helptext)
        q.add_argument("sku")
        q.add_argument("--location")
        q.add_argument("--channel")
    h = sub.add_parser("history", parents=[store], help="journal entries, oldest first")
    h.add_argument("--sku")
    h.add_argument("--location")
    h.add_argument("--ref")
    h.add_argument("--since", type=int, default=0, help="entries after this sequence number")
    h.add_argument("--limit", type=int, default=50)
    sub.add_parser(
        "check",
        parents=[store],
        help="replay the journal and verify every invariant (exit 1 on failure)",
    )
    b = sub.add_parser(
        "bench",
        help="quick in-process holds/s on memory:// and sqlite",
        description="A quick micro benchmark of holds per second on memory:// "
        "and a temporary SQLite file. The full suite is "
        "'python -m benchmarks.compare' in a source checkout.",
    )
    b.add_argument("-n", type=int, default=3000, help="holds per store (default 3000)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    p = _parser()
    args = p.parse_args(argv)
    try:
        if args.verb == "simulate":
            from .simulate.console import run_simulate

            return run_simulate(args, args.store)
        if args.verb == "compare":
            from .simulate.console import run_compare

            if len(args.policies) < 2:
                p.error(
                    "compare needs at least two policy files, e.g. "
                    "'omnistock compare closest.toml cheapest.toml'"
                )
            return run_compare(args)
        if args.verb == "demo":
            return _demo(args.store, args.fresh)
        if args.verb == "bench":
            return _bench(args.n)
        if args.verb == "import":
            return _import(args.store, args.file, args.kind, args.count)
        return _query(args)
    except (UsageError, ValueError) as exc:
        print(f"omnistock {args.verb}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except errors.StorageError as exc:
        print(
            f"omnistock {args.verb}: store error: {exc} (is --store {args.store!r} right?)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except errors.OmnistockError as exc:
        print(f"omnistock {args.verb}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _query(args: argparse.Namespace) -> int:
    with Inventory.open(args.store) as inv:
        if args.verb == "available":
            print(inv.available(args.sku, args.location, args.channel))
        elif args.verb == "explain":
            print(inv.explain(args.sku, args.location, args.channel))
        elif args.verb == "history":
            if args.limit < 0 or args.since < 0:
                raise UsageError("--since and --limit must be >= 0")
            for e in inv.history(
                sku=args.sku,
                location=args.location,
                ref=args.ref,
                since=args.since,
                limit=args.limit,
            ):
                print(
                    f"{e.seq:>8} {e.at:%Y-%m-%d %H:%M:%S} {e.kind:<14} "
                    f"{e.sku or '-':<12} {e.location or '-':<10} {e.qty:>6} "
                    f"{e.ref or ''}"
                )
        elif args.verb == "check":
            report = inv.check()
            print(report)
            return EXIT_OK if report.ok else EXIT_CHECK
    return EXIT_OK


# -- import -----------------------------------------------------------------------
STOCK_COLUMNS = ("sku", "location", "qty")
LOCATION_COLUMNS = ("id", "kind")
BOOLS = {
    "true": True,
    "yes": True,
    "1": True,
    "y": True,
    "false": False,
    "no": False,
    "0": False,
    "n": False,
}


def _read_csv(path: str) -> tuple[list[str], list[tuple[int, dict[str, str]]], str]:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path!r}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text; save it as UTF-8 CSV") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not header:
        raise UsageError(
            f"{path} is empty; it needs a header row such as '{','.join(STOCK_COLUMNS)}'"
        )
    reader.fieldnames = header
    rows = [
        (n + 2, {k: (v or "").strip() for k, v in r.items() if k is not None})
        for n, r in enumerate(reader)
    ]
    return header, rows, hashlib.sha256(raw).hexdigest()[:16]


def _int(path: str, line: int, col: str, text: str, low: int) -> int:
    try:
        v = int(text)
    except ValueError:
        raise UsageError(f"{path}:{line}: column {col!r}: {text!r} is not a whole number") from None
    if v < low:
        raise UsageError(f"{path}:{line}: column {col!r}: {v} must be >= {low}")
    return v


def _location_of(path: str, line: int, r: dict[str, str]) -> Location:
    kw: dict[str, Any] = {"id": r["id"], "kind": r["kind"] or "store"}
    lat, lon = r.get("lat", ""), r.get("lon", "")
    if bool(lat) != bool(lon):
        raise UsageError(f"{path}:{line}: give both lat and lon, or neither")
    if lat:
        try:
            kw["point"] = Point(float(lat), float(lon))
        except ValueError:
            raise UsageError(f"{path}:{line}: lat/lon {lat!r},{lon!r} are not numbers") from None
    for col in ("sells", "ships", "pickup", "accepts_returns"):
        if r.get(col):
            if r[col].lower() not in BOOLS:
                raise UsageError(f"{path}:{line}: column {col!r}: {r[col]!r} is not true/false")
            kw[col] = BOOLS[r[col].lower()]
    if r.get("priority"):
        kw["priority"] = _int(path, line, "priority", r["priority"], -(2**31))
    if r.get("daily_capacity"):
        kw["daily_capacity"] = _int(path, line, "daily_capacity", r["daily_capacity"], 0)
    if r.get("returns_to"):
        kw["returns_to"] = r["returns_to"]
    try:
        return Location(**kw)
    except errors.InvalidInput as exc:
        raise UsageError(f"{path}:{line}: {exc}") from None


def _import(url: str, path: str, kind: str | None, count: bool) -> int:
    header, rows, digest = _read_csv(path)
    if kind is None:
        if all(c in header for c in STOCK_COLUMNS):
            kind = "stock"
        elif all(c in header for c in LOCATION_COLUMNS):
            kind = "locations"
        else:
            raise UsageError(
                f"{path}: cannot tell what it holds from its header {header}; "
                f"stock needs columns {','.join(STOCK_COLUMNS)}, locations "
                f"{','.join(LOCATION_COLUMNS)} (or say --as stock|locations)"
            )
    need = STOCK_COLUMNS if kind == "stock" else LOCATION_COLUMNS
    missing = [c for c in need if c not in header]
    if missing:
        raise UsageError(
            f"{path}: missing column(s) {', '.join(missing)}; the header must "
            f"include {','.join(need)}"
        )
    with Inventory.open(url) as inv:
        before = inv.head
        if kind == "locations":
            locs = [_location_of(path, n, r) for n, r in rows]
            known = set(inv.locations)
            pending = locs
            while pending:  # a location's returns_to must exist before it
                ready = [
                    x for x in pending if x.returns_to in (None, x.id) or x.returns_to in known
                ]
                if not ready:
                    raise UsageError(
                        f"{path}: returns_to names unknown location(s): "
                        + ", ".join(sorted({str(x.returns_to) for x in pending}))
                    )
                for loc in ready:
                    inv.add_location(loc)
                    known.add(loc.id)
                pending = [x for x in pending if x not in ready]
            print(f"{len(locs)} location(s) from {path}: journal head {before} -> {inv.head}")
            return EXIT_OK
        known = set(inv.locations)
        parsed = []
        for n, r in rows:
            if r["location"] not in known:
                raise UsageError(
                    f"{path}:{n}: location {r['location']!r} is not in the store "
                    f"{url}; import the locations first (omnistock import "
                    "locations.csv)"
                )
            parsed.append(
                (n, r["sku"], r["location"], _int(path, n, "qty", r["qty"], 0 if count else 1))
            )
        units = 0
        for n, sku, where, qty in parsed:
            key = f"import:{digest}:{n}"
            try:
                if count:
                    inv.count(sku, where, qty, key=key)
                else:
                    inv.receive(sku, where, qty, key=key)
            except errors.InvalidInput as exc:
                raise UsageError(
                    f"{path}:{n}: {exc} (rows before it were imported; fix "
                    "the row and import the file again)"
                ) from None
            units += qty
        verb = "counted" if count else "received"
        print(
            f"{len(parsed)} stock row(s), {units} unit(s) {verb} from {path}: "
            f"journal head {before} -> {inv.head}"
        )
        if inv.head == before and parsed:
            print("nothing changed: this file was imported before")
    return EXIT_OK


# -- bench ------------------------------------------------------------------------
def _bench(n: int) -> int:
    """Holds per second (one pinned line each) on memory:// and SQLite."""
    if n < 1:
        raise UsageError("-n must be at least 1")
    print(f"{'store':<10} {'holds':>7} {'seconds':>8} {'holds/s':>10}")
    with tempfile.TemporaryDirectory(prefix="omnistock-bench-") as tmp:
        for name, url in (
            ("memory", "memory://"),
            ("sqlite", f"sqlite:///{os.path.join(tmp, 'bench.db')}"),
        ):
            with Inventory.open(url) as inv:
                inv.add_location(Location("S1"))
                skus = [f"SKU-{i}" for i in range(100)]
                for s in skus:
                    inv.receive(s, "S1", 10**9)
                inv.hold(Order("warm", lines=[Line(skus[0], 1, "S1")]))
                t0 = time.perf_counter()
                for i in range(n):
                    inv.hold(Order(f"o{i}", lines=[Line(skus[i % 100], 1, "S1")]))
                dt = time.perf_counter() - t0
                print(f"{name:<10} {n:>7} {dt:>8.3f} {n / dt:>10,.0f}")
    print("the full suite: python -m benchmarks.compare (in a source checkout)")
    return EXIT_OK


def _demo(url: str, fresh: bool) -> int:
    """A small omnichannel morning on the store: DC replenishment, a web cart
    that expires, a BOPIS order collected, a POS sale that eats into a web
    reservation (a shortage), a return, and the reconciler's verdict."""
    if fresh and url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    now = [datetime.now(UTC).replace(microsecond=0)]
    with Inventory.open(url, clock=lambda: now[0]) as inv:
        run = inv.head
        tag = f"d{run}"
        for loc in (
            Location("DC-LEEDS", kind="dc", point=Point(53.80, -1.55)),
            Location("ST-LONDON", kind="store", point=Point(51.51, -0.13)),
            Location("ST-MANCH", kind="store", point=Point(53.48, -2.24)),
        ):
            inv.add_location(loc)
        inv.add_channel(Channel("web", buffer=1))
        inv.add_channel(Channel("pos"))
        sku = "TEE-BLK-M"
        inv.receive(sku, "DC-LEEDS", 40, key=f"{tag}-po-1")
        inv.receive(sku, "ST-LONDON", 5, key=f"{tag}-asn-1")
        inv.receive(sku, "ST-MANCH", 3, key=f"{tag}-asn-2")
        print(f"store {url}: journal head {inv.head}")
        print(
            f"received: network available {inv.available(sku)}, "
            f"web {inv.available(sku, channel='web')}"
        )

        cart = inv.hold(
            Order(f"{tag}-cart", channel="web", lines=[Line(sku, 2, "ST-LONDON")]),
            ttl=timedelta(minutes=15),
        )
        print(f"web cart {cart.id} held 2 at ST-LONDON until {cart.expires_at:%H:%M}")
        now[0] += timedelta(minutes=16)
        print(
            f"16 minutes later the cart is {inv.reservation(cart.id).state}; "
            f"ST-LONDON available {inv.available(sku, 'ST-LONDON')}"
        )

        bopis = inv.hold(
            Order(
                f"{tag}-bopis",
                channel="web",
                method="pickup",
                pickup_at="ST-MANCH",
                lines=[(sku, 2)],
            ),
            ttl=timedelta(hours=48),
        )
        inv.collect(bopis.id)
        print(f"BOPIS {bopis.id}: 2 collected at ST-MANCH")

        web = inv.hold(Order(f"{tag}-web", channel="web", lines=[Line(sku, 4, "ST-LONDON")]))
        inv.commit(web.id)
        sale = inv.sell("ST-LONDON", [(sku, 3)], key=f"{tag}-receipt-1")
        for s in sale.shortages:
            print(
                f"POS sale of 3 at ST-LONDON leaves {s.qty} reserved unit(s) uncovered: "
                f"{', '.join(s.reservations)} must be re-sourced"
            )
        inv.return_items("ST-MANCH", [(sku, 1)], condition="damaged", key=f"{tag}-rma-1")
        print("a damaged return at ST-MANCH goes to the damaged state")
        print()
        print(inv.explain(sku))
        print()
        report = inv.check()
        print(report)
        return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
