"""The 2024-04-17 FOTA jobs: creating, listing and aborting them, and running each job's
multi-bundle flow (REAL-SUITE.md §2.7).

A job answers `201` as NEW before anything is asked of nRF Cloud; its flow then runs in
the background. Each step creates one nRF Cloud job and waits for two things: nRF Cloud
reporting that job COMPLETED (polled every job interval) and the device reporting a new
version (a write of its `reported` shadow, from `ShadowService.on_reported`). The next
bundle comes from the same upgrade path, until none matches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict
from typing import Any

from reference_backend.clock import now_iso
from reference_backend.contexts import FOTA_JOBS
from reference_backend.fota.flow import (
    CANCELLED_DETAIL,
    CLOUD_CANCELLABLE,
    CLOUD_FAILED,
    CLOUD_SUCCEEDED,
    CREATED_DETAIL,
    EXECUTION_FAILED_DETAIL,
    FAILED,
    IN_PROGRESS,
    NEW,
    SUCCEEDED,
    FlowJob,
    FlowProblem,
    eligible_version,
    fota_job,
    job_target,
    next_bundle,
    reported_raw_version,
)
from reference_backend.fota.polling import JobPoller
from reference_backend.lwm2m_types import ShadowSide
from reference_backend.nrfcloud import NrfCloudError
from reference_backend.problems import Problem, bad_gateway, bad_request, conflict, forbidden
from reference_backend.store import Account, Device
from reference_backend.ulid import is_ulid, new_ulid

log = logging.getLogger(__name__)

GENERATION = "/2024-04-17"  # the websocket base whose connections get `fota/job`
MAX_LISTED = 10
# nRF Cloud may not show a job it has just created; the real backend waits 24 h
MISSING_JOB_GRACE_S = 24 * 3600.0
CREATE_TRIES = 3


class FlowService(JobPoller[str]):
    """Polls and locks keyed by job ID: a poll, a shadow write and an abort of one job
    never interleave."""

    poller_name = "2024-04-17 job poller"

    def _set_up(self) -> None:
        self._jobs: dict[str, FlowJob] = {}  # ULID -> job
        self._seq = 0
        # a device whose job waits for its new version is polled even without a connection
        self._shadows.watch(lambda: {j.device_id for j in self._jobs.values() if j.running})
        self._shadows.on_reported(self._reported)
        self._resume()

    def _resume(self) -> None:
        """Picks up the jobs a `--state` file holds: a running job goes on where it was."""
        for data in self._store.flow_jobs():
            job = FlowJob(**data)
            self._jobs[job.id] = job
            self._seq = max(self._seq, job.seq)
            if job.status == NEW:
                self._background.spawn(self._advance(job.id), f"FOTA job {job.id}")
            elif job.status == IN_PROGRESS and job.current is None:
                # stopped between two steps: that step's version is to be looked at again
                if job.used_versions and job.used_versions[-1] == job.reported_version:
                    job.used_versions.pop()
                self._background.spawn(self._advance(job.id), f"FOTA job {job.id}")

    # requests

    async def create(self, device: Device, upgrade_path: dict[str, str]) -> FlowJob:
        """`POST /2024-04-17/device/{id}/fota/{target}`: a NEW job, or a Problem."""
        try:
            target = job_target(upgrade_path)
        except FlowProblem as e:
            raise Problem(400, e.detail, e.title) from e
        if self._store.account(device.account) is None:
            raise Problem(
                400, "This device does not support FOTA!", "Device is not eligible for FOTA"
            )
        reported = self._shadows.reported(device.id)
        if not reported:
            try:
                await self._shadows.ensure(device)
            except NrfCloudError as e:
                raise bad_gateway(
                    f"The device's state could not be fetched from nRF Cloud. {e}"
                ) from e
            reported = self._shadows.reported(device.id)
        try:
            version = eligible_version(reported, target)
        except FlowProblem as e:
            raise Problem(400, e.detail, e.title) from e
        # checked and added with no await in between: two requests cannot both pass
        if any(j.running for j in self._of(device.id) if j.target == target):
            raise Problem(
                409,
                "Abort it or wait for it to finish.",
                f"A {target} FOTA job for this device already exists",
            )
        self._seq += 1
        job = FlowJob(
            id=new_ulid(),
            device_id=device.id,
            target=target,
            upgrade_path=dict(upgrade_path),
            timestamp=now_iso(),
            status=NEW,
            status_detail=CREATED_DETAIL,
            reported_version=version,
            seq=self._seq,
        )
        self._jobs[job.id] = job
        self._save(job)
        self._background.spawn(self._advance(job.id), f"FOTA job {job.id}")
        return job

    def jobs(self, device: Device) -> dict[str, Any]:
        """Newest first, at most MAX_LISTED, none before the device's hideDataBefore."""
        hide_before = getattr(device, "hide_data_before", None)
        jobs = [j for j in self._of(device.id) if not hide_before or j.timestamp >= hide_before]
        jobs.sort(key=lambda j: (j.timestamp, j.seq), reverse=True)
        return {
            "@context": FOTA_JOBS,
            "deviceId": device.id,
            "jobs": [fota_job(j) for j in jobs[:MAX_LISTED]],
        }

    async def abort(self, device: Device, job_id: str) -> None:
        """`DELETE …/fota/job/{jobId}`: the job fails now; its nRF Cloud jobs are cancelled
        afterwards, in the background."""
        if not is_ulid(job_id):
            raise bad_request(f"{job_id[:40]!r} is not a job ID (a ULID).")
        job = self._jobs.get(job_id)
        if job is None:
            raise Problem(404, f"There is no FOTA job with the ID {job_id}.")
        if job.device_id != device.id:
            raise forbidden("The job belongs to another device.")
        async with self._locks(job.id):
            if not job.running:
                raise conflict(f"Execution is not running, but {job.status}!")
            await self._finish(job, FAILED, CANCELLED_DETAIL)
        self._background.spawn(self._cancel_cloud_jobs(job), f"cancel FOTA {job.id}")

    # the flow

    async def _advance(self, job_id: str) -> None:
        """Steps 1 to 3 of the flow: the next bundle for the reported version and its
        nRF Cloud job, or the end. The lock is not held while nRF Cloud answers, so an
        abort is never held up by it."""
        job = self._jobs[job_id]
        async with self._locks(job.id):
            if not job.running:
                return
            version = job.reported_version
            bundle = next_bundle(job.upgrade_path, version, job.used_versions)
            if bundle is None:
                await self._finish(
                    job, SUCCEEDED, f"No more bundles to apply for {version}. Job completed."
                )
                return
            job.used_versions.append(version)
            self._save(job)
        cloud_id = await self._create_cloud_job(job, bundle)
        async with self._locks(job.id):
            if cloud_id is not None:
                job.cloud_jobs[cloud_id] = "QUEUED"
                self._save(job)
            if not job.running:  # aborted meanwhile: its nRF Cloud job is taken back
                if cloud_id is not None:
                    self._background.spawn(self._cancel_cloud_jobs(job), f"cancel {job.id}")
                return
            if cloud_id is None:
                await self._finish(job, FAILED, EXECUTION_FAILED_DETAIL)
                return
            job.current, job.cloud_done, job.new_version = cloud_id, False, None
            job.first_missing = None
            job.status = IN_PROGRESS
            job.status_detail = f"Started job for version {version} with bundle {bundle}."
            await self._notify(job)
        self.ticker.kick()

    async def _create_cloud_job(self, job: FlowJob, bundle: str) -> str | None:
        """The nRF Cloud job ID, or None when nRF Cloud refused CREATE_TRIES times (each
        a job interval apart: a spec may queue the answer just after the shadow) or the
        job was aborted meanwhile."""
        for attempt in range(CREATE_TRIES):
            account = self._account(job)
            if account is None or not job.running:
                return None
            try:
                return await self._nrfcloud.create_fota_job(account, bundle, job.device_id)
            except NrfCloudError as e:
                log.warning(
                    "creating the nRF Cloud job of FOTA job %s failed (try %d of %d): %s",
                    job.id, attempt + 1, CREATE_TRIES, e,
                )  # fmt: skip
            await asyncio.sleep(self.ticker.interval)
        return None

    def poll(self, account: str | None) -> None:
        for job in list(self._jobs.values()):
            if job.status != IN_PROGRESS or job.current is None or job.cloud_done:
                continue
            if not self._in_account(job.device_id, account):
                continue
            self._polls.start(job.id, lambda job=job: self._poll(job), f"poll FOTA {job.id}")

    async def _poll(self, job: FlowJob) -> None:
        account = self._account(job)
        cloud_id = job.current
        if account is None or cloud_id is None:
            return
        try:
            details = await self._nrfcloud.fota_job(account, cloud_id)
        except NrfCloudError as e:
            self._polls.failed(job.id, log, "polling nRF Cloud job %s failed: %s", cloud_id, e)
            return
        self._polls.works(job.id)
        async with self._locks(job.id):
            if not job.running or job.current != cloud_id:
                return
            if details is None:
                job.first_missing = job.first_missing or time.monotonic()
                if time.monotonic() - job.first_missing > MISSING_JOB_GRACE_S:
                    await self._finish(job, FAILED, EXECUTION_FAILED_DETAIL)
                return
            status = details.get("status")
            if isinstance(status, str) and status:
                job.cloud_jobs[cloud_id] = status
            if status in CLOUD_FAILED:
                await self._finish(job, FAILED, EXECUTION_FAILED_DETAIL)
                return
            if status in CLOUD_SUCCEEDED:
                job.cloud_done = True
            self._save(job)
        await self._step_done(job)

    async def _reported(self, device_id: str, written: ShadowSide) -> None:
        for job in self._of(device_id):
            if job.status != IN_PROGRESS:
                continue
            version = reported_raw_version(written, job.target)
            if version is None or version == job.reported_version:
                continue
            job.new_version = version
            self._save(job)
            # not awaited here: the next step's nRF Cloud call must not hold up the poller
            self._background.spawn(self._step_done(job), f"FOTA job {job.id}")

    async def _step_done(self, job: FlowJob) -> None:
        """Steps 4 and 5: both nRF Cloud's completion and the new version are in."""
        async with self._locks(job.id):
            if not (job.status == IN_PROGRESS and job.cloud_done and job.new_version):
                return
            job.reported_version = job.new_version
            job.current, job.cloud_done, job.new_version = None, False, None
            self._save(job)
        await self._advance(job.id)

    async def _finish(self, job: FlowJob, status: str, detail: str) -> None:
        job.status, job.status_detail, job.timestamp = status, detail, now_iso()
        await self._notify(job)

    async def _notify(self, job: FlowJob) -> None:
        """Saves the job, then tells the device's 2024-04-17 connections."""
        self._save(job)
        await self._hub.send(job.device_id, fota_job(job), generation=GENERATION)

    async def _cancel_cloud_jobs(self, job: FlowJob) -> None:
        account = self._account(job)
        if account is None:
            return
        for cloud_id, status in list(job.cloud_jobs.items()):
            if status not in CLOUD_CANCELLABLE:
                continue
            try:
                await self._nrfcloud.cancel_fota_job(account, cloud_id)
                job.cloud_jobs[cloud_id] = "CANCELLED"
                self._save(job)
            except NrfCloudError as e:
                log.warning("cancelling nRF Cloud job %s of %s failed: %s", cloud_id, job.id, e)

    # helpers

    def _save(self, job: FlowJob) -> None:
        data = asdict(job)
        data["first_missing"] = None  # a monotonic time means nothing after a restart
        self._store.save_flow_job(job.id, data)

    def _of(self, device_id: str) -> list[FlowJob]:
        return [j for j in self._jobs.values() if j.device_id == device_id]

    def _account(self, job: FlowJob) -> Account | None:
        device = self._store.device(job.device_id)
        return self._store.account(device.account if device else None)
