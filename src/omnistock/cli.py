"""The ``omnistock`` command.

Verbs work on any store URL (``--store``, before or after the verb; else the
``OMNISTOCK_STORE`` environment variable; else ``sqlite:///omnistock.db``, the
embedded store in the current directory):

    omnistock simulate [--seed N] [--days N | --week] [--json F] [--report F]
    omnistock compare A.toml B.toml [...]   the same events under each policy
    omnistock demo                          an omnichannel morning, end to end
    omnistock import FILE.csv               stock (sku,location,qty[,ref]), locations
                                            or thresholds (sku,low[,location])
    omnistock available SKU [--location L] [--channel C]
    omnistock explain SKU [--location L] [--channel C]
    omnistock history [--sku S] [--location L] [--ref R] [--limit N]
    omnistock check                         replay the journal, check invariants
    omnistock alerts                        low-stock thresholds at or below their mark
    omnistock watch --consumer NAME [--ack] [--follow]   the feed as JSON lines
    omnistock bench                         a quick holds/s micro benchmark
    omnistock worker [--interval S] [--once]  sweep expiries, take snapshots

Exit codes: 0 success, 1 a failed check (or a simulation that oversold),
2 bad usage or bad input, 3 an internal error (a bug: please report it),
130 interrupted (Ctrl-C), 141 the reader of the output went away (``| head``).

A password in the store URL is never printed: output and errors show the URL
with ``***`` in its place.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

from . import errors, importer, interrupts
from .inventory import Inventory
from .storage import redact, secrets_of

DEFAULT_STORE = "sqlite:///omnistock.db"
STORE_ENV = "OMNISTOCK_STORE"
EXIT_OK, EXIT_CHECK, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_PIPE = 130, 141
QUERIES = ("available", "explain", "history", "check", "alerts")


class UsageError(Exception):
    """Bad input the user can fix; the message says how (exit 2)."""


def default_store() -> str:
    """``$OMNISTOCK_STORE`` if set and not empty, else ``sqlite:///omnistock.db``."""
    return os.environ.get(STORE_ENV, "").strip() or DEFAULT_STORE


def _parser() -> argparse.ArgumentParser:
    default = default_store()
    shown = redact(default)
    p = argparse.ArgumentParser(
        prog="omnistock",
        description="omnistock: one truthful stock ledger for omnichannel retail. Simulate "
        "a retailer's day, compare sourcing policies, and inspect or check any store.",
        epilog="Run 'omnistock VERB --help' for a verb's options.",
    )
    store_help = (
        f"store URL (memory://, sqlite:///path, postgresql://...; default: ${STORE_ENV}, "
        f"else {DEFAULT_STORE}; now {shown})"
    )
    p.add_argument("--store", default=default, help=store_help)
    from . import __version__

    p.add_argument("--version", action="version", version=f"omnistock {__version__}")
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--store", default=argparse.SUPPRESS, help=store_help)
    create = argparse.ArgumentParser(add_help=False)
    create.add_argument(
        "--create",
        action="store_true",
        help="start an empty store if the sqlite file does not exist (else: an error)",
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
        parents=[store, create],
        help="import a CSV of stock, locations or low-stock thresholds",
        description="Import a CSV file. Stock: columns sku,location,qty and optionally "
        "ref (received, or set with --count). Locations: columns id,kind and "
        "optionally lat,lon,sells,ships,pickup,accepts_returns,priority,"
        "daily_capacity,returns_to. Thresholds: columns sku,low and optionally "
        "location (empty: network-wide). Any other column is refused. The whole file "
        "is checked first and every bad row reported; a refused file writes "
        "nothing. Each row has its own key, so importing the file again (or "
        "with rows appended) writes only the new rows.",
    )
    i.add_argument("file", help="CSV file with a header row")
    i.add_argument(
        "--as",
        dest="kind",
        choices=("stock", "locations", "thresholds"),
        help="what the file holds (default: told from its header)",
    )
    i.add_argument(
        "--count",
        action="store_true",
        help="stock rows are cycle counts (set sellable units) instead of receipts",
    )
    i.add_argument(
        "--update",
        action="store_true",
        help="redefine existing locations whose fields differ (prints the differences)",
    )
    i.add_argument(
        "--batch",
        metavar="NAME",
        default="",
        help="name this delivery: rows are keyed within it (a new delivery file "
        "without a ref column needs a new batch name)",
    )
    i.add_argument(
        "--dry-run", action="store_true", help="check the file and say what would change"
    )
    for name, helptext in (
        ("available", "units that can be promised now"),
        ("explain", "every term of the ATP formula"),
    ):
        q = sub.add_parser(name, parents=[store, create], help=helptext, description=helptext)
        q.add_argument("sku")
        q.add_argument("--location")
        q.add_argument("--channel")
    h = sub.add_parser("history", parents=[store, create], help="journal entries, oldest first")
    h.add_argument("--sku")
    h.add_argument("--location")
    h.add_argument("--ref")
    h.add_argument("--since", type=int, default=0, help="entries after this sequence number")
    h.add_argument("--limit", type=int, default=50)
    sub.add_parser(
        "check",
        parents=[store, create],
        help="replay the journal and verify every invariant (exit 1 on failure)",
    )
    sub.add_parser(
        "alerts",
        parents=[store, create],
        help="low-stock thresholds at or below their mark, with days of cover",
    )
    from .cli_watch import add_watch

    add_watch(sub, store)
    b = sub.add_parser(
        "bench",
        help="quick in-process holds/s on memory:// and sqlite",
        description="A quick micro benchmark of holds per second on memory:// "
        "and a temporary SQLite file. The full suite is "
        "'python -m benchmarks.compare' in a source checkout.",
    )
    b.add_argument("-n", type=int, default=3000, help="holds per store (default 3000)")
    from .cli_worker import add_worker_arguments

    add_worker_arguments(
        sub.add_parser(
            "worker",
            parents=[store, create],
            help="sweep the expiries due and take snapshots on an interval",
            description="Journal the expiries due (inv.sweep()) and take snapshots on an "
            "interval until SIGTERM or Ctrl-C (exit 0). Optional: expiry is lazy.",
        )
    )
    return p


