"""What a step function gets: `ctx`, its first argument.

`FeatureRunState` lives as long as one feature run (context values, step-library state,
resources to close); `StepContext` is the view of it that one step invocation sees.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness import expressions
from harness.events import Attachment, EventBus, Log
from harness.run.activity import Activity
from harness.run.resolve import ResolvedStep
from harness.spec.model import Table
from harness.targets.base import TargetRun

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)


@dataclass
class FeatureRunState:
    run_id: str
    vars: dict[str, Any]
    bus: EventBus
    target: TargetRun | None
    session: aiohttp.ClientSession | None
    state: dict[str, Any] = field(default_factory=dict)  # the step library's own
    cleanups: list[Callable[[], Any]] = field(default_factory=list)
    activity: Activity = field(default_factory=Activity)  # wakes Soon steps early

    async def close(self) -> None:
        """Run cleanups newest first; one failing never stops the others."""
        while self.cleanups:
            cleanup = self.cleanups.pop()
            try:
                result = cleanup()
                if inspect.isawaitable(result):
                    await result
            except Exception:  # a cleanup must not hide the run's own outcome
                log.exception("cleanup failed in %s", self.run_id)


class StepLogger:
    def __init__(self, bus: EventBus, run_id: str, step_id: str | None):
        self._bus, self._run_id, self._step_id = bus, run_id, step_id

    def _log(self, level: str, message: str) -> None:
        self._bus.emit(
            Log(run_id=self._run_id, step_id=self._step_id, level=level, message=message)
        )

    def info(self, message: str) -> None:
        self._log("info", message)

    def debug(self, message: str) -> None:
        self._log("debug", message)

    def progress(self, message: str) -> None:
        self._log("progress", message)

    def attach(self, kind: str, data: dict[str, Any]) -> None:
        self._bus.emit(Attachment(run_id=self._run_id, step_id=self._step_id, kind=kind, data=data))


@dataclass
class RetryRequest:
    tries: int
    before_retry: Callable[[], Awaitable[None]] | None


class StepContext:
    """The first argument of every step function."""

    def __init__(self, run: FeatureRunState, step: ResolvedStep, step_id: str, attempt: int):
        self._run = run
        self.step = step
        self.step_id = step_id
        self.attempt = attempt  # 1-based
        self.log = StepLogger(run.bus, run.run_id, step_id)
        self.retry_request: RetryRequest | None = None

    @property
    def vars(self) -> dict[str, Any]:
        """The feature run's context: names to values, shared by its scenarios."""
        return self._run.vars

    @property
    def state(self) -> dict[str, Any]:
        """Step-library state for this feature run (last response, websocket clients)."""
        return self._run.state

    @property
    def target(self) -> TargetRun:
        if self._run.target is None:
            raise RuntimeError("this run has no target (`spec-harness check` runs no steps)")
        return self._run.target

    @property
    def session(self) -> aiohttp.ClientSession:
        """The feature run's HTTP session, closed by the runner at its end."""
        assert self._run.session is not None
        return self._run.session

    @property
    def text(self) -> str | None:
        """The attached code block, placeholders resolved. Named `text` because behave
        calls a step's attached block (its docstring) `context.text`, and step modules
        written for behave read it there; it is the code block, not the step's title."""
        return self.step.code

    @property
    def table(self) -> Table | None:
        """The attached table, placeholders resolved (behave's `context.table`)."""
        return self.step.table

    @property
    def run_id(self) -> str:
        return self._run.run_id

    @property
    def activity(self) -> Activity:
        """Call `ctx.activity.notify()` from code that receives something from the system
        under test (a message on a connection the step opened): a `Soon` step waiting to
        retry in this feature run looks again at once (see harness/run/activity.py)."""
        return self._run.activity

    def evaluate(self, expr: str, data: Any = None) -> Any:
        """JSONata on `data` (default: the context); None when it yields nothing."""
        return expressions.evaluate(expr, self.vars if data is None else data)

    def require(self, expr: str, data: Any = None) -> Any:
        """JSONata that must yield something; the error names what was missing."""
        return expressions.require(expr, self.vars if data is None else data)

    def add_cleanup(self, cleanup: Callable[[], Any]) -> None:
        """Run `cleanup` (sync or async) when the feature run ends, whatever happened."""
        self._run.cleanups.append(cleanup)

    def retry_with(
        self, tries: int, before_retry: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Ask for up to `tries` attempts if this step's assertion fails; `before_retry`
        runs before each further attempt (e.g. re-send the last request)."""
        self.retry_request = RetryRequest(tries=tries, before_retry=before_retry)
