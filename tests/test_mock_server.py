"""The mock nRF Cloud server over real loopback HTTP (started in-process on port 0)."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from support.mock_servers import bearer, read_events
from support.processes import EXAMPLE

from mock_nrfcloud.accounts import account_id
from mock_nrfcloud.client import MockAdminError, MockClient
from mock_nrfcloud.redis_store import _NOT_FOUND_ANSWER, RedisStore, _request_json
from mock_nrfcloud.server import RunningMock, start_mock
from mock_nrfcloud.store import Store

FOTA_JOB_RESPONSE = """HTTP/1.1 200 OK
Content-Type: application/json

{
    "jobId": "bc631093-7f7c-4c1b-aa63-a68c759bcd5c",
    "status": "IN_PROGRESS",
    "statusDetail": "Job auto applied"
}
"""


def bounded(seconds: float) -> Callable[..., Any]:
    """Fail a test that runs longer than ``seconds`` instead of hanging the suite."""

    def decorate(test: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        @functools.wraps(test)
        async def run(*args: Any, **kwargs: Any) -> None:
            async with asyncio.timeout(seconds):
                await test(*args, **kwargs)

        return run

    return decorate


@pytest.fixture
async def mock(store_options: dict[str, str]) -> AsyncIterator[RunningMock]:
    """This module's tests run against both stores (conftest.py `store_options`)."""
    running = await start_mock(**store_options)
    yield running
    await running.stop()


# -- as a new user would --------------------------------------------------------------