class _Out:
    """Prints errors for one run with the store URL's password scrubbed."""

    def __init__(self) -> None:
        self.verb = ""
        self.url = ""
        self.secrets: list[str] = []

    def scrub(self, text: str) -> str:
        if self.url:
            text = text.replace(self.url, redact(self.url))
        for s in self.secrets:
            text = text.replace(s, "***")
        return text

    def error(self, message: str) -> None:
        prefix = f"omnistock {self.verb}: " if self.verb else "omnistock: "
        with contextlib.suppress(OSError, ValueError):  # stderr closed too
            print(self.scrub(prefix + message), file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    out = _Out()
    try:
        p = _parser()
        args = p.parse_args(argv)
        out.verb, out.url = args.verb, args.store
        out.secrets = secrets_of(args.store)
        with interrupts.watched():  # a Ctrl-C a C callback swallowed still stops it
            code = _run(p, args)
            interrupts.check()
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        out.error("interrupted" + _interrupted_hint(out.verb))
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_PIPE
    except importer.ImportRefused as exc:
        out.error(f"{exc.path}: {len(exc.problems)} problem(s); nothing was written:")
        for problem in exc.problems:
            out.error("  " + problem.render(exc.path))
        return EXIT_USAGE
    except errors.StorageError as exc:
        out.error(f"store error: {exc} (is --store {redact(out.url)!r} right?)")
        return EXIT_USAGE
    except errors.OmnistockError as exc:
        out.error(f"{type(exc).__name__}: {exc}")
        return EXIT_USAGE
    except (UsageError, ValueError) as exc:
        out.error(str(exc))
        return EXIT_USAGE
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        out.error(f"{where}{exc.strerror or exc}")
        return EXIT_USAGE
    except Exception:
        out.error(
            "internal error (a bug; please report it with this message):\n"
            + "".join(traceback.format_exc())
        )
        return EXIT_INTERNAL


def _interrupted_hint(verb: str) -> str:
    if verb == "import":
        return (
            " (rows written so far stay, each under its own key: run the same import "
            "again to write the rest)"
        )
    return ""


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so that the
    interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _run(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.verb in ("simulate", "compare"):
        for flag in ("json", "report"):  # before the run, not after it
            if getattr(args, flag):
                _check_writable(getattr(args, flag), f"--{flag}")
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
        if args.store_dir:
            _check_dir(args.store_dir, "--store-dir")
        return run_compare(args)
    if args.verb == "demo":
        from .cli_demo import demo

        return demo(args.store, args.fresh)
    if args.verb == "bench":
        from .cli_demo import bench

        return bench(args.n)
    if args.verb == "import":
        return _import(args)
    if args.verb == "worker":
        from .cli_worker import worker

        _need_store(args.store, args.create)
        return worker(args)
    if args.verb == "watch":
        from .cli_watch import run_watch

        return run_watch(args)
    return _query(args)


def _check_writable(path: str, flag: str) -> None:
    """``path`` can be written (created if need be); checked before a long
    run so that its result is not lost at the end."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{flag} {path}: is a directory; give a file name")
    try:
        if target.exists():
            with open(target, "ab"):
                pass
        else:
            with open(target, "xb"):
                pass
            target.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write {flag} {path}: {exc.strerror}") from None


def _check_dir(path: str, flag: str) -> None:
    target = Path(path)
    try:
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=target):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write in {flag} {path}: {exc.strerror}") from None


def _sqlite_file(url: str) -> str | None:
    """The file of a ``sqlite:///`` URL (None for other stores and for an
    in-memory SQLite database)."""
    if not url.lower().startswith("sqlite:"):
        return None
    from .storage.sqlite import parse_url

    path, _ = parse_url(url)
    return None if path == ":memory:" else path


def _need_store(url: str, create: bool) -> None:
    """A query on a sqlite file that does not exist is a mistyped path, not
    an empty store: say so (unless ``--create``)."""
    path = _sqlite_file(url)
    if path is not None and not create and not os.path.exists(path):
        raise UsageError(
            f"store file {path!r} does not exist (--store {redact(url)}); check the "
            f"path (or ${STORE_ENV}), or pass --create to start an empty store"
        )


def _query(args: argparse.Namespace) -> int:
    _need_store(args.store, args.create)
    if args.verb == "history" and (args.limit < 0 or args.since < 0):
        raise UsageError("--since and --limit must be >= 0")
    with Inventory.open(args.store) as inv:
        if args.verb == "available":
            print(inv.available(args.sku, args.location, args.channel))
        elif args.verb == "explain":
            print(inv.explain(args.sku, args.location, args.channel))
        elif args.verb == "history":
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
        elif args.verb == "alerts":
            print("\n".join(str(a) for a in inv.alerts()) or "no alerts")
        elif args.verb == "check":
            report = inv.check()
            print(report)
            return EXIT_OK if report.ok else EXIT_CHECK
    return EXIT_OK


# -- import -----------------------------------------------------------------------
def _import(args: argparse.Namespace) -> int:
    data = importer.read_csv(args.file)
    holds_locations = args.kind == "locations" or (
        args.kind is None
        and set(importer.LOCATION_COLUMNS) <= set(data.header)
        and not set(importer.STOCK_COLUMNS) <= set(data.header)
    )
    # a new store starts with its locations; stock needs an existing one
    _need_store(args.store, args.create or holds_locations)
    with Inventory.open(args.store) as inv:
        plan = importer.plan(inv, data, args.kind, args.count, args.update, args.batch)
        for row in plan.updates:
            print(f"update {row.location.id}: " + "; ".join(row.changes))
        if args.dry_run:
            print(_summary(plan, None))
            return EXIT_OK
        print(_summary(plan, importer.apply(inv, plan)))
    return EXIT_OK


def _summary(plan: importer.ImportPlan, done: importer.ImportResult | None) -> str:
    path = plan.path
    if plan.kind == "thresholds":
        st = [r.status for r in plan.thresholds]
        counts = (
            f"{st.count('new')} new, {st.count('update')} changed, {st.count('same')} unchanged"
        )
        if done is None:
            return f"dry run: {len(st)} threshold(s) from {path}: would be {counts}"
        return (
            f"{len(st)} threshold(s) from {path}: {counts}: journal head "
            f"{done.head_before} -> {done.head_after}"
        )
    if plan.kind == "locations":
        status = [r.status for r in plan.locations]
        counts = f"{status.count('new')} added, {status.count('update')} updated, " + (
            f"{status.count('same')} unchanged"
        )
        if done is None:
            return f"dry run: {len(status)} location(s) from {path}: would be {counts}"
        return (
            f"{len(status)} location(s) from {path}: {counts}: journal head "
            f"{done.head_before} -> {done.head_after}"
        )
    verb = "counted" if plan.op == "count" else "received"
    rows = len(plan.new) + plan.before
    if done is None:
        units = sum(r.qty for r in plan.new)
        return (
            f"dry run: {rows} stock row(s) in {path}: {len(plan.new)} new ({units} unit(s) "
            f"would be {verb}), {plan.before} imported before"
        )
    text = (
        f"{rows} stock row(s), {done.units} unit(s) {verb} from {path} "
        f"({done.written} new, {plan.before} imported before): journal head "
        f"{done.head_before} -> {done.head_after}"
    )
    if rows == 0:
        text += "\nthe file has no rows"
    elif done.written == 0:
        text += "\nnothing changed: every row was imported before"
    return text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
