"""The 2024-04-17 FOTA job model and the pure rules of its multi-bundle flow
(REAL-SUITE.md §2.7): the request, the target, eligibility from the LwM2M shadow, the
next bundle. The service that runs the flow is `fota.flow_service`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reference_backend.contexts import FOTA_JOB
from reference_backend.fota.upgrade_path import BUNDLE_PATTERN, MAX_ENTRIES, MAX_LENGTH
from reference_backend.fota.versions import is_valid_key, key_matches, parse_version
from reference_backend.lwm2m_types import ShadowSide

NEW, IN_PROGRESS, SUCCEEDED, FAILED = "NEW", "IN_PROGRESS", "SUCCEEDED", "FAILED"
RUNNING = frozenset({NEW, IN_PROGRESS})

CREATED_DETAIL = "The job has been created"
CANCELLED_DETAIL = "The job was cancelled."
EXECUTION_FAILED_DETAIL = "Job execution failed."

# nRF Cloud job statuses: done well, done badly, and still cancellable
CLOUD_SUCCEEDED = frozenset({"COMPLETED", "SUCCEEDED"})
CLOUD_FAILED = frozenset({"FAILED", "CANCELLED", "TIMED_OUT", "REJECTED"})
CLOUD_CANCELLABLE = frozenset({"QUEUED", "IN_PROGRESS", "DOWNLOADING"})

# which target a bundle type updates
BUNDLE_TARGETS = {"APP": "app", "MODEM": "modem", "MDM_FULL": "modem"}


class FlowProblem(ValueError):
    """A request the flow refuses with 400: `title` and `detail` as the real backend's."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(detail)
        self.title = title
        self.detail = detail


@dataclass
class FlowJob:
    """One 2024-04-17 FOTA job: one upgrade of one target, maybe several nRF Cloud jobs."""

    id: str  # a ULID
    device_id: str
    target: str  # "app" or "modem"
    upgrade_path: dict[str, str]
    timestamp: str
    status: str
    status_detail: str
    reported_version: str
    used_versions: list[str] = field(default_factory=list)
    # nRF Cloud job ID -> its last known status ("QUEUED" until polled)
    cloud_jobs: dict[str, str] = field(default_factory=dict)
    current: str | None = None  # the nRF Cloud job of the bundle being applied
    cloud_done: bool = False  # `current` reached COMPLETED/SUCCEEDED
    new_version: str | None = None  # the device reported this since `current` started
    first_missing: float | None = None  # monotonic time `current` was first not found
    seq: int = 0  # creation order

    @property
    def running(self) -> bool:
        return self.status in RUNNING


def fota_job(job: FlowJob) -> dict[str, Any]:
    return {
        "@context": FOTA_JOB,
        "id": job.id,
        "deviceId": job.device_id,
        "upgradePath": dict(job.upgrade_path),
        "timestamp": job.timestamp,
        "status": job.status,
        "statusDetail": job.status_detail,
        "reportedVersion": job.reported_version,
    }


def validate_request(body: Any) -> dict[str, str]:
    """The upgrade path of a create request, or FlowProblem."""
    title = "Validation failed"
    if not isinstance(body, dict) or set(body) != {"upgradePath"}:
        raise FlowProblem(title, "The body must be a JSON object with only an `upgradePath`.")
    path = body["upgradePath"]
    if not isinstance(path, dict) or not path:
        raise FlowProblem(title, "`upgradePath` must be an object with at least one entry.")
    if len(path) > MAX_ENTRIES:
        raise FlowProblem(title, f"`upgradePath` may have at most {MAX_ENTRIES} entries.")
    for key, bundle in path.items():
        if len(key) > MAX_LENGTH or not is_valid_key(key):
            raise FlowProblem(
                title, f"`upgradePath` key {key[:40]!r} is not a version like `2.0.0` or `>=2.0.0`."
            )
        if (
            not isinstance(bundle, str)
            or len(bundle) > MAX_LENGTH
            or not BUNDLE_PATTERN.match(bundle)
        ):
            raise FlowProblem(
                title,
                f"`upgradePath[{key!r}]` is not a bundle ID like `APP*1e29dfa3*v2.0.1`.",
            )
    return dict(path)


