"""The mock on a developer's laptop and under faults: hosts, origins, secrets, bounds.

Each test here failed before the fix it covers (issue 16).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from support.mock_servers import bearer, read_events

from mock_nrfcloud.accounts import account_id
from mock_nrfcloud.client import MockClient
from mock_nrfcloud.redis_store import RedisStore
from mock_nrfcloud.server import RunningMock, start_mock


@pytest.fixture
async def mock(store_options: dict[str, str]) -> AsyncIterator[RunningMock]:
    """This module's tests run against both stores (conftest.py `store_options`)."""
    running = await start_mock(**store_options)
    yield running
    await running.stop()


@pytest.fixture
async def local_mock() -> AsyncIterator[RunningMock]:
    """In process only: tests that reach into the in-process store."""
    running = await start_mock()
    yield running
    await running.stop()


# -- Host: DNS rebinding ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/devices", "/__admin/requests", "/__bridge/messages"])
async def test_a_foreign_host_is_refused_everywhere(
    mock: RunningMock, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.get(mock.url + path, headers={"Host": "attacker.example"}) as response:
        assert response.status == 403
        problem = await response.json(content_type=None)
        assert problem["field"] == "Host"
        assert "--allowed-host" in problem["detail"]


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:8001", "127.0.0.1", "127.1.2.3:80", "[::1]:8001", "app.localhost"],
)
async def test_loopback_hosts_are_served(
    mock: RunningMock, http: aiohttp.ClientSession, host: str
) -> None:
    async with http.get(mock.url + "/__admin/health", headers={"Host": host}) as response:
        assert response.status == 200


async def test_an_allowed_host_is_served(http: aiohttp.ClientSession) -> None:
    async with await start_mock(allowed_hosts=["mock.internal"]) as mock:
        ok = await http.get(mock.url + "/v1/x", headers={"Host": "mock.internal:8001"})
        assert ok.status == 404  # served: nothing queued
        refused = await http.get(mock.url + "/v1/x", headers={"Host": "other.internal"})
        assert refused.status == 403


# -- admin origins ---------------------------------------------------------------------


