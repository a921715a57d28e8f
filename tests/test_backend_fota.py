"""FOTA against the mock nRF Cloud: the spec's flow, multi-step and modem upgrades, cancel,
every refusal, and nRF Cloud faults."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from support.backend import (
    APP_1,
    APP_2,
    JOB,
    JOBS,
    SHADOW,
    Stack,
    assert_problem,
    eventually,
    job_details,
    receive_until,
    shadow_item,
)

from mock_nrfcloud.accounts import account_id
from reference_backend import app_keys

MODEM = "MODEM*ad48df2a*mfw_nrf91x1_2.0.2"


@pytest.fixture
def stack_options() -> dict[str, Any]:
    return {"nrfcloud_timeout": 0.5}


async def queue_job(stack: Stack, account: str, job_id: str, version: str = "v2.0.1") -> None:
    await stack.nrf.queue(account, "POST", "/v1/fota-jobs", body={"jobId": job_id})
    await stack.nrf.queue(
        account, "GET", f"/v1/fota-jobs/{job_id}", body=job_details(job_id, version=version)
    )


async def shows_job(stack: Stack, account: str, job_id: str, *args: Any, **kwargs: Any) -> None:
    """From now on nRF Cloud shows the job with `job_details(job_id, *args, **kwargs)`."""
    await stack.nrf.queue(
        account,
        "GET",
        f"/v1/fota-jobs/{job_id}",
        body=job_details(job_id, *args, **kwargs),
        keep=True,
    )


async def jobs_of(stack: Stack, device_id: str, fingerprint: str) -> list[dict[str, Any]]:
    response = await stack.http.get(stack.device_url(device_id, fingerprint, "fota/jobs"))
    assert response.status == 200
    body = await response.json()
    assert body["@context"] == JOBS and body["deviceId"] == device_id
    return body["jobs"]


async def post_fota(
    stack: Stack, device_id: str, fingerprint: str | None, path: Any, target: str = "app"
):
    return await stack.http.post(
        stack.device_url(device_id, fingerprint, f"fota/{target}"), json={"upgradePath": path}
    )


async def created_jobs(stack: Stack, account: str) -> list[dict[str, Any]]:
    return await stack.nrf.find(account, method="POST", path="/v1/fota-jobs")


async def test_fota_spec_flow(stack: Stack) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow()
    job_id = str(uuid.uuid4())
    await queue_job(stack, account, job_id)
    ws = await stack.connect(fingerprint)
    shadow = await receive_until(ws, lambda m: m["@context"] == SHADOW)
    assert {
        "ObjectID": 14401,
        "ObjectVersion": "1.0",
        "Resources": {"0": ["BOOT", "MODEM", "APP"], "99": 1716801889},
    } in shadow["reported"]

    response = await post_fota(stack, device_id, fingerprint, {"2.0.0": APP_1})
    assert response.status == 201, await response.text()
    execution = {
        "@context": JOB,
        "id": job_id,
        "deviceId": device_id,
        "status": "IN_PROGRESS",
        "statusDetail": "Job auto applied",
        "lastUpdatedAt": "2024-01-01T00:00:00.000Z",
        "version": "v2.0.1",
    }
    assert await response.json() == execution
    (created,) = await created_jobs(stack, account)
    assert json.loads(created["body"]) == {
        "bundleId": APP_1,
        "autoApply": True,
        "deviceIdentifiers": [device_id],
    }
    assert list(json.loads(created["body"])) == ["bundleId", "autoApply", "deviceIdentifiers"]
    headers = {k.lower(): v for k, v in created["headers"].items()}
    assert headers["content-type"].startswith("application/json")
    assert (headers["authorization"], created["account"]) == (
        "Bearer <redacted>",
        account_id(account),
    )
    assert await jobs_of(stack, device_id, fingerprint) == [execution]

    completed = job_details(
        job_id, "COMPLETED", "2024-01-01T00:00:30.000Z", detail="All executions in terminal status"
    )
    await stack.nrf.queue(account, "GET", f"/v1/fota-jobs/{job_id}", body=completed, keep=True)
    message = await receive_until(ws, lambda m: m["@context"] == JOB)
    done = {
        **execution,
        "status": "COMPLETED",
        "statusDetail": "All executions in terminal status",
        "lastUpdatedAt": "2024-01-01T00:00:30.000Z",
    }
    assert message == done
    assert await jobs_of(stack, device_id, fingerprint) == [done]
    # finished: a new job for the target may be made
    await queue_job(stack, account, "job-2")
    assert (await post_fota(stack, device_id, fingerprint, {"2.0.0": APP_1})).status == 201
    assert [j["id"] for j in await jobs_of(stack, device_id, fingerprint)] == ["job-2", job_id]


async def test_shadow_is_fetched_on_the_spot_without_a_connection(stack: Stack) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow()
    await queue_job(stack, account, "job-1")
    response = await post_fota(stack, device_id, fingerprint, {">=1.0.0": APP_1})
    assert response.status == 201, await response.text()
    (request,) = await stack.nrf.find(account, method="GET", path="/v1/devices")
    assert request["query"]["deviceIds"] == device_id


async def test_multi_step_upgrade(stack: Stack) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow()
    ws = await stack.connect(fingerprint)
    await receive_until(ws, lambda m: m["@context"] == SHADOW)
    await queue_job(stack, account, "job-1")
    response = await post_fota(stack, device_id, fingerprint, {"2.0.0": APP_1, "2.0.1": APP_2})
    assert response.status == 201
    await shows_job(stack, account, "job-1", "COMPLETED", "t1")
    assert (await receive_until(ws, lambda m: m.get("id") == "job-1"))["status"] == "COMPLETED"

    # the device reports 2.0.1: the next job is made from the same path
    await queue_job(stack, account, "job-2", version="v2.0.2")
    await stack.shadow(account, shadow_item(device_id, 2, app="2.0.1"))
    message = await receive_until(ws, lambda m: m.get("id") == "job-2")
    assert message["status"] == "IN_PROGRESS" and message["version"] == "v2.0.2"
    bodies = [json.loads(r["body"]) for r in await created_jobs(stack, account)]
    assert [b["bundleId"] for b in bodies] == [APP_1, APP_2]
    assert [j["id"] for j in await jobs_of(stack, device_id, fingerprint)] == ["job-2", "job-1"]

    # job 2 completes and the device reports 2.0.2: the path has no entry, so no more jobs
    await shows_job(stack, account, "job-2", "COMPLETED", "t2", version="v2.0.2")
    assert (await receive_until(ws, lambda m: m.get("id") == "job-2"))["status"] == "COMPLETED"
    await stack.shadow(account, shadow_item(device_id, 3, app="2.0.2"))
    await receive_until(ws, lambda m: m["@context"] == SHADOW)
    store = stack.backend.app[app_keys.SERVICES].store
    await eventually(lambda: _true(not store.awaiting_jobs()))
    assert len(await created_jobs(stack, account)) == 2


async def _true(value: bool) -> bool:
    return value


async def test_multi_step_waits_for_new_version_without_a_connection(stack: Stack) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow()
    await queue_job(stack, account, "job-1")
    assert (
        await post_fota(stack, device_id, fingerprint, {"2.0.0": APP_1, ">=2.0.1": APP_2})
    ).status == 201
    await queue_job(stack, account, "job-2", version="v2.0.2")
    await stack.shadow(account, shadow_item(device_id, 2, app="2.0.1"))
    await shows_job(stack, account, "job-1", "SUCCEEDED", "t1")

    async def second_job() -> bool:
        return [j["id"] for j in await jobs_of(stack, device_id, fingerprint)] == ["job-2", "job-1"]

    assert await eventually(second_job)


async def test_modem_upgrade(stack: Stack) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow(
        app="2.0.0", modem="mfw_nrf91x1_2.0.1", fota=["BOOT", "MODEM", "APP"]
    )
    await queue_job(stack, account, "modem-1", version="mfw_nrf91x1_2.0.2")
    response = await post_fota(stack, device_id, fingerprint, {"<2.0.2": MODEM}, target="modem")
    assert response.status == 201, await response.text()
    assert (await response.json())["version"] == "mfw_nrf91x1_2.0.2"
    (created,) = await created_jobs(stack, account)
    assert json.loads(created["body"])["bundleId"] == MODEM
    # one unfinished job per target: the modem job does not block an app job
    await queue_job(stack, account, "app-1")
    assert (await post_fota(stack, device_id, fingerprint, {"2.0.0": APP_1})).status == 201
    await assert_problem(
        await post_fota(stack, device_id, fingerprint, {"2.0.1": MODEM}, target="modem"), 409
    )
    mdm_full = await stack.device_with_shadow(modem="mfw_nrf91x1_1.3.6", fota=["MDM_FULL"])
    await queue_job(stack, mdm_full[0], "modem-2")
    response = await post_fota(
        stack, mdm_full[1], mdm_full[2], {"1.3.6": "MDM_FULL*ad48df2a*x"}, "modem"
    )
    assert response.status == 201


@pytest.mark.parametrize(
    ("shadow", "target", "path", "status", "words"),
    [
        ({"fota": ["BOOT", "MODEM"]}, "app", {"2.0.0": APP_1}, 400, "does not support app"),
        ({"fota": None}, "app", {"2.0.0": APP_1}, 400, "does not support"),
        ({"fota": ["APP"]}, "modem", {"2.0.0": MODEM}, 400, "does not support modem"),
        ({"app": None}, "app", {"2.0.0": APP_1}, 400, "appVersion"),
        ({"modem": None}, "modem", {"2.0.0": MODEM}, 400, "modemFirmware"),
        ({}, "app", {"1.0.0": APP_1, ">2.0.0": APP_1, "<2.0.0": APP_1}, 400, "No entry"),
        ({}, "app", {"2.0.0": MODEM}, 400, "does not fit"),
        ({}, "modem", {"2.0.0": APP_1}, 400, "does not fit"),
        ({}, "app", {}, 400, "at least one"),
        ({}, "app", {"2.0": APP_1}, 400, "not a version"),
        ({}, "app", {"2.0.0": "APP*short*x"}, 400, "bundle ID"),
    ],
)
async def test_refusals(
    stack: Stack, shadow: dict, target: str, path: dict, status: int, words: str
) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow(**shadow)
    await queue_job(stack, account, "never")
    problem = await assert_problem(
        await post_fota(stack, device_id, fingerprint, path, target), status
    )
    assert words in problem["detail"]
    assert await created_jobs(stack, account) == []
    assert await jobs_of(stack, device_id, fingerprint) == []


async def test_refusals_for_device_and_fingerprint(stack: Stack) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow()
    other_id, other_fp = await stack.device(account)
    path = {"2.0.0": APP_1}
    await assert_problem(await post_fota(stack, "oob-350000000000000", fingerprint, path), 404)
    await assert_problem(await post_fota(stack, device_id, None, path), 403)
    await assert_problem(await post_fota(stack, device_id, other_fp, path), 403)
    await assert_problem(await post_fota(stack, other_id, fingerprint, path), 403)
    assert await created_jobs(stack, account) == []


async def test_device_without_shadow_in_nrf_cloud(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    await stack.nrf.queue(account, "GET", "/v1/devices", body={"items": [], "total": 0}, keep=True)
    problem = await assert_problem(
        await post_fota(stack, device_id, fingerprint, {"2.0.0": APP_1}), 400
    )
    assert "not reported" in problem["detail"]


async def test_one_unfinished_job_per_target_also_when_concurrent(stack: Stack) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow()
    await queue_job(stack, account, "job-1")
    await queue_job(stack, account, "job-2")
    responses = await asyncio.gather(
        *(post_fota(stack, device_id, fingerprint, {"2.0.0": APP_1}) for _ in range(5))
    )
    assert sorted(r.status for r in responses) == [201, 409, 409, 409, 409]
    for r in responses:
        if r.status == 409:
            await assert_problem(r, 409)
    assert len(await created_jobs(stack, account)) == 1


async def test_cancel(stack: Stack) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow()
    ws = await stack.connect(fingerprint)
    await receive_until(ws, lambda m: m["@context"] == SHADOW)
    await queue_job(stack, account, "job-1")
    assert (await post_fota(stack, device_id, fingerprint, {"2.0.0": APP_1})).status == 201
    url = stack.device_url(device_id, fingerprint, "fota/jobs/job-1")
    # nRF Cloud failing to cancel: 502, and the job is as it was
    await stack.nrf.queue(account, "PUT", "/v1/fota-jobs/job-1/cancel", status=500)
    await assert_problem(await stack.http.delete(url), 502)
    assert (await jobs_of(stack, device_id, fingerprint))[0]["status"] == "IN_PROGRESS"

    await stack.nrf.queue(account, "PUT", "/v1/fota-jobs/job-1/cancel", status=202)
    response = await stack.http.delete(url)
    assert response.status == 202
    message = await receive_until(ws, lambda m: m["@context"] == JOB)
    assert message["status"] == "CANCELLED" and message["statusDetail"] == "The job was cancelled."
    assert (await jobs_of(stack, device_id, fingerprint))[0]["status"] == "CANCELLED"
    cancels = await stack.nrf.find(account, method="PUT", path="/v1/fota-jobs/job-1/cancel")
    assert len(cancels) == 2 and cancels[-1]["body"] in ("", None)
    await assert_problem(await stack.http.delete(url), 409)  # already finished
    await assert_problem(
        await stack.http.delete(stack.device_url(device_id, fingerprint, "fota/jobs/nope")), 404
    )
    # the real backend's spelling works too, and the target is free again
    await queue_job(stack, account, "job-2")
    assert (await post_fota(stack, device_id, fingerprint, {"2.0.0": APP_1})).status == 201
    await stack.nrf.queue(account, "PUT", "/v1/fota-jobs/job-2/cancel", status=202)
    assert (
        await stack.http.delete(stack.device_url(device_id, fingerprint, "fota/job/job-2"))
    ).status == 202


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500, "body": "oops"},
        {"status": 400, "body": {"message": "bad bundle"}},
        {"fault": "reset"},
        {"fault": "empty"},
        {"delay_ms": 2000, "body": {"jobId": "late"}},
        {"body": "not json"},
        {"body": {"no": "jobId"}},
    ],
)
async def test_nrf_cloud_fault_on_create_gives_502_and_no_job(stack: Stack, fault: dict) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow()
    await stack.nrf.queue(account, "POST", "/v1/fota-jobs", **fault)
    await assert_problem(await post_fota(stack, device_id, fingerprint, {"2.0.0": APP_1}), 502)
    assert await jobs_of(stack, device_id, fingerprint) == []
    # nothing is left half-made: the next request works
    await queue_job(stack, account, "job-ok")
    assert (await post_fota(stack, device_id, fingerprint, {"2.0.0": APP_1})).status == 201


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 404},
        {"fault": "reset"},
        {"delay_ms": 2000},
        {"body": "{"},
        {"body": {"no": "status"}},
    ],
)
async def test_nrf_cloud_fault_on_details_cancels_the_made_job(stack: Stack, fault: dict) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow()
    await stack.nrf.queue(account, "POST", "/v1/fota-jobs", body={"jobId": "job-1"})
    # `times` covers aiohttp retrying an idempotent GET once on a dropped connection
    await stack.nrf.queue(account, "GET", "/v1/fota-jobs/job-1", times=2, **fault)
    await stack.nrf.queue(account, "PUT", "/v1/fota-jobs/job-1/cancel", status=202)
    await assert_problem(await post_fota(stack, device_id, fingerprint, {"2.0.0": APP_1}), 502)
    assert await jobs_of(stack, device_id, fingerprint) == []

    async def cancelled() -> list:
        return await stack.nrf.find(account, method="PUT", path="/v1/fota-jobs/job-1/cancel")

    assert await eventually(cancelled)


async def test_nrf_cloud_fault_fetching_the_shadow_gives_502(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    await stack.nrf.queue(account, "GET", "/v1/devices", status=503, times=2)
    await assert_problem(await post_fota(stack, device_id, fingerprint, {"2.0.0": APP_1}), 502)
    assert await created_jobs(stack, account) == []


async def test_job_polling_recovers_and_ignores_404(stack: Stack) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow()
    ws = await stack.connect(fingerprint)
    await receive_until(ws, lambda m: m["@context"] == SHADOW)
    await queue_job(stack, account, "job-1")
    assert (await post_fota(stack, device_id, fingerprint, {"2.0.0": APP_1})).status == 201
    # nothing queued: nRF Cloud's 404 is ignored; then faults; then the news
    await eventually(lambda: _polled(stack, account, "job-1", 3))
    await shows_job(stack, account, "job-1", "COMPLETED", "t9")
    await stack.nrf.queue(account, "GET", "/v1/fota-jobs/job-1", status=500, times=2)
    await stack.nrf.queue(account, "GET", "/v1/fota-jobs/job-1", delay_ms=1500)
    await stack.nrf.queue(account, "GET", "/v1/fota-jobs/job-1", body="{")
    message = await receive_until(ws, lambda m: m["@context"] == JOB)
    assert message["status"] == "COMPLETED" and message["lastUpdatedAt"] == "t9"
    # a finished job is not polled any more
    store = stack.backend.app[app_keys.SERVICES].store
    assert store.unfinished_jobs() == []


async def _polled(stack: Stack, account: str, job_id: str, count: int) -> bool:
    return len(await stack.nrf.find(account, method="GET", path=f"/v1/fota-jobs/{job_id}")) >= count


async def test_job_notifications_only_on_change(stack: Stack) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow()
    ws = await stack.connect(fingerprint)
    await receive_until(ws, lambda m: m["@context"] == SHADOW)
    await queue_job(stack, account, "job-1")
    assert (await post_fota(stack, device_id, fingerprint, {"2.0.0": APP_1})).status == 201
    # the same status again and again: no messages; then a new statusDetail, then the end
    await shows_job(stack, account, "job-1")
    await eventually(lambda: _polled(stack, account, "job-1", 4))
    await shows_job(stack, account, "job-1", detail="Downloading")
    await eventually(lambda: _polled(stack, account, "job-1", 8))
    await shows_job(stack, account, "job-1", "FAILED", "t3")
    seen: list[dict] = []

    def until_failed(message: dict) -> bool:
        seen.append(message)
        return message.get("status") == "FAILED"

    await receive_until(ws, until_failed)
    assert [m["statusDetail"] for m in seen if m["@context"] == JOB] == [
        "Downloading",
        "Job auto applied",
    ]


RAW_JOB = """HTTP/1.1 200 OK
Content-Type: application/json