def job_target(upgrade_path: dict[str, str]) -> str:
    """The target the bundles update: `app` or `modem`, or FlowProblem when they are mixed
    (BOOT, SOFTDEVICE and BOOTLOADER update neither)."""
    types = {bundle.split("*", 1)[0] for bundle in upgrade_path.values()}
    targets = {BUNDLE_TARGETS.get(t, t) for t in types}
    if len(targets) != 1:
        raise FlowProblem("Invalid upgrade path defined", "A job must have a single target!")
    return targets.pop()


@dataclass(frozen=True)
class Firmware:
    """What a device reports about its firmware: versions cut to major.minor.patch."""

    app: str | None
    modem: str | None
    targets: frozenset[str]  # from 14401: "app", "modem"


def firmware(reported: ShadowSide) -> Firmware:
    """The firmware details of a device's `reported` shadow (REAL-SUITE.md §2.2 form).
    Lenient (§3 row 10): a 14204 without IMEI, modem or board still counts."""
    fota_types = _resource(reported, 14401, "0")
    targets = frozenset(
        BUNDLE_TARGETS[t]
        for t in (fota_types if isinstance(fota_types, list) else [])
        if isinstance(t, str) and t in BUNDLE_TARGETS
    )
    app = _resource(reported, 14204, "3")
    modem = _resource(reported, 14204, "2")
    return Firmware(
        app=to_version(app),
        modem=to_version(modem.rsplit("_", 1)[-1]) if isinstance(modem, str) else None,
        targets=targets,
    )


def eligible_version(reported: ShadowSide, target: str) -> str:
    """The version the job starts from, or FlowProblem with the real backend's words."""
    details = firmware(reported)
    not_eligible = "Device is not eligible for FOTA"
    if not details.targets:
        raise FlowProblem(not_eligible, "This device does not support FOTA!")
    if details.app is None and details.modem is None:
        raise FlowProblem(not_eligible, "This device has not reported any firmware versions!")
    invalid = "Invalid upgrade path defined"
    if target not in details.targets:
        raise FlowProblem(invalid, f"The device does not support FOTA for target {target}!")
    version = details.app if target == "app" else details.modem
    if version is None:
        which = "an application" if target == "app" else "a modem"
        raise FlowProblem(invalid, f"The device has not reported {which} firmware version!")
    return version


def reported_raw_version(written: ShadowSide, target: str) -> str | None:
    """The version a shadow write carries for `target`, cut to major.minor.patch; None when
    the write does not hold it. (The real backend compares the raw modem firmware string
    with the cut version, so any modem write looks like a change; this does not.)"""
    value = _resource(written, 14204, "3" if target == "app" else "2")
    if not isinstance(value, str):
        return None
    if target == "modem":
        value = value.rsplit("_", 1)[-1]
    return to_version(value) or value


def next_bundle(upgrade_path: dict[str, str], version: str, used: list[str]) -> str | None:
    """The bundle to apply to a device on `version`: the first entry whose key the version
    satisfies; None when there is none or the version was already upgraded from (a path
    that leads back to a version would loop for ever otherwise)."""
    if version in used:
        return None
    for key, bundle in upgrade_path.items():
        if key_matches(key, version):
            return bundle
    return None


def to_version(text: Any) -> str | None:
    """`major.minor.patch` of a semantic version (`2.0.1-rc1` -> `2.0.1`), else None."""
    parsed = parse_version(text) if isinstance(text, str) else None
    return f"{parsed.major}.{parsed.minor}.{parsed.patch}" if parsed else None


def _resource(side: ShadowSide, object_id: int, resource: str) -> Any:
    """Instance 0 of the object, whatever version key it was written under."""
    prefix = f"{object_id}:"
    for key, instances in side.items():
        if (key == str(object_id) or key.startswith(prefix)) and isinstance(instances, dict):
            instance = instances.get("0")
            if isinstance(instance, dict) and resource in instance:
                return instance[resource]
    return None
