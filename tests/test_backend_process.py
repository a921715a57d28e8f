"""The backend as a process: `python -m reference_backend` with `--state` surviving
`kill -9`, `--load`, Ctrl-C, and start-up errors."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest
from support.backend import ADMIN_TOKEN, job_details, receive_until, shadow_item
from support.processes import BACKEND, ServerProcess, run_module, started

from mock_nrfcloud.client import MockClient
from mock_nrfcloud.server import RunningMock


async def spawn(*args: str) -> ServerProcess:
    return await started(BACKEND, "--log-level", "WARNING", *args)


async def test_state_survives_kill_9(
    mock: RunningMock, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    state = tmp_path / "backend.sqlite"
    options = (
        "--state",
        str(state),
        "--admin-token",
        ADMIN_TOKEN,
        "--shadow-interval",
        "0.05",
        "--job-interval",
        "0.05",
    )
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with MockClient(mock.url) as nrf:
        await _kill_9_and_restart(nrf, mock, http, options, admin)


async def _kill_9_and_restart(
    nrf: MockClient, mock: RunningMock, http: aiohttp.ClientSession, options: tuple, admin: dict
) -> None:
    backend = await spawn(*options)
    try:
        body = {"name": "acc", "apiEndpoint": mock.url, "apiKey": "acc-key"}
        assert (
            await http.post(f"{backend.url}/__admin/accounts", json=body, headers=admin)
        ).status == 201
        response = await http.post(
            f"{backend.url}/__admin/devices",
            json={"model": "PCA20065", "account": "acc"},
            headers=admin,
        )
        device = await response.json()
        device_id, fingerprint = device["id"], device["fingerprint"]
        await nrf.queue(
            "acc-key", "GET", "/v1/devices", body={"items": [shadow_item(device_id, 1)]}, keep=True
        )
        await nrf.queue("acc-key", "POST", "/v1/fota-jobs", body={"jobId": "job-1"})
        await nrf.queue("acc-key", "GET", "/v1/fota-jobs/job-1", body=job_details("job-1"))
        url = f"{backend.url}/device/{device_id}/fota/app?fingerprint={fingerprint}"
        response = await http.post(url, json={"upgradePath": {"2.0.0": "APP*1e29dfa3*v2.0.1"}})
        assert response.status == 201
    finally:
        backend.kill9()  # no shutdown code runs

    backend = await spawn(*options)
    try:
        identity = await http.get(f"{backend.url}/device?fingerprint={fingerprint}")
        assert (await identity.json())["id"] == device_id
        # the known shadow was kept: it comes on connect
        ws = await http.ws_connect(f"{backend.ws_url}?fingerprint={fingerprint}")
        await receive_until(ws, lambda m: m["@context"].endswith("/shadow"))
        # the job was kept, and is followed again
        jobs_url = f"{backend.url}/device/{device_id}/fota/jobs?fingerprint={fingerprint}"
        assert [j["id"] for j in (await (await http.get(jobs_url)).json())["jobs"]] == ["job-1"]
        await nrf.queue(
            "acc-key",
            "GET",
            "/v1/fota-jobs/job-1",
            body=job_details("job-1", "COMPLETED", "t2"),
            keep=True,
        )
        message = await receive_until(ws, lambda m: m["@context"].endswith("/fota/job-execution"))
        assert message["status"] == "COMPLETED"
        await ws.close()
    finally:
        backend.kill9()


async def test_load_and_ctrl_c(
    mock: RunningMock, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    devices = tmp_path / "example.yaml"
    devices.write_text(
        "devices:\n"
        "  - {id: oob-352656108602296, fingerprint: 92b.y7k24q, model: PCA20065}\n"
        "  - {id: oob-352656108602297, fingerprint: 92b.y7k24r, model: PCA20065, account: elite}\n"
    )
    nrf = MockClient(mock.url)
    # the nordic account uses the default API key `default`; `elite` its own name
    await nrf.queue(
        "default",
        "GET",
        "/v1/devices",
        body={"items": [shadow_item("oob-352656108602296", 1)]},
        keep=True,
    )
    await nrf.queue(
        "elite",
        "GET",
        "/v1/devices",
        body={"items": [shadow_item("oob-352656108602297", 1)]},
        keep=True,
    )
    backend = await spawn(
        "--nrfcloud", mock.url, "--load", str(devices), "--shadow-interval", "0.05"
    )
    try:
        for fingerprint in ("92b.y7k24q", "92B.Y7K24R"):
            ws = await http.ws_connect(f"{backend.ws_url}?fingerprint={fingerprint}")
            await receive_until(ws, lambda m: m["@context"].endswith("/shadow"))
            await ws.close()
        # no admin API without --admin-token
        response = await http.post(f"{backend.url}/__admin/devices", json={"model": "X"})
        assert response.status == 404
        code, _, stderr = await asyncio.to_thread(backend.stop, signal.SIGINT)
        assert code == 0
        assert "Traceback" not in stderr
    finally:
        backend.kill9()
        await nrf.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--load", "/nonexistent/devices.yaml"), "cannot be read"),
        (("--shadow-interval", "0"), "greater than 0"),
        (("--nrfcloud", "not a url"), "http(s) URL"),
    ],
)
def test_start_up_errors(args: tuple[str, ...], message: str) -> None:
    result = run_module(BACKEND, "--port", "0", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