{
    "createdAt": "2023-09-12T00:00:00.000Z",
    "firmware": {
        "bundleId": "APP*1e29dfa3*v2.0.1",
        "fileSize": 425860,
        "firmwareType": "APP",
        "host": "firmware.nrfcloud.com",
        "uris": ["bbfe6b73/APP*1e29dfa3*v2.0.1/hello-nrfcloud-thingy91x-v2.0.1-fwupd.bin"],
        "version": "v2.0.1"
    },
    "jobId": "JOB_ID",
    "lastUpdatedAt": "UPDATED",
    "name": "JOB_ID",
    "status": "STATUS",
    "statusDetail": "DETAIL",
    "target": {"deviceIds": ["DEVICE_ID"], "tags": []}
}"""


async def test_fota_spec_as_the_steps_queue_it(stack: Stack) -> None:
    """The spec's own raw responses and its one-shot (not kept) job answers."""
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    job_id = str(uuid.uuid4())

    def raw(status: str, detail: str, updated: str) -> str:
        text = RAW_JOB.replace("JOB_ID", job_id).replace("DEVICE_ID", device_id)
        return text.replace("STATUS", status).replace("DETAIL", detail).replace("UPDATED", updated)

    await stack.shadow(account, {**shadow_item(device_id, 8835), "$meta": {"createdAt": "x"}})
    await stack.nrf.queue_raw(
        account,
        "POST",
        "/v1/fota-jobs",
        f'HTTP/1.1 200 OK\nContent-Type: application/json\n\n{{"jobId": "{job_id}"}}',
    )
    await stack.nrf.queue_raw(
        account,
        "GET",
        f"/v1/fota-jobs/{job_id}",
        raw("IN_PROGRESS", "Job auto applied", "2023-09-12T00:00:00.000Z"),
    )
    ws = await stack.connect(fingerprint)
    await receive_until(ws, lambda m: m["@context"] == SHADOW)
    response = await post_fota(stack, device_id, fingerprint, {"2.0.0": APP_1})
    assert response.status == 201
    assert (await response.json())["@context"] == JOB
    (job,) = await jobs_of(stack, device_id, fingerprint)
    assert job["status"] == "IN_PROGRESS" and job["version"] == "v2.0.1"
    await stack.nrf.queue_raw(
        account,
        "GET",
        f"/v1/fota-jobs/{job_id}",
        raw("COMPLETED", "All executions in terminal status", "2023-09-12T00:00:30.000Z"),
    )
    message = await receive_until(ws, lambda m: m["@context"] == JOB)
    assert message == {
        "@context": JOB,
        "id": job_id,
        "deviceId": device_id,
        "status": "COMPLETED",
        "statusDetail": "All executions in terminal status",
        "lastUpdatedAt": "2023-09-12T00:00:30.000Z",
        "version": "v2.0.1",
    }
    (job,) = await jobs_of(stack, device_id, fingerprint)
    assert job["status"] == "COMPLETED"
