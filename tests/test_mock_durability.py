"""``--state`` under ``kill -9``, a second process, a held lock and a damaged row.

Each test here failed before the fix it covers (issue 16).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from support.processes import MOCK, run_module, server_process

from mock_nrfcloud.client import MockAdminError, MockClient
from mock_nrfcloud.server import start_mock

BURST = 400


async def test_every_answered_call_survives_kill_minus_9_during_a_burst(tmp_path: Path) -> None:
    state = tmp_path / "mock.sqlite"
    answered: set[str] = set()
    with server_process(MOCK, "--state", str(state)) as server:
        url = server.url
        async with (
            asyncio.timeout(30),
            MockClient(url) as admin,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20)) as http,
        ):
            await admin.queue("k", "GET", "/v1/kept", body={"ok": True}, keep=True)
            headers = {"Authorization": "Bearer k"}

            async def call(n: int) -> None:
                # Kept and unmatched answers: before the fix, flushed every 50 ms.
                path = "/v1/kept" if n % 2 else "/v1/nothing"
                try:
                    async with http.get(f"{url}{path}?n={n}", headers=headers) as r:
                        await r.read()
                        answered.add(str(n))
                except aiohttp.ClientError:
                    pass  # cut off by the kill: not answered, may be missing

            queued: set[str] = set()

            async def queue(n: int) -> None:
                # Cut off by the kill: not acknowledged, may be missing.
                with contextlib.suppress(aiohttp.ClientError, MockAdminError):
                    queued.add(await admin.queue("q", "GET", f"/v1/queued/{n}", keep=True))

            calls = [asyncio.create_task(call(n)) for n in range(BURST)]
            calls += [asyncio.create_task(queue(n)) for n in range(BURST // 4)]
            while len(answered) < BURST // 2:
                await asyncio.sleep(0.001)
            server.kill9()
            await asyncio.gather(*calls)
    assert len(answered) >= BURST // 2
    with server_process(MOCK, "--state", str(state)) as server:
        url = server.url
        async with asyncio.timeout(15), MockClient(url) as admin:
            journaled = {e["query"]["n"] for e in await admin.requests("k")}
            kept = {r["id"] for r in await admin.responses("q")}
    assert answered - journaled == set()
    assert queued and queued - kept == set()


def test_a_second_process_on_the_same_state_file_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "mock.sqlite"
    with server_process(MOCK, "--state", str(state)):
        result = run_module(MOCK, "--port", "0", "--state", str(state))
    assert result.returncode == 2
    assert f"the state file {state} is in use by another process" in result.stderr
    assert "Traceback" not in result.stderr


async def _one_call(url: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/v1/x") as response:
        assert response.status == 404


async def _queue(url: str) -> None:
    async with MockClient(url) as admin:
        await admin.queue("k", "GET", "/v1/x")


@pytest.mark.parametrize(
    ("fill", "damage", "named"),
    [
        (
            _one_call,
            "UPDATE journal SET data = '{not json' WHERE id = 1",
            "row 1 of table journal is damaged",
        ),
        (_queue, "UPDATE responses SET spec = '{\"method\": 1}'", "of table responses is damaged"),
    ],
    ids=["journal", "responses"],
)
def test_a_damaged_row_is_named_at_start(
    tmp_path: Path, fill: Callable[[str], Awaitable[None]], damage: str, named: str
) -> None:
    state = tmp_path / "mock.sqlite"
    with server_process(MOCK, "--state", str(state)) as server:
        url = server.url
        asyncio.run(fill(url))
    db = sqlite3.connect(state)
    db.execute(damage)
    db.commit()
    db.close()
    result = run_module(MOCK, "--port", "0", "--state", str(state))
    assert result.returncode == 2
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_a_lock_held_at_start_is_a_clear_error(tmp_path: Path) -> None:
    state = tmp_path / "mock.sqlite"
    holder = sqlite3.connect(state, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE IF NOT EXISTS responses (id TEXT)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = run_module(MOCK, "--port", "0", "--state", str(state))
    finally:
        holder.close()
    assert result.returncode == 2
    assert f"cannot use the state file {state}" in result.stderr
    assert "locked" in result.stderr
    assert "Traceback" not in result.stderr


async def test_a_lock_held_while_serving_is_a_503_not_a_freeze_or_500(tmp_path: Path) -> None:
    state = tmp_path / "mock.sqlite"
    async with await start_mock(state=state) as mock, aiohttp.ClientSession() as http:
        holder = sqlite3.connect(state, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            async with asyncio.timeout(10):
                queued = await http.post(
                    f"{mock.url}/__admin/responses", json={"method": "GET", "path": "/v1/a"}
                )
                assert queued.status == 503
                assert (await queued.json(content_type=None))["type"].endswith("state-unavailable")
                served = await http.get(f"{mock.url}/v1/a")
                assert served.status == 503
        finally:
            holder.close()
        # Nothing was acknowledged, nothing was queued; once free, it serves again.
        assert (await http.get(f"{mock.url}/__admin/responses")).status == 200
        assert (await (await http.get(f"{mock.url}/__admin/responses")).json())["responses"] == []
        assert (await http.get(f"{mock.url}/v1/a")).status == 404


@pytest.mark.parametrize("argument", [["--journal-max-mb", "0"], ["--idle-account-s", "-1"]])
def test_bad_bounds_are_refused(argument: list[str]) -> None:
    result = run_module(MOCK, *argument)
    assert result.returncode == 2
    assert argument[0] in result.stderr


def test_help_lists_the_new_options() -> None:
    result = run_module(MOCK, "--help")
    for option in ("--allowed-host", "--admin-origin", "--journal-max-mb", "--idle-account-s"):
        assert option in result.stdout
