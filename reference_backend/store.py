"""Accounts, devices, known shadows and FOTA jobs: kept in memory, and in SQLite with `--state`.

Every write goes to SQLite (WAL, synchronous=FULL) before the call returns, so what a
client was told has happened survives a `kill -9`. Reads are served from memory.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reference_backend.lwm2m_types import ShadowSide, objects_to_shadow

FINISHED_STATUSES = frozenset(
    {"COMPLETED", "SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "REJECTED"}
)
SUCCESSFUL_STATUSES = frozenset({"COMPLETED", "SUCCEEDED"})


@dataclass
class Account:
    name: str
    api_endpoint: str  # without a trailing slash; calls go to <api_endpoint>/v1/...
    api_key: str


@dataclass
class Device:
    id: str
    fingerprint: str
    model: str
    account: str | None  # None for model `unsupported`
    # ISO `YYYY-MM-DDTHH:MM:SS.sssZ`: data from before this is not shown (hideDataBefore)
    hide_data_before: str | None = None


@dataclass
class KnownShadow:
    """The backend's own LwM2M shadow of a device (BE's named shadow `lwm2m`)."""

    version: int | None  # nRF Cloud's state.version of the last item used
    reported: ShadowSide = field(default_factory=dict)
    desired: ShadowSide = field(default_factory=dict)


@dataclass
class Job:
    """A FOTA job execution: one nRF Cloud FOTA job for one device."""

    id: str  # nRF Cloud's jobId
    device_id: str
    target: str  # "app" or "modem"
    bundle_id: str
    status: Any
    status_detail: Any
    last_updated_at: Any
    version: Any  # nRF Cloud's firmware.version
    upgrade_path: dict[str, str]
    reported_version: str  # what the device reported when this job was created
    chain_bundles: list[str] = field(default_factory=list)  # bundles used so far in this upgrade
    awaiting_next: bool = False  # completed; the next step waits for the device's new version
    seq: int = 0  # creation order, for "newest first"
    revision: int = 0  # bumped on every change, so a slow poll cannot undo a newer change

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class FingerprintTaken(ValueError):
    pass


class Store:
    def __init__(self, path: str | Path | None = None) -> None:
        self._accounts: dict[str, Account] = {}
        self._devices: dict[str, Device] = {}
        self._by_fingerprint: dict[str, str] = {}
        self._shadows: dict[str, KnownShadow] = {}
        self._last_seen: dict[str, str] = {}
        self._bridge_seqs: dict[str, int] = {}
        self._jobs: dict[str, dict[str, Job]] = {}
        self._unfinished: dict[tuple[str, str], Job] = {}
        self._awaiting: dict[tuple[str, str], Job] = {}
        self._flow_jobs: dict[str, dict[str, Any]] = {}  # 2024-04-17 jobs, by ULID
        self._seq = 0
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._open(Path(path))

    # accounts
    def put_account(self, account: Account) -> None:
        self._write([("accounts", account.name, asdict(account))])
        self._accounts[account.name] = account

    def account(self, name: str | None) -> Account | None:
        return self._accounts.get(name) if name is not None else None

    # devices
    def put_device(self, device: Device) -> None:
        """Adds or replaces the device with that ID; FingerprintTaken when another device has
        the fingerprint."""
        key = device.fingerprint.lower()
        owner = self._by_fingerprint.get(key)
        if owner is not None and owner != device.id:
            raise FingerprintTaken(device.fingerprint)
        self._write([("devices", device.id, asdict(device))])
        old = self._devices.get(device.id)
        if old is not None:
            self._by_fingerprint.pop(old.fingerprint.lower(), None)
        self._devices[device.id] = device
        self._by_fingerprint[key] = device.id

    def device(self, device_id: str) -> Device | None:
        return self._devices.get(device_id)

    def device_by_fingerprint(self, fingerprint: str) -> Device | None:
        device_id = self._by_fingerprint.get(fingerprint.lower())
        return self._devices.get(device_id) if device_id is not None else None

    # shadows
    def put_shadow(self, device_id: str, shadow: KnownShadow) -> None:
        self._write([("shadows", device_id, asdict(shadow))])
        self._shadows[device_id] = shadow

    def shadow(self, device_id: str) -> KnownShadow | None:
        return self._shadows.get(device_id)

    # last seen: the receive time of the device's last SenML message
    def put_last_seen(self, device_id: str, iso: str) -> None:
        self._write([("last_seen", device_id, {"at": iso})])
        self._last_seen[device_id] = iso

    def last_seen(self, device_id: str) -> str | None:
        return self._last_seen.get(device_id)

    # bridge feed positions: the seq of the last message ingested, per account
    def put_bridge_seq(self, account: str, seq: int) -> None:
        self._write([("bridge", account, {"seq": seq})])
        self._bridge_seqs[account] = seq

    def bridge_seq(self, account: str) -> int:
        return self._bridge_seqs.get(account, 0)

    def accounts(self) -> list[Account]:
        return list(self._accounts.values())

    # jobs
    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def save_jobs(self, *jobs: Job) -> None:
        """Adds or updates jobs, all in one transaction."""
        for job in jobs:
            job.revision += 1
        self._write([("jobs", f"{job.device_id}\n{job.id}", asdict(job)) for job in jobs])
        for job in jobs:
            self._index(job)

    def job(self, device_id: str, job_id: str) -> Job | None:
        return self._jobs.get(device_id, {}).get(job_id)

    def jobs_of(self, device_id: str) -> list[Job]:
        """The device's jobs, newest first."""
        return sorted(self._jobs.get(device_id, {}).values(), key=lambda j: j.seq, reverse=True)

    # 2024-04-17 FOTA jobs (fota/flow_service.py owns their shape)
    def save_flow_job(self, job_id: str, data: dict[str, Any]) -> None:
        self._write([("flow_jobs", job_id, data)])
        self._flow_jobs[job_id] = data

    def flow_jobs(self) -> list[dict[str, Any]]:
        return list(self._flow_jobs.values())

    def unfinished_jobs(self) -> list[Job]:
        return list(self._unfinished.values())

    def awaiting_jobs(self) -> list[Job]:
        return list(self._awaiting.values())

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _index(self, job: Job) -> None:
        key = (job.device_id, job.id)
        self._jobs.setdefault(job.device_id, {})[job.id] = job
        self._seq = max(self._seq, job.seq)
        if job.finished:
            self._unfinished.pop(key, None)
        else:
            self._unfinished[key] = job
        if job.awaiting_next:
            self._awaiting[key] = job
        else:
            self._awaiting.pop(key, None)

    # persistence
    def _open(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before we answer the client that it happened
        db.execute("PRAGMA synchronous=FULL")
        for table in ("accounts", "devices", "shadows", "jobs", "flow_jobs", "last_seen", "bridge"):
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, data TEXT NOT NULL)"
            )
        self._db = db
        for (data,) in db.execute("SELECT data FROM accounts"):
            account = Account(**json.loads(data))
            self._accounts[account.name] = account
        for (data,) in db.execute("SELECT data FROM devices"):
            device = Device(**json.loads(data))
            self._devices[device.id] = device
            self._by_fingerprint[device.fingerprint.lower()] = device.id
        for key, data in db.execute("SELECT key, data FROM shadows"):
            saved = json.loads(data)
            if "objects" in saved:  # written before the shadow had both sides
                saved["reported"] = objects_to_shadow(saved.pop("objects"))
            self._shadows[key] = KnownShadow(**saved)
        for key, data in db.execute("SELECT key, data FROM last_seen"):
            self._last_seen[key] = json.loads(data)["at"]
        for key, data in db.execute("SELECT key, data FROM bridge"):
            self._bridge_seqs[key] = json.loads(data)["seq"]
        for (data,) in db.execute("SELECT data FROM jobs"):
            self._index(Job(**json.loads(data)))
        for key, data in db.execute("SELECT key, data FROM flow_jobs"):
            self._flow_jobs[key] = json.loads(data)

    def _write(self, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
        if self._db is None:
            return
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for table, key, data in rows:
                db.execute(
                    f"INSERT OR REPLACE INTO {table} (key, data) VALUES (?, ?)",
                    (key, json.dumps(data, separators=(",", ":"))),
                )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
