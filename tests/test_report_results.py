"""The result tree: events folded with the spec into what every report format reads."""

from __future__ import annotations

import dataclasses
import datetime as dt

from harness.events import (
    FeatureRunFinished,
    FeatureRunStarted,
    RunFinished,
    ScenarioFinished,
    ScenarioStarted,
    StepFinished,
    StepStarted,
)
from harness.report.demo import Script, demo_events, demo_script, fota_feature, outline_feature
from harness.report.results import ResultBuilder, RunResult, label, named, row_title, run_name


def build(events) -> RunResult:
    builder = ResultBuilder()
    for event in events:
        builder.add(event.to_dict())
    return builder.result()


def feature(run: RunResult, run_id: str):
    return next(f for f in run.feature_runs if f.id == run_id)


def test_counts_match_what_the_runner_counted():
    script = demo_script()
    run = build(script.events)
    assert run.counts == script.scenario_counts == {"passed": 6, "failed": 2, "skipped": 2}
    assert run.complete and not run.interrupted
    assert run.exit_code == 1


def test_variants_and_outline_rows_are_named():
    run = build(demo_events())
    names = [f.name for f in run.feature_runs]
    assert names[:2] == ["Device FOTA [nw=ltem]", "Device FOTA [nw=nbiot]"]
    outline = feature(run, "specs/Arithmetic.feature.md")
    assert [s.name for s in outline.scenarios] == [
        "Add 1 and 2 [a=1, b=2, sum=3]", "Add 2 and 2 [a=2, b=2, sum=4]",
        "Add 5 and 5 [a=5, b=5, sum=11]"]
    assert {s.rule for s in outline.scenarios} == {"Sums"}
    assert outline.rules[0].description == "Adding numbers."


def test_failed_step_keeps_error_attempts_and_resolved_code():
    run = build(demo_events())
    nbiot = feature(run, "specs/FOTA.feature.md#2")
    check = next(s for s in nbiot.scenarios if s.title == "Check the status")
    step = next(s for s in check.steps if s.status == "failed")
    assert step.error["kind"] == "assertion"
    assert 'expected "COMPLETED", got "IN_PROGRESS"' in step.error["message"]
    assert step.error["detail"].startswith("--- expected")
    assert step.attempt_count == 4 and [a.attempt for a in step.attempts] == [1, 2, 3, 4]
    assert all(a.error for a in step.attempts)
    assert step.language == "json" and '"bc631093"' in step.code


def test_soon_step_that_passed_after_retries_is_flaky():
    run = build(demo_events())
    ltem = feature(run, "specs/FOTA.feature.md")
    schedule = next(s for s in ltem.scenarios if s.title == "Schedule the FOTA job")
    soon = schedule.steps[-1]
    assert soon.keyword == "Soon" and soon.status == "passed"
    assert soon.attempt_count == 3 and soon.flaky and schedule.flaky
    assert [a.error is None for a in soon.attempts] == [False, False, True]
    assert [log.level for log in soon.logs] == ["progress", "debug"]
    assert run.flaky == 3  # Schedule and Receive in both variants, less the failed run's


def test_attachments_and_journal_land_on_their_step_and_scenario():
    run = build(demo_events())
    ltem = feature(run, "specs/FOTA.feature.md")
    schedule = ltem.scenarios[1]
    post = schedule.steps[0]
    assert post.resolved.startswith("I `POST` `http://127.0.0.1:8000/device/")
    assert post.text.startswith("I `POST` `${APIURL}")
    assert [a.kind for a in post.attachments] == ["http"]
    assert schedule.journal[0]["path"] == "/v1/fota-jobs"


def test_skipped_feature_shows_every_scenario_as_skipped_with_the_reason():
    run = build(demo_events())
    skipped = feature(run, "specs/Map.feature.md")
    assert skipped.status == "skipped"
    assert [s.name for s in skipped.scenarios] == ["Show the device on the map"]
    scenario = skipped.scenarios[0]
    assert scenario.status == "skipped" and not scenario.ran
    assert scenario.reason == "needs 'Device FOTA [nw=nbiot]', which failed"
    assert [s.status for s in scenario.steps] == ["skipped", "skipped"]
    assert skipped.counts == {"passed": 0, "failed": 0, "skipped": 1}


