"""Device ingress and the per-account message-bridge feed (REAL-SUITE.md §4).

A simulated device of an account sends a message with `POST /__admin/device-messages`,
as nRF Cloud would receive it over MQTT (a topic and a JSON payload) or CoAP (a
resource and SenML CBOR bytes). The mock journals it in the account's journal and
appends it to the account's bridge feed, shaped as nRF Cloud's MQTT message bridge
delivers it: topic `prod/<teamId>/<topic>`, CoAP raw messages as
`prod/<teamId>/m/d/<id>/d2c/raw` with `{"data": "<base64 CBOR>"}`.

A backend reads the feed of the account whose key it sends as `Authorization: Bearer
<key>`: `GET /__bridge/stream?since=<seq>` (server-sent events; replays what came after
`since`, then pushes each new message at once) or `GET /__bridge/messages?since=<seq>`
(JSON, for polling). Each message has a per-account `seq`, increasing by one.

The teamId of an account is a UUID derived from its account id (uuid5; the id is derived
from the key, accounts.py), so it is stable across restarts and differs between accounts.
The feed keeps the newest FEED_LIMIT messages per account in memory (not in `--state`): a
reader that comes back after more than that many messages is told how many it missed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from mock_nrfcloud.accounts import account_id, bearer_refusal
from mock_nrfcloud.admin import admin_route, json_response, read_json
from mock_nrfcloud.bridge_feed import FEED_LIMIT, Feed, FeedMessage
from mock_nrfcloud.problems import Problem, bad_request
from mock_nrfcloud.store_api import MockStore
from mock_nrfcloud.validation import parse_account

MAX_POLL_LIMIT = 1000
_KEEPALIVE_S = 15.0
_WRITE_TIMEOUT_S = 10.0
_TEAM_NAMESPACE = uuid.UUID("6b0c5d2e-4f3a-4c1e-9a57-0d1f0e6c9b42")
_FIELDS = {"account", "deviceId", "transport", "topic", "method", "resource", "payload",
           "payloadBase64"}  # fmt: skip
_COAP_METHODS = ("GET", "POST", "PUT", "DELETE")
_RESOURCE = re.compile(r"/msg/d2c\S+")
# MQTT topic levels: no wildcards, no empty topic; the device's ID becomes part of it.
_TOPIC = re.compile(r"[^#+\s/][^#+\s]*")
_DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BRIDGE_KEY = web.AppKey("mock_nrfcloud.bridge", "Bridge")


def team_id(account: str) -> str:
    """The nRF Cloud team ID of an account id: stable per API key, different between keys."""
    return str(uuid.uuid5(_TEAM_NAMESPACE, account))


def topic_prefix(account: str) -> str:
    """The account's MQTT topic prefix, as nRF Cloud's `mqttTopicPrefix`."""
    return f"prod/{team_id(account)}/"


class Bridge:
    """Device ingress and the feeds of all accounts, kept by the store (``MockStore``)."""

    def __init__(self, store: MockStore) -> None:
        self.store = store

    @property
    def closed(self) -> bool:
        return self.store.feeds_closed()

    async def send(self, message: dict[str, Any]) -> FeedMessage:
        """Take a checked device message (`parse_device_message`): journal it and append it
        to the account's feed."""
        account = message["account"]
        device_id = message["deviceId"]
        prefix = topic_prefix(account)
        headers = (("X-Device-Id", device_id), ("X-Transport", message["transport"]))
        if message["transport"] == "coap":
            data: bytes = message["data"]
            # the resource minus `/msg`, under the device's topics, as BE's CoAP step does
            topic = f"m/d/{device_id}{message['resource'][len('/msg') :]}"
            payload: Any = {"data": base64.b64encode(data).decode("ascii")}
            method, path = message["method"], message["resource"]
            body = data
            headers += (("Content-Type", "application/senml+cbor"),)
        else:
            topic = message["topic"]
            payload = message["payload"]
            method, path = "PUBLISH", "/" + prefix + topic
            body = json.dumps(payload, separators=(",", ":")).encode()
            headers += (("Content-Type", "application/json"),)
        sent = await self.store.feed_append(account, prefix + topic, payload)
        answer = json.dumps({"seq": sent.seq, "topic": sent.topic}).encode()
        await self.store.record_unserved(
            account, method, path, (), headers, body,
            201, (("Content-Type", "application/json"),), answer,
        )  # fmt: skip
        return sent


