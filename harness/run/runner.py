"""The async runner: feature runs concurrently, their scenarios in order, Soon retries.

It only emits events; what a person sees is up to the reporters listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from harness import expressions
from harness.api_version import feature_api_version
from harness.events import (
    Attachment,
    EventBus,
    FeatureRunFinished,
    FeatureRunStarted,
    RunFinished,
    RunStarted,
    ScenarioFinished,
    ScenarioStarted,
    StepAttempt,
    StepFinished,
    worst,
)
from harness.hooks import Hooks
from harness.plan import Execution, FeatureRun, Plan, PlannedStep, counts_as_scenario
from harness.run import blocking
from harness.run.activity import MIN_GAP
from harness.run.context import FeatureRunState, StepContext
from harness.run.definitions import matched_definitions
from harness.run.registry import Ambiguous, StepRegistry, Undefined
from harness.run.resolve import ResolvedStep, resolve_step, unresolved
from harness.run.retry import RetryPolicy
from harness.targets.base import Target, TargetError


@dataclass
class RunSettings:
    jobs: int = 8
    step_timeout: float = 60.0  # seconds, per attempt
    run_timeout: float | None = None  # seconds, whole run
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # --rerun-failed: a failed feature run is run again up to this many times, before
    # its dependents start; one that then passes is flaky in every report.
    rerun_failed: int = 0
    environment: dict[str, Any] = field(default_factory=dict)  # RunStarted.environment


@dataclass
class StepError:
    message: str
    kind: str  # assertion | error | timeout | undefined
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class RunOutcome:
    """What `Runner.run()` returns: the exit code and the scenario counts (the reports
    build their own tree from the events)."""

    counts: dict[str, int]
    exit_code: int
    interrupted: bool = False


# After this many attempts of one step, an attempt is recorded only when its error
# differs from the last recorded one or RECORD_EVERY seconds have passed since: a
# fast-spinning Soon step must not write an event per attempt. The final attempt is
# always recorded, with the count of those folded into it.
RECORD_ALL = 10
RECORD_EVERY = 1.0
# seconds: the one journal fetch at the end of a feature run (embedded target)
JOURNAL_TIMEOUT = 2.0


class Runner:
    def __init__(
        self,
        plan: Plan,
        registry: StepRegistry,
        target: Target | None,
        bus: EventBus,
        settings: RunSettings | None = None,
        hooks: Hooks | None = None,
        paths: list[str] | None = None,
    ):
        self.plan = plan
        self.registry = registry
        self.target = target
        self.bus = bus
        self.settings = settings or RunSettings()
        # None: no hooks. The CLI passes harness.hooks.HOOKS, where the step modules'
        # decorators register; tests pass their own.
        self.hooks = hooks if hooks is not None else Hooks()
        self.paths = paths or []
        self._done: dict[str, asyncio.Event] = {r.run_id: asyncio.Event() for r in plan.runs}
        self._names = {r.run_id: r.name for r in plan.runs}
        self._status: dict[str, str] = {}
        self._contexts: dict[str, dict[str, Any]] = {}
        self._counts = {"passed": 0, "failed": 0, "skipped": 0}
        self._run_counts: dict[str, dict[str, int]] = {}  # what each feature run added
        self._started = 0.0
        self._tasks: list[asyncio.Task] = []
        self._interrupted = False
        self._timed_out = False  # the run timeout, not Ctrl-C, cut the run short
        self._interrupt_code = 130

    # -- the run ------------------------------------------------------------------------
    async def run(self) -> RunOutcome:
        self._started = time.monotonic()
        # An expression cannot outlast its step, and stops first, to say it was the
        # expression (the context is this run's tasks').
        expressions.TIME_LIMIT.set(
            min(expressions.TIME_LIMIT.get(), 0.8 * self.settings.step_timeout)
        )
        self.bus.emit(
            RunStarted(
                paths=self.paths,
                target=getattr(self.target, "name", "none"),
                jobs=self.settings.jobs,
                plan=self.plan.to_dict(),
                environment=self.settings.environment,
                definitions=self._definitions(),
            )
        )
        deadline = (
            None if self.settings.run_timeout is None else self._started + self.settings.run_timeout
        )
        # before_run finishes before any feature run starts (set-up they may rely on); a
        # task of its own, so that Ctrl-C (interrupt) stops it too.
        set_up = asyncio.ensure_future(self.hooks.call("before_run", self.plan))
        self._tasks = [set_up]
        try:
            await asyncio.wait_for(set_up, self.settings.run_timeout)
        except TimeoutError:
            self._timed_out = self._interrupted = True
        except asyncio.CancelledError:
            self._interrupted = True
        except Exception as exc:  # the run cannot start: every feature run is skipped
            reason = f"before_run hook failed: {type(exc).__name__}: {exc}"
            for run in self.plan.runs:
                self._skip_feature_run(run, reason, failed=True)
            return self._finish(False)
        self._tasks = []
        if not self._interrupted:
            slots = asyncio.Semaphore(max(1, self.settings.jobs))
            self._tasks = [asyncio.create_task(self._feature_run(r, slots)) for r in self.plan.runs]
        if self._tasks:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            _, pending = await asyncio.wait(self._tasks, timeout=left)
            if pending:  # the run's time is up: stop what runs, report what ran
                self._timed_out = True
                self.interrupt()
                await asyncio.wait(pending)
        if not self._interrupted:
            await self.hooks.call("after_run", self.plan)
        return self._finish(self._interrupted)

    def _definitions(self) -> list[dict[str, Any]]:
        try:
            return matched_definitions(self.plan, self.registry)
        except Exception:  # what the reports show of definitions never stops a run
            return []

    def interrupt(self, exit_code: int = 130) -> None:
        """Stop every feature run (Ctrl-C: 130, SIGTERM: 143, run timeout); reports
        still get what ran."""
        self._interrupted = True
        self._interrupt_code = exit_code
        for task in self._tasks:
            task.cancel()

    def _finish(self, interrupted: bool) -> RunOutcome:
        counts = dict(self._counts)
        failed = counts["failed"] > 0 or any(s == "failed" for s in self._status.values())
        if self._timed_out:
            exit_code, status = 1, "timed out"
        elif interrupted:
            exit_code, status = self._interrupt_code, "interrupted"
        else:
            exit_code, status = (1, "failed") if failed else (0, "passed")
        self.bus.emit(
            RunFinished(
                status=status,
                duration=time.monotonic() - self._started,
                counts=counts,
                exit_code=exit_code,
                interrupted=interrupted,
            )
        )
        return RunOutcome(counts=counts, exit_code=exit_code, interrupted=interrupted)

    # -- feature runs --------------------------------------------------------------------
    async def _feature_run(self, run: FeatureRun, slots: asyncio.Semaphore) -> None:
        try:
            for dep in run.deps + run.after:
                await self._done[dep].wait()
            reason = run.skip_reason or self._failed_dependency(run)
            if reason:
                self._skip_feature_run(run, reason)
                return
            async with slots:
                status = await self._execute(run)
                for attempt in range(2, self.settings.rerun_failed + 2):
                    if status != "failed" or self._interrupted:
                        break
                    self._uncount(run.run_id)  # the attempt that counts is the last
                    status = await self._execute(run, attempt)
            self._status[run.run_id] = status
        except asyncio.CancelledError:
            self._status.setdefault(run.run_id, "skipped")
            raise
        finally:
            self._done[run.run_id].set()

    def _failed_dependency(self, run: FeatureRun) -> str | None:
        for dep in run.deps:
            if self._status.get(dep) != "passed":
                return f"needs {self._names[dep]!r}, which {self._status.get(dep, 'did not run')}"
        return None

    def _skip_feature_run(self, run: FeatureRun, reason: str, failed: bool = False) -> None:
        """Skipped before it started: one event; the reports list its scenarios from the
        plan, with the reason."""
        self._status[run.run_id] = "failed" if failed else "skipped"
        self._count(
            run.run_id,
            "skipped",
            sum(1 for e in run.executions if counts_as_scenario(e.kind, False)),
        )
        self.bus.emit(
            FeatureRunFinished(run_id=run.run_id, status="skipped", duration=0.0, reason=reason)
        )

    def _count(self, run_id: str, outcome: str, n: int = 1) -> None:
        self._counts[outcome] += n
        mine = self._run_counts.setdefault(run_id, {})
        mine[outcome] = mine.get(outcome, 0) + n

    def _uncount(self, run_id: str) -> None:
        for outcome, n in self._run_counts.pop(run_id, {}).items():
            self._counts[outcome] -= n

    async def _execute(self, run: FeatureRun, attempt: int = 1) -> str:
        started = time.monotonic()
        self.bus.emit(FeatureRunStarted(run_id=run.run_id, attempt=attempt))
        values: dict[str, Any] = {}
        for dep in run.deps:
            values.update(self._contexts.get(dep, {}))
        # a spec written for one API generation talks to it, whatever the target's default
        values.update(self.target.values(feature_api_version(run.feature)) if self.target else {})
        if run.variant is not None:
            values["variant"] = run.variant
        session = None
        if self.target:
            import aiohttp  # here: `check` and the tests without a target never need it

            session = aiohttp.ClientSession()
        state = FeatureRunState(
            run_id=run.run_id,
            vars=values,
            bus=self.bus,
            session=session,
            target=self.target.open_run(run.run_id, session) if self.target and session else None,
        )
        status, reason = "failed", None
        cancelled = False
        try:
            await self.hooks.call("before_feature", state, run)
            status, reason = await self._scenarios(run, state)
        except Exception as exc:  # a hook or the target broke: the run fails, others go on
            status, reason = "failed", f"{type(exc).__name__}: {exc}"
        except asyncio.CancelledError:
            status, cancelled = "skipped", True
            reason = "timed out" if self._timed_out else "interrupted"
            raise
        finally:
            # after_feature runs whatever happened, with the final status (as in behave).
            try:
                await self.hooks.call("after_feature", state, run, status)
            except Exception as exc:
                if not cancelled:
                    status, reason = "failed", reason or f"after_feature hook failed: {exc}"
            except asyncio.CancelledError:
                pass
            with contextlib.suppress(asyncio.CancelledError):
                await self._attach_journals(state)
            await state.close()
            if session is not None:
                await session.close()
            self._contexts[run.run_id] = state.vars
            self.bus.emit(
                FeatureRunFinished(
                    run_id=run.run_id,
                    status=status,
                    reason=reason,
                    duration=time.monotonic() - started,
                )
            )
        return status

    async def _scenarios(self, run: FeatureRun, state: FeatureRunState) -> tuple[str, str | None]:
        for n, execution in enumerate(run.executions):
            status = await self._scenario(run, state, execution)
            if status == "failed":
                # The rest is not run: the reports list it from the plan, with this reason.
                rest = run.executions[n + 1 :]
                self._count(
                    run.run_id, "skipped", sum(1 for e in rest if counts_as_scenario(e.kind, False))
                )
                return "failed", (
                    f"an earlier scenario failed: {execution.name!r}" if rest else None
                )
        return "passed", None

    # -- scenarios -----------------------------------------------------------------------
    async def _scenario(self, run: FeatureRun, state: FeatureRunState, execution: Execution) -> str:
        started = time.monotonic()
        bus = self.bus
        bus.emit(ScenarioStarted(run_id=run.run_id, scenario_id=execution.id))
        scenario = execution.scenario
        statuses: list[str] = []
        reason = None
        try:
            await self.hooks.call("before_scenario", state, scenario)
            for planned in execution.steps:
                status = await self._step(run, state, execution, planned)
                statuses.append(status)
                if status != "passed":
                    # Later steps are not run; the reports show them skipped for this reason.
                    reason = f"step on line {planned.step.line} {status}"
                    break
        except Exception as exc:  # a before_scenario hook
            reason = f"before_scenario hook failed: {type(exc).__name__}: {exc}"
        status = "failed" if reason else worst(statuses)
        await self._attach_journal(state, execution.id)
        try:
            await self.hooks.call("after_scenario", state, scenario, status)
        except Exception as exc:
            status, reason = (
                "failed",
                reason or f"after_scenario hook failed: {type(exc).__name__}: {exc}",
            )
        if counts_as_scenario(execution.kind, status == "failed"):
            self._count(
                run.run_id,
                "failed"
                if status in ("failed", "undefined")
                else "passed"
                if status == "passed"
                else "skipped",
            )
        bus.emit(
            ScenarioFinished(
                run_id=run.run_id,
                scenario_id=execution.id,
                status=status,
                duration=time.monotonic() - started,
                reason=reason,
            )
        )
        return status

    async def _attach_journal(self, state: FeatureRunState, scenario_id: str) -> None:
        """The mock's journal for this scenario, for the reports; never fails the run.
        With an embedded mock, only noted here and fetched at the end of the feature run
        (`_attach_journals`)."""
        if (
            state.target is None
            or state.target.scenario_ended(scenario_id)
            or not state.target.accounts
        ):
            return
        try:
            entries = await state.target.new_journal_entries()
        except Exception as exc:  # the report loses a view, the run goes on
            entries = [{"error": f"journal unavailable: {exc}"}]
        if entries:
            self._emit_journal(state, scenario_id, entries)

    async def _attach_journals(self, state: FeatureRunState) -> None:
        """The journal noted at each scenario's end, fetched once for the feature run and
        attached to each scenario, for the reports; never fails the run."""
        if state.target is None:
            return
        # bounded: an interrupted or timed-out run still gets the journals of what ran
        journals = await state.target.journal_by_scenario(timeout=JOURNAL_TIMEOUT)
        for scenario_id, entries in journals:
            self._emit_journal(state, scenario_id, entries)

    def _emit_journal(
        self, state: FeatureRunState, scenario_id: str, entries: list[dict[str, Any]]
    ) -> None:
        data = {"scenario_id": scenario_id, "entries": entries}
        self.bus.emit(Attachment(run_id=state.run_id, step_id=None, kind="journal", data=data))

    # -- steps ---------------------------------------------------------------------------
    async def _step(
        self, run: FeatureRun, state: FeatureRunState, execution: Execution, planned: PlannedStep
    ) -> str:
        bus = self.bus
        step, step_id = planned.step, planned.id
        policy = self.settings.retry.merged(planned.retry)  # the one merge, CLI under spec
        retrying = planned.retrying
        started = time.monotonic()
        delays = policy.delays()
        resolved: ResolvedStep | None = None
        ctx: StepContext | None = None
        attempt, error = 0, None
        # `tries` counts scheduled attempts only: a look taken early because the feature
        # run saw something new (harness/run/activity.py) keeps the schedule as it was.
        tries, next_at, gap = 0, 0.0, MIN_GAP
        recorded_error, recorded_at, folded = None, started, 0
        hooks = self.hooks.has("before_step") or self.hooks.has("after_step")
        activity = state.activity
        while True:
            attempt += 1
            t0 = time.monotonic()
            seen = activity.seen
            try:
                resolved = resolve_step(
                    step, planned.sentence, state.vars, execution.row, run.variant, run.feature.path
                )
                ctx = StepContext(state, resolved, step_id, attempt)
                if hooks and attempt == 1:
                    await self.hooks.call("before_step", ctx)
                await self._call(ctx, resolved)
                error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = _step_error(exc)
                ctx = ctx if ctx is not None and ctx.attempt == attempt else None
            delay = None
            if error is not None and error.kind == "assertion":
                if t0 >= next_at:  # a scheduled attempt
                    tries += 1
                    delay = self._next_delay(policy, retrying, ctx, tries, started, delays)
                    next_at = time.monotonic() + delay if delay is not None else 0.0
                    gap = MIN_GAP
                else:  # an early look that found nothing: the schedule stands
                    delay = max(next_at - time.monotonic(), 0.0)
                    gap *= 2
            if error is not None or attempt > 1:
                # A step that passes at once has one attempt: its StepFinished says it all,
                # and a second event per step would double the reporters' work.
                now = time.monotonic()
                message = error.message if error else None
                if (
                    attempt <= RECORD_ALL
                    or delay is None
                    or message != recorded_error
                    or now - recorded_at >= RECORD_EVERY
                ):
                    bus.emit(
                        StepAttempt(
                            run_id=run.run_id,
                            step_id=step_id,
                            attempt=attempt,
                            duration=now - t0,
                            error=message,
                            next_delay=delay,
                            repeated=folded,
                        )
                    )
                    recorded_error, recorded_at, folded = message, now, 0
                else:
                    folded += 1
            if delay is None:
                break
            await activity.wait(delay, seen, gap)
            if ctx and ctx.retry_request and ctx.retry_request.before_retry:
                try:
                    await ctx.retry_request.before_retry()
                except Exception as exc:
                    error = _step_error(exc)
                    break
        status = (
            "passed" if error is None else ("undefined" if error.kind == "undefined" else "failed")
        )
        if hooks and self.hooks.has("after_step"):
            # Once per step, whatever the outcome, with the final status (as in behave).
            if ctx is None:
                ctx = StepContext(state, resolved or unresolved(step), step_id, attempt)
            try:
                await self.hooks.call("after_step", ctx, status)
            except Exception as exc:
                if error is None:
                    error = StepError(
                        f"after_step hook failed: {type(exc).__name__}: {exc}", "error"
                    )
                    status = "failed"
        bus.emit(
            StepFinished(
                run_id=run.run_id,
                step_id=step_id,
                status=status,
                duration=time.monotonic() - started,
                attempts=attempt,
                text=resolved.text if resolved else step.text,
                code=resolved.code if resolved else (step.code.text if step.code else None),
                error=error.to_dict() if error else None,
            )
        )
        return status

    def _next_delay(
        self,
        policy: RetryPolicy,
        retrying: bool,
        ctx: StepContext | None,
        attempt: int,
        started: float,
        delays,
    ) -> float | None:
        """Seconds before the next attempt, or None when this failure is final."""
        tries = policy.tries  # None: bounded by the time budget only
        request = ctx.retry_request if ctx else None
        if request is not None and not retrying:
            tries = request.tries
        elif request is not None and tries is not None:
            tries = max(tries, request.tries)
        elif not retrying:
            return None
        if tries is not None and attempt >= tries:
            return None
        delay = next(delays)
        if (time.monotonic() - started + delay) * 1000 > policy.timeout:
            return None
        return delay

    async def _call(self, ctx: StepContext, resolved: ResolvedStep) -> None:
        match = self.registry.match(resolved.kind, resolved.text)
        # A sync step holds the loop: bounded by the step timeout and what is left of the
        # run's (see blocking.py).
        limit = self.settings.step_timeout
        if self.settings.run_timeout is not None:
            limit = min(limit, self._started + self.settings.run_timeout - time.monotonic())
        result = blocking.call(match.func, [ctx, *match.args], match.kwargs, max(limit, 0.001))
        if asyncio.iscoroutine(result):
            await asyncio.wait_for(result, self.settings.step_timeout)


def _step_error(exc: BaseException) -> StepError:
    if isinstance(exc, AssertionError):
        return StepError(str(exc) or "assertion failed", "assertion", getattr(exc, "detail", None))
    if isinstance(exc, TimeoutError):
        return StepError("step timed out", "timeout")
    if isinstance(exc, Undefined):
        return StepError(f"undefined step: {exc}", "undefined")
    if isinstance(exc, Ambiguous | expressions.ExpressionError | TargetError):
        return StepError(str(exc), "error")
    detail = "".join(traceback.format_exception(exc)[-6:])
    return StepError(f"{type(exc).__name__}: {exc}", "error", detail)
