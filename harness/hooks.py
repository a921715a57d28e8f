"""Named hooks around the run, each feature run, scenario and step.

Step modules register with decorators, sync or async:

    from harness.hooks import before_scenario

    @before_scenario
    async def reset_something(run, scenario): ...

Signatures: before_run(plan) / after_run(plan); before_feature(run, feature_run) /
after_feature(run, feature_run, status); before_scenario(run, scenario) /
after_scenario(run, scenario, status); before_step(ctx) / after_step(ctx, status),
where `run` is the feature run's state (its `vars`, `state`, `target`).

As in behave: `before_run` finishes before any feature run starts (a failure there
skips them all and fails the run); `before_step` and `after_step` run once per step,
not per `Soon` attempt; `after_step`, `after_scenario` and `after_feature` always run,
with the final status (`passed`, `failed`, `undefined`, `skipped`), failures included.
An exception in an `after_*` hook fails what it was called for.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

HOOK_NAMES = (
    "before_run",
    "after_run",
    "before_feature",
    "after_feature",
    "before_scenario",
    "after_scenario",
    "before_step",
    "after_step",
)


class Hooks:
    def __init__(self) -> None:
        self.registered: dict[str, list[Callable[..., Any]]] = {n: [] for n in HOOK_NAMES}

    def add(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        self.registered[name].append(func)
        return func

    def has(self, name: str) -> bool:
        return bool(self.registered[name])

    async def call(self, name: str, *args: Any) -> None:
        # `after_*` hooks run newest first, like cleanups, so set-up and tear-down nest.
        funcs = self.registered[name]
        for func in reversed(funcs) if name.startswith("after") else funcs:
            result = func(*args)
            if inspect.isawaitable(result):
                await result


HOOKS = Hooks()


def before_run(func: Callable[..., Any]) -> Callable[..., Any]:
    return HOOKS.add("before_run", func)


def after_run(func: Callable[..., Any]) -> Callable[..., Any]:
    return HOOKS.add("after_run", func)


def before_feature(func: Callable[..., Any]) -> Callable[..., Any]:
    return HOOKS.add("before_feature", func)


def after_feature(func: Callable[..., Any]) -> Callable[..., Any]:
    return HOOKS.add("after_feature", func)


def before_scenario(func: Callable[..., Any]) -> Callable[..., Any]:
    return HOOKS.add("before_scenario", func)


def after_scenario(func: Callable[..., Any]) -> Callable[..., Any]:
    return HOOKS.add("after_scenario", func)


def before_step(func: Callable[..., Any]) -> Callable[..., Any]:
    return HOOKS.add("before_step", func)


def after_step(func: Callable[..., Any]) -> Callable[..., Any]:
    return HOOKS.add("after_step", func)
