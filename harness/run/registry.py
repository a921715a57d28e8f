"""Step definitions: behave's decorators and matchers, looked up the way this runner needs.

Step modules write `from behave import given, when, then, step` exactly as for behave.
The runner reads behave's registry, but does its own lookup so that it can report every
ambiguous match (behave returns the first) and await `async def` steps on its own loop
(behave's AsyncStepFunction would start a nested loop).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from behave import step_registry
from behave.matchers import Matcher

from harness.run.loading import StepLoadError, load_module  # noqa: F401  (StepLoadError: re-exported)
from harness.spec.model import Step

# Which definitions a step of each effective kind may use (Soon steps are assertions).
DEFINITION_TYPES = {
    "given": ("given", "step"),
    "when": ("when", "step"),
    "then": ("then", "step"),
    "soon": ("then", "step"),
}


@dataclass
class StepMatch:
    func: Callable[..., Any]
    kwargs: dict[str, Any]
    args: list[Any]
    matcher: Matcher

    @property
    def location(self) -> str:
        return str(self.matcher.location)


class Undefined(Exception):
    pass


class Ambiguous(Exception):
    def __init__(self, matches: list[Matcher]):
        self.matches = matches
        where = ", ".join(f"`{m.pattern}` ({m.location})" for m in matches)
        super().__init__(f"ambiguous step: matched by {where}")


MATCH_CACHE = 10_000  # sentences whose match is kept (see StepRegistry.match)
_IMMUTABLE = (str, int, float, bool, type(None))


class StepRegistry:
    def __init__(self, registry: step_registry.StepRegistry | None = None):
        self.behave = registry or step_registry.registry
        self._defined: dict[tuple[str, str], list[Matcher]] = {}
        self._matches: dict[tuple[str, str], StepMatch] = {}

    def load(self, modules: list[str] | tuple[str, ...]) -> None:
        """Import step modules: a dotted name, a `.py` file or a folder (loading.py); which
        ones is the command line's to say (harness/cli.py `DEFAULT_STEP_MODULES`)."""
        self._defined.clear()  # new definitions: what matched before may not now
        self._matches.clear()
        for name in modules:
            load_module(name)

    def candidates(self, kind: str) -> list[Matcher]:
        return [m for t in DEFINITION_TYPES[kind] for m in self.behave.steps[t]]

    def _found(self, kind: str, text: str) -> list[tuple[Matcher, list | Exception]]:
        """Every definition taking `text`, with its arguments (or the type converter's
        error: a definition whose converter refused the text still takes it)."""
        # check_match, not match: behave's Match objects look up the function's source
        # location each time, which would cost more than the match itself.
        found: list[tuple[Matcher, list | Exception]] = []
        for matcher in self.candidates(kind):
            try:
                arguments = matcher.check_match(text)
            except NotImplementedError:
                raise
            except Exception as exc:
                found.append((matcher, exc))
                continue
            if arguments is not None:
                found.append((matcher, arguments))
        return found

    def match(self, kind: str, text: str) -> StepMatch:
        """The one definition matching `text`; Undefined or Ambiguous otherwise.

        Suites repeat sentences (every "the status code ... should be `200`", every
        iteration of a Soon step), and matching with behave's `parse` matchers costs
        more than a trivial step itself: a match whose arguments are plain immutable
        values is kept (bounded) and reused; one a type converter made into an object
        is matched again each time, so no step ever shares a mutable argument."""
        key = (kind, text)
        known = self._matches.get(key)
        if known is not None:
            return known
        match = self._match(kind, text)
        if len(self._matches) < MATCH_CACHE and all(
            type(v) in _IMMUTABLE for v in (*match.args, *match.kwargs.values())
        ):
            self._matches[key] = match
        return match

    def _match(self, kind: str, text: str) -> StepMatch:
        found = self._found(kind, text)
        if not found:
            raise Undefined(text)
        if len(found) > 1:
            raise Ambiguous([m for m, _ in found])
        matcher, arguments = found[0]
        if isinstance(arguments, Exception):
            raise arguments
        args = [a.value for a in arguments if a.name is None]
        kwargs = {a.name: a.value for a in arguments if a.name is not None}
        func = getattr(matcher.func, "coro_func", matcher.func)  # unwrap AsyncStepFunction
        return StepMatch(func=func, kwargs=kwargs, args=args, matcher=matcher)

    def is_defined(self, kind: str, text: str) -> list[Matcher]:
        """Matchers that would take `text`; suites repeat sentences, so asked once each."""
        key = (kind, text)
        if key not in self._defined:
            self._defined[key] = [m for m, _ in self._found(kind, text)]
        return self._defined[key]


def snippet(step: Step) -> str:
    """A step definition to start from, for an undefined step."""
    decorator = {"soon": "then"}.get(step.kind, step.kind)
    names: list[str] = []

    def arg(_: re.Match) -> str:
        names.append(f"arg{len(names) + 1}")
        return f"`{{{names[-1]}}}`"

    pattern = re.sub(r"`[^`]*`", arg, step.text).replace('"', '\\"')
    params = "".join(f", {n}" for n in names)
    return (
        f'@{decorator}("{pattern}")\n'
        f"async def step_impl(ctx{params}):\n"
        f'    raise NotImplementedError("{step.keyword} {step.text[:40]}")'
    )
