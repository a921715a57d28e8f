"""`Services.nrfcloud_changed(api_key)`: the backend asks nRF Cloud about that account's
devices and jobs at once, not at its next poll (the embedded target calls it after a
step queues an answer), and about no other account."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from support.backend import APP_1, JOB, Stack, job_details, receive_until
from test_backend_fota import jobs_of, post_fota, queue_job

from reference_backend import app_keys

GUARD = 20  # seconds; the pollers' own interval is an hour here


@pytest.fixture
def stack_options() -> dict[str, Any]:
    return {"shadow_interval": 3600, "job_interval": 3600}


async def test_a_changed_account_is_polled_now(stack: Stack) -> None:
    account, device_id, fingerprint = await stack.device_with_shadow()
    other, other_device, other_fingerprint = await stack.device_with_shadow()
    job_id, other_job = str(uuid.uuid4()), str(uuid.uuid4())
    await queue_job(stack, account, job_id)
    await queue_job(stack, other, other_job)
    ws = await stack.connect(fingerprint)
    assert (await post_fota(stack, device_id, fingerprint, {"2.0.0": APP_1})).status == 201
    assert (await post_fota(stack, other_device, other_fingerprint, {"2.0.0": APP_1})).status == 201
    completed = job_details(job_id, "COMPLETED", "2024-01-01T00:00:30.000Z")
    await stack.nrf.queue(account, "GET", f"/v1/fota-jobs/{job_id}", body=completed, keep=True)
    polled_other = len(await stack.nrf.find(other, method="GET", path=f"/v1/fota-jobs/{other_job}"))

    stack.backend.app[app_keys.SERVICES].nrfcloud_changed(account)

    message = await asyncio.wait_for(
        receive_until(ws, lambda m: m["@context"] == JOB and m["status"] == "COMPLETED"), GUARD
    )
    assert message["id"] == job_id
    (job,) = await jobs_of(stack, device_id, fingerprint)
    assert job["status"] == "COMPLETED"
    # the other account was not asked again
    await asyncio.sleep(0.05)
    found = await stack.nrf.find(other, method="GET", path=f"/v1/fota-jobs/{other_job}")
    assert len(found) == polled_other
    await ws.close()
