"""Interrupting a real run (embedded target) leaves no task, session or socket behind."""

import asyncio
import gc
import warnings

from harness.events import EventBus
from harness.plan import make_plan
from harness.run.registry import StepRegistry
from harness.run.runner import Runner
from harness.spec.parser import parse_text
from harness.targets.embedded import EmbeddedTarget

SPEC = """# Hangs on a websocket

## Background

Given I have the fingerprint for a `PCA20065` device in `fingerprint`

## Wait for what never comes

When I connect to the websocket using fingerprint `${fingerprint}`

Soon I should receive a message on the websocket that matches

```json
{ "@context": "never" }
```
"""


def test_interrupt_closes_everything():
    registry = StepRegistry()
    registry.load(["steps"])
    plan = make_plan([parse_text(SPEC, "hang.feature.md")])
    events = []
    bus = EventBus()
    bus.subscribe(events.append)

    loop_errors = []

    async def main():
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
        target = EmbeddedTarget()
        await target.start()
        try:
            runner = Runner(plan, registry, target, bus)
            task = asyncio.create_task(runner.run())
            while not any(e.type == "step_attempt" for e in events):
                await asyncio.sleep(0.05)
            runner.interrupt()
            result = await asyncio.wait_for(task, 10)
        finally:
            await target.stop()
        await asyncio.sleep(0.1)
        gc.collect()  # an unclosed aiohttp session or connector complains when collected
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return result, left

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        result, left = asyncio.run(main())
        gc.collect()
    assert result.exit_code == 130 and result.interrupted
    assert left == []
    assert loop_errors == []
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == [], [str(w.message) for w in leaks]
    assert [e.status for e in events if e.type == "feature_finished"] == ["skipped"]
