"""One target, one step registry and one event loop for a whole pytest session.

The pytest plugin (harness/pytest_plugin.py) runs a group of feature runs (features
joined by `needs`) at a time with the real runner, on a loop in a thread of its own: the
embedded servers then keep answering between pytest items (the backend's pollers, open
websockets), and pytest's main thread stays free for its own work.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from harness.cli import DEFAULT_STEP_MODULES
from harness.events import EventBus
from harness.hooks import HOOKS
from harness.plan import Plan
from harness.report.results import ResultBuilder
from harness.run.registry import StepRegistry
from harness.run.runner import Runner, RunSettings
from harness.targets.base import Target

T = TypeVar("T")


class SpecSession:
    """Starts the target on the first run and stops it at `close()`."""

    def __init__(
        self,
        target_options: argparse.Namespace,
        step_modules: list[str],
        settings: RunSettings | None = None,
    ) -> None:
        # target_options: the attributes harness.cli.make_target reads (target, api_url,
        # mock_url, ws_url, admin_token, target_config, variables, api_version).
        self.target_options = target_options
        self.step_modules = step_modules
        self.settings = settings or RunSettings()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._target: Target | None = None
        self._registry: StepRegistry | None = None
        self._broken: str | None = None  # why the target or the steps cannot be used

    # -- the loop --------------------------------------------------------------------

    def _start_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=loop.run_forever, name="spec-harness", daemon=True
            )
            self._thread.start()
            self._loop = loop
        return self._loop

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the session's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self._start_loop()).result()

    # -- the target and the steps ----------------------------------------------------

    def prepare(self) -> None:
        """Load the steps and start the target once; raise SessionBroken when either
        cannot be had (then every later call says the same, without trying again)."""
        if self._broken:
            raise SessionBroken(self._broken)
        if self._target is not None:
            return
        from harness.cli import UsageError, make_target
        from harness.run.registry import StepLoadError
        from harness.targets.base import TargetError

        try:
            registry = StepRegistry()
            registry.load(list(DEFAULT_STEP_MODULES) + self.step_modules)
            target = make_target(self.target_options)
            self.call(target.start())
        except (StepLoadError, UsageError) as exc:
            self._broken = f"error: {exc}"
            raise SessionBroken(self._broken) from None
        except TargetError as exc:
            self._broken = f"target unavailable: {exc}"
            raise SessionBroken(self._broken) from None
        self._registry, self._target = registry, target

    def run(self, plan: Plan) -> ResultBuilder:
        """Run a plan with the real runner; the read model of its events, finalized."""
        self.prepare()
        bus = EventBus()
        builder = ResultBuilder()
        bus.subscribe(builder)
        assert self._registry is not None
        runner = Runner(
            plan,
            self._registry,
            self._target,
            bus,
            self.settings,
            hooks=HOOKS,
            paths=sorted({r.feature.path for r in plan.runs}),
        )
        future = asyncio.run_coroutine_threadsafe(runner.run(), self._start_loop())
        try:
            future.result()
        except KeyboardInterrupt:
            # Ctrl-C in pytest: stop the feature runs, let them close, then let pytest stop.
            assert self._loop is not None
            self._loop.call_soon_threadsafe(runner.interrupt)
            future.result()
            raise
        builder.result()
        return builder

    def close(self) -> None:
        """Stop the target and the loop (idempotent)."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        target, self._target = self._target, None
        if target is not None:
            asyncio.run_coroutine_threadsafe(target.stop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join()
        loop.close()


class SessionBroken(Exception):
    """The steps could not be loaded or the target not started; the message says which."""
