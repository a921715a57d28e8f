"""Rerunning what failed and sharding (issue 14): --last-failed, --rerun-failed,
report --merge, --shard K/N."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_ci import ROOT, cli

from harness import narrow
from harness.loader import discover, parse_all
from harness.plan import make_plan

FLAKY = ("tests/specs/flaky", "--steps", "tests/specs/flaky/flaky_steps")


def planned(reports: Path) -> list[str]:
    first = json.loads((reports / "events.ndjson").read_text().splitlines()[0])
    return [r["run_id"] for r in first["plan"]]


def finished(reports: Path) -> dict[str, str]:
    events = [json.loads(line) for line in (reports / "events.ndjson").read_text().splitlines()]
    return {e["run_id"]: e["status"] for e in events if e["type"] == "feature_finished"}


def test_last_failed_runs_only_the_failed_and_skipped_runs_with_their_needs(tmp_path):
    first = cli("run", "tests/specs/ci", "--reports", str(tmp_path))
    assert first.returncode == 1
    assert len(planned(tmp_path)) == 4
    again = cli("run", "--last-failed", "--reports", str(tmp_path))
    assert again.returncode == 1, again.stdout + again.stderr
    # Fails and the one it skipped, with the base Fails needs; not the passing one.
    assert planned(tmp_path) == [
        "tests/specs/ci/Base.feature.md",
        "tests/specs/ci/Fails.feature.md",
        "tests/specs/ci/Dependent.feature.md",
    ]


def test_last_failed_after_a_passing_run_runs_nothing(tmp_path):
    assert (
        cli("run", "tests/specs/ci/Passes.feature.md", "--reports", str(tmp_path)).returncode == 0
    )
    again = cli("run", "--last-failed", "--reports", str(tmp_path))
    assert again.returncode == 0
    assert "nothing failed in the last run" in again.stdout


def test_last_failed_without_a_previous_run_says_so(tmp_path):
    done = cli("run", "--last-failed", "--reports", str(tmp_path / "none"))
    assert done.returncode == 2
    assert "no events of a previous run" in done.stderr


def test_rerun_failed_marks_what_then_passes_flaky_in_every_report(tmp_path):
    done = cli("run", *FLAKY, "--rerun-failed", "2", "--reports", str(tmp_path))
    assert done.returncode == 1  # Broken fails all three attempts
    assert "A flaky feature  passed · attempt 2, flaky" in done.stdout
    assert "flaky (passed when run again): A flaky feature" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "3 passed, 1 failed, 0 skipped"
    # The dependent ran: the flaky feature passed before it started.
    assert finished(tmp_path)["tests/specs/flaky/After.feature.md"] == "passed"
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["flaky"] == 1
    flaky = next(f for f in results["feature_runs"] if f["title"] == "A flaky feature")
    assert flaky["attempt"] == 2 and flaky["previous"][0]["status"] == "failed"
    assert (
        "Flaky (failed, then passed when run again): A flaky feature."
        in (tmp_path / "summary.md").read_text()
    )
    html = (tmp_path / "index.html").read_text()
    assert "flaky: passed at attempt 2" in html and "<b>1</b> flaky" in html
    root = ET.parse(tmp_path / "junit.xml").getroot()
    props = {
        s.get("name"): {p.get("name"): p.get("value") for p in s.iter("property")}
        for s in root.iter("testsuite")
    }
    assert props["A flaky feature"]["flaky"] == "true"
    assert props["A broken feature"] == {
        **props["A broken feature"],
        "attempts": "3",
        "flaky": "false",
    }
    messages = [
        json.loads(line) for line in (tmp_path / "messages.ndjson").read_text().splitlines()
    ]
    pickle_of = {
        m["testCase"]["id"]: m["testCase"]["pickleId"] for m in messages if "testCase" in m
    }
    attempts = sorted(
        m["testCaseStarted"]["attempt"]
        for m in messages
        if "testCaseStarted" in m and "Broken" in pickle_of[m["testCaseStarted"]["testCaseId"]]
    )
    assert attempts == [0, 1, 2]
    retried = [m["testCaseFinished"]["willBeRetried"] for m in messages if "testCaseFinished" in m]
    assert retried.count(True) == 4  # Flaky's two scenarios once, Broken's one twice


def test_a_flaky_feature_run_is_a_warning_annotation_under_github_actions(tmp_path):
    done = cli(
        "run",
        *FLAKY,
        "--rerun-failed",
        "1",
        "--reports",
        str(tmp_path),
        env={"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(ROOT)},
    )
    warnings = [line for line in done.stdout.splitlines() if line.startswith("::warning ")]
    assert warnings == [
        "::warning file=tests/specs/flaky/Flaky.feature.md,line=9,title=flaky%3A A flaky "
        "feature::failed at attempt 1, passed at attempt 2: attempt 1 for flaky fails on "
        "purpose"
    ]
    assert any(
        line.startswith("::error file=tests/specs/flaky/Broken.feature.md,line=5,")
        for line in done.stdout.splitlines()
    )


def test_without_rerun_failed_a_failure_is_final(tmp_path):
    done = cli("run", *FLAKY, "--reports", str(tmp_path))
    assert done.returncode == 1
    assert finished(tmp_path)["tests/specs/flaky/After.feature.md"] == "skipped"


def test_shards_of_specs_run_every_feature_run_once_and_merge_into_one_report(tmp_path):
    whole = tmp_path / "whole"
    assert cli("run", "--reports", str(whole), "-q").returncode == 0
    shards = []
    for k in (1, 2):
        folder = tmp_path / f"shard{k}"
        done = cli("run", "--shard", f"{k}/2", "--reports", str(folder), "-q")
        assert done.returncode == 0, done.stdout + done.stderr
        shards.append(folder)
    ran = [planned(s) for s in shards]
    assert ran[0] and ran[1] and not set(ran[0]) & set(ran[1])
    assert sorted(ran[0] + ran[1]) == sorted(planned(whole))
    assert sorted(finished(shards[0]) | finished(shards[1])) == sorted(planned(whole))
    merged = tmp_path / "merged"
    done = cli(
        "report", "--merge", *(str(s / "events.ndjson") for s in shards), "--reports", str(merged)
    )
    assert done.returncode == 0, done.stderr
    assert sorted(planned(merged)) == sorted(planned(whole))
    one = json.loads((merged / "results.json").read_text())
    assert one["counts"] == json.loads((whole / "results.json").read_text())["counts"]
    assert one["status"] == "passed"
    assert (merged / "index.html").is_file() and (merged / "messages.ndjson").is_file()


def test_merge_takes_a_rerun_over_the_first_failure(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    assert cli("run", *FLAKY, "--reports", str(first)).returncode == 1
    # A second process: the flaky step has not failed there yet, so it fails again;
    # Passes after the merge is still only what each file owns.
    cli(
        "run",
        "tests/specs/ci/Passes.feature.md",
        *FLAKY,
        "--rerun-failed",
        "1",
        "--reports",
        str(second),
    )
    merged = tmp_path / "merged"
    assert (
        cli(
            "report",
            "--merge",
            str(first / "events.ndjson"),
            str(second / "events.ndjson"),
            "--reports",
            str(merged),
        ).returncode
        == 0
    )
    results = json.loads((merged / "results.json").read_text())
    by_title = {f["title"]: f for f in results["feature_runs"]}
    assert by_title["A flaky feature"]["status"] == "passed"
    assert by_title["After the flaky feature"]["status"] == "passed"
    assert by_title["A feature that passes on its own"]["status"] == "passed"
    assert results["status"] == "failed"  # Broken failed in both


# -- the sharding itself, over the plan of specs/ ----------------------------------------


@pytest.fixture(scope="module")
def specs_plan():
    return make_plan(parse_all(discover([str(ROOT / "specs")])[0]))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 40])
def test_shards_partition_the_plan_and_keep_needs_together(specs_plan, n):
    seen: list[str] = []
    for k in range(1, n + 1):
        part = narrow.shard(specs_plan, k, n)
        ids = {r.run_id for r in part.runs}
        assert all(set(r.deps) <= ids for r in part.runs)
        seen += ids
        assert [r.run_id for r in part.runs] == [
            r.run_id for r in specs_plan.runs if r.run_id in ids
        ]  # plan order kept
    assert sorted(seen) == sorted(r.run_id for r in specs_plan.runs)


def test_shards_are_balanced_by_steps_and_deterministic(specs_plan):
    cost = narrow.weights(specs_plan)
    loads = [sum(cost[r.run_id] for r in narrow.shard(specs_plan, k, 2).runs) for k in (1, 2)]
    biggest_group = max(sum(cost[r.run_id] for r in g) for g in narrow.groups(specs_plan))
    assert abs(loads[0] - loads[1]) <= biggest_group
    assert [r.run_id for r in narrow.shard(specs_plan, 1, 2).runs] == [
        r.run_id for r in narrow.shard(specs_plan, 1, 2).runs
    ]


def test_durations_of_a_previous_run_decide_the_balance(specs_plan):
    ids = [r.run_id for r in specs_plan.runs]
    slow = ids[-1]
    durations = dict.fromkeys(ids, 0.1) | {slow: 100.0}
    alone = narrow.shard(specs_plan, 1, 2, durations)
    assert slow in {r.run_id for r in alone.runs}
    group = next(g for g in narrow.groups(specs_plan) if slow in {r.run_id for r in g})
    assert {r.run_id for r in alone.runs} == {r.run_id for r in group}  # alone with it


def test_shard_syntax_is_checked():
    for bad in ("0/2", "3/2", "1", "a/b"):
        with pytest.raises(narrow.NarrowError, match="expected K/N"):
            narrow.parse_shard(bad)
    assert narrow.parse_shard(" 2 / 3 ") == (2, 3)
