"""The ``omnistock`` command.

Verbs work on any store URL (``--store``, default ``sqlite:///omnistock.db``,
the embedded store in the current directory):

    omnistock demo                 an omnichannel morning, end to end
    omnistock available SKU [--location L] [--channel C]
    omnistock explain SKU [--location L] [--channel C]
    omnistock history [--sku S] [--location L] [--ref R] [--limit N]
    omnistock check

Exit codes: 0 success, 1 a failed check, 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from . import errors
from .inventory import Inventory
from .values import Channel, Line, Location, Order, Point

DEFAULT_STORE = "sqlite:///omnistock.db"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="omnistock", description=__doc__.split("\n\n")[0])
    p.add_argument("--store", default=DEFAULT_STORE,
                   help=f"store URL (default {DEFAULT_STORE}; memory://, sqlite:///path, "
                   "postgresql://...)")
    sub = p.add_subparsers(dest="verb", required=True)
    d = sub.add_parser("demo", help="run an omnichannel morning on the store and report")
    d.add_argument("--fresh", action="store_true", help="start from an empty store file")
    for name, helptext in (("available", "units that can be promised now"),
                           ("explain", "every term of the ATP formula")):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("sku")
        q.add_argument("--location")
        q.add_argument("--channel")
    h = sub.add_parser("history", help="journal entries, oldest first")
    h.add_argument("--sku")
    h.add_argument("--location")
    h.add_argument("--ref")
    h.add_argument("--since", type=int, default=0)
    h.add_argument("--limit", type=int, default=50)
    sub.add_parser("check", help="replay the journal and verify every invariant")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.verb == "demo":
            return _demo(args.store, args.fresh)
        with Inventory.open(args.store) as inv:
            if args.verb == "available":
                print(inv.available(args.sku, args.location, args.channel))
            elif args.verb == "explain":
                print(inv.explain(args.sku, args.location, args.channel))
            elif args.verb == "history":
                for e in inv.history(sku=args.sku, location=args.location, ref=args.ref,
                                     since=args.since, limit=args.limit):
                    print(f"{e.seq:>8} {e.at:%Y-%m-%d %H:%M:%S} {e.kind:<14} "
                          f"{e.sku or '-':<12} {e.location or '-':<10} {e.qty:>6} "
                          f"{e.ref or ''}")
            elif args.verb == "check":
                report = inv.check()
                print(report)
                return 0 if report.ok else 1
        return 0
    except errors.StorageError as exc:
        print(f"omnistock: store error: {exc}", file=sys.stderr)
        return 2
    except errors.OmnistockError as exc:
        print(f"omnistock: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


def _demo(url: str, fresh: bool) -> int:
    """A small omnichannel morning on the store: DC replenishment, a web cart
    that expires, a BOPIS order collected, a POS sale that eats into a web
    reservation (a shortage), a return, and the reconciler's verdict."""
    if fresh and url.startswith("sqlite:///"):
        import os

        path = url[len("sqlite:///"):]
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
        print(f"received: network available {inv.available(sku)}, "
              f"web {inv.available(sku, channel='web')}")

        cart = inv.hold(Order(f"{tag}-cart", channel="web",
                              lines=[Line(sku, 2, "ST-LONDON")]), ttl=timedelta(minutes=15))
        print(f"web cart {cart.id} held 2 at ST-LONDON until {cart.expires_at:%H:%M}")
        now[0] += timedelta(minutes=16)
        print(f"16 minutes later the cart is {inv.reservation(cart.id).state}; "
              f"ST-LONDON available {inv.available(sku, 'ST-LONDON')}")

        bopis = inv.hold(Order(f"{tag}-bopis", channel="web", method="pickup",
                               pickup_at="ST-MANCH", lines=[(sku, 2)]), ttl=timedelta(hours=48))
        inv.collect(bopis.id)
        print(f"BOPIS {bopis.id}: 2 collected at ST-MANCH")

        web = inv.hold(Order(f"{tag}-web", channel="web", lines=[Line(sku, 4, "ST-LONDON")]))
        inv.commit(web.id)
        sale = inv.sell("ST-LONDON", [(sku, 3)], key=f"{tag}-receipt-1")
        for s in sale.shortages:
            print(f"POS sale of 3 at ST-LONDON leaves {s.qty} reserved unit(s) uncovered: "
                  f"{', '.join(s.reservations)} must be re-sourced")
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
