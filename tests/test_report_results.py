"""The result tree: the plan's skeleton filled by id from the real runner's events."""

from __future__ import annotations

import pytest
from support.reports import SPECS, play

from harness.events import FeatureRunFinished, RunFinished
from harness.naming import label, named
from harness.report.results import ResultBuilder, RunResult

FOTA = "FOTA.feature.md"


@pytest.fixture(scope="module")
def played():
    return play(SPECS / "reports")


def build(events) -> RunResult:
    builder = ResultBuilder()
    for event in events:
        builder(event)
    return builder.result()


def feature(run: RunResult, name: str):
    return next(f for f in run.feature_runs if f.name == name)


def until(events, predicate):
    """The stream cut just after the first event matching, as a kill leaves it."""
    return events[: next(i for i, e in enumerate(events) if predicate(e)) + 1]


def test_counts_match_what_the_runner_counted(played):
    run = played.result
    assert run.counts == played.outcome.counts == {"passed": 6, "failed": 2, "skipped": 2}
    assert run.complete and not run.interrupted
    assert run.exit_code == 1


def test_names_come_from_the_plan_once(played):
    run = played.result
    assert [f.name for f in run.feature_runs] == [
        'Arithmetic <html> & "quotes"',
        "Device FOTA [nw=ltem]",
        "Device FOTA [nw=nbiot]",
        "Device map",
    ]
    assert run.feature_runs[1].title == "Device FOTA"
    outline = run.feature_runs[0]
    assert [s.name for s in outline.scenarios] == [
        "Add 1 and 2 [a=1, b=2, sum=3]",
        "Add 2 and 2 [a=2, b=2, sum=4]",
        "Add 5 and 5 [a=5, b=5, sum=11]",
    ]
    assert {s.rule for s in outline.scenarios} == {"Sums"}
    assert outline.rules[0].description == "Adding numbers."
    assert outline.scenarios[0].tags == ["slow"]  # the comment under the heading


def test_one_naming_function_reads_json_values_the_same_everywhere():
    assert (
        label({"nw": "ltem", "fast": True, "n": 2, "o": {"a": [1]}})
        == 'nw=ltem, fast=true, n=2, o={"a":[1]}'
    )
    assert named("T", None) == "T" and named("T", {}) == "T"
    assert named("T", {"fast": True}) == "T [fast=true]"


def test_failed_step_keeps_error_attempts_and_resolved_code(played):
    nbiot = feature(played.result, "Device FOTA [nw=nbiot]")
    check = next(s for s in nbiot.scenarios if s.title == "Check the status")
    step = next(s for s in check.steps if s.status == "failed")
    assert step.error["kind"] == "assertion"
    assert 'expected "COMPLETED", got "IN_PROGRESS"' in step.error["message"]
    assert step.error["detail"].startswith("--- expected")
    assert step.attempt_count == 4 and [a.attempt for a in step.attempts] == [1, 2, 3, 4]
    assert [(f.error, f.count, f.first, f.last) for f in step.distinct_failures()] == [
        ("no job yet", 1, 1, 1),
        ('at $.status: expected "COMPLETED", got "IN_PROGRESS"', 3, 2, 4),
    ]
    assert step.language == "json" and '"bc631093"' in step.code and "${jobId}" not in step.code


def test_a_soon_step_that_passed_after_retries_is_not_flaky(played):
    ltem = feature(played.result, "Device FOTA [nw=ltem]")
    schedule = next(s for s in ltem.scenarios if s.title == "Schedule the FOTA job")
    soon = schedule.steps[-1]
    assert soon.keyword == "Soon" and soon.status == "passed" and soon.retrying
    assert soon.attempt_count == 3 and soon.passed_after_retries
    assert [a.error is None for a in soon.attempts] == [False, False, True]
    assert [log.level for log in soon.logs][:2] == ["progress", "debug"]
    assert not hasattr(soon, "flaky") and not hasattr(schedule, "flaky")
    assert played.result.passed_after_retries == 3  # Schedule and Receive (ltem), Schedule (nbiot)


