"""Websocket: one client per fingerprint, every message JSON-parsed and buffered.

"The websocket" is the client connected (or reconnected) last. A receive step looks at
buffered messages it has not examined yet, takes the first that matches out of the
buffer, and that message becomes "the last matched message".
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from behave import step, use_step_matcher

from harness.run.activity import Activity
from harness.run.context import StepContext
from steps.common import json_block
from steps.matching import DEEP, EQUAL, MatchFailure, check, difference

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

use_step_matcher("re")

_SEQ = itertools.count(1)


@dataclass
class Message:
    seq: int
    data: Any  # parsed JSON, or the raw text when it is not JSON
    reported: bool = False


@dataclass
class WsClient:
    fingerprint: str
    url: str
    connection: ClientConnection
    activity: Activity  # the feature run's: a Soon step waiting to retry looks again
    buffer: list[Message] = field(default_factory=list)
    reader: asyncio.Task | None = None
    closed_reason: str | None = None
    last_received: Message | None = None

    async def read(self) -> None:
        from websockets.exceptions import WebSocketException

        try:
            async for raw in self.connection:
                try:
                    data = json.loads(raw)
                except (json.JSONDecodeError, TypeError):
                    data = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
                message = Message(next(_SEQ), data)
                self.buffer.append(message)
                self.last_received = message
                self.activity.notify()
        except WebSocketException as exc:
            self.closed_reason = str(exc)
        else:
            self.closed_reason = "closed by the server"

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.connection.close()
        if self.reader:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader


def _clients(ctx: StepContext) -> dict[str, WsClient]:
    return ctx.state.setdefault("ws.clients", {})


async def _open(ctx: StepContext, fingerprint: str) -> WsClient:
    # websockets is imported when used: `spec-harness check` starts faster without it.
    from websockets.asyncio.client import connect
    from websockets.exceptions import WebSocketException

    base = ctx.vars.get("websocketURL")
    if not base:
        raise ValueError("the context has no `websocketURL`: the target gives none")
    url = f"{base}?fingerprint={quote(fingerprint)}"
    try:
        connection = await connect(url, open_timeout=10)
    except (OSError, WebSocketException, TimeoutError) as exc:
        raise ConnectionError(f"cannot connect to {url}: {exc}") from None
    client = WsClient(fingerprint, url, connection, ctx.activity)
    client.reader = asyncio.create_task(client.read())
    _clients(ctx)[fingerprint] = client
    ctx.state["ws.current"] = fingerprint
    ctx.add_cleanup(client.close)
    ctx.log.info(f"connected to {url}")
    return client


def current(ctx: StepContext) -> WsClient:
    fingerprint = ctx.state.get("ws.current")
    if fingerprint is None:
        raise ValueError(
            "no websocket is connected: connect with "
            "`I connect to the websocket using fingerprint ...` first"
        )
    return _clients(ctx)[fingerprint]


def _report(ctx: StepContext, client: WsClient) -> None:
    """Attach messages received since the last websocket step to this step."""
    for message in client.buffer:
        if not message.reported:
            message.reported = True
            ctx.log.attach("ws-in", {"fingerprint": client.fingerprint, "message": message.data})


@step(r"I connect to the websocket using fingerprint `(?P<fingerprint>[^`]+)`")
async def connect_ws(ctx: StepContext, fingerprint: str) -> None:
    """Open (or reuse) a client for that fingerprint; it becomes the websocket."""
    client = _clients(ctx).get(fingerprint)
    if client is None or client.closed_reason:
        await _open(ctx, fingerprint)
    else:
        ctx.state["ws.current"] = fingerprint


@step(r"I reconnect to the websocket using fingerprint `(?P<fingerprint>[^`]+)`")
async def reconnect_ws(ctx: StepContext, fingerprint: str) -> None:
    """Close the client for that fingerprint and open a new one."""
    old = _clients(ctx).pop(fingerprint, None)
    if old is not None:
        await old.close()
    await _open(ctx, fingerprint)


@step(r"I should receive a message on the websocket that (?P<mode>matches|is equal to)")
def receive_message(ctx: StepContext, mode: str) -> None:
    """Take the first buffered message not yet examined by this step that deep-partially
    matches (or equals) the JSON block."""
    expected = json_block(ctx)
    how = DEEP if mode == "matches" else EQUAL
    client = current(ctx)
    _report(ctx, client)
    seen = ctx.state.setdefault("ws.examined", {})
    after = seen.get(ctx.step_id, 0)
    closest = None
    for message in list(client.buffer):
        if message.seq <= after:
            continue
        seen[ctx.step_id] = message.seq
        miss = difference(expected, message.data, how)
        if miss is None:
            client.buffer.remove(message)
            ctx.state["ws.last_matched"] = message.data
            return
        closest = closest or miss
    examined = sum(1 for m in client.buffer if m.seq <= seen.get(ctx.step_id, 0))
    state = f"; the connection closed: {client.closed_reason}" if client.closed_reason else ""
    hint = f"; first mismatch {closest}" if closest else ""
    raise MatchFailure(
        f"no message on the websocket of {client.fingerprint} "
        f"{'matches' if how == DEEP else 'equals'} the expected JSON "
        f"({examined} message(s) examined){hint}{state}",
        "\n".join(json.dumps(m.data, ensure_ascii=False)[:400] for m in client.buffer[-5:]) or None,
    )


@step(r"I send this message via the websocket")
async def send_message(ctx: StepContext) -> None:
    """Send the JSON block on the websocket."""
    from websockets.exceptions import WebSocketException

    message = json_block(ctx)
    client = current(ctx)
    try:
        await client.connection.send(json.dumps(message))
    except WebSocketException as exc:
        raise ConnectionError(f"cannot send on {client.url}: {exc}") from None
    ctx.log.attach("ws-out", {"fingerprint": client.fingerprint, "message": message})


@step(r"`(?P<expr>[^`]+)` of the last (?P<matched>matched )?websocket message equals")
def last_message_equals(ctx: StepContext, expr: str, matched: str | None) -> None:
    """JSONata on the last received (or last matched) message equals the JSON block."""
    expected = json_block(ctx)
    if matched:
        if "ws.last_matched" not in ctx.state:
            raise AssertionError("no websocket message has matched yet")
        message = ctx.state["ws.last_matched"]
    else:
        client = current(ctx)
        _report(ctx, client)
        if client.last_received is None:
            raise AssertionError(f"no message received on the websocket of {client.fingerprint}")
        message = client.last_received.data
    check(
        expected,
        ctx.evaluate(expr, message),
        EQUAL,
        f"`{expr}` of the last {'matched ' if matched else ''}websocket message",
    )


use_step_matcher("parse")
