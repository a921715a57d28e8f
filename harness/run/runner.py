"""The async runner: feature runs concurrently, their scenarios in order, Soon retries.

It only emits events; what a person sees is up to the reporters listening.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from .. import expressions
from ..api_version import feature_api_version
from ..events import (
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
    StepStarted,
    worst,
)
from ..hooks import HOOKS, Hooks
from ..plan import FeatureRun, Plan
from ..spec.model import Scenario, Step, Table, to_dict
from ..targets.base import Target, TargetError
from . import blocking
from .context import FeatureRunState, ResolvedStep, StepContext
from .registry import Ambiguous, StepRegistry, Undefined
from .retry import RetryPolicy, parse_retry_tag, split_after_retries


@dataclass
class RunSettings:
    jobs: int = 8
    step_timeout: float = 60.0  # seconds, per attempt
    run_timeout: float | None = None  # seconds, whole run
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass
class StepError:
    message: str
    kind: str  # assertion | error | timeout | undefined
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class RunResult:
    counts: dict[str, int]
    exit_code: int
    interrupted: bool = False
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class _Execution:
    """One scenario execution: a scenario, or one Examples row of an outline."""
    scenario: Scenario
    row: dict[str, str] | None = None

    @property
    def title(self) -> str:
        if self.row is None:
            return self.scenario.title
        return f"{self.scenario.title} ({', '.join(f'{k}={v}' for k, v in self.row.items())})"


class Runner:
    def __init__(self, plan: Plan, registry: StepRegistry, target: Target | None, bus: EventBus,
                 settings: RunSettings | None = None, hooks: Hooks = HOOKS,
                 paths: list[str] | None = None):
        self.plan = plan
        self.registry = registry
        self.target = target
        self.bus = bus
        self.settings = settings or RunSettings()
        self.hooks = hooks
        self.paths = paths or []
        self._done: dict[str, asyncio.Event] = {r.run_id: asyncio.Event() for r in plan.runs}
        self._status: dict[str, str] = {}
        self._contexts: dict[str, dict[str, Any]] = {}
        self._scenario_counts: dict[str, int] = {}
        self._started = 0.0
        self._tasks: list[asyncio.Task] = []
        self._interrupted = False
        self._timed_out = False  # the run timeout, not Ctrl-C, cut the run short
        self._interrupt_code = 130

    # -- the run ------------------------------------------------------------------------
    async def run(self) -> RunResult:
        self._started = time.monotonic()
        # An expression cannot outlast its step, and stops first, to say it was the
        # expression (the context is this run's tasks').
        expressions.TIME_LIMIT.set(min(expressions.TIME_LIMIT.get(),
                                       0.8 * self.settings.step_timeout))
        self.bus.emit(RunStarted(paths=self.paths, target=getattr(self.target, "name", "none"),
                                 jobs=self.settings.jobs, planned=[
                                     {"run_id": r.run_id, "path": r.feature.path,
                                      "title": r.name, "variant": r.variant, "needs": r.deps,
                                      "scenarios": [s.line for s in r.scenarios]}
                                     for r in self.plan.runs]))
        slots = asyncio.Semaphore(max(1, self.settings.jobs))
        self._tasks = [asyncio.create_task(self._feature_run(r, slots)) for r in self.plan.runs]
        await self.hooks.call("before_run", self.plan)
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=self.settings.run_timeout)
            if pending:  # the run's time is up: stop what runs, report what ran
                self._timed_out = True
                self.interrupt()
                await asyncio.wait(pending)
        if not self._interrupted:
            await self.hooks.call("after_run", self.plan)
        return self._finish(self._interrupted)

    def interrupt(self, exit_code: int = 130) -> None:
        """Stop every feature run (Ctrl-C: 130, SIGTERM: 143, run timeout); reports
        still get what ran."""
        self._interrupted = True
        self._interrupt_code = exit_code
        for task in self._tasks:
            task.cancel()

    def _finish(self, interrupted: bool) -> RunResult:
        counts = {"passed": 0, "failed": 0, "skipped": 0}
        for status, n in self._scenario_counts.items():
            counts[status] = counts.get(status, 0) + n
        failed = counts["failed"] > 0 or any(s == "failed" for s in self._status.values())
        if self._timed_out:
            exit_code, status = 1, "timed out"
        elif interrupted:
            exit_code, status = self._interrupt_code, "interrupted"
        else:
            exit_code, status = (1, "failed") if failed else (0, "passed")
        self.bus.emit(RunFinished(status=status, duration=time.monotonic() - self._started,
                                  counts=counts, exit_code=exit_code, interrupted=interrupted))
        return RunResult(counts=counts, exit_code=exit_code, interrupted=interrupted,
                         contexts=self._contexts)

    # -- feature runs --------------------------------------------------------------------
    async def _feature_run(self, run: FeatureRun, slots: asyncio.Semaphore) -> None:
        try:
            for dep in run.deps + run.after:
                await self._done[dep].wait()
            reason = run.skip_reason or self._failed_dependency(run)
            self.bus.emit(FeatureRunStarted(run_id=run.run_id, path=run.feature.path,
                                            title=run.name, variant=run.variant,
                                            feature=to_dict(run.feature)))
            if reason:
                self._skip_feature_run(run, reason)
                return
            async with slots:
                status = await self._execute(run)
            self._status[run.run_id] = status
        except asyncio.CancelledError:
            self._status.setdefault(run.run_id, "skipped")
            raise
        finally:
            self._done[run.run_id].set()

    def _failed_dependency(self, run: FeatureRun) -> str | None:
        for dep in run.deps:
            if self._status.get(dep) != "passed":
                title = next(r.name for r in self.plan.runs if r.run_id == dep)
                return f"needs {title!r}, which {self._status.get(dep, 'did not run')}"
        return None

    def _skip_feature_run(self, run: FeatureRun, reason: str) -> None:
        self._status[run.run_id] = "skipped"
        n = sum(len(_executions(s)) for s in run.scenarios)
        self._scenario_counts["skipped"] = self._scenario_counts.get("skipped", 0) + n
        self.bus.emit(FeatureRunFinished(run_id=run.run_id, status="skipped", duration=0.0,
                                         reason=reason))

    async def _execute(self, run: FeatureRun) -> str:
        started = time.monotonic()
        values: dict[str, Any] = {}
        for dep in run.deps:
            values.update(self._contexts.get(dep, {}))
        # a spec written for one API generation talks to it, whatever the target's default
        values.update(self.target.values(feature_api_version(run.feature))
                      if self.target else {})
        if run.variant is not None:
            values["variant"] = run.variant
        session = None
        if self.target:
            import aiohttp  # here: `check` and the tests without a target never need it

            session = aiohttp.ClientSession()
        state = FeatureRunState(run_id=run.run_id, vars=values, bus=self.bus, session=session,
                                target=self.target.open_run(run.run_id, session)
                                if self.target and session else None)
        status, reason = "passed", None
        try:
            await self.hooks.call("before_feature", state, run)
            status, reason = await self._scenarios(run, state)
            await self.hooks.call("after_feature", state, run, status)
        except Exception as exc:  # a hook or the target broke: the run fails, others go on
            status, reason = "failed", f"{type(exc).__name__}: {exc}"
        except asyncio.CancelledError:
            status, reason = "skipped", "timed out" if self._timed_out else "interrupted"
            raise
        finally:
            await state.close()
            if session is not None:
                await session.close()
            self._contexts[run.run_id] = state.vars
            self.bus.emit(FeatureRunFinished(run_id=run.run_id, status=status, reason=reason,
                                             duration=time.monotonic() - started))
        return status

    async def _scenarios(self, run: FeatureRun, state: FeatureRunState
                         ) -> tuple[str, str | None]:
        executions = [e for s in run.scenarios for e in _executions(s)]
        background = run.feature.background
        if background is not None and executions:
            executions.insert(0, _Execution(background))
        elif background is not None and not list(run.feature.scenarios()):
            executions = [_Execution(background)]  # a feature that is only a Background
        failure: str | None = None
        for n, execution in enumerate(executions, start=1):
            scenario_id = f"{run.run_id}/{n}"
            if failure:
                self._skip_scenario(run, state, execution, scenario_id, failure)
                continue
            status = await self._scenario(run, state, execution, scenario_id)
            if status == "failed":
                failure = f"an earlier scenario failed: {execution.title!r}"
        return ("failed", failure) if failure else ("passed", None)

    # -- scenarios -----------------------------------------------------------------------
    def _scenario_started(self, run: FeatureRun, execution: _Execution, scenario_id: str) -> None:
        s = execution.scenario
        self.bus.emit(ScenarioStarted(run_id=run.run_id, scenario_id=scenario_id,
                                      title=execution.title, line=s.line, kind=s.kind,
                                      example=execution.row, rule=s.rule))

    def _count(self, status: str) -> None:
        self._scenario_counts[status] = self._scenario_counts.get(status, 0) + 1

    def _skip_scenario(self, run: FeatureRun, state: FeatureRunState, execution: _Execution,
                       scenario_id: str, reason: str) -> None:
        self._scenario_started(run, execution, scenario_id)
        for i, step in enumerate(execution.scenario.steps, start=1):
            self._skip_step(run.run_id, scenario_id, f"{scenario_id}/{i}", step, reason)
        if execution.scenario.kind != "background":
            self._count("skipped")
        self.bus.emit(ScenarioFinished(run_id=run.run_id, scenario_id=scenario_id,
                                       status="skipped", duration=0.0, reason=reason))

    def _skip_step(self, run_id: str, scenario_id: str, step_id: str, step: Step,
                   reason: str) -> None:
        self.bus.emit(StepStarted(run_id=run_id, scenario_id=scenario_id, step_id=step_id,
                                  keyword=step.keyword, kind=step.kind, text=step.text,
                                  line=step.line))
        self.bus.emit(StepFinished(run_id=run_id, scenario_id=scenario_id, step_id=step_id,
                                   status="skipped", duration=0.0, text=step.text,
                                   code=step.code.text if step.code else None, reason=reason))

    async def _scenario(self, run: FeatureRun, state: FeatureRunState, execution: _Execution,
                        scenario_id: str) -> str:
        started = time.monotonic()
        self._scenario_started(run, execution, scenario_id)
        scenario = execution.scenario
        policy = self.settings.retry.merged(run.feature.retry)
        policy = _with_tags(policy, run.feature.tags + scenario.tags)
        statuses: list[str] = []
        reason = None
        await self.hooks.call("before_scenario", state, scenario)
        for i, step in enumerate(scenario.steps, start=1):
            step_id = f"{scenario_id}/{i}"
            if reason:
                self._skip_step(run.run_id, scenario_id, step_id, step, reason)
                statuses.append("skipped")
                continue
            status = await self._step(run, state, execution, scenario_id, step_id, step, policy)
            statuses.append(status)
            if status != "passed":
                reason = f"step on line {step.line} {status}"
        status = "failed" if reason else worst(statuses)
        await self._attach_journal(state, scenario_id)
        await self.hooks.call("after_scenario", state, scenario, status)
        if scenario.kind != "background" or status == "failed":
            self._count(status)  # a Background counts only when it fails: then it is news
        self.bus.emit(ScenarioFinished(run_id=run.run_id, scenario_id=scenario_id, status=status,
                                       duration=time.monotonic() - started, reason=reason))
        return status

    async def _attach_journal(self, state: FeatureRunState, scenario_id: str) -> None:
        """The mock's journal for this scenario, for the reports; never fails the run."""
        if state.target is None or not state.target.accounts:
            return
        try:
            entries = await state.target.new_journal_entries()
        except Exception as exc:  # the report loses a view, the run goes on
            entries = [{"error": f"journal unavailable: {exc}"}]
        if entries:
            self.bus.emit(Attachment(run_id=state.run_id, step_id=None, kind="journal",
                                     data={"scenario_id": scenario_id, "entries": entries}))

    # -- steps ---------------------------------------------------------------------------
    async def _step(self, run: FeatureRun, state: FeatureRunState, execution: _Execution,
                    scenario_id: str, step_id: str, step: Step, policy: RetryPolicy) -> str:
        self.bus.emit(StepStarted(run_id=run.run_id, scenario_id=scenario_id, step_id=step_id,
                                  keyword=step.keyword, kind=step.kind, text=step.text,
                                  line=step.line))
        text, after = split_after_retries(step.text)
        policy = _with_tags(policy, step.tags)
        retrying = step.kind == "soon" or after is not None
        if after is not None:
            policy = policy.merged({"tries": after + 1})
        started = time.monotonic()
        delays = policy.delays()
        resolved: ResolvedStep | None = None
        attempt, error = 0, None
        while True:
            attempt += 1
            t0 = time.monotonic()
            ctx = None
            try:
                resolved = resolve_step(step, text, state.vars, execution.row, run.variant,
                                        run.feature.path)
                ctx = StepContext(state, resolved, step_id, attempt)
                await self._call(ctx, resolved)
                error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = _step_error(exc)
            delay = None
            if error is not None and error.kind == "assertion":
                delay = self._next_delay(policy, retrying, ctx, attempt, started, delays)
            if error is not None or attempt > 1:
                # A step that passes at once has one attempt: its StepFinished says it all,
                # and a third event per step would be a third of the reporters' work.
                self.bus.emit(StepAttempt(run_id=run.run_id, step_id=step_id, attempt=attempt,
                                          duration=time.monotonic() - t0,
                                          error=error.message if error else None,
                                          next_delay=delay))
            if delay is None:
                break
            await asyncio.sleep(delay)
            if ctx and ctx.retry_request and ctx.retry_request.before_retry:
                try:
                    await ctx.retry_request.before_retry()
                except Exception as exc:
                    error = _step_error(exc)
                    break
        status = "passed" if error is None else (
            "undefined" if error.kind == "undefined" else "failed")
        self.bus.emit(StepFinished(
            run_id=run.run_id, scenario_id=scenario_id, step_id=step_id, status=status,
            duration=time.monotonic() - started, attempts=attempt,
            text=resolved.text if resolved else step.text,
            code=resolved.code if resolved else (step.code.text if step.code else None),
            error=error.to_dict() if error else None))
        return status

    def _next_delay(self, policy: RetryPolicy, retrying: bool, ctx: StepContext | None,
                    attempt: int, started: float, delays) -> float | None:
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
        if self.hooks.has("before_step"):
            await self.hooks.call("before_step", ctx)
        # A sync step holds the loop: bounded by the step timeout and what is left of the
        # run's (see blocking.py).
        limit = self.settings.step_timeout
        if self.settings.run_timeout is not None:
            limit = min(limit, self._started + self.settings.run_timeout - time.monotonic())
        result = blocking.call(match.func, [ctx, *match.args], match.kwargs, max(limit, 0.001))
        if asyncio.iscoroutine(result):
            await asyncio.wait_for(result, self.settings.step_timeout)
        if self.hooks.has("after_step"):
            await self.hooks.call("after_step", ctx, "passed")


