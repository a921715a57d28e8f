"""The local stack of the README, started as a frontend developer does (`mock-nrfcloud
--load example.yaml` and `hello-backend --load example.yaml`, as processes): one device
takes three updates in a row through each API generation, and the progress reaches its
websocket. (Before, every job got the same nRF Cloud job ID from a kept response, and the
second update failed.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from support.processes import BACKEND, EXAMPLE, MOCK, ServerProcess, started

PROTO = "https://github.com/hello-nrfcloud/proto/"
# the README's intervals for the local stack
README_INTERVALS = ("--shadow-interval", "1", "--job-interval", "1")


@pytest.fixture
async def local_stack() -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """The README's local stack as processes: the backend's URL and an HTTP client."""
    processes: list[ServerProcess] = []
    try:
        mock = await started(MOCK, "--load", str(EXAMPLE))
        processes.append(mock)
        backend = await started(
            BACKEND, "--nrfcloud", mock.url, "--load", str(EXAMPLE),
            "--log-level", "WARNING", *README_INTERVALS,
        )  # fmt: skip
        processes.append(backend)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
            yield backend.url, http
    finally:
        for process in reversed(processes):
            await asyncio.to_thread(process.stop)


async def next_message(ws: aiohttp.ClientWebSocketResponse, wanted: Any) -> dict[str, Any]:
    """The first message for which `wanted` holds, within 20 s."""

    async def wait() -> dict[str, Any]:
        while True:
            message = await ws.receive()
            assert message.type == aiohttp.WSMsgType.TEXT, message
            data = json.loads(message.data)
            if wanted(data):
                return data

    return await asyncio.wait_for(wait(), 20)


def job_is(job_id: str, status: str) -> Any:
    return lambda message: message.get("id") == job_id and message.get("status") == status


def reports_app(version: str) -> Any:
    def check(message: dict[str, Any]) -> bool:
        return message["@context"] == PROTO + "shadow" and any(
            o["ObjectID"] == 14204 and o["Resources"].get("3") == version
            for o in message["reported"]
        )

    return check


async def three_updates_2024_04_17(url: str, http: aiohttp.ClientSession) -> None:
    """The Thingy:91 X, on 2.0.0, through the real frontend's API."""
    device, fingerprint = "oob-352656108602296", "92b.K7XQ2D"
    ws_url = url.replace("http://", "ws://") + f"/2024-04-17/ws?fingerprint={fingerprint}"
    async with http.ws_connect(ws_url) as ws:
        await next_message(ws, reports_app("2.0.0"))
        for old, new, bundle in (
            ("2.0.0", "2.0.1", "APP*1e29dfa3*v2.0.1"),
            ("2.0.1", "2.0.2", "APP*2b3c4d5e*v2.0.2"),
            ("2.0.2", "2.0.3", "APP*3c4d5e6f*v2.0.3"),
        ):
            body = {"upgradePath": {old: bundle}}
            post = f"{url}/2024-04-17/device/{device}/fota/app?fingerprint={fingerprint}"
            async with http.post(post, json=body) as r:
                job = await r.json()
                assert r.status == 201, job
            started = await next_message(ws, job_is(job["id"], "IN_PROGRESS"))
            assert started["statusDetail"] == f"Started job for version {old} with bundle {bundle}."
            done = await next_message(ws, job_is(job["id"], "SUCCEEDED"))
            assert done["statusDetail"] == f"No more bundles to apply for {new}. Job completed."


async def three_updates_root(url: str, http: aiohttp.ClientSession) -> None:
    """The Thingy:91, on 1.1.3, through the seed's API at the root."""
    device, fingerprint = "oob-352656108602297", "92b.M3RW8P"
    ws_url = url.replace("http://", "ws://") + f"/ws?fingerprint={fingerprint}"
    async with http.ws_connect(ws_url) as ws:
        await next_message(ws, reports_app("1.1.3"))
        job_ids = []
        for old, new in (("1.1.3", "1.1.4"), ("1.1.4", "1.1.5"), ("1.1.5", "1.1.6")):
            body = {"upgradePath": {old: f"APP*6f1b8a52*v{new}"}}
            post = f"{url}/device/{device}/fota/app?fingerprint={fingerprint}"
            async with http.post(post, json=body) as r:
                job = await r.json()
                assert r.status == 201, job
            job_ids.append(job["id"])
            # nRF Cloud completing the job and the device reporting the new version come
            # in either order
            waiting = [job_is(job["id"], "COMPLETED"), reports_app(new)]
            while waiting:
                seen = await next_message(ws, lambda m, ws_=waiting: any(w(m) for w in ws_))
                waiting = [w for w in waiting if not w(seen)]
        assert len(set(job_ids)) == 3  # each update its own nRF Cloud job
        async with http.get(f"{url}/device/{device}/fota/jobs?fingerprint={fingerprint}") as r:
            listed = (await r.json())["jobs"]
        assert [j["id"] for j in listed] == job_ids[::-1]
        assert {j["status"] for j in listed} == {"COMPLETED"}


async def test_three_updates_in_a_row_on_the_example_stack(
    local_stack: tuple[str, aiohttp.ClientSession],
) -> None:
    url, http = local_stack
    await asyncio.gather(three_updates_2024_04_17(url, http), three_updates_root(url, http))
