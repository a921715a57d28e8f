"""Runner semantics: context, Soon retries, skipping, concurrency, timeouts, interrupts."""

import asyncio
import time

import pytest
from behave import step_registry

from harness.events import EventBus
from harness.loader import check_steps
from harness.plan import make_plan
from harness.run.registry import StepRegistry
from harness.run.retry import RetryPolicy
from harness.run.runner import Runner, RunSettings
from harness.spec.parser import parse_text

FAST = RetryPolicy(initialDelay=1, maxDelay=5, timeout=2000)


@pytest.fixture
def steps():
    """A private registry with a few steps, so tests never touch the global one."""
    behave_registry = step_registry.StepRegistry()
    define = behave_registry.make_decorator("step")
    state = {"calls": [], "running": 0, "peak": 0}

    @define("I store `{expr}` into `{name}`")
    def store(ctx, expr, name):
        ctx.vars[name] = ctx.require(expr)

    @define("`{a}` equals `{b}`")
    def equals(ctx, a, b):
        state["calls"].append((a, b))
        if a != b:  # not `assert`: pytest would rewrite the message
            raise AssertionError(f"expected {b}, got {a}")

    @define("the counter reaches `{n:d}`")
    async def counter(ctx, n):
        ctx.state["c"] = ctx.state.get("c", 0) + 1
        if ctx.state["c"] < n:
            raise AssertionError(f"counter is {ctx.state['c']}")

    @define("it crashes")
    def crash(ctx):
        raise RuntimeError("boom")

    @define("I wait `{s:f}` seconds")
    async def wait(ctx, s):
        state["running"] += 1
        state["peak"] = max(state["peak"], state["running"])
        await asyncio.sleep(s)
        state["running"] -= 1

    @define("it hangs")
    async def hang(ctx):
        await asyncio.sleep(3600)

    return StepRegistry(behave_registry), state


def run(specs, registry, **settings):
    features = [parse_text(text, path) for path, text in specs.items()]
    plan = make_plan(features)
    assert check_steps(plan.runs, registry) == []
    events = []
    bus = EventBus()
    bus.subscribe(events.append)
    runner = Runner(plan, registry, None, bus, RunSettings(retry=FAST, **settings))
    result = asyncio.run(runner.run())
    return result, events


def of(events, kind):
    return [e for e in events if e.type == kind]


def test_context_flows_through_scenarios_and_needs(steps):
    registry, state = steps
    result, events = run(
        {
            "a.md": "# A\n\n## Background\n\nGiven I store `1` into `x`\n\n"
            "## One\n\nGiven I store `${x} + 1` into `y`\n\n"
            "## Two\n\nThen `${y}` equals `2`\n",
            "b.md": "---\nneeds:\n  - A\n---\n# B\n\n## S\n\nThen `${y}` equals `2`\n",
        },
        registry,
    )
    assert result.exit_code == 0 and result.counts == {"passed": 3, "failed": 0, "skipped": 0}
    assert state["calls"] == [("2", "2"), ("2", "2")]
    resolved = [e.text for e in of(events, "step_finished")]
    assert "I store `1 + 1` into `y`" in resolved


def test_soon_retries_until_it_passes_and_records_attempts(steps):
    registry, _ = steps
    result, events = run({"a.md": "# A\n\n## S\n\nSoon the counter reaches `3`\n"}, registry)
    assert result.exit_code == 0
    attempts = of(events, "step_attempt")
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert attempts[0].error == "counter is 1" and attempts[-1].error is None
    assert of(events, "step_finished")[0].attempts == 3


def test_after_n_retries_bounds_the_attempts(steps):
    registry, _ = steps
    result, events = run(
        {"a.md": "# A\n\n## S\n\nSoon the counter reaches `9` after 2 retries\n"}, registry
    )
    assert result.exit_code == 1
    assert len(of(events, "step_attempt")) == 3


def test_and_after_soon_is_retried_too(steps):
    registry, _ = steps
    result, events = run(
        {"a.md": "# A\n\n## S\n\nSoon `a` equals `a`\n\nAnd the counter reaches `2`\n"}, registry
    )
    # A first-time pass emits no attempt event; the And is retried once.
    assert result.exit_code == 0 and len(of(events, "step_attempt")) == 2


def test_retry_tag_on_step(steps):
    registry, _ = steps
    result, events = run(
        {"a.md": "# A\n\n## S\n\n<!-- @retry:tries=2 -->\n\nSoon the counter reaches `5`\n"},
        registry,
    )
    assert result.exit_code == 1 and len(of(events, "step_attempt")) == 2


