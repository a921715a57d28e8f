"""``mock-nrfcloud``: run the mock nRF Cloud server until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import socket
import sqlite3
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from mock_nrfcloud.loader import LoadError
from mock_nrfcloud.persistence import StateFileError
from mock_nrfcloud.problems import StoreUnavailable
from mock_nrfcloud.server import start_mock
from mock_nrfcloud.store import DEFAULT_IDLE_ACCOUNT_S, DEFAULT_JOURNAL_MAX_BYTES


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be 0-65535 (0: any free port)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mock-nrfcloud",
        description=(
            "A mock of the nRF Cloud REST API: serves queued responses, records every"
            " call. Admin API and dashboard under /__admin/."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=_port, default=8001, help="port (default: %(default)s; 0: any)"
    )
    parser.add_argument(
        "--load",
        metavar="FILE",
        help="YAML or JSON file whose `responses:` are served from the start (kept);"
        " `POST /__admin/reset` returns to them",
    )
    parser.add_argument(
        "--state",
        metavar="FILE",
        help="SQLite file that keeps queue and journal across restarts (also kill -9)",
    )
    parser.add_argument(
        "--require-auth",
        action="store_true",
        help="answer 401 to calls without `Authorization: Bearer <key>`",
    )
    parser.add_argument("--no-cors", action="store_true", help="send no CORS headers")
    parser.add_argument(
        "--journal-max-mb",
        type=float,
        default=DEFAULT_JOURNAL_MAX_BYTES / 2**20,
        metavar="MB",
        help="journal bytes kept per account (bodies plus 256 bytes an entry); older"
        " entries are dropped (default: %(default)g)",
    )
    parser.add_argument(
        "--idle-account-s",
        type=float,
        default=DEFAULT_IDLE_ACCOUNT_S,
        metavar="S",
        help="forget an account's queue and journal after S seconds without a call or an"
        " admin call naming it (not the default account, accounts of --load, or accounts"
        " with a live stream); 0: never (default: %(default)g)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests whose Host is NAME (repeatable; `*`: any). Loopback"
        " names and the --host address are always answered; others get 403, which"
        " keeps web pages out through DNS rebinding",
    )
    parser.add_argument(
        "--admin-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let pages of ORIGIN (e.g. http://localhost:5173) use the admin API"
        " (repeatable); by default it answers no cross-origin call",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="keep queues, journal, accounts and device messages in Redis"
        " (redis://HOST:PORT/DB), shared with every mock on that Redis: replicas behave"
        " as one mock (needs the `redis` extra)",
    )
    parser.add_argument(
        "--redis-prefix",
        default="mock-nrfcloud:",
        metavar="TEXT",
        help="prefix of the mock's Redis keys; mocks with another prefix keep apart"
        " (default: %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="run N processes on one port (SO_REUSEPORT; the kernel spreads the"
        " connections); more than 1 needs --redis (default: %(default)s)",
    )
    # One worker of --workers: listen with SO_REUSEPORT beside the others.
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--journal-limit",
        type=int,
        default=100_000,
        metavar="N",
        help="journal entries kept per account; older ones are dropped (default: %(default)s)",
    )
    return parser


async def _run(args: argparse.Namespace) -> int:
    try:
        mock = await start_mock(
            args.host,
            args.port,
            load=args.load,
            state=args.state,
            require_auth=args.require_auth,
            cors=not args.no_cors,
            journal_limit=args.journal_limit,
            journal_max_bytes=int(args.journal_max_mb * 2**20),
            idle_account_s=args.idle_account_s or None,
            allowed_hosts=args.allowed_host,
            admin_origins=args.admin_origin,
            redis=args.redis,
            redis_prefix=args.redis_prefix,
            reuse_port=args.reuse_port,
        )
    except (StoreUnavailable, LoadError, StateFileError) as error:
        print(f"mock-nrfcloud: {error}", file=sys.stderr)
        return 2
    except sqlite3.Error as error:
        print(f"mock-nrfcloud: cannot use the state file {args.state}: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(
            f"mock-nrfcloud: cannot listen on {args.host}:{args.port}: {error.strerror}",
            file=sys.stderr,
        )
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    # What exists now (modules, the loaded responses) lives as long as the process:
    # keep it out of the garbage collector's full passes, which then stay short. A
    # collection first lets go of the tuples it can stop tracking (shared header pairs
    # among them): a frozen tracked tuple would keep every journal entry holding it
    # tracked too, and in those full passes.
    gc.collect()
    gc.freeze()
    print(f"mock-nrfcloud listening on {mock.url} (dashboard: {mock.url}/__admin/)", flush=True)
    try:
        await stop.wait()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        await mock.stop()
    print("mock-nrfcloud stopped", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.journal_limit < 0:
        build_parser().error("--journal-limit must be 0 or more")
    if not args.journal_max_mb > 0:
        build_parser().error("--journal-max-mb must be more than 0")
    if args.idle_account_s < 0:
        build_parser().error("--idle-account-s must be 0 or more")
    if args.workers < 1:
        build_parser().error("--workers must be 1 or more")
    if args.workers > 1 and args.redis is None:
        build_parser().error(
            "--workers above 1 needs --redis URL: separate processes share their queues"
            " and journal only through Redis"
        )
    if args.redis is not None and args.state is not None:
        build_parser().error("give either --state (one process, SQLite) or --redis, not both")
    if args.workers > 1 and not hasattr(socket, "SO_REUSEPORT"):
        build_parser().error("--workers above 1 needs SO_REUSEPORT, which this system lacks")
    if args.workers > 1:
        from mock_nrfcloud.workers import run_workers

        return run_workers(args, list(sys.argv[1:] if argv is None else argv))
    try:
        return _event_loop_runner()(_run(args))
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130


def _event_loop_runner() -> Callable[[Coroutine[Any, Any, int]], int]:
    """uvloop when it is installed (optional: about a fifth more calls per second)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


if __name__ == "__main__":
    raise SystemExit(main())