def parse_device_message(data: Any) -> dict[str, Any]:
    """A device message of the admin API, checked whole; Problem naming the field."""
    if not isinstance(data, dict):
        raise bad_request("expected a JSON object", field="$")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise bad_request(
            f"unknown field(s) {unknown}; known: {sorted(_FIELDS)}",
            field=unknown[0],
            kind="unknown-field",
        )  # fmt: skip
    account = parse_account(data.get("account"))
    device_id = data.get("deviceId")
    if not isinstance(device_id, str) or not _DEVICE_ID.fullmatch(device_id):
        raise bad_request("expected a device ID like oob-352656108602296", field="deviceId")
    transport = data.get("transport")
    if transport not in ("mqtt", "coap"):
        raise bad_request('expected "mqtt" or "coap"', field="transport")
    if "payload" in data and "payloadBase64" in data:
        raise bad_request("give either `payload` (JSON) or `payloadBase64`", field="payloadBase64")
    message: dict[str, Any] = {"account": account, "deviceId": device_id, "transport": transport}
    if transport == "mqtt":
        for name in ("method", "resource"):
            if name in data:
                raise bad_request(f"`{name}` is for CoAP; MQTT messages have a `topic`", field=name)
        topic = data.get("topic")
        if not isinstance(topic, str) or not _TOPIC.fullmatch(topic) or len(topic) > 256:
            raise bad_request(
                "expected an MQTT topic like m/d/<deviceId>/d2c/senml"
                " (no leading slash, no wildcards or spaces)",
                field="topic",
            )  # fmt: skip
        message["topic"] = topic
        if "payloadBase64" in data:
            message["payload"] = _json_of_base64(data["payloadBase64"])
        elif "payload" in data:
            message["payload"] = data["payload"]
        else:
            raise bad_request("expected the message as JSON in `payload`", field="payload")
        return message
    if "topic" in data:
        raise bad_request("`topic` is for MQTT; CoAP messages have a `resource`", field="topic")
    method = data.get("method", "POST")
    if method not in _COAP_METHODS:
        raise bad_request(f"expected one of {', '.join(_COAP_METHODS)}", field="method")
    resource = data.get("resource", "/msg/d2c/raw")
    if not isinstance(resource, str) or not _RESOURCE.fullmatch(resource) or len(resource) > 256:
        raise bad_request("expected a resource like /msg/d2c/raw", field="resource")
    message["method"], message["resource"] = method, resource
    if "payloadBase64" in data:
        message["data"] = _bytes_of_base64(data["payloadBase64"])
    elif "payload" in data:
        # SenML JSON, encoded as the device would (a convenience for sending by hand)
        from mock_nrfcloud.senml_cbor import encode

        try:
            message["data"] = encode(data["payload"])
        except ValueError as e:
            raise bad_request(
                f"{e}; or give the CBOR bytes in `payloadBase64`", field="payload"
            ) from None
    else:
        raise bad_request(
            "expected the CBOR bytes in `payloadBase64`"
            " (or SenML JSON in `payload`)",
            field="payloadBase64",
        )  # fmt: skip
    return message


