"""Both API generations from one backend: the shared routes under both bases, each
base's FOTA, websocket notifications only to connections of their generation, the
2024-04-17 flow against the mock nRF Cloud (multi-bundle, abort, failures), bundles
with pagination, and a FOTA job creation answered after our timeout."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiohttp
import pytest
from support.backend import (
    ADMIN_TOKEN,
    APP_1,
    APP_2,
    PROTO,
    Stack,
    assert_problem,
    close_stack,
    eventually,
    job_details,
    open_stack,
    receive_until,
    shadow_item,
)

from reference_backend.server import start_backend
from reference_backend.ulid import is_ulid

DATED = "/2024-04-17"


@pytest.fixture
def stack_options() -> dict[str, Any]:
    return {"nrfcloud_timeout": 0.5}


def url(stack: Stack, base: str, device_id: str, fingerprint: str, rest: str) -> str:
    return f"{stack.backend.url}{base}/device/{device_id}/{rest}?fingerprint={fingerprint}"


async def connect(stack: Stack, base: str, fingerprint: str) -> aiohttp.ClientWebSocketResponse:
    root = stack.backend.url.replace("http://", "ws://")
    return await stack.http.ws_connect(f"{root}{base}/ws?fingerprint={fingerprint}")


async def jobs(stack: Stack, device_id: str, fingerprint: str) -> list[dict[str, Any]]:
    r = await stack.http.get(url(stack, DATED, device_id, fingerprint, "fota/jobs"))
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["@context"] == PROTO + "fota/jobs" and body["deviceId"] == device_id
    return body["jobs"]


async def job_becomes(stack: Stack, device_id: str, fingerprint: str, **fields: Any) -> dict:
    async def check() -> dict | None:
        found = await jobs(stack, device_id, fingerprint)
        if found and all(found[0].get(k) == v for k, v in fields.items()):
            return found[0]
        return None

    return await eventually(check)


async def calls(stack: Stack, account: str, method: str, path: str) -> list[dict[str, Any]]:
    return await stack.nrf.requests(account, method=method, path=path)


async def test_both_bases_serve_the_shared_routes(stack: Stack) -> None:
    _, device_id, fingerprint = await stack.device_with_shadow()
    for base in ("", DATED):
        r = await stack.http.get(f"{stack.backend.url}{base}/health")
        assert (await r.json())["@context"] == PROTO + "api/health"
        r = await stack.http.get(f"{stack.backend.url}{base}/device?fingerprint={fingerprint}")
        assert (await r.json())["id"] == device_id
        ws = await connect(stack, base, fingerprint)
        assert (await ws.receive_json())["@context"] == PROTO + "deviceIdentity"
        await ws.close()
    # the test set-up API lives at the root only
    r = await stack.http.post(f"{stack.backend.url}{DATED}/__admin/devices", json={})
    assert r.status in (401, 404)


async def test_each_base_has_its_own_fota_and_notifications(stack: Stack) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow()
    root_ws = await connect(stack, "", fingerprint)
    dated_ws = await connect(stack, DATED, fingerprint)
    cloud_1, cloud_2 = str(uuid.uuid4()), str(uuid.uuid4())
    # the seed's job at the root: named by nRF Cloud's ID, a job execution
    await stack.nrf.queue(account, "POST", "/v1/fota-jobs", body={"jobId": cloud_1})
    await stack.nrf.queue(account, "GET", f"/v1/fota-jobs/{cloud_1}", body=job_details(cloud_1))
    body = {"upgradePath": {"2.0.0": APP_1}}
    r = await stack.http.post(url(stack, "", device_id, fingerprint, "fota/app"), json=body)
    seed_job = await r.json()
    assert r.status == 201 and seed_job["@context"] == PROTO + "fota/job-execution"
    assert seed_job["id"] == cloud_1
    # the 2024-04-17 job: a ULID, NEW; the seed's unfinished app job does not count
    await stack.nrf.queue(account, "POST", "/v1/fota-jobs", body={"jobId": cloud_2})
    r = await stack.http.post(url(stack, DATED, device_id, fingerprint, "fota/app"), json=body)
    job = await r.json()
    assert r.status == 201, job
    assert job["@context"] == PROTO + "fota/job" and is_ulid(job["id"])
    assert job["status"] == "NEW" and job["statusDetail"] == "The job has been created"
    assert job["reportedVersion"] == "2.0.0" and job["upgradePath"] == {"2.0.0": APP_1}
    assert job["timestamp"].endswith("Z") and len(job["timestamp"]) == 24
    # each base lists its own jobs
    r = await stack.http.get(url(stack, "", device_id, fingerprint, "fota/jobs"))
    assert [j["id"] for j in (await r.json())["jobs"]] == [cloud_1]
    await job_becomes(stack, device_id, fingerprint, id=job["id"], status="IN_PROGRESS")
    # the abort notifies the 2024-04-17 socket only; the seed's cancel the root one only
    await stack.nrf.queue(account, "PUT", f"/v1/fota-jobs/{cloud_2}/cancel", status=202)
    r = await stack.http.delete(url(stack, DATED, device_id, fingerprint, f"fota/job/{job['id']}"))
    assert r.status == 202 and await r.read() == b""
    await stack.nrf.queue(account, "PUT", f"/v1/fota-jobs/{cloud_1}/cancel", status=202)
    r = await stack.http.delete(url(stack, "", device_id, fingerprint, f"fota/jobs/{cloud_1}"))
    assert r.status == 202

    seen: dict[str, list[str]] = {"root": [], "dated": []}

    def fota(name: str, status: str) -> Any:
        def check(message: dict) -> bool:
            if message["@context"].startswith(PROTO + "fota/"):
                seen[name].append(message["@context"])
                return message["status"] == status
            return False

        return check

    await receive_until(dated_ws, fota("dated", "FAILED"))
    await receive_until(root_ws, fota("root", "CANCELLED"))
    # each socket got its own generation's notifications, and none of the other's
    assert set(seen["dated"]) == {PROTO + "fota/job"}
    assert set(seen["root"]) == {PROTO + "fota/job-execution"}
    await root_ws.close()
    await dated_ws.close()
    assert await eventually(lambda: calls(stack, account, "PUT", f"/v1/fota-jobs/{cloud_2}/cancel"))


async def test_the_multi_bundle_flow_needs_completion_and_a_new_version(stack: Stack) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow()
    ws = await connect(stack, DATED, fingerprint)
    cloud_1, cloud_2 = str(uuid.uuid4()), str(uuid.uuid4())
    await stack.nrf.queue(account, "POST", "/v1/fota-jobs", body={"jobId": cloud_1})
    body = {"upgradePath": {"2.0.0": APP_1, "2.0.1": APP_2}}
    r = await stack.http.post(url(stack, DATED, device_id, fingerprint, "fota/modem"), json=body)
    job_id = (await r.json())["id"]
    started = await receive_until(ws, lambda m: m.get("status") == "IN_PROGRESS")
    assert started["statusDetail"] == f"Started job for version 2.0.0 with bundle {APP_1}."
    # the device reports 2.0.1 before nRF Cloud completes: not enough on its own
    await stack.shadow(account, shadow_item(device_id, 2, app="2.0.1", ts=1716801999))
    await receive_until(
        ws,
        lambda m: (
            m["@context"] == PROTO + "shadow"
            and any(o["Resources"].get("3") == "2.0.1" for o in m["reported"])
        ),
    )
    assert (await jobs(stack, device_id, fingerprint))[0]["reportedVersion"] == "2.0.0"
    await stack.nrf.queue(account, "POST", "/v1/fota-jobs", body={"jobId": cloud_2})
    await stack.nrf.queue(
        account, "GET", f"/v1/fota-jobs/{cloud_1}", body=job_details(cloud_1, "COMPLETED")
    )
    second = await receive_until(ws, lambda m: m.get("reportedVersion") == "2.0.1")
    assert second["status"] == "IN_PROGRESS" and second["id"] == job_id
    assert second["statusDetail"] == f"Started job for version 2.0.1 with bundle {APP_2}."
    await stack.nrf.queue(
        account, "GET", f"/v1/fota-jobs/{cloud_2}", body=job_details(cloud_2, "COMPLETED")
    )
    await stack.shadow(account, shadow_item(device_id, 3, app="2.0.2", ts=1716802999))
    done = await receive_until(ws, lambda m: m.get("status") == "SUCCEEDED")
    assert done["statusDetail"] == "No more bundles to apply for 2.0.2. Job completed."
    posts = await calls(stack, account, "POST", "/v1/fota-jobs")
    assert [json.loads(p["body"])["bundleId"] for p in posts] == [APP_1, APP_2]
    await ws.close()


async def test_a_failing_nrf_cloud_job_fails_the_job(stack: Stack) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow()
    cloud = str(uuid.uuid4())
    await stack.nrf.queue(account, "POST", "/v1/fota-jobs", body={"jobId": cloud})
    await stack.nrf.queue(
        account, "GET", f"/v1/fota-jobs/{cloud}", body=job_details(cloud, "REJECTED")
    )
    body = {"upgradePath": {"2.0.0": APP_1}}
    r = await stack.http.post(url(stack, DATED, device_id, fingerprint, "fota/app"), json=body)
    assert r.status == 201
    await job_becomes(
        stack, device_id, fingerprint, status="FAILED", statusDetail="Job execution failed."
    )
    # a job that nRF Cloud never creates fails too, with nothing left behind
    r = await stack.http.post(url(stack, DATED, device_id, fingerprint, "fota/app"), json=body)
    assert r.status == 201
    second = (await r.json())["id"]
    await job_becomes(stack, device_id, fingerprint, id=second, status="FAILED")


async def test_refusals(stack: Stack) -> None:
    _, device_id, fingerprint = await stack.device_with_shadow(fota=["APP"])
    post = url(stack, DATED, device_id, fingerprint, "fota/app")
    cases = [
        (
            {"upgradePath": {"2.0.0": APP_1, "2.0.1": "MODEM*ad48df2a*m"}},
            400,
            "Invalid upgrade path defined",
        ),
        ({"upgradePath": {"2.0.1": "MODEM*ad48df2a*m"}}, 400, "Invalid upgrade path defined"),
        ({"upgradePath": []}, 400, "Validation failed"),
    ]
    for body, status, title in cases:
        problem = await assert_problem(await stack.http.post(post, json=body), status)
        assert problem["title"] == title
    r = await stack.http.post(post.replace(fingerprint, "92b.AAAAAA"), json=cases[0][0])
    await assert_problem(r, 403)
    delete = url(stack, DATED, device_id, fingerprint, "fota/job/01J861VKYH5QVD6QQ5YXXF20EF")
    await assert_problem(await stack.http.delete(delete), 404)
    await assert_problem(await stack.http.delete(delete.replace("01J8", "!!J8")), 400)
    # another device's job is forbidden
    _, other_id, other_fp = await stack.device_with_shadow()
    r = await stack.http.post(
        url(stack, DATED, other_id, other_fp, "fota/app"), json={"upgradePath": {"9.9.9": APP_1}}
    )
    other_job = (await r.json())["id"]
    delete = url(stack, DATED, device_id, fingerprint, f"fota/job/{other_job}")
    await assert_problem(await stack.http.delete(delete), 403)


async def test_bundles_read_every_page_newest_first(stack: Stack) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow()

    def firmware(bundle: str, modified: str) -> dict[str, Any]:
        kind, _, version = bundle.split("*")
        return {
            "bundleId": bundle,
            "type": kind,
            "version": version,
            "size": 1,
            "filenames": [],
            "lastModified": modified,
        }

    async def queue_pages() -> None:  # each is answered once
        await stack.nrf.queue(
            account,
            "GET",
            "/v1/firmwares",
            query={"pageNextToken": "two"},
            body={"items": [firmware(APP_2, "2024-06-02T00:00:00.000Z")], "total": 2},
        )
        await stack.nrf.queue(
            account,
            "GET",
            "/v1/firmwares",
            body={
                "items": [firmware(APP_1, "2024-06-01T00:00:00.000Z")],
                "total": 2,
                "pageNextToken": "two",
            },
        )

    for base in ("", DATED):
        await queue_pages()
        r = await stack.http.get(url(stack, base, device_id, fingerprint, "fota/bundles"))
        body = await r.json()
        assert r.status == 200, body
        assert body["@context"] == PROTO + "fota/bundles" and body["deviceId"] == device_id
        assert body["bundles"] == [
            {"@context": PROTO + "fota/bundle", "bundleId": b, "type": "APP", "version": v}
            for b, v in ((APP_2, "v2.0.2"), (APP_1, "v2.0.1"))
        ]
    pages = await calls(stack, account, "GET", "/v1/firmwares")
    assert [p["query"] for p in pages[:2]] == [
        {"pageLimit": "100"},
        {"pageLimit": "100", "pageNextToken": "two"},
    ]
    # nRF Cloud failing is a problem, not a 500
    r = await stack.http.get(url(stack, DATED, device_id, fingerprint, "fota/bundles"))
    problem = await assert_problem(r, 502)
    assert problem["title"] == "Fetching FOTA bundles failed"


async def test_a_job_created_after_our_timeout_is_cancelled(stack: Stack) -> None:
    """The seed's FOTA answers 502 when nRF Cloud is slow; the job nRF Cloud creates after
    all is cancelled, so nothing runs that nobody follows, and a retry makes one job."""
    account, device_id, fingerprint = await stack.device_with_shadow()
    late, again = str(uuid.uuid4()), str(uuid.uuid4())
    await stack.nrf.queue(account, "POST", "/v1/fota-jobs", body={"jobId": late}, delay_ms=900)
    await stack.nrf.queue(account, "PUT", f"/v1/fota-jobs/{late}/cancel", status=202)
    body = {"upgradePath": {"2.0.0": APP_1}}
    r = await stack.http.post(url(stack, "", device_id, fingerprint, "fota/app"), json=body)
    await assert_problem(r, 502)
    assert await eventually(lambda: calls(stack, account, "PUT", f"/v1/fota-jobs/{late}/cancel"))
    await stack.nrf.queue(account, "POST", "/v1/fota-jobs", body={"jobId": again})
    await stack.nrf.queue(account, "GET", f"/v1/fota-jobs/{again}", body=job_details(again))
    r = await stack.http.post(url(stack, "", device_id, fingerprint, "fota/app"), json=body)
    assert r.status == 201 and (await r.json())["id"] == again
    r = await stack.http.get(url(stack, "", device_id, fingerprint, "fota/jobs"))
    assert [j["id"] for j in (await r.json())["jobs"]] == [again]
    await asyncio.sleep(0)


async def test_jobs_survive_a_restart_with_state(tmp_path: Any) -> None:
    state = tmp_path / "state.sqlite"
    stack = await open_stack(nrfcloud_timeout=0.5, state=state)
    try:
        account, device_id, fingerprint = await stack.device_with_shadow()
        cloud = str(uuid.uuid4())
        await stack.nrf.queue(account, "POST", "/v1/fota-jobs", body={"jobId": cloud})
        body = {"upgradePath": {"2.0.0": APP_1}}
        r = await stack.http.post(url(stack, DATED, device_id, fingerprint, "fota/app"), json=body)
        job_id = (await r.json())["id"]
        await job_becomes(stack, device_id, fingerprint, id=job_id, status="IN_PROGRESS")
        await stack.backend.stop()
        stack.backend = await start_backend(
            admin_token=ADMIN_TOKEN, shadow_interval=0.05, job_interval=0.05,
            nrfcloud_timeout=0.5, state=state,
        )  # fmt: skip
        listed = await jobs(stack, device_id, fingerprint)
        assert [(j["id"], j["status"]) for j in listed] == [(job_id, "IN_PROGRESS")]
        # the flow goes on where it was
        await stack.nrf.queue(
            account, "GET", f"/v1/fota-jobs/{cloud}", body=job_details(cloud, "COMPLETED")
        )
        await stack.shadow(account, shadow_item(device_id, 2, app="2.0.1", ts=1716801999))
        # no websocket: a device with a running job is polled all the same
        await job_becomes(
            stack, device_id, fingerprint, id=job_id, status="SUCCEEDED",
            statusDetail="No more bundles to apply for 2.0.1. Job completed.",
        )  # fmt: skip
    finally:
        await close_stack(stack)
