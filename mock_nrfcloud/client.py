"""An async client for the mock's admin API (used by the spec steps).

Every ``account`` is the account's API key or its id (``accounts.account_id``); the
mock answers with the id only.

client = MockClient("http://127.0.0.1:8001")
await client.queue("my-api-key", "POST", "/v1/fota-jobs", body={"jobId": "..."})
...
calls = await client.find("my-api-key", method="POST", path="/v1/fota-jobs")
await client.close()
"""

from __future__ import annotations

import base64
import json
from types import TracebackType
from typing import Any

import aiohttp


class MockAdminError(Exception):
    """The admin API refused a call; ``problem`` is its problem+json body."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        title = problem.get("title") or "Admin call failed"
        detail = problem.get("detail") or ""
        field = problem.get("field")
        where = f" (field {field})" if field else ""
        super().__init__(f"{status} {title}: {detail}{where}")


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


class MockClient:
    """Admin API client; owns its HTTP session only if it created it."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            self._owns_session = True
        return self._session

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        data: str | None = None,
    ) -> Any:
        kwargs: dict[str, Any] = {}
        if params:
            kwargs["params"] = {k: str(v) for k, v in params.items() if v is not None}
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body)
            kwargs["headers"] = {"Content-Type": "application/json"}
        elif data is not None:
            kwargs["data"] = data.encode()
            kwargs["headers"] = {"Content-Type": "text/plain; charset=utf-8"}
        async with self.session.request(method, self.base_url + path, **kwargs) as response:
            text = await response.text()
            if response.status >= 400:
                try:
                    problem = json.loads(text)
                except ValueError:
                    problem = None
                if not isinstance(problem, dict):
                    problem = {
                        "title": response.reason or "Error",
                        "status": response.status,
                        "detail": text,
                    }
                raise MockAdminError(response.status, problem)
            if not text:
                return None
            return json.loads(text)

    # -- responses -------------------------------------------------------------------

    async def queue(
        self,
        account: str,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
        body: str | dict[str, Any] | list[Any] | bytes | None = None,
        keep: bool = False,
        times: int = 1,
        ttl_s: float | None = None,
        delay_ms: int | None = None,
        fault: str | None = None,
        body_matches: dict[str, Any] | None = None,
    ) -> str:
        """Queue a response; returns its id. ``bytes`` bodies are sent as base64."""
        spec: dict[str, Any] = {
            "account": account,
            "method": method,
            "path": path,
            "query": query,
            "status": status,
            "headers": headers,
            "ttl_s": ttl_s,
            "delay_ms": delay_ms,
            "fault": fault,
            "body_matches": body_matches,
        }
        if isinstance(body, bytes):
            spec["body_base64"] = base64.b64encode(body).decode()
        else:
            spec["body"] = body
        if keep:
            spec["keep"] = True
        else:
            spec["times"] = times
        result = await self._call("POST", "/__admin/responses", json_body=_drop_none(spec))
        return result["id"]

    async def queue_raw(
        self,
        account: str,
        method: str,
        path: str,
        raw: str,
        *,
        query: dict[str, str] | None = None,
        keep: bool = False,
    ) -> str:
        """Queue a response written as a raw ``HTTP/1.1 200 OK`` block; returns its id."""
        params: dict[str, Any] = {"account": account, "method": method, "path": path}
        if query:
            params["query"] = json.dumps(query)
        if keep:
            params["keep"] = "true"
        result = await self._call("POST", "/__admin/responses/raw", params=params, data=raw)
        return result["id"]

    async def responses(self, account: str) -> list[dict[str, Any]]:
        result = await self._call("GET", "/__admin/responses", params={"account": account})
        return result["responses"]

    async def delete_response(self, id: str) -> None:
        await self._call("DELETE", f"/__admin/responses/{id}")

    async def delete_responses(self, account: str) -> None:
        await self._call("DELETE", "/__admin/responses", params={"account": account})

    # -- journal ---------------------------------------------------------------------

    async def requests(
        self,
        account: str,
        *,
        method: str | None = None,
        path: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        last: int | None = None,
    ) -> list[dict[str, Any]]:
        """Journal entries of ``account``, oldest first (``last``: only the newest N)."""
        params = {
            "account": account,
            "method": method,
            "path": path,
            "since": since,
            "limit": limit,
            "last": last,
        }
        result = await self._call("GET", "/__admin/requests", params=params)
        return result["requests"]

    async def find(
        self,
        account: str,
        *,
        method: str | None = None,
        path: str | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body_matches: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Journal entries that match every given criterion, oldest first."""
        spec = _drop_none(
            {
                "account": account,
                "method": method,
                "path": path,
                "query": query,
                "headers": headers,
                "body_matches": body_matches,
            }
        )
        result = await self._call("POST", "/__admin/requests/find", json_body=spec)
        return result["requests"]

    async def count(self, account: str, **criteria: Any) -> int:
        """How many journal entries match (same criteria as ``find``)."""
        spec = _drop_none({"account": account, **criteria})
        result = await self._call("POST", "/__admin/requests/count", json_body=spec)
        return result["count"]

    async def clear_requests(self, account: str) -> None:
        await self._call("DELETE", "/__admin/requests", params={"account": account})

    # -- the whole mock --------------------------------------------------------------

    async def send_device_message(
        self,
        account: str,
        device_id: str,
        *,
        transport: str,
        topic: str | None = None,
        method: str | None = None,
        resource: str | None = None,
        payload: Any = None,
        payload_bytes: bytes | None = None,
    ) -> dict[str, Any]:
        """A simulated device of ``account`` sends a message (MQTT: ``topic`` and a JSON
        ``payload``; CoAP: ``method``, ``resource`` and the CBOR ``payload_bytes``, or SenML
        JSON in ``payload`` for the mock to encode). Returns ``{"seq", "topic"}`` of the
        message on the account's bridge feed."""
        spec: dict[str, Any] = {
            "account": account,
            "deviceId": device_id,
            "transport": transport,
            "topic": topic,
            "method": method,
            "resource": resource,
        }
        spec = _drop_none(spec)
        if payload_bytes is not None:
            spec["payloadBase64"] = base64.b64encode(payload_bytes).decode()
        else:
            spec["payload"] = payload
        return await self._call("POST", "/__admin/device-messages", json_body=spec)

    async def accounts(self) -> list[dict[str, Any]]:
        result = await self._call("GET", "/__admin/accounts")
        return result["accounts"]

    async def reset(self) -> None:
        await self._call("POST", "/__admin/reset")

    async def health(self) -> dict[str, Any]:
        return await self._call("GET", "/__admin/health")

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> MockClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
