"""Retry settings: parsed and checked by the parser, merged once, bounded at run time."""

from __future__ import annotations

import asyncio

import pytest
from support.reports import SPECS, play, scripted_registry

from harness.cli import main
from harness.events import EventBus
from harness.plan import make_plan
from harness.run.retry import RetryPolicy
from harness.run.runner import RECORD_ALL, Runner, RunSettings
from harness.spec.errors import SpecErrors
from harness.spec.parser import parse_text


def errors_of(text: str) -> list[str]:
    with pytest.raises(SpecErrors) as caught:
        parse_text(text, "r.feature.md")
    return [str(e).split("\n")[0] for e in caught.value.errors]


@pytest.mark.parametrize(
    ("tag", "place", "fragment"),
    [
        (
            "@retry:tires=5",
            "r.feature.md:5:6",
            "unknown retry setting `tires`; expected one of tries",
        ),
        ("@retry:tries=many", "r.feature.md:5:6", "`tries` must be a number, got 'many'"),
        ("@retry:tries=0", "r.feature.md:5:6", "`tries` must be a whole number of at least 1"),
        ("@retry:tries=2.5", "r.feature.md:5:6", "`tries` must be a whole number"),
        ("@retry:factor=0.5", "r.feature.md:5:6", "`factor` must be at least 1"),
        ("@retry:timeout=-1", "r.feature.md:5:6", "must be a non-negative number"),
        ("@retry:tries", "r.feature.md:5:6", "expected key=value"),
        ("@retry:", "r.feature.md:5:6", "no setting given"),
    ],
)
def test_a_bad_retry_tag_is_a_spec_error_with_its_place(tag, place, fragment):
    (error,) = errors_of(f"# F\n\n## S\n\n<!-- {tag} -->\n\nSoon x\n")
    assert error.startswith(place) and fragment in error


def test_a_tag_on_a_later_line_of_a_comment_is_pointed_at():
    (error,) = errors_of("# F\n\n## S\n\nGiven a\n\n<!--\n  why\n  @retry:nope=1\n-->\n\nSoon x\n")
    assert error.startswith("r.feature.md:9:3:")


def test_check_refuses_a_bad_retry_tag(tmp_path, capsys):
    spec = tmp_path / "r.feature.md"
    spec.write_text("# F\n\n## S\n\n<!-- @retry:tires=5 -->\n\nSoon x\n", encoding="utf-8")
    assert main(["check", "--syntax-only", str(spec)]) == 2
    assert f"{spec}:5:6: `@retry:tires=5`: unknown retry setting" in capsys.readouterr().err


def test_where_a_retry_comment_attaches():
    feature = parse_text(
        "---\nretry:\n  timeout: 900\n---\n<!-- @retry:maxDelay=7 -->\n# F\n\n"
        "## Rule: R\n\n<!-- @retry:factor=3 -->\n\n### S\n\n"
        "<!-- @retry:tries=5 -->\n\n"  # right under the heading: the scenario's
        "Given a\n\n"
        "<!-- @retry:initialDelay=9 -->\n\n"  # before a later step: that step's
        "Soon b after 2 retries\n",
        "r.feature.md",
    )
    assert feature.retry == {"timeout": 900, "maxDelay": 7.0}
    (scenario,) = feature.children[0].scenarios
    assert scenario.retry == {"factor": 3.0, "tries": 5}
    first, second = scenario.steps
    assert first.retry == {} and first.tags == []
    assert second.retry == {"initialDelay": 9.0, "tries": 3}  # `after 2 retries`: 3 tries


def test_one_merge_command_line_then_front_matter_feature_rule_scenario_step_suffix():
    feature = parse_text(
        "---\nretry:\n  timeout: 900\n  tries: 9\n---\n<!-- @retry:maxDelay=7 -->\n# F\n\n"
        "## S\n\n<!-- @retry:tries=5,factor=3 -->\n\nGiven a\n\n"
        "<!-- @retry:initialDelay=9 -->\n\nSoon b after 2 retries\n\nSoon c\n",
        "r.feature.md",
    )
    (run,) = make_plan([feature]).runs
    _, b, c = run.executions[0].steps
    cli = RetryPolicy(timeout=100, initialDelay=1)
    assert cli.merged(b.retry) == RetryPolicy(
        tries=3, initialDelay=9, factor=3, maxDelay=7, timeout=900
    )
    assert cli.merged(c.retry) == RetryPolicy(
        tries=5, initialDelay=1, factor=3, maxDelay=7, timeout=900
    )
    assert b.retrying and b.sentence == "b" and c.retrying


def test_a_zero_delay_soon_step_records_a_bounded_number_of_attempts(tmp_path):
    spec = tmp_path / "Spin.feature.md"
    spec.write_text(
        "# Spin\n\n## S\n\n<!-- @retry:initialDelay=0,maxDelay=0,timeout=1000 -->\n\n"
        "Soon the job status in `nbiot` should be\n",
        encoding="utf-8",
    )
    played = play(spec, settings=RunSettings(retry=RetryPolicy()))
    attempts = [e for e in played.events if e.type == "step_attempt"]
    (finished,) = [e for e in played.events if e.type == "step_finished"]
    # Hundreds of attempts in a second (1 ms apart at least), a handful recorded: the
    # first ones, each new error, one a second, and the last with what it folds.
    assert len(attempts) <= RECORD_ALL + 3 < finished.attempts
    assert attempts[-1].attempt == finished.attempts and attempts[-1].repeated > 0
    step = played.result.feature_runs[0].scenarios[0].steps[0]
    assert sum(f.count for f in step.distinct_failures()) == finished.attempts


def test_the_runner_never_sees_an_unchecked_setting():
    # The parser refuses what RetryPolicy could not take, so a run never raises on one.
    played = play(SPECS / "reports")
    assert played.outcome.exit_code == 1  # an assertion, not a ValueError


def test_after_retries_on_a_plain_step_retries_it():
    feature = parse_text(
        "# F\n\n## S\n\nThen the nRF Cloud API has been called `3` times after 2 retries\n",
        "r.feature.md",
    )
    plan = make_plan([feature])
    events = []
    bus = EventBus()
    bus.subscribe(events.append)
    fast = RetryPolicy(initialDelay=1, maxDelay=1)
    outcome = asyncio.run(
        Runner(plan, scripted_registry(), None, bus, RunSettings(retry=fast)).run()
    )
    assert outcome.exit_code == 0
    assert [e.attempts for e in events if e.type == "step_finished"] == [3]
