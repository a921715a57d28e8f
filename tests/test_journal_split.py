"""One journal fetch per feature run on the embedded target, split at scenario ends."""

import asyncio
from typing import Any

from harness.targets.base import Account, Target, TargetRun, _journal_time


class FakeMock:
    def __init__(self, entries: list[dict[str, Any]], fail: bool = False) -> None:
        self.entries, self.fail, self.calls = entries, fail, 0

    async def requests(self, account: str, since: int | None = None) -> list[dict[str, Any]]:
        self.calls += 1
        if self.fail:
            raise ConnectionError("mock gone")
        return [e for e in self.entries if since is None or e["id"] > since]


def target_run(shares_clock: bool, mock: FakeMock) -> TargetRun:
    target = Target(mock_url="http://127.0.0.1:1")
    target.shares_clock = shares_clock
    run = TargetRun.__new__(TargetRun)
    run.target, run.mock = target, mock  # type: ignore[assignment]
    run._accounts = {"nordic": Account("nordic", "nordic-x", "key")}
    run._journal_seen, run._scenario_ends = {}, []
    return run


def entry(n: int, ts: float) -> dict[str, Any]:
    return {"id": n, "time": _journal_time(ts)}


def test_entries_go_to_the_scenario_that_ended_after_them() -> None:
    mock = FakeMock([entry(1, 100.0), entry(2, 100.5), entry(3, 101.2), entry(4, 103.0)])
    run = target_run(True, mock)
    run._scenario_ends = [
        ("s1", _journal_time(100.5)),
        ("s2", _journal_time(101.0)),
        ("s3", _journal_time(102.0)),
    ]
    split = asyncio.run(run.journal_by_scenario())
    # entry 2 came in the millisecond s1 ended: s1's; s2 had none; entry 4 came after the end
    assert [(s, [e["id"] for e in es]) for s, es in split] == [("s1", [1, 2]), ("s3", [3])]
    assert mock.calls == 1


def test_a_remote_mock_is_asked_per_scenario() -> None:
    run = target_run(False, FakeMock([]))
    assert not run.scenario_ended("s1")
    assert asyncio.run(run.journal_by_scenario()) == []


def test_an_unavailable_journal_is_said_on_the_last_scenario() -> None:
    run = target_run(True, FakeMock([], fail=True))
    assert run.scenario_ended("s1") and run.scenario_ended("s2")
    [(scenario, [only])] = asyncio.run(run.journal_by_scenario())
    assert scenario == "s2" and "mock gone" in only["error"]


def test_each_scenario_gets_its_own_calls_end_to_end(tmp_path) -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "run",
            "specs/FOTA.feature.md",
            "--reports",
            str(tmp_path),
            "-v",
        ],
        cwd=root,
        text=True,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # attached as the feature run ends, so the console names the scenario
    assert "in 'Schedule the FOTA job'" in done.stdout
    events = [json.loads(line) for line in (tmp_path / "events.ndjson").read_text().splitlines()]
    names = {
        s["id"]: s["name"]
        for e in events
        if e["type"] == "run_started"
        for run in e["plan"]
        for s in run["executions"]
    }
    journals = {
        names[e["data"]["scenario_id"]]: e["data"]["entries"]
        for e in events
        if e["type"] == "attachment" and e["kind"] == "journal"
    }
    # the job's creation, and perhaps the backend's first look at it right after
    scheduled = [(x["method"], x["path"]) for x in journals["Schedule the FOTA job"]]
    assert scheduled[0] == ("POST", "/v1/fota-jobs")
    assert all(
        ("POST", "/v1/fota-jobs") not in [(x["method"], x["path"]) for x in entries]
        for name, entries in journals.items()
        if name != "Schedule the FOTA job"
    )
