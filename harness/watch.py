"""`spec-harness run --watch`: the target stays up, edited specs run again.

The first pass runs every selected feature; then each change under the given paths
re-runs the features whose files changed (with what they `needs`), and a change to a
step module reloads the steps and re-runs everything selected. Each pass prints the
console's compact output (failures and the summary line). File events come from
`watchfiles` (the Rust `notify` crate: inotify, FSEvents, ReadDirectoryChangesW), with
a short debounce so that an editor's save-and-rename is one change.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
import time
from pathlib import Path

from harness.cli import DEFAULT_STEP_MODULES
from harness.events import EventBus
from harness.hooks import HOOKS
from harness.loader import discover, parse_all
from harness.plan import Selection, make_plan
from harness.run.registry import StepLoadError, StepRegistry
from harness.run.runner import Runner, RunSettings
from harness.spec.errors import SpecErrors
from harness.tags import parse_tag_expression
from harness.targets.base import Target

SUFFIX = ".feature.md"
DEBOUNCE_MS = 50  # watchfiles' default (1.6 s) is longer than a re-run of one spec


def watched_paths(args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
    """(spec paths, step module files or folders) to watch."""
    specs = [
        Path(p.rsplit(":", 1)[0] if not Path(p).exists() and ":" in p else p) for p in args.paths
    ]
    steps: list[Path] = []
    for name in (*DEFAULT_STEP_MODULES, *args.step_modules):
        if Path(name).exists():
            steps.append(Path(name))
            continue
        found = importlib.util.find_spec(name)
        if found is not None and found.submodule_search_locations:
            steps += [Path(p) for p in found.submodule_search_locations]
        elif found is not None and found.origin:
            steps.append(Path(found.origin))
    return specs, steps


class Watcher:
    def __init__(
        self,
        args: argparse.Namespace,
        target: Target,
        settings: RunSettings,
        make_reporters: object,
    ) -> None:
        self.args = args
        self.target = target
        self.settings = settings
        self.make_reporters = make_reporters  # harness.report.make_reporters
        self.specs, self.step_paths = watched_paths(args)
        self.registry: StepRegistry | None = None

    def load_steps(self, reload: bool = False) -> None:
        """The step modules (again, after an edit: their old definitions and hooks go)."""
        if reload:
            roots = [p.resolve() for p in self.step_paths]
            for name, module in list(sys.modules.items()):
                file = getattr(module, "__file__", None)
                if file and any(
                    Path(file).resolve().is_relative_to(r) or Path(file).resolve() == r
                    for r in roots
                ):
                    del sys.modules[name]
            registry = StepRegistry()
            for kind in registry.behave.steps:
                registry.behave.steps[kind] = []
            for funcs in HOOKS.registered.values():
                funcs.clear()
        registry = StepRegistry()
        registry.load(list(DEFAULT_STEP_MODULES) + self.args.step_modules)
        self.registry = registry

    async def run(self, changed: set[str] | None) -> None:
        """One pass: every selected feature (None) or those of the changed files."""
        args = self.args
        files, lines = discover(args.paths)
        features = parse_all(files)
        if changed is not None:
            wanted = {str(Path(p).resolve()) for p in changed}
            picked = {f.path for f in features if str(Path(f.path).resolve()) in wanted}
            if not picked:
                return
            lines = {p: {0} for p in picked}
        tags = parse_tag_expression(args.tags) if args.tags else None
        plan = make_plan(features, Selection(lines=lines, names=args.names, tags=tags))
        if not plan.runs:
            print("nothing selected", flush=True)
            return
        bus = EventBus()
        reporters = self.make_reporters(  # type: ignore[operator]
            None, quiet=args.quiet, color=args.color
        )
        for reporter in reporters:
            bus.subscribe(reporter)
        try:
            assert self.registry is not None
            runner = Runner(
                plan,
                self.registry,
                self.target,
                bus,
                self.settings,
                hooks=HOOKS,
                paths=[str(f) for f in files],
            )
            await runner.run()
        finally:
            for reporter in reporters:
                reporter.close()

    async def watch(self, stop: asyncio.Event | None = None) -> None:
        import watchfiles

        roots = [str(p) for p in [*self.specs, *self.step_paths] if p.exists()]
        changes: asyncio.Queue[set[str]] = asyncio.Queue()

        async def pump() -> None:
            async for batch in watchfiles.awatch(
                *roots, debounce=DEBOUNCE_MS, step=25, stop_event=stop, recursive=True
            ):
                changes.put_nowait({p for _, p in batch})

        watcher = asyncio.create_task(pump())
        # awatch sets its watches up before its first wait: after this, no edit is missed,
        # not even one made while the first pass runs.
        await asyncio.sleep(0)
        try:
            await self._pass(None, reload=False)
            while not watcher.done():
                paths = await _next(changes, watcher)
                while not changes.empty():  # what else changed meanwhile: one pass
                    paths |= changes.get_nowait()
                await self._changed(paths)
        finally:
            watcher.cancel()

    async def _changed(self, paths: set[str]) -> None:
        steps = {p for p in paths if p.endswith(".py") and self._is_step(p)}
        specs = {p for p in paths if p.endswith(SUFFIX)}
        if steps:
            names = ", ".join(sorted(Path(p).name for p in steps))
            print(
                f"\n── {time.strftime('%H:%M:%S')} {names} changed: "
                "steps reloaded, running everything",
                flush=True,
            )
            await self._pass(None, reload=True)
        elif specs:
            names = ", ".join(sorted(Path(p).name for p in specs))
            print(f"\n── {time.strftime('%H:%M:%S')} {names} changed", flush=True)
            await self._pass(specs, reload=False)

    def _is_step(self, path: str) -> bool:
        resolved = Path(path).resolve()
        return any(
            resolved.is_relative_to(p.resolve()) or resolved == p.resolve() for p in self.step_paths
        )

    async def _pass(self, changed: set[str] | None, reload: bool) -> None:
        """A pass that fails to load or parse says why and waits for the next edit."""
        try:
            if reload or self.registry is None:
                self.load_steps(reload=reload)
            await self.run(changed)
        except SpecErrors as exc:
            print(f"{exc}\n{len(exc.errors)} problem(s) in the specs", flush=True)
        except StepLoadError as exc:
            print(f"error: {exc}", flush=True)
        print(
            f"watching {', '.join(str(p) for p in self.specs)} and the steps (Ctrl-C to stop)",
            flush=True,
        )


async def _next(changes: asyncio.Queue[set[str]], watcher: asyncio.Task) -> set[str]:
    """The next batch of changed paths; the watcher's own error, should it stop."""
    getter = asyncio.ensure_future(changes.get())
    done, _ = await asyncio.wait({getter, watcher}, return_when=asyncio.FIRST_COMPLETED)
    if getter in done:
        return getter.result()
    getter.cancel()
    watcher.result()  # raises what stopped it
    return set()


async def watch(args: argparse.Namespace, target: Target, settings: RunSettings) -> int:
    """Start the target, then run and re-run until Ctrl-C."""
    from harness.report import make_reporters

    await target.start()
    try:
        await Watcher(args, target, settings, make_reporters).watch()
    finally:
        await target.stop()
    return 0