def test_plain_then_and_crashes_are_not_retried(steps):
    registry, _ = steps
    _, events = run({"a.md": "# A\n\n## S\n\nThen the counter reaches `2`\n"}, registry)
    assert len(of(events, "step_attempt")) == 1 and of(events, "step_finished")[0].attempts == 1
    result, events = run({"a.md": "# A\n\n## S\n\nSoon it crashes\n"}, registry)
    finished = of(events, "step_finished")[0]
    assert finished.error["kind"] == "error" and "RuntimeError: boom" in finished.error["message"]
    assert len(of(events, "step_attempt")) == 1 and result.exit_code == 1


def test_failure_skips_the_rest_and_dependents(steps):
    registry, _ = steps
    result, events = run(
        {
            "a.md": "# A\n\n## One\n\nThen `1` equals `2`\n\nAnd `3` equals `3`\n\n"
            "## Two\n\nThen `1` equals `1`\n",
            "b.md": "---\nneeds:\n  - A\n---\n# B\n\n## S\n\nThen `1` equals `1`\n",
            "c.md": "---\nneeds:\n  - B\n---\n# C\n\n## S\n\nThen `1` equals `1`\n",
            "d.md": "# D\n\n## S\n\nThen `1` equals `1`\n",
        },
        registry,
    )
    assert result.exit_code == 1
    assert result.counts == {"passed": 1, "failed": 1, "skipped": 3}
    # What a failure skips is not run and not announced step by step: the reasons say it.
    assert [e.status for e in of(events, "step_finished") if e.run_id == "a.md"] == ["failed"]
    assert of(events, "scenario_finished")[0].reason == "step on line 5 failed"
    finished = {e.run_id: e for e in of(events, "feature_finished")}
    assert finished["b.md"].status == "skipped" and "needs 'A'" in finished["b.md"].reason
    assert finished["c.md"].status == "skipped" and "needs 'B'" in finished["c.md"].reason
    assert finished["d.md"].status == "passed"
    message = of(events, "step_finished")[0].error["message"]
    assert message == "expected 2, got 1"


def test_placeholder_that_yields_nothing_fails_naming_it(steps):
    registry, _ = steps
    _, events = run({"a.md": "# A\n\n## S\n\nThen `${missing}` equals `1`\n"}, registry)
    error = of(events, "step_finished")[0].error
    assert "`missing` yielded nothing" in error["message"]


def test_outline_rows_and_variants(steps):
    registry, state = steps
    result, _ = run(
        {
            "a.md": "---\nvariants:\n  - nw: ltem\n  - nw: nbiot\n---\n# A\n\n"
            "## Scenario Outline: O\n\n"
            "Then `<x>-<variant.nw>` equals `${y}-${variant.nw}`\n\n"
            "### Examples\n\n| x | y |\n| - | - |\n| 1 | 1 |\n| 2 | 2 |\n"
        },
        registry,
    )
    assert result.counts["passed"] == 4
    assert ("1-ltem", "1-ltem") in state["calls"] and ("2-nbiot", "2-nbiot") in state["calls"]


def test_independent_features_run_concurrently(steps):
    registry, state = steps
    specs = {f"f{i}.md": f"# F{i}\n\n## S\n\nGiven I wait `0.2` seconds\n" for i in range(6)}
    result, _ = run(specs, registry, jobs=3)
    assert result.exit_code == 0 and state["peak"] == 3


def test_step_timeout_stops_a_hung_step(steps):
    registry, _ = steps
    result, events = run({"a.md": "# A\n\n## S\n\nGiven it hangs\n"}, registry, step_timeout=0.2)
    assert result.exit_code == 1
    assert of(events, "step_finished")[0].error["kind"] == "timeout"


def test_run_timeout_and_interrupt_report_what_ran(steps):
    registry, _ = steps
    start = time.monotonic()
    result, events = run({"a.md": "# A\n\n## S\n\nGiven it hangs\n"}, registry, run_timeout=0.3)
    assert time.monotonic() - start < 5
    assert result.interrupted and result.exit_code == 1  # a timeout fails the run
    finished = of(events, "run_finished")[0]
    assert finished.interrupted and finished.status == "timed out"
    assert of(events, "feature_finished")[0].reason == "timed out"  # the console says so too
