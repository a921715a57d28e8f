"""The nRF Cloud REST API calls the backend makes, each bounded by a timeout.

Every failure (unreachable, reset, timeout, an unexpected status, a body that is not
the JSON we need) is an NrfCloudError whose message says what happened; callers turn
it into a 502 or, when polling, try again at the next interval.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from reference_backend.store import Account

SHADOW_PAGE_LIMIT = 100


class NrfCloudError(Exception):
    pass


class NrfCloud:
    def __init__(self, session: aiohttp.ClientSession, timeout: float) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._timeout_s = timeout

    async def device_shadows(self, account: Account, device_ids: list[str]) -> list[dict[str, Any]]:
        """The shadow items of up to SHADOW_PAGE_LIMIT devices, in one call."""
        query = {
            "deviceIds": ",".join(device_ids),
            "includeState": "true",
            "includeStateMeta": "true",
            "pageLimit": str(SHADOW_PAGE_LIMIT),
        }
        _, body = await self._call(account, "GET", "/v1/devices", query=query)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise NrfCloudError("nRF Cloud's device list has no `items` array.")
        return [item for item in items if isinstance(item, dict)]

    async def update_desired(self, account: Account, device_id: str, lwm2m: Any) -> None:
        """Configure a device: its desired state's `lwm2m` (in the LwM2M shadow form)."""
        await self._call(
            account, "PATCH", f"/v1/devices/{quote(device_id, safe='')}/state",
            body={"desired": {"lwm2m": lwm2m}}, parse=False,
        )  # fmt: skip

    async def location_history(
        self, account: Account, device_id: str, start: str, end: str, page_token: str | None
    ) -> Any:
        """One page of the device's location history (the JSON as nRF Cloud answers it)."""
        query = {"pageLimit": "100", "deviceId": device_id, "start": start, "end": end}
        if page_token is not None:
            query["pageNextToken"] = page_token
        _, body = await self._call(account, "GET", "/v1/location/history", query=query)
        return body

    async def create_fota_job(self, account: Account, bundle_id: str, device_id: str) -> str:
        """Creates a FOTA job and returns its jobId."""
        # exactly these keys in this order, as nRF Cloud's documentation and the specs show
        body = {"bundleId": bundle_id, "autoApply": True, "deviceIdentifiers": [device_id]}
        _, answer = await self._call(account, "POST", "/v1/fota-jobs", body=body)
        job_id = answer.get("jobId") if isinstance(answer, dict) else None
        if not isinstance(job_id, str) or not job_id:
            raise NrfCloudError("nRF Cloud's answer to creating the FOTA job has no `jobId`.")
        return job_id

    async def fota_job(self, account: Account, job_id: str) -> dict[str, Any] | None:
        """The FOTA job's details; None when nRF Cloud does not know the job (yet)."""
        status, body = await self._call(
            account, "GET", f"/v1/fota-jobs/{quote(job_id, safe='')}", allow_404=True
        )
        if status == 404:
            return None
        if not isinstance(body, dict):
            raise NrfCloudError("nRF Cloud's FOTA job is not a JSON object.")
        return body

    async def cancel_fota_job(self, account: Account, job_id: str) -> None:
        await self._call(
            account, "PUT", f"/v1/fota-jobs/{quote(job_id, safe='')}/cancel", parse=False
        )

    async def _call(
        self,
        account: Account,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        allow_404: bool = False,
        parse: bool = True,
    ) -> tuple[int, Any]:
        url = URL(account.api_endpoint + path, encoded=True)
        if query:
            url = url.with_query(query)
        headers = {"Authorization": f"Bearer {account.api_key}", "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, separators=(",", ":"))
        what = f"{method} {path}"
        try:
            async with self._session.request(
                method, url, headers=headers, data=data, timeout=self._timeout
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError as e:
            raise NrfCloudError(
                f"nRF Cloud did not answer {what} within {self._timeout_s:g} s."
            ) from e
        except (aiohttp.ClientError, OSError, ValueError) as e:
            # ValueError: e.g. header values aiohttp refuses to send
            raise NrfCloudError(
                f"nRF Cloud could not be reached for {what}: {_describe(e)}."
            ) from e
        if status == 404 and allow_404:
            return status, None
        if not 200 <= status < 300:
            raise NrfCloudError(f"nRF Cloud answered {what} with status {status}.")
        if not parse:
            return status, None
        try:
            return status, json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise NrfCloudError(f"nRF Cloud's answer to {what} is not valid JSON.") from e


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
