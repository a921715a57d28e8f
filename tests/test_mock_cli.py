"""``mock-nrfcloud`` as a process: listening, Ctrl-C, ``--load`` errors, ``--state`` and kill -9."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import aiohttp
import pytest
from support.processes import EXAMPLE, MOCK, run_module, server_process

from mock_nrfcloud.client import MockClient


async def test_serves_and_stops_cleanly_on_ctrl_c() -> None:
    with server_process(MOCK, "--load", str(EXAMPLE)) as server:
        url = server.url
        assert url.startswith("http://127.0.0.1:")
        async with asyncio.timeout(10), aiohttp.ClientSession() as http:
            async with http.get(f"{url}/v1/firmwares") as response:
                assert response.status == 200
                assert (await response.json())["total"] >= 1
            async with http.get(f"{url}/__admin/health") as response:
                assert await response.json() == {"status": "ok"}
            # An open live stream must not hold the shutdown up.
            stream = await http.get(f"{url}/__admin/requests/stream")
            await stream.content.readline()
            code, stdout, stderr = server.stop(signal.SIGINT)
            stream.release()
    assert code == 0, stderr
    assert "stopped" in stdout
    assert "Traceback" not in stderr


def test_a_bad_load_file_is_refused_naming_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("responses:\n  - method: GET\n    path: /v1/x\n  - method: GET\n    path: x\n")
    result = run_module(MOCK, "--port", "0", "--load", str(bad))
    assert result.returncode == 2
    assert f"{bad}: responses[1].path: " in result.stderr
    assert "Traceback" not in result.stderr

    broken = tmp_path / "broken.json"
    broken.write_text('{"responses": [}')
    result = run_module(MOCK, "--load", str(broken))
    assert result.returncode == 2
    assert "line 1 column 16" in result.stderr


def test_help_lists_the_options() -> None:
    result = run_module(MOCK, "--help")
    assert result.returncode == 0
    for option in ("--host", "--port", "--load", "--state", "--require-auth", "--no-cors",
                   "--journal-limit", "--redis", "--redis-prefix", "--workers"):  # fmt: skip
        assert option in result.stdout
    assert "--reuse-port" not in result.stdout  # a worker's own option


async def test_state_survives_kill_minus_9(tmp_path: Path) -> None:
    state = tmp_path / "mock.sqlite"
    with server_process(MOCK, "--state", str(state)) as server:
        url = server.url
        async with asyncio.timeout(15), MockClient(url) as admin, aiohttp.ClientSession() as http:
            twice = await admin.queue(
                "nordic", "POST", "/v1/fota-jobs", body={"jobId": "a"}, times=2
            )
            kept = await admin.queue("nordic", "GET", "/v1/devices", body={"items": []}, keep=True)
            gone = await admin.queue("nordic", "GET", "/v1/gone")
            headers = {"Authorization": "Bearer nordic"}
            async with http.post(f"{url}/v1/fota-jobs", headers=headers, json={"n": 1}) as r:
                assert r.status == 200
            async with http.get(f"{url}/v1/gone", headers=headers) as r:
                assert r.status == 200
            async with http.get(f"{url}/v1/devices?x=1", headers=headers) as r:
                assert r.status == 200
            # The last acknowledged admin call: everything before it is on disk.
            last = await admin.queue("other", "GET", "/v1/account", ttl_s=3600, times=2)
            # Using a one-shot response is on disk before it is answered.
            async with http.get(
                f"{url}/v1/account", headers={"Authorization": "Bearer other"}
            ) as r:
                assert r.status == 200
        server.kill9()

    with server_process(MOCK, "--state", str(state)) as server:
        url = server.url
        async with asyncio.timeout(15), MockClient(url) as admin, aiohttp.ClientSession() as http:
            pending = {r["id"]: r for r in await admin.responses("nordic")}
            assert set(pending) == {twice, kept}
            assert pending[twice]["remaining"] == 1
            assert [(r["id"], r["remaining"]) for r in await admin.responses("other")] == [
                (last, 1)
            ]
            journal = await admin.requests("nordic")
            assert [(e["method"], e["path"]) for e in journal] == [
                ("POST", "/v1/fota-jobs"), ("GET", "/v1/gone"), ("GET", "/v1/devices"),
            ]  # fmt: skip
            assert json.loads(journal[0]["body"]) == {"n": 1}
            assert journal[2]["query"] == {"x": "1"}
            assert journal[1]["response"]["response_id"] == gone
            # Serving goes on where it stopped: the last use of `twice`, then nothing.
            headers = {"Authorization": "Bearer nordic"}
            async with http.post(f"{url}/v1/fota-jobs", headers=headers) as r:
                assert r.status == 200
            async with http.post(f"{url}/v1/fota-jobs", headers=headers) as r:
                assert r.status == 404
            ids = [e["id"] for e in await admin.requests("nordic")]
            assert ids == sorted(set(ids))  # new entries continue the numbering


@pytest.mark.parametrize("argument", [["--journal-limit", "-1"], ["--port", "70000"]])
def test_bad_arguments_are_refused(argument: list[str]) -> None:
    result = run_module(MOCK, *argument)
    assert result.returncode == 2
    assert argument[0] in result.stderr


def test_a_state_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    state.write_text("this is not a database, " * 20)
    result = run_module(MOCK, "--port", "0", "--state", str(state))
    assert result.returncode == 2
    assert f"cannot use the state file {state}" in result.stderr
    assert "Traceback" not in result.stderr
