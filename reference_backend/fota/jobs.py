"""FOTA jobs: creating them on nRF Cloud, listing, cancelling, following their status,
and starting the next step of a multi-step upgrade.

A job is only stored once nRF Cloud has both created it and shown its details; when
anything in between fails, the caller gets a 502 and the job nRF Cloud did create is
cancelled again, so that no job is left half-made.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from reference_backend.clock import now_iso
from reference_backend.contexts import JOB_EXECUTION, JOB_EXECUTIONS
from reference_backend.fota.polling import JobPoller
from reference_backend.fota.upgrade_path import InvalidRequest, eligible_version, reported_version
from reference_backend.fota.versions import select_bundle
from reference_backend.nrfcloud import NrfCloudError
from reference_backend.problems import Problem, bad_gateway, bad_request, conflict, not_found
from reference_backend.store import SUCCESSFUL_STATUSES, Account, Device, Job

log = logging.getLogger(__name__)

GENERATION = ""  # the root: its websockets get `fota/job-execution`
MAX_LISTED = 10
CANCELLED_DETAIL = "The job was cancelled."


def job_execution(job: Job) -> dict[str, Any]:
    return {
        "@context": JOB_EXECUTION,
        "id": job.id,
        "deviceId": job.device_id,
        "status": job.status,
        "statusDetail": job.status_detail,
        "lastUpdatedAt": job.last_updated_at,
        "version": job.version,
    }


class FotaService(JobPoller[tuple[str, str]]):
    """Polls keyed by (device ID, job ID); locks by (device ID, target): "one unfinished
    job per target" holds also for concurrent requests, and for a next step created while
    a request comes in."""

    poller_name = "job poller"

    def _set_up(self) -> None:
        self._next_try: dict[tuple[str, str], float] = {}
        # a device waiting for its next upgrade step is polled even without a connection
        self._shadows.watch(lambda: {job.device_id for job in self._store.awaiting_jobs()})
        self._shadows.on_polled(self.check_next_steps)

    # requests

    async def schedule(self, device: Device, target: str, upgrade_path: dict[str, str]) -> Job:
        """Creates the job for `POST /device/{id}/fota/{target}`; a Problem when it can't."""
        account = self._store.account(device.account)
        if account is None:
            raise bad_request("This device is not supported, so it cannot be updated.")
        try:
            objects = await self._shadows.ensure(device)
        except NrfCloudError as e:
            raise bad_gateway(f"The device's state could not be fetched from nRF Cloud. {e}") from e
        try:
            version = eligible_version(objects, target)
        except InvalidRequest as e:
            raise bad_request(str(e)) from e
        bundle = select_bundle(upgrade_path, version)
        if bundle is None:
            raise bad_request(f"No entry of `upgradePath` matches the reported version {version}.")
        async with self._lock(device.id, target):
            running = self._unfinished(device.id, target)
            if running is not None:
                raise conflict(
                    f"The {target} update job {running.id} is not finished yet ({running.status})."
                )
            try:
                job = await self._create(account, device, target, bundle, upgrade_path, version, [])
            except NrfCloudError as e:
                raise bad_gateway(f"The FOTA job could not be created on nRF Cloud. {e}") from e
            # a new upgrade replaces a multi-step upgrade that was waiting for its next step
            superseded = self._awaiting(device.id, target)
            for old in superseded:
                old.awaiting_next = False
            self._store.save_jobs(job, *superseded)
        return job

    def executions(self, device: Device) -> dict[str, Any]:
        jobs = self._store.jobs_of(device.id)[:MAX_LISTED]
        return {
            "@context": JOB_EXECUTIONS,
            "deviceId": device.id,
            "jobs": [job_execution(job) for job in jobs],
        }

    async def cancel(self, device: Device, job_id: str) -> Job:
        job = self._store.job(device.id, job_id)
        if job is None:
            raise not_found(f"The device has no FOTA job with the ID {job_id!r}.")
        account = self._store.account(device.account)
        if account is None:  # jobs exist only for devices with an account; kept for safety
            raise Problem(409, "This device has no nRF Cloud account.")
        async with self._lock(device.id, job.target):
            if job.finished:
                raise conflict(
                    f"The job is already finished ({job.status}) and cannot be cancelled."
                )
            try:
                await self._nrfcloud.cancel_fota_job(account, job.id)
            except NrfCloudError as e:
                raise bad_gateway(f"The FOTA job could not be cancelled on nRF Cloud. {e}") from e
            job.status = "CANCELLED"
            job.status_detail = CANCELLED_DETAIL
            job.last_updated_at = now_iso()
            job.awaiting_next = False
            self._store.save_jobs(job)
        await self._hub.send(device.id, job_execution(job), generation=GENERATION)
        return job

    # monitoring

    def poll(self, account: str | None) -> None:
        for job in self._store.unfinished_jobs():
            if not self._in_account(job.device_id, account):
                continue
            self._polls.start(
                (job.device_id, job.id), lambda job=job: self._poll(job), f"job {job.id}"
            )

    async def _poll(self, job: Job) -> None:
        key = (job.device_id, job.id)
        device = self._store.device(job.device_id)
        account = self._store.account(device.account if device else None)
        if account is None:
            return
        revision = job.revision
        try:
            details = await self._nrfcloud.fota_job(account, job.id)
        except NrfCloudError as e:
            self._polls.failed(key, log, "polling FOTA job %s failed: %s", job.id, e)
            return
        self._polls.works(key, log, "polling FOTA job %s works again", job.id)
        if details is None:
            return  # nRF Cloud may not show a new job yet
        if job.revision != revision or job.finished:
            return  # changed meanwhile (cancelled, say): nRF Cloud's older view must not win
        status = details.get("status")
        if not isinstance(status, str) or not status:
            return
        update = (status, details.get("statusDetail"), details.get("lastUpdatedAt"))
        if update == (job.status, job.status_detail, job.last_updated_at):
            return
        job.status, job.status_detail, job.last_updated_at = update
        version = _firmware_version(details)
        if version is not None:
            job.version = version
        if status in SUCCESSFUL_STATUSES:
            # wait for the device's new version only when the path has a step left
            job.awaiting_next = any(b not in job.chain_bundles for b in job.upgrade_path.values())
        self._store.save_jobs(job)
        await self._hub.send(job.device_id, job_execution(job), generation=GENERATION)
        if job.awaiting_next:
            await self.check_next_steps([job.device_id])

    async def check_next_steps(self, device_ids: list[str]) -> None:
        """Starts the next job of multi-step upgrades whose device now reports a new version."""
        wanted = set(device_ids)
        for job in self._store.awaiting_jobs():
            if job.device_id not in wanted:
                continue
            objects = self._shadows.known(job.device_id)
            version = reported_version(objects, job.target) if objects else None
            if version is None or version == job.reported_version:
                continue
            if time.monotonic() < self._next_try.get((job.device_id, job.id), 0.0):
                continue
            await self._next_step(job, version)

    async def _next_step(self, job: Job, version: str) -> None:
        device = self._store.device(job.device_id)
        account = self._store.account(device.account if device else None)
        if device is None or account is None:
            return
        async with self._lock(device.id, job.target):
            if not job.awaiting_next:
                return
            bundle = select_bundle(job.upgrade_path, version)
            if (
                self._unfinished(device.id, job.target) is not None
                or bundle is None
                or bundle in job.chain_bundles
            ):
                # done: the path has no (new) step for this version, or a newer upgrade runs
                job.awaiting_next = False
                self._store.save_jobs(job)
                return
            try:
                new = await self._create(
                    account,
                    device,
                    job.target,
                    bundle,
                    job.upgrade_path,
                    version,
                    job.chain_bundles,
                )
            except NrfCloudError as e:
                log.warning(
                    "creating the next FOTA job after %s failed, will try again: %s", job.id, e
                )
                self._next_try[(job.device_id, job.id)] = time.monotonic() + self.ticker.interval
                return
            self._next_try.pop((job.device_id, job.id), None)
            job.awaiting_next = False
            self._store.save_jobs(new, job)
        await self._hub.send(device.id, job_execution(new), generation=GENERATION)

    # helpers

    async def _create(
        self,
        account: Account,
        device: Device,
        target: str,
        bundle: str,
        upgrade_path: dict[str, str],
        version: str,
        chain: list[str],
    ) -> Job:
        """Creates the job on nRF Cloud and reads its details; does not store it."""
        job_id = await self._nrfcloud.create_fota_job(account, bundle, device.id)
        try:
            details = await self._nrfcloud.fota_job(account, job_id)
            if details is None:
                raise NrfCloudError(
                    f"nRF Cloud does not show the FOTA job {job_id} it has just created."
                )
            if self._store.job(device.id, job_id) is not None:
                raise NrfCloudError(
                    f"nRF Cloud returned the job ID {job_id}, which this device already has."
                )
            status = details.get("status")
            if not isinstance(status, str) or not status:
                raise NrfCloudError(f"nRF Cloud's FOTA job {job_id} has no status.")
        except NrfCloudError:
            # nRF Cloud made a job we will not follow: take it back (autoApply would run it)
            self._background.spawn(self._cancel_quietly(account, job_id), f"cancel {job_id}")
            raise
        return Job(
            id=job_id,
            device_id=device.id,
            target=target,
            bundle_id=bundle,
            status=status,
            status_detail=details.get("statusDetail"),
            last_updated_at=details.get("lastUpdatedAt"),
            version=_firmware_version(details),
            upgrade_path=dict(upgrade_path),
            reported_version=version,
            chain_bundles=[*chain, bundle],
            seq=self._store.next_seq(),
        )

    async def _cancel_quietly(self, account: Account, job_id: str) -> None:
        try:
            await self._nrfcloud.cancel_fota_job(account, job_id)
        except NrfCloudError as e:
            log.warning("could not cancel the half-made FOTA job %s: %s", job_id, e)

    def _lock(self, device_id: str, target: str) -> asyncio.Lock:
        return self._locks((device_id, target))

    def _unfinished(self, device_id: str, target: str) -> Job | None:
        for job in self._store.jobs_of(device_id):
            if job.target == target and not job.finished:
                return job
        return None

    def _awaiting(self, device_id: str, target: str) -> list[Job]:
        return [j for j in self._store.jobs_of(device_id) if j.target == target and j.awaiting_next]


def _firmware_version(details: dict[str, Any]) -> Any:
    firmware = details.get("firmware")
    return firmware.get("version") if isinstance(firmware, dict) else None
