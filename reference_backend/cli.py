"""`hello-backend`: run the reference backend until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from reference_backend import __version__
from reference_backend.config import (
    DEFAULT_API_KEY,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_NRFCLOUD_TIMEOUT,
    DEPLOYMENT_JOB_INTERVAL,
    DEPLOYMENT_LOCATION_INTERVAL,
    DEPLOYMENT_MEMFAULT_INTERVAL,
    DEPLOYMENT_SHADOW_INTERVAL,
)
from reference_backend.server import ThirdParties, start_backend


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be 0-65535 (0: any free port)")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hello-backend",
        description="A local hello.nrfcloud.com backend (websocket, device shadow, FOTA) that"
        " talks to nRF Cloud or to the mock nRF Cloud.",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    p.add_argument(
        "--port", type=_port, default=8000, help="port, 0 for any free one (default: %(default)s)"
    )
    p.add_argument(
        "--nrfcloud",
        metavar="URL",
        help="nRF Cloud API endpoint of the account `nordic`,"
        " e.g. http://127.0.0.1:8001 for the mock",
    )
    p.add_argument(
        "--api-key",
        metavar="KEY",
        default=DEFAULT_API_KEY,
        help="nRF Cloud API key of the account `nordic` (default: %(default)s, which is"
        " the mock's default account)",
    )
    p.add_argument(
        "--state",
        metavar="FILE",
        help="keep accounts, devices, shadows and jobs in this SQLite file (default: in memory)",
    )
    p.add_argument(
        "--admin-token",
        metavar="TOKEN",
        help="turn on the test set-up API under /__admin, guarded by this bearer token",
    )
    p.add_argument(
        "--load",
        metavar="FILE",
        help="register the devices of this YAML/JSON file's"
        " `devices:` list (e.g. mock_nrfcloud/data/example.yaml)",
    )
    p.add_argument(
        "--shadow-interval",
        metavar="S",
        type=_positive,
        default=DEPLOYMENT_SHADOW_INTERVAL,
        help="seconds between shadow polls (default: %(default)s)",
    )
    p.add_argument(
        "--job-interval",
        metavar="S",
        type=_positive,
        default=DEPLOYMENT_JOB_INTERVAL,
        help="seconds between FOTA job polls (default: %(default)s)",
    )
    p.add_argument(
        "--nrfcloud-timeout",
        metavar="S",
        type=_positive,
        default=DEFAULT_NRFCLOUD_TIMEOUT,
        help="seconds to wait for nRF Cloud (default: %(default)s)",
    )
    p.add_argument(
        "--max-body-bytes",
        metavar="N",
        type=_positive_int,
        default=DEFAULT_MAX_BODY_BYTES,
        help="largest request body accepted (default: %(default)s)",
    )
    p.add_argument(
        "--feedback-webhook",
        metavar="URL",
        help="Teams webhook that `POST /feedback` posts to (default: none, feedback answers 503)",
    )
    p.add_argument(
        "--memfault",
        metavar="URL",
        help="Memfault API endpoint, e.g. http://127.0.0.1:8001/api.memfault.com/ for the mock;"
        " reboots are polled when it, --memfault-token, --memfault-org and"
        " --memfault-project are given",
    )
    p.add_argument("--memfault-token", metavar="TOKEN", help="Memfault organisation auth token")
    p.add_argument("--memfault-org", metavar="SLUG", help="Memfault organisation slug")
    p.add_argument("--memfault-project", metavar="SLUG", help="Memfault project slug")
    p.add_argument(
        "--map-api",
        metavar="URL",
        help="the map backend's API endpoint (its JWKS verifies device JWTs)",
    )
    p.add_argument(
        "--location-interval",
        metavar="S",
        type=_positive,
        default=DEPLOYMENT_LOCATION_INTERVAL,
        help="seconds between location history polls of connected devices (default: %(default)s)",
    )
    p.add_argument(
        "--memfault-interval",
        metavar="S",
        type=_positive,
        default=DEPLOYMENT_MEMFAULT_INTERVAL,
        help="seconds between Memfault reboot polls of connected devices (default: %(default)s)",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        return 130


async def _serve(args: argparse.Namespace) -> int:
    try:
        backend = await start_backend(
            args.host,
            args.port,
            nrfcloud_url=args.nrfcloud,
            api_key=args.api_key,
            admin_token=args.admin_token,
            shadow_interval=args.shadow_interval,
            job_interval=args.job_interval,
            nrfcloud_timeout=args.nrfcloud_timeout,
            state=args.state,
            load=args.load,
            max_body_bytes=args.max_body_bytes,
            third_parties=ThirdParties(
                feedback_webhook_url=args.feedback_webhook,
                memfault_api_url=args.memfault,
                memfault_token=args.memfault_token,
                memfault_org=args.memfault_org,
                memfault_project=args.memfault_project,
                map_api_url=args.map_api,
                location_interval=args.location_interval,
                memfault_interval=args.memfault_interval,
            ),
        )
    except ValueError as e:  # the configuration (a bad --load, --state, --nrfcloud URL)
        print(f"hello-backend: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the address is taken (or not this machine's): a run-time failure
        print(
            f"hello-backend: cannot listen on {args.host}:{args.port}: {e.strerror or e}",
            file=sys.stderr,
        )
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows: Ctrl-C still stops
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    print(
        f"hello-backend {__version__} listening on {backend.url} (websocket {backend.ws_url})",
        flush=True,
    )
    if args.nrfcloud is None:
        print("hello-backend: no --nrfcloud given, so there is no account `nordic`", flush=True)
    try:
        await stop.wait()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        print("hello-backend: stopping", flush=True)
        await backend.stop()
    return 0