@bounded(10)
async def test_queue_with_curl_call_and_read_the_journal(
    mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    # `curl -d` sends application/x-www-form-urlencoded: the admin API reads JSON anyway.
    queued = await http.post(
        f"{mock.url}/__admin/responses",
        data='{"method": "GET", "path": "/v1/devices", "body": {"items": [], "total": 0}}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert queued.status == 201
    response_id = (await queued.json())["id"]

    first = await http.get(f"{mock.url}/v1/devices?includeState=true")
    assert first.status == 200
    assert first.headers["Content-Type"] == "application/json"
    assert await first.json() == {"items": [], "total": 0}

    second = await http.get(f"{mock.url}/v1/devices")
    assert second.status == 404
    assert second.headers["Content-Type"].startswith("text/plain")
    assert await second.text() == "No responses found"

    journal = await (await http.get(f"{mock.url}/__admin/requests")).json()
    assert journal["count"] == 2 and journal["dropped"] == 0
    entry, unmatched = journal["requests"]
    assert entry["account"] == "default"
    assert (entry["method"], entry["path"], entry["query"]) == (
        "GET", "/v1/devices", {"includeState": "true"},
    )  # fmt: skip
    assert entry["response"]["status"] == 200
    assert entry["response"]["response_id"] == response_id
    assert entry["response"]["matched"] is True
    assert entry["response"]["body"] == '{"items":[],"total":0}'
    assert unmatched["response"] | {"headers": None} == {
        "status": 404, "response_id": None, "matched": False, "fault": None, "headers": None,
        "body": "No responses found", "body_base64": None,
    }  # fmt: skip
    assert unmatched["id"] > entry["id"]


@bounded(10)
async def test_headers_bodies_and_status_are_served_as_queued(
    admin: MockClient, mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    await admin.queue("k", "POST", "/v1/text", status=202, body="plain", headers={"X-Req": "1"})
    await admin.queue("k", "GET", "/v1/bin", body=b"\x00\xff")
    await admin.queue("k", "GET", "/v1/empty", status=204)
    text = await http.post(f"{mock.url}/v1/text", headers=bearer("k"), data=b"\xfe\x01")
    assert (text.status, await text.text(), text.headers["X-Req"]) == (202, "plain", "1")
    assert text.headers["Content-Type"].startswith("text/plain")
    binary = await http.get(f"{mock.url}/v1/bin", headers=bearer("k"))
    assert await binary.read() == b"\x00\xff"
    empty = await http.get(f"{mock.url}/v1/empty", headers=bearer("k"))
    assert (empty.status, await empty.read()) == (204, b"")
    posted = (await admin.requests("k", method="POST"))[0]
    assert posted["body"] is None and posted["body_base64"] == "/gE="
    assert posted["headers"]["Authorization"] == "Bearer <redacted>"


# -- concurrency ----------------------------------------------------------------------


@bounded(40)
async def test_50_clients_2000_one_shots_each_served_exactly_once(
    admin: MockClient, mock: RunningMock
) -> None:
    total, clients = 2000, 50
    limit = asyncio.Semaphore(20)

    async def queue(index: int) -> None:
        async with limit:
            await admin.queue("load", "POST", "/v1/fota-jobs", body={"jobId": f"job-{index}"})

    await asyncio.gather(*(queue(i) for i in range(total)))
    assert len(await admin.responses("load")) == total

    statuses: list[int] = []
    job_ids: list[str] = []

    async def client() -> None:
        # One session (one connection) per client, like 50 separate programs.
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            for _ in range(total // clients):
                async with session.post(
                    f"{mock.url}/v1/fota-jobs", headers=bearer("load"), json={"bundleId": "x"}
                ) as response:
                    statuses.append(response.status)
                    if response.status == 200:
                        job_ids.append((await response.json())["jobId"])

    await asyncio.gather(*(client() for _ in range(clients)))
    assert statuses.count(200) == total
    assert not [s for s in statuses if s >= 500]
    assert sorted(job_ids) == sorted(f"job-{i}" for i in range(total))
    assert await admin.responses("load") == []
    assert await admin.count("load", method="POST", path="/v1/fota-jobs") == total
    served = await admin.find("load", path="/v1/fota-jobs")
    assert len({e["response"]["response_id"] for e in served}) == total
    assert len({e["id"] for e in served}) == total


# -- accounts -------------------------------------------------------------------------


@bounded(10)
async def test_two_accounts_never_see_each_other(
    admin: MockClient, mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    await admin.queue("alice", "GET", "/v1/account", body={"who": "alice"}, keep=True)
    await admin.queue("bob", "GET", "/v1/account", body={"who": "bob"})
    alice = await http.get(f"{mock.url}/v1/account", headers=bearer("alice"))
    bob = await http.get(f"{mock.url}/v1/account", headers=bearer("bob"))
    nobody = await http.get(f"{mock.url}/v1/account")
    bob_again = await http.get(f"{mock.url}/v1/account", headers=bearer("bob"))
    assert (await alice.json(), await bob.json()) == ({"who": "alice"}, {"who": "bob"})
    assert (nobody.status, bob_again.status) == (404, 404)

    # Shown by id (mock_nrfcloud/accounts.py), never by key.
    assert [r["account"] for r in await admin.responses("alice")] == [account_id("alice")]
    assert await admin.responses("bob") == []
    assert {e["account"] for e in await admin.requests("alice")} == {account_id("alice")}
    assert len(await admin.requests("bob")) == 2
    assert len(await admin.requests("default")) == 1
    assert await admin.find("carol", path="/v1/account") == []

    await admin.clear_requests("bob")
    await admin.delete_responses("alice")
    assert len(await admin.requests("alice")) == 1
    assert await admin.requests("bob") == []
    assert await admin.responses("alice") == []


# -- bad admin input ------------------------------------------------------------------

BAD_INPUT: list[tuple[str, str, Any, str]] = [
    # (method, path with query, JSON body or raw text, field named in the problem)
    ("POST", "/__admin/responses", "not json", "$"),
    ("POST", "/__admin/responses", "", "$"),
    ("POST", "/__admin/responses", [1, 2], "$"),
    ("POST", "/__admin/responses", {"path": "/v1/x"}, "method"),
    ("POST", "/__admin/responses", {"method": "GET"}, "path"),
    ("POST", "/__admin/responses", {"method": "GET", "path": "/v1/x", "sttaus": 200}, "sttaus"),
    ("POST", "/__admin/responses", {"method": 5, "path": "/v1/x"}, "method"),
    ("POST", "/__admin/responses", {"method": "GET", "path": "v1/x"}, "path"),
    ("POST", "/__admin/responses", {"method": "GET", "path": "/v1/x", "status": "200"}, "status"),
    ("POST", "/__admin/responses", {"method": "GET", "path": "/v1/x", "status": 600}, "status"),
    ("POST", "/__admin/responses", {"method": "GET", "path": "/v1/x", "query": "a=1"}, "query"),
    ("POST", "/__admin/responses", {"method": "GET", "path": "/", "query": {"a": 1}}, "query.a"),
    (
        "POST",
        "/__admin/responses",
        {"method": "GET", "path": "/", "query": {"a": "/[/"}},
        "query.a",
    ),
    (
        "POST",
        "/__admin/responses",
        {"method": "GET", "path": "/", "headers": {"A": 1}},
        "headers.A",
    ),
    ("POST", "/__admin/responses", {"method": "GET", "path": "/", "headers": "A: 1"}, "headers"),
    ("POST", "/__admin/responses", {"method": "GET", "path": "/", "keep": 1}, "keep"),
    ("POST", "/__admin/responses", {"method": "GET", "path": "/", "times": -1}, "times"),
    ("POST", "/__admin/responses", {"method": "GET", "path": "/", "times": 1.5}, "times"),
    ("POST", "/__admin/responses", {"method": "GET", "path": "/", "ttl_s": -2}, "ttl_s"),
    ("POST", "/__admin/responses", {"method": "GET", "path": "/", "delay_ms": "1"}, "delay_ms"),
    ("POST", "/__admin/responses", {"method": "GET", "path": "/", "fault": "boom"}, "fault"),
    ("POST", "/__admin/responses", {"method": "GET", "path": "/", "account": 7}, "account"),
    (
        "POST",
        "/__admin/responses",
        {"method": "GET", "path": "/", "body_matches": {"$..[": 1}},
        "body_matches.$..[",
    ),
    (
        "POST",
        "/__admin/responses",
        {"method": "GET", "path": "/", "body_base64": "%%"},
        "body_base64",
    ),
    ("POST", "/__admin/responses?x=1", {"method": "GET", "path": "/"}, "x"),
    ("POST", "/__admin/responses/raw?method=GET&path=/v1/x", "HTTP/1.1 OK\n\n", "raw"),
    ("POST", "/__admin/responses/raw?method=GET&path=/v1/x", "HTTP/1.1 200 OK\nbad\n", "raw"),
    ("POST", "/__admin/responses/raw?path=/v1/x", "HTTP/1.1 200 OK\n", "method"),
    ("POST", "/__admin/responses/raw?method=GET", "HTTP/1.1 200 OK\n", "path"),
    ("POST", "/__admin/responses/raw?method=GET&path=/&keep=maybe", "HTTP/1.1 200 OK\n", "keep"),
    ("POST", "/__admin/responses/raw?method=GET&path=/&times=0", "HTTP/1.1 200 OK\n", "times"),
    ("POST", "/__admin/responses/raw?method=GET&path=/&query=[", "HTTP/1.1 200 OK\n", "query"),
    ("POST", "/__admin/responses/raw?method=GET&path=/&fault=x", "HTTP/1.1 200 OK\n", "fault"),
    ("POST", "/__admin/responses/raw?method=GET&path=/&ttl_s=z", "HTTP/1.1 200 OK\n", "ttl_s"),
    ("POST", "/__admin/responses/raw?method=GET&path=/&what=1", "HTTP/1.1 200 OK\n", "what"),
    ("POST", "/__admin/responses/raw?method=GET&path=/", "HTTP/1.1 101 Switching\n", "raw"),
    ("GET", "/__admin/responses?account=a%20b", None, "account"),
    ("GET", "/__admin/responses?acount=a", None, "acount"),
    ("GET", "/__admin/requests?since=x", None, "since"),
    ("GET", "/__admin/requests?limit=-1", None, "limit"),
    ("GET", "/__admin/requests?path=/[/", None, "path"),
    ("GET", "/__admin/requests?method=G%20T", None, "method"),
    ("POST", "/__admin/requests/find", "{", "$"),
    ("POST", "/__admin/requests/find", {"path": 5}, "path"),
    ("POST", "/__admin/requests/find", {"query": {"a": ["x"]}}, "query.a"),
    (
        "POST",
        "/__admin/requests/find",
        {"headers": {"Authorization": "/(/"}},
        "headers.Authorization",
    ),
    ("POST", "/__admin/requests/find", {"body_matches": []}, "body_matches"),
    ("POST", "/__admin/requests/find", {"limit": "all"}, "limit"),
    ("POST", "/__admin/requests/find", {"unknown": 1}, "unknown"),
    ("POST", "/__admin/requests/count", {"method": ""}, "method"),
    ("DELETE", "/__admin/requests?account=%20x", None, "account"),
    ("GET", "/__admin/requests/stream?since=-1", None, "since"),
]


@bounded(20)
async def test_every_bad_admin_input_is_a_400_problem_naming_the_field_and_changes_nothing(
    admin: MockClient, mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    await admin.queue("default", "GET", "/v1/x", body={"ok": True}, keep=True)
    await http.get(f"{mock.url}/v1/x")

    async def snapshot() -> Any:
        return (await admin.accounts(), await admin.responses("default"),
                await admin.requests("default"))  # fmt: skip

    before = await snapshot()
    for method, path, body, field in BAD_INPUT:
        data = body if isinstance(body, str) or body is None else json.dumps(body)
        async with http.request(method, mock.url + path, data=data) as response:
            problem = await response.json(content_type=None)
            where = f"{method} {path} {body!r}"
            assert response.status == 400, where
            assert response.headers["Content-Type"] == "application/problem+json", where
            assert problem["status"] == 400, where
            assert problem["field"] == field, (where, problem)
            assert set(problem) == {"type", "title", "status", "detail", "field"}, where
            assert problem["detail"], where
    assert await snapshot() == before


@bounded(10)
async def test_admin_errors_beyond_400(mock: RunningMock, http: aiohttp.ClientSession) -> None:
    wrong_method = await http.put(f"{mock.url}/__admin/responses")
    assert wrong_method.status == 405
    assert wrong_method.headers["Allow"] == "DELETE, GET, POST"
    assert (await wrong_method.json(content_type=None))["field"] == "method"
    unknown = await http.get(f"{mock.url}/__admin/nothing/here")
    assert unknown.status == 404
    assert unknown.headers["Content-Type"] == "application/problem+json"
    missing = await http.delete(f"{mock.url}/__admin/responses/no-such-id")
    assert (missing.status, (await missing.json(content_type=None))["field"]) == (404, "id")


@bounded(10)
async def test_client_raises_problems_with_status_title_and_detail(admin: MockClient) -> None:
    with pytest.raises(MockAdminError) as caught:
        await admin.queue("default", "GET", "/v1/x", status=99)
    assert caught.value.status == 400
    assert caught.value.problem["field"] == "status"
    assert str(caught.value).startswith("400 Invalid admin input: ")
    assert "status" in str(caught.value)


# -- raw blocks, find, responses ------------------------------------------------------


@bounded(10)
async def test_raw_response_block_as_specs_write_it(
    admin: MockClient, mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    await admin.queue_raw("nordic", "GET", "/v1/fota-jobs/bc631093", FOTA_JOB_RESPONSE)
    await admin.queue_raw(
        "nordic", "GET", "/v1/devices", "HTTP/1.1 503 Service Unavailable\nRetry-After: 1\n",
        query={"deviceIds": "/oob-1/"}, keep=True,
    )  # fmt: skip
    job = await http.get(f"{mock.url}/v1/fota-jobs/bc631093", headers=bearer("nordic"))
    assert job.status == 200 and job.headers["Content-Type"] == "application/json"
    assert await job.text() == FOTA_JOB_RESPONSE.split("\n\n", 1)[1].removesuffix("\n")
    busy = await http.get(f"{mock.url}/v1/devices?deviceIds=oob-1", headers=bearer("nordic"))
    assert (busy.status, busy.reason, busy.headers["Retry-After"]) == (
        503,
        "Service Unavailable",
        "1",
    )
    listed = await admin.responses("nordic")
    assert listed[0]["keep"] is True and listed[0]["query"] == {"deviceIds": "/oob-1/"}


@bounded(10)
async def test_find_verifies_calls_by_method_path_query_headers_and_body(
    admin: MockClient, mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    job = {"bundleId": "APP*1e29dfa3*v2.0.1", "autoApply": True, "deviceIdentifiers": ["oob-1"]}
    await http.post(f"{mock.url}/v1/fota-jobs", json=job, headers=bearer("n"))
    await http.get(
        f"{mock.url}/v1/devices?deviceIds=oob-1,oob-2&pageLimit=100", headers=bearer("n")
    )
    assert len(await admin.find("n", method="POST", path="/v1/fota-jobs/")) == 1
    assert len(await admin.find("n", path="/v1/devices", query={"deviceIds": "/\\boob-2\\b/"})) == 1
    assert await admin.find("n", path="/v1/devices", query={"deviceIds": "oob-1"}) == []
    # (Redis keeps `Authorization` redacted, memory keeps it whole: a pattern matches both.)
    assert len(await admin.find("n", headers={"authorization": "/^Bearer /"})) == 2
    assert len(await admin.find("n", headers={"content-type": "/json/i"})) == 1
    found = await admin.find("n", body_matches={"$.deviceIdentifiers[0]": "oob-1"})
    assert json.loads(found[0]["body"]) == job
    assert await admin.count("n") == 2
    since = (await admin.requests("n"))[0]["id"]
    assert [e["path"] for e in await admin.requests("n", since=since)] == ["/v1/devices"]
    assert len(await admin.requests("n", limit=1)) == 1


@bounded(10)
async def test_delete_one_response_or_all_and_reset(
    admin: MockClient, mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    first = await admin.queue("a", "GET", "/v1/x")
    await admin.queue("a", "GET", "/v1/y")
    detail = await http.get(f"{mock.url}/__admin/responses/{first}")
    assert (await detail.json())["remaining"] == 1
    await admin.delete_response(first)
    assert [r["path"] for r in await admin.responses("a")] == ["/v1/y"]
    await http.get(f"{mock.url}/v1/x", headers=bearer("a"))
    await admin.reset()
    assert await admin.responses("a") == []
    assert await admin.requests("a") == []
    assert await admin.health() == {"status": "ok"}


# -- faults, delay, ttl ---------------------------------------------------------------


@bounded(10)
async def test_faults_reset_and_empty(
    admin: MockClient, mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    await admin.queue("f", "POST", "/v1/reset", fault="reset")
    await admin.queue("f", "POST", "/v1/empty", fault="empty")
    with pytest.raises(aiohttp.ClientOSError) as reset:
        await http.post(f"{mock.url}/v1/reset", headers=bearer("f"))
    assert "reset" in str(reset.value).lower()
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await http.post(f"{mock.url}/v1/empty", headers=bearer("f"))
    journal = await admin.requests("f")
    assert [(e["response"]["fault"], e["response"]["status"]) for e in journal] == [
        ("reset", None), ("empty", None),
    ]  # fmt: skip
    # The server keeps serving after breaking connections on purpose.
    assert (await http.get(f"{mock.url}/v1/after", headers=bearer("f"))).status == 404


@bounded(10)
async def test_a_delayed_response_is_overtaken_by_a_later_call(
    admin: MockClient, mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    await admin.queue("d", "GET", "/v1/slow", body="slow", delay_ms=400)
    await admin.queue("d", "GET", "/v1/fast", body="fast")
    finished: list[str] = []

    async def get(path: str) -> None:
        async with http.get(f"{mock.url}{path}", headers=bearer("d")) as response:
            finished.append(await response.text())

    slow = asyncio.create_task(get("/v1/slow"))
    while not await admin.requests("d"):  # the slow call has been received
        await asyncio.sleep(0.01)
    await get("/v1/fast")
    await slow
    assert finished == ["fast", "slow"]


@bounded(10)
async def test_expired_responses_are_not_served(
    admin: MockClient, mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    await admin.queue("t", "GET", "/v1/x", body="fallback", keep=True)
    await admin.queue("t", "GET", "/v1/x", body="short-lived", ttl_s=0.05)
    await asyncio.sleep(0.3)
    answer = await http.get(f"{mock.url}/v1/x", headers=bearer("t"))
    assert await answer.text() == "fallback"
    assert [r["body"] for r in await admin.responses("t")] == ["fallback"]


# -- journal bound --------------------------------------------------------------------


@bounded(10)
async def test_journal_is_bounded_and_reports_what_it_dropped(
    http: aiohttp.ClientSession, store_options: dict[str, str]
) -> None:
    async with await start_mock(journal_limit=5, **store_options) as mock:
        for index in range(8):
            await http.get(f"{mock.url}/v1/call/{index}")
        journal = await (await http.get(f"{mock.url}/__admin/requests")).json()
        assert [e["path"] for e in journal["requests"]] == [f"/v1/call/{i}" for i in range(3, 8)]
        assert journal["dropped"] == 3
        accounts = await MockClient(mock.url, http).accounts()
        assert accounts[0] | {"last_request_id": None} == {
            "account": "default", "pending": 0, "requests": 5, "dropped": 3,
            "last_request_id": None,
        }  # fmt: skip


def _big_call(index: int) -> tuple[str, str]:
    return ("POST", "/v1/fota-jobs") if index % 1000 == 0 else ("GET", "/v1/devices")


async def _serve_pipelined(store: RedisStore, account: str, calls: list[tuple[str, str]]) -> None:
    """The Redis store's serving script for many calls, 1000 a round trip (a pipeline):
    what 100,000 calls over HTTP would leave, in a fraction of the time."""
    for start in range(0, len(calls), 1000):
        async with store.redis.pipeline(transaction=False) as pipe:
            for method, path in calls[start : start + 1000]:
                now = time.time()
                request = _request_json(now, account, method, path, (), (), None)
                await store._serve(
                    args=[store.prefix, store._ap(account), account, f"{method} {path}",
                          repr(now), "", "", "", request, 300, store.journal_limit, -1,
                          _NOT_FOUND_ANSWER],
                    client=pipe,
                )  # fmt: skip
            await pipe.execute()


@bounded(90)  # Redis: filling 100,000 entries takes about 20 s on a loaded 2-core machine
async def test_find_over_100000_entries(mock: RunningMock, admin: MockClient) -> None:
    store = mock.store

    if isinstance(store, Store):
        for index in range(100_000):
            store.serve(account_id("big"), *_big_call(index), (), (), b"")
    else:
        await _serve_pipelined(
            store, account_id("big"), [_big_call(index) for index in range(100_000)]
        )
    assert await admin.count("big") == 100_000
    assert await admin.count("big", path="/v1/devices") == 99_900
    assert len(await admin.find("big", method="POST", path="/v1/fota-jobs")) == 100
    # Fetching only the count of a big match (limit 0) is the cheap verification call.
    async with admin.session.post(
        f"{mock.url}/__admin/requests/find", json={"account": "big", "limit": 0}
    ) as response:
        assert await response.json() == {"requests": [], "count": 100_000}


# -- auth, CORS, SSE ------------------------------------------------------------------


@bounded(10)
async def test_require_auth_answers_401_without_a_key(
    http: aiohttp.ClientSession, store_options: dict[str, str]
) -> None:
    async with await start_mock(require_auth=True, **store_options) as mock:
        anonymous = await http.get(f"{mock.url}/v1/devices")
        assert anonymous.status == 401
        assert (await anonymous.json())["message"] == "Unauthorized"
        keyed = await http.get(f"{mock.url}/v1/devices", headers=bearer("k"))
        assert keyed.status == 404
        assert (await MockClient(mock.url, http).requests("default"))[0]["response"][
            "status"
        ] == 401


@bounded(10)
async def test_cors_on_by_default_with_preflight(
    admin: MockClient, mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    await admin.queue(
        "default", "POST", "/v1/fota-jobs", body={"jobId": "j"}, headers={"X-Id": "1"}
    )
    origin = {"Origin": "http://localhost:5173"}
    preflight = await http.options(
        f"{mock.url}/v1/fota-jobs",
        headers={**origin, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"},
    )  # fmt: skip
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert preflight.headers["Access-Control-Allow-Methods"] == "POST"
    assert preflight.headers["Access-Control-Allow-Headers"] == "authorization, content-type"
    actual = await http.post(f"{mock.url}/v1/fota-jobs", headers=origin, json={})
    assert actual.status == 200
    assert actual.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert "X-Id" in actual.headers["Access-Control-Expose-Headers"]
    unmatched = await http.get(f"{mock.url}/v1/none", headers=origin)
    assert unmatched.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    # The preflight is the browser's business, not a call to nRF Cloud: not journaled.
    assert [e["method"] for e in await admin.requests("default")] == ["POST", "GET"]


@bounded(10)
async def test_no_cors(http: aiohttp.ClientSession) -> None:
    async with await start_mock(cors=False) as mock:
        origin = {"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET"}
        preflight = await http.options(f"{mock.url}/v1/x", headers=origin)
        assert preflight.status == 404  # an ordinary call now, with nothing queued
        assert "Access-Control-Allow-Origin" not in preflight.headers


@bounded(10)
async def test_live_stream_sends_one_event_per_new_journal_entry(
    admin: MockClient, mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    await http.get(f"{mock.url}/v1/before", headers=bearer("s"))
    async with http.get(f"{mock.url}/__admin/requests/stream", params={"account": "s"}) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        await http.get(f"{mock.url}/v1/other-account", headers=bearer("t"))
        await admin.queue("s", "POST", "/v1/x", body={"ok": 1})
        await http.post(f"{mock.url}/v1/x", headers=bearer("s"), json={"a": 1})
        await http.get(f"{mock.url}/v1/y", headers=bearer("s"))
        events = await read_events(stream, 2)
    assert [(e["method"], e["path"]) for e in events] == [("POST", "/v1/x"), ("GET", "/v1/y")]
    assert events[0]["body"] == '{"a": 1}'
    assert events[0]["response"]["body"] == '{"ok":1}'
    assert events[1]["response"]["matched"] is False

    # `since` replays what came after that id first (what a reconnecting reader needs).
    first_id = (await admin.requests("s"))[0]["id"]
    async with http.get(
        f"{mock.url}/__admin/requests/stream", params={"account": "s", "since": str(first_id)}
    ) as replay:
        replayed = await read_events(replay, 2)
    assert [e["path"] for e in replayed] == ["/v1/x", "/v1/y"]


@bounded(10)
async def test_stopping_the_mock_ends_open_streams(
    http: aiohttp.ClientSession, store_options: dict[str, str]
) -> None:
    mock = await start_mock(**store_options)
    stream = await http.get(f"{mock.url}/__admin/requests/stream")
    await stream.content.readline()
    await mock.stop()
    await mock.stop()  # idempotent
    remaining = await stream.content.read()
    assert b"data:" not in remaining
    stream.release()


# -- load file and dashboard ----------------------------------------------------------


@bounded(10)
async def test_example_load_file_makes_a_believable_nrf_cloud(
    http: aiohttp.ClientSession, store_options: dict[str, str]
) -> None:
    async with await start_mock(load=EXAMPLE, **store_options) as mock:
        query = (
            "deviceIds=oob-352656108602296&includeState=true&includeStateMeta=true&pageLimit=100"
        )
        devices = await (await http.get(f"{mock.url}/v1/devices?{query}")).json()
        assert devices["total"] == len(devices["items"]) >= 3
        device = devices["items"][0]
        assert device["id"] == "oob-352656108602296"
        assert set(device["state"]) >= {"reported", "metadata", "version"}
        assert device["state"]["reported"]["device"]["serviceInfo"]["fota_v2"]
        single = await (await http.get(f"{mock.url}/v1/devices/oob-352656108602296")).json()
        assert single["id"] == device["id"]
        bundles = await (await http.get(f"{mock.url}/v1/firmwares")).json()
        assert any(b["bundleId"] == "APP*1e29dfa3*v2.0.1" for b in bundles["items"])
        jobs = await (await http.get(f"{mock.url}/v1/fota-jobs")).json()
        assert jobs["items"] and all("jobId" in j for j in jobs["items"])
        # Kept: served every time; reset goes back to the loaded file.
        client = MockClient(mock.url, http)
        loaded = await client.responses("default")
        await client.delete_responses("default")
        await client.reset()
        assert [r["path"] for r in await client.responses("default")] == [r["path"] for r in loaded]


@bounded(10)
async def test_dashboard_is_one_self_contained_page(
    mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    page = await http.get(f"{mock.url}/__admin/")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assert "/__admin/requests/stream" in html and "/__admin/responses" in html
    for external in ('src="http', "src='http", 'href="http', "@import", '<link rel="stylesheet'):
        assert external not in html
    redirect = await http.get(f"{mock.url}/__admin", allow_redirects=False)
    assert (redirect.status, redirect.headers["Location"]) == (302, "/__admin/")
