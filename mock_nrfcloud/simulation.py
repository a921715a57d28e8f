"""Simulated FOTA jobs, for a local stack a frontend developer can click through: with
``simulate: {fotaJobs: {...}}`` in the ``--load`` file, the mock answers what nRF Cloud
would for FOTA jobs that no queued response covers.

- ``POST /v1/fota-jobs`` creates a job with a fresh ID (as nRF Cloud does), so every
  update gets its own job.
- ``GET /v1/fota-jobs/{id}`` shows it QUEUED, then IN_PROGRESS after ``inProgressAfter``
  seconds, then COMPLETED after ``completedAfter`` seconds.
- ``PUT /v1/fota-jobs/{id}/cancel`` cancels it (202).
- Once a job has completed, its devices report the new firmware: the shadows that kept
  responses serve for them (``GET /v1/devices``, ``GET /v1/devices/{id}``) carry the
  bundle's version, fresh timestamps and a higher ``state.version``, as a device does
  after installing an update. (The 2024-04-17 API's jobs wait for exactly that.)

Queued responses still win: specs, and developers on the dashboard, script nRF Cloud as
before, and without the ``simulate`` key nothing here runs.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mock_nrfcloud.loader import LoadError, read_document

_JOB_PATH = re.compile(r"^/v1/fota-jobs/([^/]+)$")
_CANCEL_PATH = re.compile(r"^/v1/fota-jobs/([^/]+)/cancel$")
_DEVICE_PATH = re.compile(r"^/v1/devices/([^/]+)$")
_JSON = (("Content-Type", "application/json"),)


@dataclass(slots=True, eq=False)
class SimulatedAnswer:
    """What the serving path needs of a queued response, for an answer made up here."""

    id: str
    path: str
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = _JSON
    reason: str | None = None
    keep: bool = True  # never used up
    remaining: int = 0
    delay_ms: int = 0
    fault: str | None = None
    served: int = 0
    template: None = None  # made-up answers are never templates (templates.py)


@dataclass
class SimulatedJob:
    job_id: str
    account: str
    device_ids: list[str]
    bundle_id: str
    created: float
    cancelled: float | None = None


@dataclass
class FotaJobs:
    in_progress_after: float = 1.0
    completed_after: float = 4.0
    jobs: dict[str, SimulatedJob] = field(default_factory=dict)

    def answer(
        self,
        account: str,
        method: str,
        path: str,
        body: bytes,
        chosen: Any,
        now: float,
    ) -> Any:
        """The answer for a call: ``chosen`` (the queued response, or None), or one made
        up here."""
        if chosen is None:
            if method == "POST" and path == "/v1/fota-jobs":
                return self._create(account, path, body, now)
            if method == "GET" and (match := _JOB_PATH.match(path)):
                job = self._job(account, match[1])
                return None if job is None else _json_answer(path, 200, self._details(job, now))
            if method == "PUT" and (match := _CANCEL_PATH.match(path)):
                job = self._job(account, match[1])
                if job is None:
                    return None
                if self._status(job, now) in ("QUEUED", "IN_PROGRESS"):
                    job.cancelled = now
                return SimulatedAnswer("simulated", path, 202, b"", headers=())
            return None
        shadows = path == "/v1/devices" or _DEVICE_PATH.match(path)
        if method == "GET" and shadows and chosen.keep and chosen.status == 200:
            return self._updated_shadows(account, path, chosen, now)
        return chosen

    def reset(self) -> None:
        self.jobs.clear()

    def _create(self, account: str, path: str, body: bytes, now: float) -> SimulatedAnswer:
        try:
            request = json.loads(body or b"null")
        except ValueError:
            request = None
        bundle = request.get("bundleId") if isinstance(request, dict) else None
        devices = request.get("deviceIdentifiers") if isinstance(request, dict) else None
        if not isinstance(bundle, str) or not isinstance(devices, list) or not devices:
            problem = {"code": 40000, "message": "bundleId and deviceIdentifiers are required"}
            return _json_answer(path, 400, problem)
        job = SimulatedJob(str(uuid.uuid4()), account, [str(d) for d in devices], bundle, now)
        self.jobs[job.job_id] = job
        return _json_answer(path, 200, {"jobId": job.job_id})

    def _job(self, account: str, job_id: str) -> SimulatedJob | None:
        job = self.jobs.get(job_id)
        return job if job is not None and job.account == account else None

    def _status(self, job: SimulatedJob, now: float) -> str:
        if job.cancelled is not None:
            return "CANCELLED"
        age = now - job.created
        if age >= self.completed_after:
            return "COMPLETED"
        return "IN_PROGRESS" if age >= self.in_progress_after else "QUEUED"

    def _details(self, job: SimulatedJob, now: float) -> dict[str, Any]:
        status = self._status(job, now)
        changed = {
            "QUEUED": job.created,
            "IN_PROGRESS": job.created + self.in_progress_after,
            "COMPLETED": job.created + self.completed_after,
            "CANCELLED": job.cancelled or now,
        }[status]
        detail = {
            "QUEUED": "Job created",
            "IN_PROGRESS": "Job auto applied",
            "COMPLETED": "All executions in terminal status",
            "CANCELLED": "Job cancelled",
        }[status]
        kind = job.bundle_id.split("*", 1)[0]
        return {
            "jobId": job.job_id,
            "name": job.job_id,
            "status": status,
            "statusDetail": detail,
            "createdAt": _iso(job.created),
            "lastUpdatedAt": _iso(changed),
            "firmware": {
                "bundleId": job.bundle_id,
                "firmwareType": kind,
                "host": "firmware.nrfcloud.com",
                "version": job.bundle_id.rsplit("*", 1)[-1],
            },
            "target": {"deviceIds": list(job.device_ids), "tags": []},
        }

    def _updated_shadows(self, account: str, path: str, chosen: Any, now: float) -> Any:
        """The kept shadow answer, with what completed jobs installed on its devices."""
        installed: dict[str, list[SimulatedJob]] = {}
        for job in self.jobs.values():
            if job.account == account and self._status(job, now) == "COMPLETED":
                for device_id in job.device_ids:
                    installed.setdefault(device_id, []).append(job)
        if not installed:
            return chosen
        try:
            document = json.loads(chosen.body)
        except ValueError:
            return chosen
        items = document.get("items") if isinstance(document, dict) else None
        for item in items if isinstance(items, list) else [document]:
            if isinstance(item, dict) and item.get("id") in installed:
                for job in sorted(installed[item["id"]], key=lambda j: j.created):
                    _install(item, job.bundle_id, job.created + self.completed_after)
        body = json.dumps(document, separators=(",", ":")).encode()
        return SimulatedAnswer(chosen.id, chosen.path, 200, body, headers=chosen.headers)


def _install(item: dict[str, Any], bundle_id: str, at: float) -> None:
    """What a device reports after installing the bundle."""
    state = item.get("state")
    if not isinstance(state, dict):
        return
    kind, _, version = bundle_id.split("*", 2)
    if kind == "APP":
        key, value = "appVersion", version.removeprefix("v")
    elif kind in ("MODEM", "MDM_FULL"):
        key, value = "modemFirmware", version.replace("_full_", "_")
    else:
        return
    info = _child(_child(_child(state, "reported"), "device"), "deviceInfo")
    info[key] = value
    meta = _child(_child(_child(_child(state, "metadata"), "reported"), "device"), "deviceInfo")
    meta[key] = {"timestamp": int(at)}
    if isinstance(state.get("version"), int):
        state["version"] += 1


def _child(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        value = parent[key] = {}
    return value


def _json_answer(path: str, status: int, document: Any) -> SimulatedAnswer:
    return SimulatedAnswer("simulated", path, status, json.dumps(document).encode())


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def load_simulation(path: str | Path) -> FotaJobs | None:
    """The ``simulate:`` settings of a ``--load`` file; None when it has none."""
    document = read_document(path)
    settings = document.get("simulate") if isinstance(document, dict) else None
    if settings is None:
        return None
    jobs = settings.get("fotaJobs") if isinstance(settings, dict) else None
    if not isinstance(jobs, dict):
        raise LoadError(path, "expected `fotaJobs:` with its settings (or {})", "simulate")
    known = {"inProgressAfter": "in_progress_after", "completedAfter": "completed_after"}
    options: dict[str, float] = {}
    for key, value in jobs.items():
        if key not in known:
            raise LoadError(
                path, f"unknown setting; expected {', '.join(known)}", f"simulate.fotaJobs.{key}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise LoadError(
                path, "expected seconds (a number, 0 or more)", f"simulate.fotaJobs.{key}"
            )
        options[known[key]] = float(value)
    return FotaJobs(**options)