def test_skipped_outline_feature_expands_its_rows():
    script = Script()
    script.skip_feature(outline_feature(), "specs/A.feature.md", "needs X")
    run = build(script.events)
    assert [s.example for s in run.feature_runs[0].scenarios] == [
        {"a": "1", "b": "2", "sum": "3"}, {"a": "2", "b": "2", "sum": "4"},
        {"a": "5", "b": "5", "sum": "11"}]
    assert run.counts["skipped"] == 3


def test_stream_without_run_finished_marks_unfinished_items_interrupted():
    # Killed while the second FOTA run waits on a Soon step (its 6th step).
    run = build(demo_events(interrupt_after=6))
    assert run.interrupted and not run.complete and run.status == "interrupted"
    nbiot = feature(run, "specs/FOTA.feature.md#2")
    assert nbiot.interrupted and nbiot.status == "skipped" and nbiot.reason == "interrupted"
    schedule = nbiot.scenarios[1]
    assert schedule.interrupted and schedule.status == "skipped"
    waiting = schedule.steps[-1]
    assert waiting.interrupted and waiting.reason == "interrupted"
    assert len(waiting.attempts) == 2  # the attempts made before the kill are kept
    # Scenarios the run never reached are listed, not lost.
    assert [s.title for s in nbiot.scenarios[2:]] == ["Check the status", "Receive a notification"]
    assert all(s.reason == "interrupted" and not s.ran for s in nbiot.scenarios[2:])
    # Planned feature runs that never started appear as skipped.
    later = feature(run, "specs/Map.feature.md")
    assert later.status == "skipped" and later.reason == "interrupted"
    # The Background of each FOTA run is not a scenario: 3 + 0 passed, 3 skipped.
    assert run.counts == {"passed": 3, "failed": 0, "skipped": 3}


def test_run_finished_interrupted_is_reported_as_interrupted():
    script = demo_script(interrupt_after=6)
    script.run_finished(interrupted=True)
    run = build(script.events)
    assert run.interrupted and run.complete and run.exit_code == 130


def _failed_background(*, finish: bool) -> list:
    """A FOTA run whose Background fails at its first step; with `finish`, the feature
    run ends there without reporting the rest (as after a failure the runner does not:
    it reports them, and then nothing is added)."""
    fota = fota_feature()
    script = Script()
    run_id = "specs/FOTA.feature.md"
    script.emit(FeatureRunStarted, run_id=run_id, path=fota.path, title=fota.title,
                variant=None, feature=dataclasses.asdict(fota))
    background = fota.background
    script.emit(ScenarioStarted, run_id=run_id, scenario_id=f"{run_id}/1", title="Background",
                line=background.line, kind="background")
    step = background.steps[0]
    script.emit(StepStarted, run_id=run_id, scenario_id=f"{run_id}/1", step_id=f"{run_id}/1/1",
                keyword=step.keyword, kind=step.kind, text=step.text, line=step.line)
    script.emit(StepFinished, run_id=run_id, scenario_id=f"{run_id}/1", step_id=f"{run_id}/1/1",
                status="failed", duration=0.1, text=step.text,
                error={"message": "boom", "kind": "error", "detail": None})
    if finish:
        script.emit(ScenarioFinished, run_id=run_id, scenario_id=f"{run_id}/1",
                    status="failed", duration=0.1)
        script.emit(FeatureRunFinished, run_id=run_id, status="failed", duration=0.1)
        script.emit(RunFinished, status="failed", duration=0.1, counts={}, exit_code=1)
    return script.events


def test_a_failed_background_counts_as_a_failure_and_nothing_is_invented_after_it():
    run = build(_failed_background(finish=True))
    (background,) = run.feature_runs[0].scenarios  # selection is the runner's business
    assert background.kind == "background" and background.counted
    assert run.counts == {"passed": 0, "failed": 1, "skipped": 0}


