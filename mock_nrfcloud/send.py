"""Send a device message to a running mock by hand: `python -m mock_nrfcloud.send`.

    python -m mock_nrfcloud.send --device oob-352656108602296 \\
        --mqtt m/d/oob-352656108602296/d2c/senml '[{"bn":"14201/0/","bt":1700000000,"n":"0","v":1}]'
    python -m mock_nrfcloud.send --device oob-352656108602296 --coap /msg/d2c/raw @senml.json

The payload is JSON text, or `@FILE` to read it from a file. Over CoAP it is SenML JSON,
sent as CBOR the way a device encodes it. `--account` is the account's API key or its id (the
backend's account of that key reads the message from its bridge feed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mock_nrfcloud.client import MockAdminError, MockClient
from mock_nrfcloud.senml_cbor import encode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mock_nrfcloud.send",
        description="A simulated device sends a message to the mock nRF Cloud.",
    )
    parser.add_argument("--mock", default="http://127.0.0.1:8001", help="the mock's URL")
    parser.add_argument("--account", default="default", help="the account's API key or id")
    parser.add_argument("--device", required=True, help="the device ID")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--mqtt", metavar="TOPIC", help="publish to this topic (e.g. m/d/<id>/d2c)")
    how.add_argument(
        "--coap", metavar="RESOURCE", nargs="?", const="/msg/d2c/raw",
        help="send SenML as CBOR to this resource (default /msg/d2c/raw)",
    )  # fmt: skip
    parser.add_argument("--method", default="POST", help="the CoAP method (default POST)")
    parser.add_argument("payload", help="the payload as JSON, or @FILE")
    return parser


def _payload(text: str) -> Any:
    if text.startswith("@"):
        text = Path(text[1:]).read_text(encoding="utf-8")
    return json.loads(text)


async def _send(args: argparse.Namespace, payload: Any) -> dict[str, Any]:
    async with MockClient(args.mock) as client:
        if args.mqtt is not None:
            return await client.send_device_message(
                args.account, args.device, transport="mqtt", topic=args.mqtt, payload=payload
            )
        return await client.send_device_message(
            args.account, args.device, transport="coap", method=args.method.upper(),
            resource=args.coap, payload_bytes=encode(payload),
        )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        payload = _payload(args.payload)
    except (OSError, ValueError) as e:
        print(f"mock_nrfcloud.send: the payload is not JSON (or a readable @FILE): {e}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        sent = asyncio.run(_send(args, payload))
    except ValueError as e:
        print(f"mock_nrfcloud.send: {e}", file=sys.stderr)
        return 2
    except MockAdminError as e:
        print(f"mock_nrfcloud.send: the mock refused the message: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"mock_nrfcloud.send: cannot reach the mock at {args.mock}: {e}", file=sys.stderr)
        return 1
    print(f"sent as #{sent['seq']} on {sent['topic']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