def test_attachments_land_on_their_step(played):
    ltem = feature(played.result, "Device FOTA [nw=ltem]")
    post = ltem.scenarios[1].steps[0]
    assert post.resolved.startswith("I `POST` `http://127.0.0.1:8000/device/")
    assert post.text.startswith("I `POST` `${APIURL}")
    assert [a.kind for a in post.attachments] == ["http"]


def test_what_a_failure_skipped_is_listed_from_the_plan_with_the_reason(played):
    nbiot = feature(played.result, "Device FOTA [nw=nbiot]")
    receive = nbiot.scenarios[-1]
    assert receive.title == "Receive a notification" and not receive.ran
    assert receive.status == "skipped"
    assert receive.reason == "an earlier scenario failed: 'Check the status'"
    assert [s.status for s in receive.steps] == ["skipped"]
    arithmetic = played.result.feature_runs[0]
    failed = arithmetic.scenarios[-1]
    assert [s.status for s in failed.steps] == ["passed", "failed"]


def test_skipped_feature_shows_every_scenario_as_skipped_with_the_reason(played):
    skipped = feature(played.result, "Device map")
    assert skipped.status == "skipped"
    assert [s.name for s in skipped.scenarios] == ["Show the device on the map"]
    scenario = skipped.scenarios[0]
    assert scenario.status == "skipped" and not scenario.ran
    assert scenario.reason == "needs 'Device FOTA [nw=nbiot]', which failed"
    assert [s.status for s in scenario.steps] == ["skipped", "skipped"]
    assert skipped.counts == {"passed": 0, "failed": 0, "skipped": 1}


def test_stream_without_run_finished_marks_unfinished_items_interrupted(played):
    # Killed while the ltem run waits on its first Soon step (after attempt 2).
    events = until(
        played.events,
        lambda e: e.type == "step_attempt" and e.attempt == 2 and e.run_id.endswith(FOTA + "#1"),
    )
    run = build(events)
    assert run.interrupted and not run.complete and run.status == "interrupted"
    ltem = feature(run, "Device FOTA [nw=ltem]")
    assert ltem.interrupted and ltem.status == "skipped" and ltem.reason == "interrupted"
    schedule = ltem.scenarios[1]
    assert schedule.interrupted and schedule.status == "skipped"
    waiting = schedule.steps[-1]
    assert waiting.interrupted and waiting.reason == "interrupted"
    assert len(waiting.attempts) == 2  # the attempts made before the kill are kept
    # Scenarios the run never reached are listed, not lost.
    assert [s.title for s in ltem.scenarios[2:]] == ["Check the status", "Receive a notification"]
    assert all(s.reason == "interrupted" and not s.ran for s in ltem.scenarios[2:])
    # Planned feature runs that never started appear as skipped.
    later = feature(run, "Device map")
    assert later.status == "skipped" and later.reason == "interrupted"


def test_run_finished_interrupted_is_reported_as_interrupted(played):
    events = until(played.events, lambda e: e.type == "feature_finished")
    run = build(
        [
            *events,
            RunFinished(
                status="interrupted",
                duration=0.1,
                counts={},
                exit_code=130,
                interrupted=True,
                time=events[-1].time,
            ),
        ]
    )
    assert run.interrupted and run.complete and run.exit_code == 130


def test_a_failed_background_counts_as_a_failure_and_skips_the_rest(tmp_path):
    spec = tmp_path / "Bg.feature.md"
    spec.write_text(
        "# Bg\n\n## Background\n\nGiven it crashes\n\n## One\n\n"
        "Given I store `1` into `x`\n\n## Two\n\nGiven I store `2` into `x`\n",
        encoding="utf-8",
    )
    played = play(spec)
    run = played.result
    background, one, _ = run.feature_runs[0].scenarios
    assert background.kind == "background" and background.counted
    assert run.counts == played.outcome.counts == {"passed": 0, "failed": 1, "skipped": 2}
    assert one.reason == "an earlier scenario failed: 'Background'"


