"""Accounts by id, never by API key (issue 16: "no API key appears in any journal view").

A call with `Authorization: Bearer <key>` lands in the account `acct-<16 hex>` derived
from the key (mock_nrfcloud/accounts.py). Every view, the state file and Redis hold the
id only; the admin API addresses the account by its key or by its id. The tests that
look for the key failed before accounts had ids: each view carried the key itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis
from support.mock_servers import bearer
from support.redis_server import fresh_prefix

from mock_nrfcloud.accounts import account_id, address, bearer_refusal, is_account_id
from mock_nrfcloud.client import MockClient
from mock_nrfcloud.journal import entry_json
from mock_nrfcloud.persistence import FORMAT, SqliteState, StateFileError
from mock_nrfcloud.redis_store import RedisStore
from mock_nrfcloud.server import RunningMock, start_mock
from mock_nrfcloud.validation import parse_response_spec

KEY = "sk-laptop-7f3a9c41"
KEY_ID = account_id(KEY)


@pytest.fixture
async def mock(store_options: dict[str, str]) -> AsyncIterator[RunningMock]:
    """This module's view tests run against both stores (conftest.py `store_options`)."""
    running = await start_mock(**store_options)
    yield running
    await running.stop()


async def _text(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> str:
    async with http.request(method, url, **kwargs) as response:
        assert response.status < 500, (url, response.status)
        return await response.text()


async def _first_event(stream: aiohttp.ClientResponse) -> str:
    """The raw text of the first server-sent event carrying data."""
    text = ""
    async for line in stream.content:
        text += line.decode()
        if line.startswith(b"data: "):
            return text
    raise AssertionError(f"the stream ended before an event: {text!r}")


async def _redis_contents(store: Any) -> bytes:
    """Every key under the store's prefix and every value, as bytes."""
    client = Redis.from_url(store.url)
    try:
        found = b""
        async for key in client.scan_iter(match=store.prefix + "*"):
            found += key + b"\n"
            kind = (await client.type(key)).decode()
            if kind == "string":
                found += await client.get(key) or b""
            elif kind == "hash":
                for name, value in (await client.hgetall(key)).items():
                    found += name + b"=" + value + b"\n"
            elif kind == "zset":
                found += b"\n".join(await client.zrange(key, 0, -1))
            elif kind == "list":
                found += b"\n".join(await client.lrange(key, 0, -1))
            elif kind == "set":
                found += b"\n".join(await client.smembers(key))
            elif kind == "stream":
                for _, fields in await client.xrange(key):
                    for name, value in fields.items():
                        found += name + b"=" + value + b"\n"
            else:
                raise AssertionError(f"unexpected Redis type {kind} of {key!r}")
            found += b"\n"
        return found
    finally:
        await client.aclose()


# -- the id ------------------------------------------------------------------------------


def test_the_id_is_stable_non_secret_and_distinct() -> None:
    assert "acct-" + hashlib.sha256(KEY.encode()).hexdigest()[:16] == KEY_ID
    assert KEY not in KEY_ID and is_account_id(KEY_ID)
    assert account_id("another-key") != KEY_ID
    # No key, and the reference backend's placeholder key, are the default account.
    assert account_id(None) == account_id("") == account_id("default") == "default"
    # The admin API: an id is the id, anything else a key.
    assert address(KEY_ID) == address(KEY) == KEY_ID
    assert address("default") == "default"
    assert bearer_refusal(KEY) is None
    assert "account id" in (bearer_refusal(KEY_ID) or "")


# -- every view --------------------------------------------------------------------------


async def test_no_view_shows_the_api_key(mock: RunningMock, http: aiohttp.ClientSession) -> None:
    url = mock.url
    admin = MockClient(url, http)
    await admin.queue(KEY, "GET", "/v1/devices", query={"deviceIds": "a"}, body={"ok": 1})
    async with (
        asyncio.timeout(10),
        http.get(url + "/__admin/requests/stream", params={"account": KEY}) as stream,
    ):
        async with http.get(url + "/v1/devices?deviceIds=b", headers=bearer(KEY)) as near_miss:
            assert near_miss.status == 404
            near_miss_body = await near_miss.text()
        first_event = await _first_event(stream)
    assert "Closest queued responses" in near_miss_body  # the near-miss body is there
    await admin.send_device_message(KEY, "d1", transport="mqtt", topic="m/d/d1/d2c", payload={})
    await http.get(url + "/v1/account", headers=bearer(KEY))

    find = {"account": KEY, "path": "/v1/devices"}
    views = {
        "near miss": near_miss_body,
        "stream": first_event,
        "requests": await _text(http, "GET", url + "/__admin/requests", params={"account": KEY}),
        "find": await _text(http, "POST", url + "/__admin/requests/find", json=find),
        "count": await _text(http, "POST", url + "/__admin/requests/count", json=find),
        "responses": await _text(http, "GET", url + "/__admin/responses", params={"account": KEY}),
        "accounts": await _text(http, "GET", url + "/__admin/accounts"),
        # What the dashboard asks for a key typed in: the id it names.
        "account of a key": await _text(
            http, "GET", url + "/__admin/accounts", params={"account": KEY}
        ),
        "dashboard": await _text(http, "GET", url + "/__admin/"),
        "bridge feed": await _text(
            http, "GET", url + "/__bridge/messages?since=0", headers=bearer(KEY)
        ),
    }
    for name, text in views.items():
        assert KEY not in text, name
    for name in ("stream", "requests", "find", "responses", "accounts", "account of a key"):
        assert KEY_ID in views[name], name
    assert json.loads(views["account of a key"])["account"] == KEY_ID
    entries = json.loads(views["requests"])["requests"]
    assert len(entries) == 3
    assert {entry["account"] for entry in entries} == {KEY_ID}
    assert json.loads(first_event.partition("data: ")[2])["account"] == KEY_ID
    assert [a["account"] for a in await admin.accounts()] == [KEY_ID]

    if isinstance(mock.store, RedisStore):
        contents = await _redis_contents(mock.store)
        assert KEY_ID.encode() in contents  # the dump did see the account
        assert KEY.encode() not in contents


async def test_the_account_is_addressed_by_its_key_or_its_id(
    mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    admin = MockClient(mock.url, http)
    await admin.queue(KEY_ID, "GET", "/v1/by-id", body="id")
    await admin.queue(KEY, "GET", "/v1/by-key", body="key")
    assert [r["path"] for r in await admin.responses(KEY)] == ["/v1/by-id", "/v1/by-key"]
    assert await admin.responses(KEY) == await admin.responses(KEY_ID)
    for path, body in (("/v1/by-id", "id"), ("/v1/by-key", "key")):
        async with http.get(mock.url + path, headers=bearer(KEY)) as answer:
            assert (answer.status, await answer.text()) == (200, body)
    assert await admin.requests(KEY) == await admin.requests(KEY_ID)
    assert len(await admin.find(KEY_ID, path="/v1/by-key")) == 1
    assert await admin.count(KEY) == await admin.count(KEY_ID) == 2
    # A device message sent to the id is on the feed the key reads.
    await admin.send_device_message(KEY_ID, "d1", transport="mqtt", topic="m/d/d1/x", payload={})
    async with http.get(mock.url + "/__bridge/messages?since=0", headers=bearer(KEY)) as feed:
        assert len((await feed.json())["messages"]) == 1
    await admin.clear_requests(KEY_ID)
    assert await admin.requests(KEY) == []
    # Another key is another account.
    assert await admin.requests("another-key") == []


async def test_a_third_party_host_account_is_its_names_id(
    mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    admin = MockClient(mock.url, http)
    await admin.queue("api.memfault.com", "GET", "/api.memfault.com/api/v0/x", body="m")
    async with http.get(mock.url + "/api.memfault.com/api/v0/x") as answer:
        assert await answer.text() == "m"
    (entry,) = await admin.requests("api.memfault.com")
    assert entry["account"] == account_id("api.memfault.com")


# -- bearer keys the admin API could not address --------------------------------------


async def test_a_bearer_key_of_the_id_form_is_refused(
    mock: RunningMock, http: aiohttp.ClientSession
) -> None:
    """Such a key would be taken for the id by the admin API: another account. Refused
    with a 401 naming why, rather than kept where no one could address it by its key."""
    admin = MockClient(mock.url, http)
    await admin.queue(KEY_ID, "GET", "/v1/x", body="not for an id as key", keep=True)
    async with http.get(mock.url + "/v1/x", headers=bearer(KEY_ID)) as answer:
        assert answer.status == 401
        body = await answer.json()
    assert body["code"] == 40100 and "account id" in body["message"]
    (entry,) = await admin.requests("default")
    assert entry["response"]["status"] == 401
    assert await admin.requests(KEY_ID) == []
    async with http.get(mock.url + "/__bridge/messages?since=0", headers=bearer(KEY_ID)) as feed:
        assert feed.status == 401
        assert "account id" in (await feed.json(content_type=None))["detail"]
    # `Bearer default` (the reference backend's placeholder) is the default account.
    async with http.get(mock.url + "/v1/y", headers=bearer("default")) as answer:
        assert answer.status == 404
    assert len(await admin.requests("default")) == 2


# -- the state file ----------------------------------------------------------------------


def _file_bytes(state: Path) -> bytes:
    """The state file and its write-ahead log, as they lie on disk."""
    wal = state.with_name(state.name + "-wal")
    return state.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def test_the_state_file_holds_ids_only(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    state = tmp_path / "state.sqlite"
    async with await start_mock(state=state) as running:
        admin = MockClient(running.url, http)
        await admin.queue(KEY, "GET", "/v1/kept", body="k", keep=True)
        await admin.queue(KEY, "GET", "/v1/pending", body="p")
        await http.get(running.url + "/v1/kept", headers=bearer(KEY))
        await admin.send_device_message(KEY, "d1", transport="mqtt", topic="m/d/d1/x", payload={})
        on_disk = _file_bytes(state)
    assert KEY.encode() not in on_disk
    assert KEY_ID.encode() in on_disk
    # Another process (a restart) finds the same account by the key and by the id.
    async with await start_mock(state=state) as running:
        admin = MockClient(running.url, http)
        assert len(await admin.requests(KEY)) == 2
        assert await admin.requests(KEY) == await admin.requests(KEY_ID)
        assert [r["path"] for r in await admin.responses(KEY)] == ["/v1/kept", "/v1/pending"]
        async with http.get(running.url + "/v1/pending", headers=bearer(KEY)) as answer:
            assert await answer.text() == "p"


def _format_1_file(state: Path) -> None:
    """A state file as a mock that kept accounts by key left it (no meta.format)."""
    SqliteState(state).close()  # the tables (unchanged since format 1)
    db = sqlite3.connect(state)
    spec = parse_response_spec({"method": "GET", "path": "/v1/old", "body": "old", "keep": True})
    spec["account"] = KEY
    entry = (7, 1.7e9, KEY, "GET", "/v1/old", (), (("Authorization", "Bearer x"),), None,
             200, "r1", True, None, (), b"old")  # fmt: skip
    with db:
        db.execute("DELETE FROM meta")
        db.execute(
            "INSERT INTO responses (id, account, seq, spec, remaining, expires_at, created)"
            " VALUES ('r1', ?, 1, ?, 1, NULL, 1.7e9)",
            (KEY, json.dumps(spec)),
        )
        db.execute(
            "INSERT INTO journal (id, account, ts, data) VALUES (7, ?, 1.7e9, ?)",
            (KEY, entry_json(entry)),  # type: ignore[arg-type]
        )
        db.execute("INSERT INTO accounts (name, dropped) VALUES (?, 3)", (KEY,))
    db.close()
    assert KEY.encode() in _file_bytes(state)


async def test_a_format_1_state_file_is_migrated_to_ids(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    state = tmp_path / "old.sqlite"
    _format_1_file(state)
    async with await start_mock(state=state) as running:
        admin = MockClient(running.url, http)
        (entry,) = await admin.requests(KEY)
        assert (entry["id"], entry["account"]) == (7, KEY_ID)
        (response,) = await admin.responses(KEY_ID)
        assert (response["id"], response["account"]) == ("r1", KEY_ID)
        assert [(a["account"], a["dropped"]) for a in await admin.accounts()] == [(KEY_ID, 3)]
        async with http.get(running.url + "/v1/old", headers=bearer(KEY)) as answer:
            assert await answer.text() == "old"
    assert KEY.encode() not in _file_bytes(state)  # vacuumed: no key in freed pages
    db = sqlite3.connect(state)
    assert db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone() == (str(FORMAT),)
    db.close()


def test_a_state_file_of_a_newer_format_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "new.sqlite"
    SqliteState(state).close()
    db = sqlite3.connect(state)
    with db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'format'")
    db.close()
    with pytest.raises(StateFileError, match=r"meta.format is '99'; this mock reads format 2"):
        SqliteState(state)
    db = sqlite3.connect(state)
    with db:
        db.execute("UPDATE meta SET value = '2' WHERE key = 'format'")
    db.close()
    SqliteState(state).close()  # the refusal let go of the file's lock


async def test_redis_accounts_of_an_older_mock_are_named_without_their_keys(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = fresh_prefix()
    client = Redis.from_url(redis_url)
    try:
        await client.hset(prefix + "accounts", KEY, "1700000000")  # an older mock's account
        with caplog.at_level("WARNING", logger="mock_nrfcloud.redis_store"):
            store = await RedisStore.open(redis_url, prefix=prefix)
            await store.close()
    finally:
        await client.aclose()
    (warning,) = [r.getMessage() for r in caplog.records if "older mock" in r.getMessage()]
    assert "1 account(s)" in warning and "POST /__admin/reset" in warning
    assert KEY not in warning
