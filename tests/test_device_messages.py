"""Device messages end to end: the mock's ingress and bridge feed, the backend's consumer
and ingest, the LwM2M shadow, configuration, lastSeen and hideDataBefore; on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from aiohttp import web
from support.backend import (
    IDENTITY,
    SHADOW,
    UPDATE,
    Stack,
    assert_problem,
    eventually,
    receive_until,
    shadow_item,
)

from mock_nrfcloud.accounts import account_id
from mock_nrfcloud.bridge import Feed, team_id
from mock_nrfcloud.client import MockAdminError
from reference_backend.ingest.bridge import BridgeConsumers, without_prefix
from reference_backend.shadow.lwm2m import merged, newer_than, side_diff, side_to_objects
from reference_backend.store import Account, Store
from reference_backend.tasks import Background


def senml(value: float, ts: int = 1700000000) -> list[dict[str, Any]]:
    return [{"bn": "14205/0/", "bt": ts, "n": "0", "v": value}]


async def publish(stack: Stack, account: str, device_id: str, payload: Any) -> dict[str, Any]:
    return await stack.nrf.send_device_message(
        account, device_id, transport="mqtt", topic=f"m/d/{device_id}/d2c/senml", payload=payload
    )


async def imports(stack: Stack, device_id: str, fingerprint: str) -> list[dict[str, Any]]:
    r = await stack.http.get(stack.device_url(device_id, fingerprint, "senml-imports"))
    assert r.status == 200, await r.text()
    return (await r.json())["imports"]


async def test_every_connection_gets_each_message_once_in_order(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    sockets = [await stack.connect(fingerprint), await stack.connect(fingerprint)]
    for value in (1, 2, 3):
        await publish(stack, account, device_id, senml(value))
    for ws in sockets:
        values = []
        while len(values) < 3:
            message = await receive_until(ws, lambda m: m.get("@context") == UPDATE)
            values.append(message["Resources"]["0"])
        assert values == [1, 2, 3]
    # and nothing more: a final marker message is the next update each socket sees
    await publish(stack, account, device_id, senml(4))
    for ws in sockets:
        message = await receive_until(ws, lambda m: m.get("@context") == UPDATE)
        assert message["Resources"]["0"] == 4
    assert [i["senML"][0]["v"] for i in await imports(stack, device_id, fingerprint)] == [
        4,
        3,
        2,
        1,
    ]


async def test_messages_sent_before_the_account_was_registered_are_ingested(stack: Stack) -> None:
    key = f"early-{id(stack)}"
    await stack.nrf.send_device_message(
        key, "dev-early", transport="coap", payload=senml(7), resource="/msg/d2c/raw"
    )
    r = await stack.http.post(
        stack.backend.url + "/__admin/accounts",
        json={"name": key, "apiEndpoint": stack.mock.url, "apiKey": key},
        headers=stack.admin,
    )
    assert r.status == 201
    r = await stack.http.post(
        stack.backend.url + "/__admin/devices",
        json={"model": "PCA20065", "account": key, "id": "dev-early"},
        headers=stack.admin,
    )
    fingerprint = (await r.json())["fingerprint"]
    # the device was registered after the consumer may have read the message: it is
    # dropped then, so send another one that must arrive
    await publish(stack, key, "dev-early", senml(8))
    found = await eventually(lambda: imports(stack, "dev-early", fingerprint))
    assert found[0]["lwm2m"][0]["Resources"]["0"] == 8


async def test_reconnect_gets_shadow_and_last_seen_and_hiding_removes_them(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    await publish(stack, account, device_id, senml(21.5))
    await eventually(lambda: imports(stack, device_id, fingerprint))
    ws = await stack.connect(fingerprint)
    identity = await receive_until(ws, lambda m: True)
    assert identity["@context"] == IDENTITY and identity["lastSeen"].endswith("Z")
    assert len(identity["lastSeen"]) == len("2024-01-01T00:00:00.000Z")
    shadow = await receive_until(ws, lambda m: True)
    assert shadow == {
        "@context": SHADOW,
        "desired": [],
        "reported": [{"ObjectID": 14205, "ObjectVersion": "1.0",
                      "Resources": {"99": 1700000000, "0": 21.5}}],
    }  # fmt: skip
    r = await stack.http.post(stack.device_url(device_id, fingerprint, "hideDataBefore"))
    assert r.status == 200 and await r.read() == b""
    r = await stack.http.get(f"{stack.backend.url}/device?fingerprint={fingerprint}")
    body = await r.json()
    assert "hideDataBefore" in body and "lastSeen" not in body
    assert await imports(stack, device_id, fingerprint) == []
    ws = await stack.connect(fingerprint)
    identity = await receive_until(ws, lambda m: True)
    assert identity["hideDataBefore"] == body["hideDataBefore"] and "lastSeen" not in identity
    # no shadow message: its only object is from before hideDataBefore
    await publish(stack, account, device_id, senml(22, ts=4_000_000_000))
    message = await receive_until(ws, lambda m: True)
    assert message["@context"] == UPDATE


async def test_configuration_goes_to_nrf_cloud_and_the_desired_shadow(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    await stack.nrf.queue(account, "PATCH", f"/v1/devices/{device_id}/state", status=202)
    update = {"@context": UPDATE, "ObjectID": 14240, "Resources": {"0": 255, "99": 1700000000}}
    r = await stack.http.patch(stack.device_url(device_id, fingerprint, "state"), json=update)
    assert r.status == 202, await r.text()
    (call,) = await stack.nrf.find(account, method="PATCH", path=f"/v1/devices/{device_id}/state")
    assert json.loads(call["body"]) == {
        "desired": {"lwm2m": {"14240:1.0": {"0": {"0": 255, "99": 1700000000}}}}
    }
    # nRF Cloud failing: a problem, and the desired side is written all the same
    update["Resources"]["0"] = 0
    r = await stack.http.patch(stack.device_url(device_id, fingerprint, "state"), json=update)
    problem = await assert_problem(r, 400)
    assert problem["title"] == "Configuration update failed"
    ws = await stack.connect(fingerprint)
    await receive_until(ws, lambda m: True)
    shadow = await receive_until(ws, lambda m: True)
    assert shadow["desired"][0]["Resources"] == {"0": 0, "99": 1700000000}
    assert shadow["reported"] == []
    for bad in ({"ObjectID": "x", "Resources": {}}, {"ObjectID": 1, "Resources": {"a": 1}}, [1],
                {**update, "extra": 1}):  # fmt: skip
        r = await stack.http.patch(stack.device_url(device_id, fingerprint, "state"), json=bad)
        await assert_problem(r, 400)


async def test_the_poll_passes_lwm2m_through_and_writes_only_the_diff(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    item = shadow_item(device_id, 1)
    lwm2m = {"14240:1.0": {"0": {"0": 1, "1": 2, "99": 1700000000}}}
    item["state"]["reported"]["lwm2m"] = lwm2m
    item["state"]["desired"] = {"lwm2m": lwm2m}
    await stack.shadow(account, item)
    ws = await stack.connect(fingerprint)
    first = await receive_until(ws, lambda m: m.get("@context") == SHADOW)
    assert {o["ObjectID"] for o in first["reported"]} == {14240, 14401, 14204}
    assert [o["ObjectID"] for o in first["desired"]] == [14240]
    # a newer version: one resource and the timestamp changed, an older timestamp elsewhere
    item = json.loads(json.dumps(item))
    item["state"]["version"] = 2
    item["state"]["reported"]["lwm2m"] = {"14240:1.0": {"0": {"0": 1, "1": 3, "99": 1700000001}}}
    item["state"]["desired"]["lwm2m"] = {"14240:1.0": {"0": {"0": 1, "1": 2, "99": 1600000000}}}
    await stack.shadow(account, item)
    second = await receive_until(ws, lambda m: m.get("@context") == SHADOW)
    assert second == {
        "@context": SHADOW,
        "desired": [],
        "reported": [{"ObjectID": 14240, "ObjectVersion": "1.0",
                      "Resources": {"1": 3, "99": 1700000001}}],
    }  # fmt: skip


def test_side_diff_rules() -> None:
    current = {"1:1.0": {"0": {"0": 1, "99": 10}}}
    assert side_diff(current, {"1:1.0": {"0": {"0": 1, "99": 11}}}) == {}
    assert side_diff(current, {"1:1.0": {"0": {"0": 2, "99": 5}}}) == {
        "1:1.0": {"0": {"0": 2, "99": 10}}
    }
    assert side_diff(current, {"1:1.0": {"1": {"0": 1}}, "2:1.0": {"0": {"0": 1}}}) == {
        "1:1.0": {"1": {"0": 1}},
        "2:1.0": {"0": {"0": 1}},
    }


async def test_mock_ingress_refuses_bad_messages_naming_the_field(stack: Stack) -> None:
    cases = [
        ({"transport": "smtp"}, "transport"),
        ({"transport": "mqtt", "topic": "/m/d/x"}, "topic"),
        ({"transport": "mqtt", "topic": "m/d/#"}, "topic"),
        ({"transport": "coap", "resource": "/other"}, "resource"),
        ({"transport": "coap", "payloadBase64": "***"}, "payloadBase64"),
        ({"transport": "coap", "payload": {"not": "senml"}}, "payload"),
        ({"transport": "mqtt", "topic": "m/d/d1/d2c", "method": "GET", "payload": 1}, "method"),
    ]
    for fields, field in cases:
        with pytest.raises(MockAdminError) as e:
            await stack.nrf._call(
                "POST", "/__admin/device-messages", json_body={"deviceId": "d1", **fields}
            )
        assert e.value.status == 400 and e.value.problem["field"] == field, fields


async def test_mock_feed_wraps_coap_and_prefixes_topics_per_account(stack: Stack) -> None:
    sent = await stack.nrf.send_device_message(
        "k1", "d1", transport="coap", payload_bytes=b"\x80", resource="/msg/d2c/raw"
    )
    # The team ID is derived from the account id, which is derived from the key.
    assert sent == {"seq": 1, "topic": f"prod/{team_id(account_id('k1'))}/m/d/d1/d2c/raw"}
    await stack.nrf.send_device_message(
        "k2", "d1", transport="mqtt", topic="m/d/d1/d2c", payload={}
    )
    r = await stack.http.get(
        stack.mock.url + "/__bridge/messages?since=0", headers={"Authorization": "Bearer k1"}
    )
    (message,) = (await r.json())["messages"]
    assert message["payload"] == {"data": base64.b64encode(b"\x80").decode()}
    assert team_id(account_id("k1")) != team_id(account_id("k2"))
    (entry,) = await stack.nrf.requests("k1")
    assert entry["method"] == "POST" and entry["path"] == "/msg/d2c/raw"


def test_a_feed_keeps_its_limit_and_reports_what_was_missed() -> None:
    feed = Feed(limit=2)
    for n in range(5):
        feed.append("t", "topic", n)
    messages, missed = feed.after(0)
    assert [m.payload for m in messages] == [3, 4] and missed == 3
    assert feed.after(4) == ([feed.messages[1]], 0)


def test_prefix_stripping() -> None:
    assert without_prefix("prod/abc/m/d/x/d2c/raw") == "m/d/x/d2c/raw"
    assert without_prefix("m/d/x/d2c") == "m/d/x/d2c"


async def test_the_consumer_reconnects_from_its_position_and_drops_duplicates() -> None:
    sinces: list[str] = []
    finished = asyncio.Event()

    async def stream(request: web.Request) -> web.StreamResponse:
        sinces.append(request.query["since"])
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        # the first connection delivers 1 and 2, then breaks; the next replays 2 and adds 3
        seqs = [1, 2] if len(sinces) == 1 else [2, 3]
        for seq in seqs:
            data = json.dumps({"seq": seq, "receivedAt": "t", "topic": "prod/t/m/d/x/d2c",
                               "payload": seq})  # fmt: skip
            await response.write(f"id: {seq}\ndata: {data}\n\n".encode())
        if len(sinces) == 1:
            return response  # ends the stream
        await finished.wait()
        return response

    app = web.Application()
    app.router.add_get("/__bridge/stream", stream)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    got: list[tuple[str, str, Any]] = []

    async def ingest(account: str, topic: str, payload: Any, received_at: str) -> None:
        got.append((account, topic, payload))

    store, background = Store(), Background()
    consumers = BridgeConsumers(store, background, ingest, retry_s=0.01)
    consumers.ensure(Account("a", f"http://127.0.0.1:{port}", "key"))
    await eventually(lambda: _done(got, 3))
    await background.close()
    await consumers.close()
    finished.set()
    await runner.cleanup()
    assert got == [("a", "m/d/x/d2c", 1), ("a", "m/d/x/d2c", 2), ("a", "m/d/x/d2c", 3)]
    assert sinces[:2] == ["0", "2"]


async def _done(got: list[Any], count: int) -> bool:
    return len(got) >= count


def test_shadow_side_as_objects_and_hiding() -> None:
    side = {"14240:1.1": {"0": {"0": 1, "99": 10}, "2": {"0": 2, "99": 20}}}
    objects = side_to_objects(side)
    assert objects == [
        {"ObjectID": 14240, "ObjectVersion": "1.1", "Resources": {"0": 1, "99": 10}},
        {"ObjectID": 14240, "ObjectVersion": "1.1", "ObjectInstanceID": 2,
         "Resources": {"0": 2, "99": 20}},
    ]  # fmt: skip
    assert newer_than(objects, 10) == objects[1:]
    assert newer_than(objects, None) == objects
    assert merged(side, {"14240:1.1": {"0": {"0": 5}}, "1:1.0": {"0": {"0": 1}}}) == {
        "14240:1.1": {"0": {"0": 5, "99": 10}, "2": {"0": 2, "99": 20}},
        "1:1.0": {"0": {"0": 1}},
    }
