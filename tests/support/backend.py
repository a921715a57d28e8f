"""Helpers for the backend's tests: the mock nRF Cloud and a backend on loopback ports
(`Stack`; the `stack` fixture in tests/conftest.py), shadow and job documents, and
websocket helpers."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from mock_nrfcloud.client import MockClient
from mock_nrfcloud.server import RunningMock, start_mock
from reference_backend.server import RunningBackend, start_backend


async def receive_until(
    ws: aiohttp.ClientWebSocketResponse, predicate: Any, timeout: float = 5.0
) -> dict[str, Any]:
    """The first message (parsed) for which predicate holds; earlier ones are skipped."""

    async def wait() -> dict[str, Any]:
        while True:
            message = await ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"websocket ended: {message.type} {message.data!r}")
            data = json.loads(message.data)
            if predicate(data):
                return data

    return await asyncio.wait_for(wait(), timeout)


ADMIN_TOKEN = "test-admin-token"
# the `@context` of the backend's messages, written out as they go over the wire (not
# taken from reference_backend.contexts), and bundles of the mock's firmware list
PROTO = "https://github.com/hello-nrfcloud/proto/"
IDENTITY = "https://github.com/hello-nrfcloud/proto/deviceIdentity"
SHADOW = "https://github.com/hello-nrfcloud/proto/shadow"
UPDATE = "https://github.com/hello-nrfcloud/proto/lwm2m/object/update"
JOB = "https://github.com/hello-nrfcloud/proto/fota/job-execution"
JOBS = "https://github.com/hello-nrfcloud/proto/fota/job-executions"
APP_1 = "APP*1e29dfa3*v2.0.1"
APP_2 = "APP*cd5412d9*v2.0.2"
FOTA_TYPES = ["BOOT", "MODEM", "APP"]
_counter = 0


def shadow_item(
    device_id: str,
    version: int,
    *,
    app: str | None = "2.0.0",
    modem: str | None = None,
    fota: list[str] | None = FOTA_TYPES,
    ts: int = 1716801888,
    network: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One item of nRF Cloud's `GET /v1/devices` answer, shaped like the specs' ones."""
    device_info: dict[str, Any] = {}
    if app is not None:
        device_info["appVersion"] = app
    if modem is not None:
        device_info["modemFirmware"] = modem
    reported: dict[str, Any] = {"deviceInfo": device_info}
    meta: dict[str, Any] = {"deviceInfo": {k: {"timestamp": ts} for k in device_info}}
    if fota is not None:
        reported["serviceInfo"] = {"fota_v2": fota}
        meta["serviceInfo"] = {"fota_v2": [{"timestamp": ts + 1} for _ in fota]}
    if network is not None:
        reported["networkInfo"] = network
        meta["networkInfo"] = {k: {"timestamp": ts + 2} for k in network}
    return {
        "id": device_id,
        "state": {
            "reported": {"device": reported},
            "metadata": {"reported": {"device": meta}},
            "version": version,
        },
    }


def job_details(
    job_id: str,
    status: str = "IN_PROGRESS",
    updated: str = "2024-01-01T00:00:00.000Z",
    version: str = "v2.0.1",
    detail: str = "Job auto applied",
) -> dict[str, Any]:
    return {
        "jobId": job_id,
        "status": status,
        "statusDetail": detail,
        "lastUpdatedAt": updated,
        "createdAt": "2024-01-01T00:00:00.000Z",
        "firmware": {"bundleId": f"APP*1e29dfa3*{version}", "version": version},
        "target": {"deviceIds": [], "tags": []},
    }


@dataclass
class Stack:
    """The mock nRF Cloud and a backend on loopback ports, the mock's client, and an HTTP
    client. Accounts are named after their API key, so the name is the mock account."""

    mock: RunningMock
    nrf: MockClient
    backend: RunningBackend
    http: aiohttp.ClientSession
    admin: dict[str, str] = field(
        default_factory=lambda: {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )

    async def account(self) -> str:
        """A new account in the backend; its name is also its API key (the mock account)."""
        global _counter
        _counter += 1
        name = f"account-{_counter}-{id(self)}"
        r = await self.http.post(
            self.backend.url + "/__admin/accounts",
            json={"name": name, "apiEndpoint": self.mock.url, "apiKey": name},
            headers=self.admin,
        )
        assert r.status == 201, await r.text()
        return name

    async def device(self, account: str | None, model: str = "PCA20065") -> tuple[str, str]:
        body: dict[str, Any] = {"model": model}
        if account is not None:
            body["account"] = account
        r = await self.http.post(
            self.backend.url + "/__admin/devices", json=body, headers=self.admin
        )
        assert r.status == 201, await r.text()
        data = await r.json()
        return data["id"], data["fingerprint"]

    async def shadow(self, account: str, item: dict[str, Any]) -> None:
        """Serve this shadow item, kept, for shadow requests that name its device."""
        await self.nrf.queue(
            account,
            "GET",
            "/v1/devices",
            query={
                "deviceIds": "/\\b" + re.escape(item["id"]) + "\\b/",
                "includeState": "true",
                "includeStateMeta": "true",
                "pageLimit": "100",
            },
            body={"items": [item], "total": 1},
            keep=True,
        )

    async def device_with_shadow(self, **shadow: Any) -> tuple[str, str, str]:
        """A new account with one device whose nRF Cloud shadow is
        `shadow_item(device_id, 1, **shadow)`: (account, device ID, fingerprint)."""
        account = await self.account()
        device_id, fingerprint = await self.device(account)
        await self.shadow(account, shadow_item(device_id, 1, **shadow))
        return account, device_id, fingerprint

    async def connect(self, fingerprint: str) -> aiohttp.ClientWebSocketResponse:
        return await self.http.ws_connect(f"{self.backend.ws_url}?fingerprint={fingerprint}")

    def device_url(self, device_id: str, fingerprint: str | None, rest: str) -> str:
        url = f"{self.backend.url}/device/{device_id}/{rest}"
        return url if fingerprint is None else f"{url}?fingerprint={fingerprint}"


async def open_stack(**backend_options: Any) -> Stack:
    """The mock and a backend talking to it; `backend_options` go to `start_backend`
    (a `third_parties` given as a function is called with the mock's URL)."""
    mock = await start_mock()
    if callable(backend_options.get("third_parties")):
        backend_options["third_parties"] = backend_options["third_parties"](mock.url)
    options = {
        "admin_token": ADMIN_TOKEN,
        "shadow_interval": 0.05,
        "job_interval": 0.05,
        "nrfcloud_timeout": 1.0,
        **backend_options,
    }
    backend = await start_backend(**options)
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    return Stack(mock, MockClient(mock.url), backend, http)


async def close_stack(stack: Stack) -> None:
    await stack.http.close()
    await stack.backend.stop()
    await stack.nrf.close()
    await stack.mock.stop()


async def eventually(check: Any, timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Calls the async `check` until it returns something truthy; that value."""

    async def loop() -> Any:
        while True:
            value = await check()
            if value:
                return value
            await asyncio.sleep(interval)

    return await asyncio.wait_for(loop(), timeout)


async def assert_problem(response: aiohttp.ClientResponse, status: int) -> dict[str, Any]:
    text = await response.text()
    assert response.status == status, f"{response.status} {text}"
    assert response.headers["Content-Type"].startswith("application/problem+json"), text
    body = json.loads(text)
    assert body["@context"] == "https://github.com/hello-nrfcloud/proto/ProblemDetail"
    assert body["status"] == status and body["title"] and body["detail"]
    return body