async def test_admin_answers_no_page_of_another_origin(
    mock: RunningMock, admin: MockClient, http: aiohttp.ClientSession
) -> None:
    page = {"Origin": "http://evil.example"}
    # A "simple" request: browsers send it without a preflight, so refusing matters.
    posted = await http.post(
        mock.url + "/__admin/reset", headers={**page, "Content-Type": "text/plain"}, data="{}"
    )
    assert posted.status == 403
    assert "Access-Control-Allow-Origin" not in posted.headers
    read = await http.get(mock.url + "/__admin/requests", headers=page)
    assert read.status == 403
    assert "Access-Control-Allow-Origin" not in read.headers
    preflight = await http.options(
        mock.url + "/__admin/responses",
        headers={**page, "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    cross_site = await http.get(
        mock.url + "/__admin/requests", headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross_site.status == 403
    stream = await http.get(mock.url + "/__bridge/messages", headers=page)
    assert stream.status == 403
    ingress = await http.post(mock.url + "/__admin/device-messages", headers=page, data="{}")
    assert ingress.status == 403


async def test_admin_answers_its_own_dashboard_and_tools(
    mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    own = {"Origin": mock.url, "Sec-Fetch-Site": "same-origin"}
    assert (await http.get(mock.url + "/__admin/requests", headers=own)).status == 200
    assert (await http.get(mock.url + "/__admin/requests")).status == 200  # curl


async def test_admin_origin_allow_list(http: aiohttp.ClientSession) -> None:
    async with await start_mock(admin_origins=["http://localhost:5173"]) as mock:
        page = {"Origin": "http://localhost:5173"}
        read = await http.get(mock.url + "/__admin/requests", headers=page)
        assert read.status == 200
        assert read.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
        assert "Access-Control-Allow-Credentials" not in read.headers
        other = await http.get(
            mock.url + "/__admin/requests", headers={"Origin": "http://x.example"}
        )
        assert other.status == 403


async def test_mocked_paths_keep_cors_for_any_origin_without_credentials(
    mock: RunningMock, admin: MockClient, http: aiohttp.ClientSession
) -> None:
    await admin.queue("default", "GET", "/v1/devices", body={"items": []})
    page = {"Origin": "http://evil.example"}
    answer = await http.get(mock.url + "/v1/devices", headers=page)
    assert answer.status == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "http://evil.example"
    assert "Access-Control-Allow-Credentials" not in answer.headers
    preflight = await http.options(
        mock.url + "/v1/devices", headers={**page, "Access-Control-Request-Method": "GET"}
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://evil.example"
    assert "Access-Control-Allow-Credentials" not in preflight.headers


# -- secrets ---------------------------------------------------------------------------


async def test_no_api_key_in_any_journal_view(
    mock: RunningMock, admin: MockClient, http: aiohttp.ClientSession
) -> None:
    secret = "s3cr3t-api-key"
    async with (
        asyncio.timeout(10),
        http.get(mock.url + "/__admin/requests/stream", params={"account": secret}) as stream,
    ):
        await http.get(mock.url + "/v1/devices", headers=bearer(secret))
        await http.get(
            mock.url + "/v1/devices",
            headers={"Authorization": f"Bearer {secret}", "Proxy-Authorization": "Basic eDp5"},
        )
        events = await read_events(stream, 2)
    listed = await admin.requests(secret)
    found = await admin.find(secret, method="GET", path="/v1/devices")
    for entry in [*events, *listed, *found]:
        assert entry["headers"]["Authorization"] == "Bearer <redacted>"
        assert entry["account"] == account_id(secret)  # the account, by its id
    assert events[1]["headers"]["Proxy-Authorization"] == "Basic <redacted>"
    # The in-memory search still knows the header's value; Redis holds it redacted.
    by_value = await admin.find(secret, headers={"Authorization": f"Bearer {secret}"})
    assert len(by_value) == (0 if isinstance(mock.store, RedisStore) else 2)


async def test_no_api_key_in_the_state_file(tmp_path: Any, http: aiohttp.ClientSession) -> None:
    state = tmp_path / "state.sqlite"
    async with await start_mock(state=state) as mock:
        await http.get(
            mock.url + "/v1/devices", headers={"Authorization": "Basic bm90LWluLWZpbGU="}
        )
    assert b"bm90LWluLWZpbGU=" not in state.read_bytes()
    wal = state.with_name(state.name + "-wal")
    assert not wal.exists() or b"bm90LWluLWZpbGU=" not in wal.read_bytes()


# -- full matches and bad input --------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("headers", {"X-Name\n": "v"}),
        ("account", "key\n"),
        ("method", "GET\n"),
    ],
)
async def test_a_trailing_newline_is_refused(
    mock: RunningMock, http: aiohttp.ClientSession, field: str, value: Any
) -> None:
    spec = {"method": "GET", "path": "/v1/x", field: value}
    async with http.post(mock.url + "/__admin/responses", json=spec) as response:
        assert response.status == 400
        assert (await response.json(content_type=None))["field"].startswith(field)


async def test_a_bearer_key_the_admin_api_cannot_address_is_refused(
    mock: RunningMock, admin: MockClient, http: aiohttp.ClientSession
) -> None:
    answer = await http.get(mock.url + "/v1/x", headers={"Authorization": "Bearer a b"})
    assert answer.status == 401
    assert [e["response"]["status"] for e in await admin.requests("default")] == [401]


async def test_a_lone_surrogate_is_a_400(mock: RunningMock, http: aiohttp.ClientSession) -> None:
    raw = b'{"method": "GET", "path": "/v1/x", "body": {"name": "\\ud800"}}'
    async with http.post(mock.url + "/__admin/responses", data=raw) as response:
        assert response.status == 400
        assert (await response.json(content_type=None))["field"] == "$.body.name"
    raw = b'{"method": "GET", "path": "/v1/x", "body": "\\udfff"}'
    async with http.post(mock.url + "/__admin/responses", data=raw) as response:
        assert response.status == 400


async def test_deep_nesting_is_never_a_500(
    mock: RunningMock, admin: MockClient, http: aiohttp.ClientSession
) -> None:
    deep_body = "[" * 900 + "]" * 900
    queued = await http.post(
        mock.url + "/__admin/responses",
        data='{"method": "GET", "path": "/v1/x", "body": ' + deep_body + "}",
    )
    assert queued.status == 400
    await admin.queue("k", "POST", "/v1/deep", body_matches={"$..a": 1})
    for depth in (500, 5000, 100_000):
        call = await http.post(
            mock.url + "/v1/deep", headers=bearer("k"), data="[" * depth + "]" * depth
        )
        assert call.status == 404
    found = await http.post(
        mock.url + "/__admin/requests/find",
        json={"account": "k", "body_matches": {"$..a": 1}},
    )
    assert found.status == 200
    deep_path = "$" + ".a" * 5000
    refused = await http.post(
        mock.url + "/__admin/requests/find", json={"account": "k", "body_matches": {deep_path: 1}}
    )
    assert refused.status in (200, 400)


async def test_a_catastrophic_regex_does_not_stall_the_server(
    mock: RunningMock, admin: MockClient, http: aiohttp.ClientSession
) -> None:
    # With Python's backtracking engine each of these searches runs for minutes, blocking
    # the event loop (and so every other client); the bound below is a hang guard.
    await admin.queue("k", "GET", "/v1/x", query={"q": "/^(a+)+$/"})
    await admin.queue("k", "POST", "/v1/y", body_matches={"$.q": "/^(a|aa)+$/"})
    evil = "a" * 32 + "!"
    async with asyncio.timeout(20):
        assert (
            await http.get(mock.url + "/v1/x", params={"q": evil}, headers=bearer("k"))
        ).status == 404
        assert (
            await http.post(mock.url + "/v1/y", json={"q": evil}, headers=bearer("k"))
        ).status == 404
        found = await admin.find("k", query={"q": "/(x+x+)+y/"})
        assert found == []


async def test_a_regex_re2_cannot_run_is_refused_naming_the_field(
    mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    spec = {"method": "GET", "path": "/v1/x", "query": {"q": "/(a)\\1/"}}
    async with http.post(mock.url + "/__admin/responses", json=spec) as response:
        assert response.status == 400
        problem = await response.json(content_type=None)
        assert problem["field"] == "query.q"
        assert "RE2" in problem["detail"]


# -- bounded by design -----------------------------------------------------------------


def test_the_journal_is_bounded_by_bytes_as_well_as_entries() -> None:
    from mock_nrfcloud.journal import ENTRY_OVERHEAD_BYTES, Journal

    journal = Journal(limit=1000, max_bytes=10 * (ENTRY_OVERHEAD_BYTES + 1000 + 2))
    for n in range(25):
        entry = (n, 0.0, "k", "POST", "/x", (), (), b"b" * 1000, 404, None, False, None, (), None)
        journal.append(entry)  # type: ignore[arg-type]
    assert len(journal) == 10
    assert journal.dropped == 15
    assert journal.oldest_id == 15
    assert journal.bytes <= journal.max_bytes  # type: ignore[operator]
    huge = (99, 0.0, "k", "POST", "/x", (), (), b"b" * 10**6, 404, None, False, None, (), None)
    journal.append(huge)  # type: ignore[arg-type]
    assert [e[0] for e in journal.entries()] == [99]  # the newest is always kept


async def test_the_journal_byte_bound_over_http(http: aiohttp.ClientSession) -> None:
    async with await start_mock(journal_max_bytes=64 * 1024) as mock:
        for _ in range(20):
            await http.post(mock.url + "/v1/big", data=b"x" * 10_000)
        admin = MockClient(mock.url, http)
        summary = {a["account"]: a for a in await admin.accounts()}
        assert summary["default"]["requests"] < 20
        assert summary["default"]["dropped"] == 20 - summary["default"]["requests"]


async def test_idle_accounts_are_evicted(http: aiohttp.ClientSession, tmp_path: Any) -> None:
    async with await start_mock(idle_account_s=3600, state=tmp_path / "s.sqlite") as mock:
        admin = MockClient(mock.url, http)
        await admin.queue("run-1", "GET", "/v1/x")
        await http.get(mock.url + "/v1/y", headers=bearer("run-1"))
        await http.get(mock.url + "/v1/y")  # the default account
        store = mock.store
        assert store.evict_idle() == []  # not idle yet
        assert store.evict_idle(now=time.time() + 3601) == [account_id("run-1")]
        assert [a["account"] for a in await admin.accounts()] == ["default"]
        assert await admin.responses("run-1") == []
    async with await start_mock(state=tmp_path / "s.sqlite") as mock:
        admin = MockClient(mock.url, http)
        assert await admin.requests("run-1") == []  # gone from the state file too


async def test_a_slow_stream_reader_is_dropped_with_a_note(
    local_mock: RunningMock, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (In Redis a slow reader only reads later: the stream holds the backlog.)
    mock = local_mock
    import mock_nrfcloud.store

    monkeypatch.setattr(mock_nrfcloud.store, "SUBSCRIBER_BACKLOG", 5)
    async with (
        asyncio.timeout(10),
        http.get(mock.url + "/__admin/requests/stream", params={"account": "s"}) as stream,
    ):
        await stream.content.readline()  # connected: subscribed
        # Twenty calls without giving the stream a chance to send: it falls behind.
        for n in range(20):
            mock.store.serve(account_id("s"), "GET", f"/v1/{n}", (), (), b"")
        text = (await stream.content.read()).decode()
    assert "event: dropped" in text
    assert "reconnect with since=" in text
    assert not mock.store.accounts[account_id("s")].subscribers


# -- near misses -----------------------------------------------------------------------


async def test_an_unmatched_call_names_its_near_misses(
    mock: RunningMock, admin: MockClient, http: aiohttp.ClientSession
) -> None:
    by_query = await admin.queue("k", "GET", "/v1/devices", query={"deviceIds": "a"})
    by_body = await admin.queue("k", "POST", "/v1/fota-jobs", body_matches={"$.bundleId": "/^APP/"})
    answer = await http.get(
        mock.url + "/v1/devices", params={"deviceIds": "b"}, headers=bearer("k")
    )
    text = await answer.text()
    assert answer.status == 404
    lines = text.splitlines()
    assert lines[0] == "No responses found"
    assert (
        lines[3] == f"- GET /v1/devices (id {by_query}): query parameter deviceIds: "
        "expected 'a', got 'b'"
    )
    assert f"(id {by_body}): path: expected /v1/fota-jobs, got /v1/devices" in text
    posted = await http.post(
        mock.url + "/v1/fota-jobs", json={"bundleId": "MODEM*x"}, headers=bearer("k")
    )
    text = await posted.text()
    assert (
        f"- POST /v1/fota-jobs (id {by_body}): body matcher $.bundleId: expected '/^APP/',"
        " found 'MODEM*x'" in text
    )
    missing = await http.get(mock.url + "/v1/devices", headers=bearer("k"))
    assert "query parameter deviceIds: expected 'a', missing" in await missing.text()
    wrong_method = await http.delete(mock.url + "/v1/devices?deviceIds=a", headers=bearer("k"))
    assert "method: expected GET, got DELETE" in await wrong_method.text()
    # The journal (and so the dashboard) shows the same explanation.
    journal = await admin.requests("k")
    assert journal[0]["response"]["body"].startswith("No responses found\n\nClosest")
    # An account with nothing queued keeps the plain body.
    plain = await http.get(mock.url + "/v1/devices", headers=bearer("empty"))
    assert await plain.text() == "No responses found"


# -- response templates ----------------------------------------------------------------


async def test_a_template_uses_the_request_and_fresh_values(
    mock: RunningMock, admin: MockClient, http: aiohttp.ClientSession
) -> None:
    queued = await http.post(
        mock.url + "/__admin/responses",
        json={
            "account": "k",
            "method": "POST",
            "path": "/v1/fota-jobs",
            "keep": True,
            "template": True,
            "status": 200,
            "headers": {"Location": "/v1/fota-jobs/{{uuid}}"},
            "body": {
                "jobId": "{{uuid}}",
                "bundle": "{{request.body.bundleId}}",
                "first": "{{request.body.deviceIdentifiers.0}}",
                "count": "{{request.body.count}}",
                "missing": "{{request.body.nope}}",
                "text": "job for {{request.query.team}} at {{now}}",
                "ms": "{{now.ms}}",
                "method": "{{request.method}}",
                "segment": "{{request.path.1}}",
            },
        },
    )
    assert queued.status == 201
    assert "template" in await queued.json()
    answers = []
    for _ in range(2):
        async with http.post(
            mock.url + "/v1/fota-jobs?team=t1",
            headers=bearer("k"),
            json={"bundleId": "APP*1", "deviceIdentifiers": ["d1"], "count": 3},
        ) as response:
            assert response.status == 200
            answers.append((await response.json(), response.headers["Location"]))
    (first, location), (second, _) = answers
    assert first["jobId"] != second["jobId"]
    assert len(first["jobId"]) == 36
    assert location.startswith("/v1/fota-jobs/") and len(location) == len("/v1/fota-jobs/") + 36
    assert first["bundle"] == "APP*1" and first["first"] == "d1"
    assert first["count"] == 3 and first["missing"] is None
    assert first["text"].startswith("job for t1 at ") and first["text"].endswith("Z")
    assert isinstance(first["ms"], int)
    assert (first["method"], first["segment"]) == ("POST", "fota-jobs")
    journal = await admin.requests("k")
    assert json.loads(journal[0]["response"]["body"])["jobId"] == first["jobId"]


async def test_a_text_template_and_untemplated_bodies_are_left_alone(
    mock: RunningMock, admin: MockClient, http: aiohttp.ClientSession
) -> None:
    await admin.queue("k", "GET", "/v1/plain", body="{{uuid}} stays", keep=True)
    spec = {"account": "k", "method": "GET", "path": "/v1/t/x", "body": "seg={{request.path.2}}",
            "template": True}  # fmt: skip
    assert (await http.post(mock.url + "/__admin/responses", json=spec)).status == 201
    plain = await http.get(mock.url + "/v1/plain", headers=bearer("k"))
    assert await plain.text() == "{{uuid}} stays"
    templated = await http.get(mock.url + "/v1/t/x", headers=bearer("k"))
    assert await templated.text() == "seg=x"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"body": "{{request.nope}}"}, "body"),
        ({"body": {"a": "{{uuid"}}, "body"),
        ({"body": "{{request.path.x}}"}, "body"),
        ({"headers": {"X-A": "{{whatever}}"}}, "headers.X-A"),
        ({"body_base64": "AA=="}, "template"),
        ({"template": "yes"}, "template"),
    ],
)
async def test_a_bad_template_is_a_400_at_queue_time(
    mock: RunningMock, http: aiohttp.ClientSession, spec: dict[str, Any], field: str
) -> None:
    body = {"method": "GET", "path": "/v1/x", "template": True, **spec}
    async with http.post(mock.url + "/__admin/responses", json=body) as response:
        assert response.status == 400
        assert (await response.json(content_type=None))["field"] == field


async def test_without_cors_other_pages_are_still_refused(http: aiohttp.ClientSession) -> None:
    async with await start_mock(cors=False) as mock:
        posted = await http.post(
            mock.url + "/__admin/reset", headers={"Origin": "http://evil.example"}, data="{}"
        )
        assert posted.status == 403


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_nan_is_not_json(
    mock: RunningMock, http: aiohttp.ClientSession, constant: str
) -> None:
    raw = '{"method": "GET", "path": "/v1/x", "body": {"v": ' + constant + "}}"
    async with http.post(mock.url + "/__admin/responses", data=raw) as response:
        assert response.status == 400
        assert constant.lstrip("-") in (await response.json(content_type=None))["detail"]