def test_a_run_killed_in_the_background_lists_the_rest_as_interrupted():
    run = build(_failed_background(finish=False))
    scenarios = run.feature_runs[0].scenarios
    assert [s.status for s in scenarios] == ["failed", "skipped", "skipped", "skipped"]
    assert [s.status for s in scenarios[0].steps] == ["failed", "skipped", "skipped"]
    assert all(s.reason == "interrupted" for s in scenarios[1:])
    assert run.counts == {"passed": 0, "failed": 1, "skipped": 3}


def test_planned_scenario_lines_limit_what_a_skipped_run_lists():
    script = Script()
    fota = fota_feature()
    wanted = [s.line for s in fota.scenarios()][1:2]
    script.run_started([{"run_id": "r", "path": fota.path, "title": fota.title,
                         "variant": None, "needs": [], "scenarios": wanted}])
    script.skip_feature(fota, "r", "needs 'X', which failed")
    run = build(script.events)
    assert [s.title for s in run.feature_runs[0].scenarios] == ["Background", "Check the status"]
    assert run.counts == {"passed": 0, "failed": 0, "skipped": 1}


def test_a_background_that_passed_is_not_a_scenario_in_the_counts():
    run = build(demo_events(fail=False))
    assert run.counts == {"passed": 10, "failed": 0, "skipped": 0}
    assert sum(len(f.scenarios) for f in run.feature_runs) == 12


def test_titles_the_runner_decorated_are_named_once():
    run = build(demo_events())
    assert run.feature_runs[0].title == "Device FOTA"
    assert run.feature_runs[0].name == "Device FOTA [nw=ltem]"
    assert row_title("Add <a> (a=1)", {"a": "1"}) == "Add 1"
    assert run_name("T [v=1]", {"v": 1}) == "T [v=1]" and run_name("T", {"v": 1}) == "T [v=1]"


def test_passed_feature_is_not_padded_with_unselected_scenarios():
    fota = fota_feature()
    script = Script()
    script.emit(FeatureRunStarted, run_id="r", path=fota.path, title=fota.title, variant=None,
                feature=dataclasses.asdict(fota))
    script.emit(FeatureRunFinished, run_id="r", status="passed", duration=0.0)
    script.emit(RunFinished, status="passed", duration=0.0, counts={}, exit_code=0)
    assert build(script.events).feature_runs[0].scenarios == []


def test_malformed_and_unknown_events_are_ignored():
    builder = ResultBuilder()
    builder.add({"type": "nonsense"})
    builder.add({"type": "scenario_started"})  # no ids
    builder.add({"type": "step_finished", "step_id": "nope"})
    builder.add({"type": "log", "run_id": "x", "step_id": None, "level": "info", "message": "m"})
    run = builder.result()
    assert run.interrupted and run.feature_runs[0].logs[0].message == "m"


def test_events_after_run_finished_do_not_change_the_tree():
    events = demo_events()
    before = build(events).to_dict()
    after = build([*events, *demo_events()[1:5]]).to_dict()
    assert before == after


def test_front_matter_datetimes_survive_as_text():
    fota = fota_feature()
    fota.front_matter["exampleContext"] = {"tsISO": dt.datetime(2023, 9, 12, tzinfo=dt.UTC)}
    script = Script()
    script.play(fota, "specs/FOTA.feature.md")
    run = build(script.events)
    assert run.feature_runs[0].spec is not None


def test_labels():
    assert label({"nw": "ltem", "n": 2, "o": {"a": [1]}}) == 'nw=ltem, n=2, o={"a":[1]}'
    assert named("T", None) == "T" and named("T", {}) == "T"


def test_ctrl_c_closing_the_feature_run_as_passed_still_shows_it_interrupted():
    # On cancellation a runner may close the feature run (status "passed", its default)
    # while a scenario is still open, then emit RunFinished(interrupted=True).
    script = demo_script(interrupt_after=6)
    script.emit(FeatureRunFinished, run_id="specs/FOTA.feature.md#2", status="passed",
                duration=0.3)
    script.run_finished(interrupted=True)
    run = build(script.events)
    nbiot = feature(run, "specs/FOTA.feature.md#2")
    assert nbiot.interrupted and nbiot.status == "skipped" and nbiot.reason == "interrupted"
    assert [s.status for s in nbiot.scenarios] == ["passed", "skipped", "skipped", "skipped"]
    assert run.interrupted and run.exit_code == 130
