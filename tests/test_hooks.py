"""Hooks: before_run before any feature run; the after_* hooks always, with the final
status, failures included (as behave does)."""

from __future__ import annotations

import asyncio

from support.reports import scripted_registry

from harness.events import EventBus
from harness.hooks import Hooks
from harness.plan import make_plan
from harness.run.retry import RetryPolicy
from harness.run.runner import Runner, RunSettings
from harness.spec.parser import parse_text

SPEC = """\
# F

## Passes

Given I store `1` into `x`

## Fails

Soon the job status in `nbiot` should be

Then I store `2` into `x`

## Never runs

Given I store `3` into `x`
"""


def run(hooks: Hooks, *texts: str):
    features = [parse_text(text, f"f{i}.feature.md") for i, text in enumerate(texts)]
    calls: list[tuple] = []
    bus = EventBus()
    bus.subscribe(lambda e: calls.append(("event", e.type)))
    runner = Runner(
        make_plan(features),
        scripted_registry(),
        None,
        bus,
        RunSettings(retry=RetryPolicy(tries=2, initialDelay=1)),
        hooks=hooks,
    )
    return asyncio.run(runner.run()), calls


def recording(calls: list[tuple]) -> Hooks:
    hooks = Hooks()
    hooks.add("before_step", lambda ctx: calls.append(("before_step", ctx.step.text)))
    hooks.add("after_step", lambda ctx, status: calls.append(("after_step", ctx.step.text, status)))
    hooks.add(
        "after_scenario", lambda run, s, status: calls.append(("after_scenario", s.title, status))
    )
    hooks.add("after_feature", lambda run, fr, status: calls.append(("after_feature", status)))
    return hooks


def test_after_hooks_run_once_with_the_final_status_also_for_failures():
    calls: list[tuple] = []
    outcome, _ = run(recording(calls), SPEC)
    assert outcome.exit_code == 1
    assert calls == [
        ("before_step", "I store `1` into `x`"),
        ("after_step", "I store `1` into `x`", "passed"),
        ("after_scenario", "Passes", "passed"),
        ("before_step", "the job status in `nbiot` should be"),  # once, not per attempt
        ("after_step", "the job status in `nbiot` should be", "failed"),
        ("after_scenario", "Fails", "failed"),
        ("after_feature", "failed"),
    ]


def test_after_step_sees_a_step_whose_placeholders_failed_to_resolve():
    calls: list[tuple] = []
    run(recording(calls), "# F\n\n## S\n\nGiven I store `${missing}` into `x`\n")
    assert ("after_step", "I store `${missing}` into `x`", "failed") in calls


def test_before_run_finishes_before_any_feature_run_starts():
    order: list[str] = []
    hooks = Hooks()

    async def slow_set_up(plan):
        await asyncio.sleep(0.05)
        order.append("before_run done")

    hooks.add("before_run", slow_set_up)
    hooks.add("before_feature", lambda run, fr: order.append(f"feature {fr.feature.title}"))
    outcome, _ = run(
        hooks,
        "# A\n\n## S\n\nGiven I store `1` into `x`\n",
        "# B\n\n## S\n\nGiven I store `1` into `x`\n",
    )
    assert outcome.exit_code == 0
    assert order == ["before_run done", "feature A", "feature B"]


def test_a_failing_before_run_skips_every_feature_run_and_fails_the_run():
    hooks = Hooks()

    def broken(plan):
        raise RuntimeError("no database")

    hooks.add("before_run", broken)
    outcome, events = run(hooks, "# A\n\n## S\n\nGiven I store `1` into `x`\n")
    assert outcome.exit_code == 1
    assert ("event", "feature_started") not in events


def test_a_failing_after_step_hook_fails_the_step():
    hooks = Hooks()

    def broken(ctx, status):
        raise RuntimeError("teardown broke")

    hooks.add("after_step", broken)
    outcome, _ = run(hooks, "# A\n\n## S\n\nGiven I store `1` into `x`\n")
    assert outcome.exit_code == 1 and outcome.counts["failed"] == 1


def test_after_feature_runs_when_before_feature_fails():
    calls: list[tuple] = []
    hooks = recording(calls)

    def broken(run, feature_run):
        raise RuntimeError("no account")

    hooks.add("before_feature", broken)
    outcome, _ = run(hooks, "# A\n\n## S\n\nGiven I store `1` into `x`\n")
    assert outcome.exit_code == 1 and calls == [("after_feature", "failed")]


def test_interrupting_during_before_run_stops_it_and_runs_nothing():
    hooks = Hooks()
    started: list[str] = []

    async def forever(plan):
        await asyncio.sleep(3600)

    hooks.add("before_run", forever)
    hooks.add("before_feature", lambda run, fr: started.append(fr.feature.title))
    features = [parse_text("# A\n\n## S\n\nGiven I store `1` into `x`\n", "a.feature.md")]
    runner = Runner(make_plan(features), scripted_registry(), None, EventBus(), hooks=hooks)

    async def main():
        task = asyncio.create_task(runner.run())
        await asyncio.sleep(0.05)
        runner.interrupt()
        return await task

    outcome = asyncio.run(main())
    assert outcome.interrupted and outcome.exit_code == 130 and started == []
