"""The mock's simulated FOTA jobs (`simulate: {fotaJobs: ...}` in a --load file): fresh
job IDs, statuses over time, cancel, the device reporting what it installed, queued
responses winning, and the settings' errors."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from mock_nrfcloud.loader import LoadError
from mock_nrfcloud.simulation import FotaJobs, load_simulation

BUNDLE = "APP*1e29dfa3*v2.0.1"


def create(sim: FotaJobs, now: float, account: str = "a") -> str:
    body = json.dumps({"bundleId": BUNDLE, "autoApply": True, "deviceIdentifiers": ["d1"]})
    answer = sim.answer(account, "POST", "/v1/fota-jobs", body.encode(), None, now)
    assert answer.status == 200
    return json.loads(answer.body)["jobId"]


def status(sim: FotaJobs, job_id: str, now: float, account: str = "a") -> str | None:
    answer = sim.answer(account, "GET", f"/v1/fota-jobs/{job_id}", b"", None, now)
    return None if answer is None else json.loads(answer.body)["status"]


def test_jobs_get_their_own_ids_and_progress_over_time() -> None:
    sim = FotaJobs(in_progress_after=1, completed_after=3)
    first, second = create(sim, 100.0), create(sim, 100.0)
    assert first != second
    assert [status(sim, first, t) for t in (100.0, 101.0, 102.9, 103.0)] == [
        "QUEUED",
        "IN_PROGRESS",
        "IN_PROGRESS",
        "COMPLETED",
    ]
    details = json.loads(sim.answer("a", "GET", f"/v1/fota-jobs/{first}", b"", None, 104).body)
    assert details["firmware"] == {
        "bundleId": BUNDLE,
        "firmwareType": "APP",
        "host": "firmware.nrfcloud.com",
        "version": "v2.0.1",
    }
    assert details["lastUpdatedAt"].endswith("Z") and details["target"]["deviceIds"] == ["d1"]
    # another account's key does not see it; unknown jobs stay 404 (None)
    assert status(sim, first, 104.0, account="b") is None
    assert status(sim, "nope", 104.0) is None
    bad = sim.answer("a", "POST", "/v1/fota-jobs", b"{}", None, 100.0)
    assert bad.status == 400


def test_cancel_stops_a_running_job_only() -> None:
    sim = FotaJobs(in_progress_after=1, completed_after=3)
    job, done = create(sim, 100.0), create(sim, 90.0)
    for job_id in (job, done):
        answer = sim.answer("a", "PUT", f"/v1/fota-jobs/{job_id}/cancel", b"", None, 101.0)
        assert answer.status == 202 and answer.body == b""
    assert status(sim, job, 200.0) == "CANCELLED"
    assert status(sim, done, 200.0) == "COMPLETED"


def test_the_device_reports_what_completed_jobs_installed() -> None:
    sim = FotaJobs(in_progress_after=1, completed_after=3)
    item = {
        "id": "d1",
        "state": {
            "reported": {"device": {"deviceInfo": {"appVersion": "2.0.0"}}},
            "metadata": {"reported": {"device": {"deviceInfo": {"appVersion": {"timestamp": 1}}}}},
            "version": 7,
        },
    }
    kept = SimpleNamespace(
        id="r1",
        path="/v1/devices",
        status=200,
        keep=True,
        headers=(("A", "b"),),
        body=json.dumps({"items": [item, {**item, "id": "d2"}]}).encode(),
    )
    create(sim, 100.0)
    assert sim.answer("a", "GET", "/v1/devices", b"", kept, 101.0) is kept  # not done yet
    served = sim.answer("a", "GET", "/v1/devices", b"", kept, 104.0)
    d1, d2 = json.loads(served.body)["items"]
    assert d1["state"]["reported"]["device"]["deviceInfo"]["appVersion"] == "2.0.1"
    assert d1["state"]["metadata"]["reported"]["device"]["deviceInfo"]["appVersion"] == {
        "timestamp": 103
    }
    assert d1["state"]["version"] == 8
    assert d2 == {**item, "id": "d2"}  # only the job's device
    assert served.headers == kept.headers
    # another account's shadows are not touched
    assert sim.answer("b", "GET", "/v1/devices", b"", kept, 104.0) is kept


def test_queued_responses_win() -> None:
    sim = FotaJobs()
    queued = SimpleNamespace(status=200, keep=False)
    assert sim.answer("a", "POST", "/v1/fota-jobs", b"{}", queued, 1.0) is queued
    assert sim.answer("a", "GET", "/v1/other", b"", None, 1.0) is None


def test_settings_come_from_the_load_file(tmp_path: Path) -> None:
    file = tmp_path / "load.yaml"
    file.write_text("responses: []\n")
    assert load_simulation(file) is None
    file.write_text("simulate: {fotaJobs: {inProgressAfter: 0.5, completedAfter: 2}}\n")
    sim = load_simulation(file)
    assert sim is not None and (sim.in_progress_after, sim.completed_after) == (0.5, 2.0)
    for text, where in (
        ("simulate: {fotaJobs: {soon: 1}}", "simulate.fotaJobs.soon"),
        ("simulate: {fotaJobs: {completedAfter: -1}}", "simulate.fotaJobs.completedAfter"),
        ("simulate: {other: {}}", "simulate"),
    ):
        file.write_text(text + "\n")
        with pytest.raises(LoadError) as info:
            load_simulation(file)
        assert info.value.field == where and str(file) in str(info.value)
