"""``omnistock watch``: a consumer's journal feed as JSON lines.

    omnistock watch --consumer NAME [--store URL] [--limit N] [--follow]
                    [--ack] [--wait SECONDS]

One JSON object per entry (the fields of ``Entry``, ``at`` in ISO 8601
UTC), oldest first, from the entries after the consumer's last ack. With
``--ack`` each batch is acknowledged after it is printed and flushed, so a
crash in between prints it again (at-least-once); without it the cursor is
left as it was and the output can be replayed. ``--follow`` keeps going,
waiting up to ``--wait`` seconds per batch, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .feeds import journal
from .inventory import Inventory
from .values import Entry


def add_watch(sub: Any, store: argparse.ArgumentParser) -> None:
    """Register the ``watch`` verb on the CLI's subparsers."""
    w = sub.add_parser(
        "watch",
        parents=[store],
        help="print a consumer's journal feed as JSON lines",
        description="Print the journal entries after the consumer's last ack as JSON "
        "lines, oldest first. --ack acknowledges each batch once printed "
        "(at-least-once); --follow keeps waiting for new entries until Ctrl-C.",
    )
    w.add_argument("--consumer", required=True, metavar="NAME", help="the consumer's name")
    w.add_argument(
        "--limit",
        type=int,
        default=1000,
        metavar="N",
        help="journal rows per batch (default 1000); without --follow, one batch is printed",
    )
    w.add_argument("--follow", action="store_true", help="keep printing new entries")
    w.add_argument("--ack", action="store_true", help="acknowledge each batch once printed")
    w.add_argument(
        "--wait",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="with --follow: how long one poll waits for new entries (default 1)",
    )


def entry_json(e: Entry) -> str:
    """One entry as a compact JSON object (its fields; ``at`` in ISO 8601)."""
    doc = {
        "seq": e.seq,
        "at": e.at.isoformat(),
        "kind": e.kind,
        "sku": e.sku,
        "location": e.location,
        "qty": e.qty,
        "ref": e.ref,
        "channel": e.channel,
        "key": e.key,
        "data": e.data,
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def run_watch(args: argparse.Namespace) -> int:
    """Print the feed (see the module docstring); 0 when done."""
    from .cli import _need_store

    _need_store(args.store, False)
    consumer = journal.check_consumer(args.consumer)
    limit = journal.check_limit(args.limit)
    wait = journal.check_wait(args.wait) if args.follow else 0.0
    with Inventory.open(args.store) as inv:
        store = inv.store
        pos = inv.cursor(consumer)
        while True:
            rows = journal.after(store, pos, limit, wait)
            out = sys.stdout
            for e in journal.entries_of(store, rows):
                out.write(entry_json(e) + "\n")
            out.flush()
            if rows:
                pos = rows[-1][0]
                if args.ack:
                    inv.ack(consumer, pos)
            if not args.follow:
                return 0