def _bytes_of_base64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise bad_request("expected base64 text", field="payloadBase64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("expected base64 text (RFC 4648)", field="payloadBase64") from None


def _json_of_base64(value: Any) -> Any:
    try:
        return json.loads(_bytes_of_base64(value))
    except (ValueError, UnicodeDecodeError):
        raise bad_request("an MQTT payload must be JSON", field="payloadBase64") from None


def add_routes(app: web.Application, store: MockStore, *, cors: bool = True) -> Bridge:
    """Register the ingress and the feed; before the admin routes (whose catch-all would
    take `/__admin/device-messages` otherwise)."""
    bridge = Bridge(store)
    app[BRIDGE_KEY] = bridge

    def route(path: str, method: str, handler: Handler) -> None:
        admin_route(app, path, {method: handler}, cors=cors)

    route("/__admin/device-messages", "POST", lambda r: _ingress(bridge, r))
    route("/__bridge/stream", "GET", lambda r: _stream(bridge, r))
    route("/__bridge/messages", "GET", lambda r: _poll(bridge, r))

    return bridge


async def _ingress(bridge: Bridge, request: web.Request) -> web.Response:
    sent = await bridge.send(parse_device_message(await read_json(request)))
    written = bridge.store.written()
    if written is not None:
        await written  # journaled on disk (with --state) before it is acknowledged
    return json_response({"seq": sent.seq, "topic": sent.topic}, status=201)


def _feed_account(request: web.Request) -> str:
    """The id of the account whose bearer key the reader sends (accounts.py); a key that
    serving refuses is refused here too."""
    from mock_nrfcloud.app import account_of

    key = account_of(request.headers.get("Authorization"))
    if key is not None:
        reason = bearer_refusal(key)
        if reason is not None:
            raise Problem(401, "Unauthorized", reason, field="Authorization",
                          kind="unauthorized")  # fmt: skip
    return account_id(key)


def _since(request: web.Request) -> int:
    value = request.query.get("since", "0")
    last_event = request.headers.get("Last-Event-ID")
    if last_event and last_event.isdigit():
        value = last_event
    if not value.isdigit():
        raise bad_request(
            "expected the seq of the last message read (an integer >= 0)", field="since"
        )
    return int(value)


async def _poll(bridge: Bridge, request: web.Request) -> web.Response:
    account = _feed_account(request)
    limit_text = request.query.get("limit", "100")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_POLL_LIMIT:
        raise bad_request(f"expected an integer from 1 to {MAX_POLL_LIMIT}", field="limit")
    messages, missed, next_seq = await bridge.store.feed_after(
        account, _since(request), int(limit_text)
    )
    return json_response({"messages": [m.to_json() for m in messages], "missed": missed,
                          "next": next_seq})  # fmt: skip


async def _stream(bridge: Bridge, request: web.Request) -> web.StreamResponse:
    """Server-sent events: `id: <seq>` and `data: <message JSON>` per message."""
    account = _feed_account(request)
    last = _since(request)
    store = bridge.store
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})  # fmt: skip
    await response.prepare(request)

    async def write(data: bytes) -> None:
        # A reader that stops reading is cut off rather than holding this task for ever.
        await asyncio.wait_for(response.write(data), _WRITE_TIMEOUT_S)

    try:
        await write(b"retry: 1000\n: connected\n\n")
        while not bridge.closed:
            messages, missed, _ = await store.feed_after(account, last, MAX_POLL_LIMIT)
            if missed:
                await write(f": missed {missed}\n\n".encode())
            for message in messages:
                data = json.dumps(message.to_json(), separators=(",", ":"))
                await write(f"id: {message.seq}\ndata: {data}\n\n".encode())
                last = message.seq
            if messages:
                continue
            waited = asyncio.get_running_loop().time()
            await store.feed_wait(account, last, _KEEPALIVE_S)
            if asyncio.get_running_loop().time() - waited >= _KEEPALIVE_S:
                await write(b": keep-alive\n\n")
        await response.write_eof()
    except (ConnectionError, TimeoutError):
        if request.transport is not None:
            request.transport.abort()
    return response


__all__ = [
    "FEED_LIMIT", "Bridge", "Feed", "add_routes", "parse_device_message", "team_id",
    "topic_prefix",
]  # fmt: skip