def resolve_step(step: Step, text: str, values: dict[str, Any], row: dict[str, str] | None,
                 variant: dict[str, Any] | None, path: str = "") -> ResolvedStep:
    """Replace `<...>` placeholders, then `${...}`, in title, code block and table.

    A `json` code block must be JSON once resolved: else an ExpressionError with the
    spec's `path:line`, so the step fails saying where (not with a step's traceback)."""
    angle: dict[str, Any] = {"variant": variant or {}, **(row or {})}
    data = {**values, **row} if row else values

    def sub(value: str, json_strings: bool = False) -> str:
        return expressions.substitute(expressions.replace_angle(value, angle), data,
                                      json_strings=json_strings)

    code = step.code
    table = step.table
    code_text = sub(code.text, json_strings=code.language == "json") if code else None
    if code is not None and code.language == "json":
        expressions.check_json(code_text, path or "<spec>", code.line)
    return ResolvedStep(
        source=step, text=sub(text),
        code=code_text,
        language=code.language if code else None,
        table=Table(header=table.header, rows=[[sub(c) for c in r] for r in table.rows],
                    line=table.line) if table else None)


def _executions(scenario: Scenario) -> list[_Execution]:
    if scenario.kind != "outline":
        return [_Execution(scenario)]
    return [_Execution(scenario, row) for ex in scenario.examples if ex.table
            for row in ex.table.as_dicts()]


def _with_tags(policy: RetryPolicy, tags: list[str]) -> RetryPolicy:
    for tag in tags:
        settings = parse_retry_tag(tag)
        if settings:
            policy = policy.merged(settings)
    return policy


def _step_error(exc: BaseException) -> StepError:
    if isinstance(exc, AssertionError):
        return StepError(str(exc) or "assertion failed", "assertion",
                         getattr(exc, "detail", None))
    if isinstance(exc, TimeoutError):
        return StepError("step timed out", "timeout")
    if isinstance(exc, Undefined):
        return StepError(f"undefined step: {exc}", "undefined")
    if isinstance(exc, Ambiguous | expressions.ExpressionError | TargetError):
        return StepError(str(exc), "error")
    detail = "".join(traceback.format_exception(exc)[-6:])
    return StepError(f"{type(exc).__name__}: {exc}", "error", detail)
