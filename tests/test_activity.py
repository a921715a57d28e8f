"""A Soon step looks again as soon as its feature run observes something new, without
using up its tries (harness/run/activity.py)."""

from __future__ import annotations

import asyncio

from behave import step_registry

from harness.events import EventBus
from harness.plan import make_plan
from harness.run.activity import Activity
from harness.run.context import StepContext
from harness.run.registry import StepRegistry
from harness.run.retry import RetryPolicy
from harness.run.runner import Runner, RunSettings
from harness.spec.parser import parse_text

GUARD = 20  # seconds: only a broken wake-up takes this long (the delays are minutes)


def test_a_notification_ends_the_wait_and_an_older_one_does_not_count():
    async def scenario() -> None:
        activity = Activity()
        activity.notify()
        since = activity.seen
        waiting = asyncio.ensure_future(activity.wait(3600, since))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # the notification before `since` is not news
        activity.notify()
        await asyncio.wait_for(waiting, GUARD)

    asyncio.run(scenario())


def test_news_during_the_attempt_itself_ends_the_wait_at_once():
    async def scenario() -> None:
        activity = Activity()
        since = activity.seen
        activity.notify()  # arrived after the attempt looked, before it began to wait
        await asyncio.wait_for(activity.wait(3600, since), GUARD)

    asyncio.run(scenario())


def _run(spec: str, registry: StepRegistry) -> list:
    plan = make_plan([parse_text(spec, "a.feature.md")])
    events: list = []
    bus = EventBus()
    bus.subscribe(events.append)
    # a first retry a minute away: only an early look can make these runs quick
    slow = RunSettings(retry=RetryPolicy(initialDelay=60_000, maxDelay=60_000, timeout=600_000))

    async def run() -> int:
        outcome = await asyncio.wait_for(Runner(plan, registry, None, bus, slow).run(), GUARD)
        return outcome.exit_code

    assert asyncio.run(run()) == 0
    return [e for e in events if e.type == "step_finished"]


def _registry() -> StepRegistry:
    behave = step_registry.StepRegistry()
    step = behave.make_decorator("step")

    @step("the device answers in a moment")
    def answers_later(ctx: StepContext) -> None:
        async def answer() -> None:
            await asyncio.sleep(0.02)
            ctx.state["answered"] = True
            ctx.activity.notify()

        ctx.state["task"] = asyncio.ensure_future(answer())

    @step("the device chatters `{count:d}` times")
    def chatters(ctx: StepContext, count: int) -> None:
        async def chatter() -> None:
            for _ in range(count):
                await asyncio.sleep(0.001)
                ctx.state["said"] = ctx.state.get("said", 0) + 1
                ctx.activity.notify()

        ctx.state["task"] = asyncio.ensure_future(chatter())

    @step("the device has answered")
    def has_answered(ctx: StepContext) -> None:
        assert ctx.state.get("answered"), "no answer yet"

    @step("the device has said `{count:d}` things")
    def has_said(ctx: StepContext, count: int) -> None:
        assert ctx.state.get("said", 0) >= count, "not yet"

    return StepRegistry(behave)


def test_a_soon_step_looks_again_when_the_run_observes_something():
    (_, soon) = _run(
        "# F\n\n## S\n\nGiven the device answers in a moment\n\nSoon the device has answered\n",
        _registry(),
    )
    assert soon.status == "passed" and soon.attempts == 2


def test_early_looks_do_not_use_up_the_tries():
    # Two tries, a minute apart; the run observes something every millisecond and the
    # step passes only after 40 of them: early looks, however many, are not tries.
    (_, soon) = _run(
        "# F\n\n## S\n\nGiven the device chatters `60` times\n\n"
        "Soon the device has said `40` things after 1 retries\n",
        _registry(),
    )
    assert soon.status == "passed" and soon.attempts > 2


def test_a_chatty_run_adds_a_handful_of_early_looks_not_hundreds():
    # 300 things observed, a millisecond or more apart; the step passes only after the
    # last. Each early look that finds nothing waits twice as long as the one before.
    (_, soon) = _run(
        "# F\n\n## S\n\nGiven the device chatters `300` times\n\n"
        "Soon the device has said `300` things after 1 retries\n",
        _registry(),
    )
    assert soon.status == "passed" and 2 < soon.attempts <= 14
