"""Mock replicas sharing state in Redis (``--redis``, ``--workers``), against a real
redis-server started for the session (tests/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest
from support.processes import MOCK, ROOT, server_process
from support.redis_server import fresh_prefix

from mock_nrfcloud.accounts import account_id
from mock_nrfcloud.client import MockClient
from mock_nrfcloud.server import RunningMock, start_mock

KEY = {"Authorization": "Bearer team"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=100)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield session


@pytest.fixture
async def replicas(redis_url: str) -> AsyncIterator[tuple[RunningMock, RunningMock]]:
    """Two mocks on one Redis and prefix: two replicas of one mock."""
    prefix = fresh_prefix()
    first = await start_mock(redis=redis_url, redis_prefix=prefix)
    second = await start_mock(redis=redis_url, redis_prefix=prefix)
    yield first, second
    await first.stop()
    await second.stop()


async def _queue_one_shots(admin: MockClient, count: int) -> None:
    for n in range(count):
        await admin.queue("team", "GET", "/v1/devices/next", body={"n": n})


async def test_500_one_shots_50_clients_two_replicas_each_served_exactly_once(
    redis_url: str, http: aiohttp.ClientSession
) -> None:
    args = ("--redis", redis_url, "--redis-prefix", fresh_prefix())
    # Two mock processes on one Redis: replicas, as behind a load balancer.
    with server_process(MOCK, *args) as one, server_process(MOCK, *args) as two:
        first, second = one.url, two.url
        await _queue_one_shots(MockClient(first, http), 500)
        statuses: Counter[int] = Counter()
        served: list[int] = []

        async def client(number: int) -> None:
            url = (first if number % 2 else second) + "/v1/devices/next"
            for _ in range(10):
                async with http.get(url, headers=KEY) as response:
                    statuses[response.status] += 1
                    if response.status == 200:
                        served.append((await response.json())["n"])

        async with asyncio.timeout(120):
            await asyncio.gather(*(client(number) for number in range(50)))
        assert statuses == {200: 500}  # no 5xx, no 404: every call got a one-shot
        assert sorted(served) == list(range(500))  # each one exactly once
        # Every call is in the journal read through the other replica; nothing is left.
        other = MockClient(second, http)
        calls = await other.find("team", method="GET", path="/v1/devices/next")
        assert len(calls) == 500
        assert len({call["response"]["response_id"] for call in calls}) == 500
        bodies = sorted(json.loads(call["response"]["body"])["n"] for call in calls)
        assert bodies == list(range(500))
        assert [call["id"] for call in calls] == sorted(call["id"] for call in calls)
        assert await other.responses("team") == []
        async with http.get(second + "/v1/devices/next", headers=KEY) as response:
            assert response.status == 404


async def test_matchers_across_replicas_pick_the_first_matching_one_shot(
    replicas: tuple[RunningMock, RunningMock], http: aiohttp.ClientSession
) -> None:
    first, second = replicas
    admin = MockClient(first.url, http)
    await admin.queue("team", "GET", "/v1/devices", query={"tag": "a"}, body="a1")
    await admin.queue("team", "GET", "/v1/devices", query={"tag": "/^b/"}, body="b1")
    await admin.queue("team", "GET", "/v1/devices", body="any", keep=True)
    await admin.queue("team", "GET", "/v1/devices", query={"tag": "a"}, body="a2")
    answers = []
    for mock, tag in [(second, "bee"), (first, "a"), (second, "a"), (second, "a"), (first, "b")]:
        async with http.get(f"{mock.url}/v1/devices?tag={tag}", headers=KEY) as response:
            answers.append(await response.text())
    assert answers == ["b1", "a1", "a2", "any", "any"]


async def test_live_stream_and_bridge_feed_deliver_what_every_replica_takes(
    replicas: tuple[RunningMock, RunningMock], http: aiohttp.ClientSession
) -> None:
    first, second = replicas
    stream = await http.get(second.url + "/__admin/requests/stream?account=team")
    feed = await http.get(second.url + "/__bridge/stream?since=0", headers=KEY)
    assert (await stream.content.readline()).startswith(b"retry:")
    assert (await feed.content.readline()).startswith(b"retry:")
    for mock, n in [(first, 1), (second, 2), (first, 3)]:
        await http.get(f"{mock.url}/v1/call/{n}", headers=KEY)
        message = {"account": "team", "deviceId": "oob-1", "transport": "mqtt",
                   "topic": "m/d/oob-1/d2c/senml", "payload": {"n": n}}  # fmt: skip
        async with http.post(mock.url + "/__admin/device-messages", json=message) as response:
            assert response.status == 201
            assert (await response.json())["seq"] == n

    async def events(response: aiohttp.ClientResponse, count: int) -> list[dict]:
        found = []
        async with asyncio.timeout(10):
            while len(found) < count:
                line = await response.content.readline()
                if line.startswith(b"data: "):
                    found.append(json.loads(line[6:]))
        return found

    journal = await events(stream, 6)  # three calls, three device messages
    assert [e["path"] for e in journal if e["method"] == "GET"] == [
        "/v1/call/1", "/v1/call/2", "/v1/call/3",
    ]  # fmt: skip
    assert [m["payload"] for m in await events(feed, 3)] == [{"n": 1}, {"n": 2}, {"n": 3}]
    stream.close()
    feed.close()


async def test_the_shared_feed_keeps_its_limit_and_reports_what_was_missed(
    replicas: tuple[RunningMock, RunningMock],
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mock_nrfcloud.redis_store

    monkeypatch.setattr(mock_nrfcloud.redis_store, "FEED_LIMIT", 2)
    first, second = replicas
    for mock, n in [(first, 1), (second, 2), (first, 3)]:
        message = {"account": "team", "deviceId": "oob-1", "transport": "coap",
                   "payload": [{"bn": "14201/0/", "n": "0", "v": n}]}  # fmt: skip
        async with http.post(mock.url + "/__admin/device-messages", json=message) as response:
            assert response.status == 201
    async with http.get(second.url + "/__bridge/messages?since=0", headers=KEY) as response:
        page = await response.json()
    assert page["missed"] == 1
    assert [m["seq"] for m in page["messages"]] == [2, 3]
    assert page["next"] == 4
    assert page["messages"][0]["topic"].endswith("/m/d/oob-1/d2c/raw")


async def test_reset_and_delete_through_one_replica_show_in_the_other(
    replicas: tuple[RunningMock, RunningMock], http: aiohttp.ClientSession
) -> None:
    first, second = replicas
    admin, other = MockClient(first.url, http), MockClient(second.url, http)
    queued = await admin.queue("team", "GET", "/v1/a", body="x", keep=True)
    await http.get(second.url + "/v1/a", headers=KEY)
    assert [a["account"] for a in await other.accounts()] == [account_id("team")]
    assert await other.count("team") == 1
    await other.delete_response(queued)
    assert await admin.responses("team") == []
    await other.reset()
    assert await admin.count("team") == 0
    async with http.get(first.url + "/v1/b", headers=KEY) as response:
        assert response.status == 404
    (entry,) = await admin.requests("team")
    assert entry["id"] > 1  # entry ids go on after a reset: live readers miss nothing


async def test_idle_accounts_are_evicted_from_redis(redis_url: str) -> None:
    async with await start_mock(
        redis=redis_url, redis_prefix=fresh_prefix(), idle_account_s=3600
    ) as mock:
        store = mock.store
        await store.serve("old", "GET", "/v1/x", (), (), b"")
        await store.serve("default", "GET", "/v1/x", (), (), b"")
        assert await store.evict_idle(now=10**10) == ["old"]
        assert [a["account"] for a in await store.summary()] == ["default"]
        assert await store.redis.keys(store._ap("old") + "*") == []


async def test_an_account_with_a_live_stream_on_any_replica_is_kept(
    replicas: tuple[RunningMock, RunningMock], http: aiohttp.ClientSession
) -> None:
    first, second = replicas
    await first.store.serve(account_id("watched"), "GET", "/v1/x", (), (), b"")
    async with http.get(second.url + "/__admin/requests/stream?account=watched") as stream:
        await stream.content.readline()  # connected: the reader has claimed the account
        assert await first.store.evict_idle(now=10**10) == []
    assert [a["account"] for a in await first.store.summary()] == [account_id("watched")]


# -- processes: --workers, and a replica killed mid-burst --------------------------------


async def test_a_replica_killed_mid_burst_loses_nothing_acknowledged(
    redis_url: str, http: aiohttp.ClientSession
) -> None:
    prefix = fresh_prefix()
    args = ("--redis", redis_url, "--redis-prefix", prefix)
    with server_process(MOCK, *args) as doomed, server_process(MOCK, *args) as other:
        doomed_url, survivor_url = doomed.url, other.url
        survivor = MockClient(survivor_url, http)
        await _queue_one_shots(MockClient(doomed_url, http), 500)
        acknowledged: list[int] = []
        failures = 0

        async def client(number: int) -> None:
            nonlocal failures
            url = (doomed_url if number % 2 else survivor_url) + "/v1/devices/next"
            for _ in range(10):
                try:
                    async with http.get(url, headers=KEY) as response:
                        assert response.status < 500
                        if response.status == 200:
                            acknowledged.append((await response.json())["n"])
                except (TimeoutError, aiohttp.ClientError):
                    failures += 1  # the killed replica's calls; nothing acknowledged

        async def kill_soon() -> None:
            while len(acknowledged) < 100:
                await asyncio.sleep(0.005)
            os.kill(doomed.pid, signal.SIGKILL)

        async with asyncio.timeout(120):
            await asyncio.gather(kill_soon(), *(client(number) for number in range(50)))
        assert failures > 0  # the kill did land mid-burst
        assert len(set(acknowledged)) == len(acknowledged)
        journal = await survivor.find("team", path="/v1/devices/next")
        served = [json.loads(e["response"]["body"])["n"] for e in journal if e["response"]["body"]]
        pending = [r["body"]["n"] for r in await survivor.responses("team")]
        # Every acknowledged answer is journaled and used up; none is also still pending.
        assert set(acknowledged) <= set(served)
        assert not set(acknowledged) & set(pending)
        # Nothing lost: each one-shot is either journaled as served or still pending.
        assert sorted(served + pending) == list(range(500))


def test_workers_share_one_port_and_one_state(redis_url: str) -> None:
    prefix = fresh_prefix()
    with server_process(
        MOCK, "--redis", redis_url, "--redis-prefix", prefix, "--workers", "2"
    ) as server:
        try:
            asyncio.run(_workers_serve(server.url))
        finally:
            code, out, _ = server.stop()
        assert "mock-nrfcloud stopped" in out
        assert code == 0


async def _workers_serve(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        admin = MockClient(url, http)
        await _queue_one_shots(admin, 100)
        served = []
        for _ in range(100):
            # A new connection per call: the kernel spreads them over the workers.
            async with http.get(
                url + "/v1/devices/next", headers={**KEY, "Connection": "close"}
            ) as response:
                served.append((await response.json())["n"])
        assert sorted(served) == list(range(100))
        assert await admin.count("team") == 100


def test_workers_without_redis_are_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mock_nrfcloud", "--workers", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--workers above 1 needs --redis" in result.stderr


def test_an_unreachable_redis_is_named_and_exits_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mock_nrfcloud", "--port", "0", "--redis", "redis://127.0.0.1:1/0"],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "redis://127.0.0.1:1/0" in result.stderr


async def test_conditional_responses_used_up_elsewhere_leave_the_cache(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mock_nrfcloud.redis_store
    from mock_nrfcloud.redis_store import RedisStore
    from mock_nrfcloud.validation import parse_response_spec

    monkeypatch.setattr(mock_nrfcloud.redis_store, "_ENDPOINT_CACHE_MAX", 8)
    prefix = fresh_prefix()
    queuer = await RedisStore.open(redis_url, prefix=prefix)
    server = await RedisStore.open(redis_url, prefix=prefix)
    try:
        for n in range(40):
            spec = {"account": "k", "method": "GET", "path": "/x", "query": {"n": str(n)},
                    "body": str(n)}  # fmt: skip
            await queuer.add_response(parse_response_spec(spec))
            _, entry = await server.serve(account_id("k"), "GET", "/x", (("n", str(n)),), (), b"")
            assert entry[-1] == str(n).encode()
        assert len(server._endpoints[(account_id("k"), "GET /x")]) <= 9
    finally:
        await queuer.close()
        await server.close()