def test_a_background_that_passed_is_not_a_scenario_in_the_counts(tmp_path):
    spec = tmp_path / "Bg.feature.md"
    spec.write_text(
        "# Bg\n\n## Background\n\nGiven I store `1` into `x`\n\n## One\n\nThen `${x}` equals `1`\n",
        encoding="utf-8",
    )
    run = play(spec).result
    assert run.counts == {"passed": 1, "failed": 0, "skipped": 0}
    assert len(run.feature_runs[0].scenarios) == 2


def test_path_line_selection_limits_the_plan_and_so_the_tree():
    fota = SPECS / "reports" / FOTA
    run = play(fota, lines={str(fota): {30}}).result  # the "Schedule" scenario
    assert [s.title for s in run.feature_runs[0].scenarios] == [
        "Background",
        "Schedule the FOTA job",
    ]


def test_ctrl_c_closing_the_feature_run_as_passed_still_shows_it_interrupted(played):
    # On cancellation a runner may close the feature run while a scenario is still open.
    events = until(
        played.events,
        lambda e: e.type == "step_attempt" and e.attempt == 2 and e.run_id.endswith(FOTA + "#1"),
    )
    run_id = events[-1].run_id
    run = build(
        [
            *events,
            FeatureRunFinished(run_id=run_id, status="passed", duration=0.3, time=events[-1].time),
            RunFinished(
                status="interrupted",
                duration=0.3,
                counts={},
                exit_code=130,
                interrupted=True,
                time=events[-1].time,
            ),
        ]
    )
    ltem = next(f for f in run.feature_runs if f.id == run_id)
    assert ltem.interrupted and ltem.status == "skipped" and ltem.reason == "interrupted"
    assert [s.status for s in ltem.scenarios] == ["passed", "skipped", "skipped", "skipped"]
    assert run.interrupted and run.exit_code == 130


def test_malformed_unknown_and_unplanned_events_are_ignored():
    builder = ResultBuilder()
    builder.add({"type": "nonsense"})
    builder.add({"type": "scenario_started"})  # no ids
    builder.add({"type": "step_finished", "step_id": "nope"})
    builder.add({"type": "log", "run_id": "x", "step_id": None, "level": "info", "message": "m"})
    run = builder.result()
    assert run.interrupted and run.feature_runs == []


def test_events_after_run_finished_do_not_change_the_tree(played):
    before = build(played.events).to_dict()
    after = build([*played.events, *played.events[1:5]]).to_dict()
    assert before == after


def test_killed_before_the_running_step_sent_anything_that_step_is_the_one_cut(played):
    # There is no StepStarted: the first unfinished step of a started scenario ran.
    events = until(
        played.events,
        lambda e: (
            e.type == "scenario_started"
            and e.run_id.endswith(FOTA + "#1")
            and e.scenario_id.endswith("/2")
        ),
    )
    run = build(events)
    schedule = feature(run, "Device FOTA [nw=ltem]").scenarios[1]
    first, second = schedule.steps
    assert first.ran and first.interrupted and first.reason == "interrupted"
    assert not second.ran and second.interrupted and second.status == "skipped"


def test_a_run_cut_by_its_timeout_says_timed_out(played, tmp_path):
    from support.reports import FAST

    from harness.run.runner import RunSettings

    spec = tmp_path / "Hang.feature.md"
    spec.write_text(
        "# Hang\n\n## S\n\nGiven it waits forever\n\n## T\n\nGiven it crashes\n", encoding="utf-8"
    )
    timed = play(spec, tmp_path / "r", settings=RunSettings(retry=FAST, run_timeout=0.2))
    run = timed.result
    assert run.status == "timed out" and run.stopped_by == "timed out" and run.interrupted
    hang, later = run.feature_runs[0].scenarios
    assert hang.steps[0].reason == "timed out" and later.reason == "timed out"
    assert "Timed out: the summary and reports cover what ran." in timed.output
    summary = (tmp_path / "r" / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## ⚠️ Spec run timed out\n") and "interrupted" not in summary
