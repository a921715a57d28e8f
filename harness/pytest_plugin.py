"""The pytest plugin (entry point `pytest11`, name `spec-harness`): specs as pytest items.

`pytest specs/` collects `*.feature.md`, one item per scenario execution (an outline
row or a variant is in the item's brackets, labelled by harness/naming.py). A feature
stays one story: when the first item of a feature runs, the real runner plays the
group it belongs to (the feature, what it `needs`, what needs it) on one session-wide
target, up to the last selected scenario of each feature, and every item then reports
its own scenario's outcome from the events. So `-k` picking one scenario still runs the
story before it, but reports only what was picked.

Which files it collects: with the ini option `spec_paths`, the `*.feature.md` files
under those folders; without it, those under paths given on the command line (not the
ini's `testpaths`), so a project whose tests keep spec fixtures does not run them as
tests. `-p no:spec-harness` turns the plugin off.

With pytest-xdist each group carries an `xdist_group` mark, and `-n N` schedules with
`loadgroup` unless `--dist` is given: a feature and its needs stay on one worker.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.naming import label
from harness.plan import Execution, FeatureRun, Plan, Selection, make_plan
from harness.spec.errors import SpecError, SpecErrors
from harness.spec.model import Feature
from harness.spec.parser import parse_file

if TYPE_CHECKING:
    # Imported when a spec runs: every pytest run in an environment with the package
    # loads this module, most of them to run no spec at all.
    from harness.report.results import ResultBuilder, ScenarioResult, StepResult
    from harness.spec_session import SpecSession

SUFFIX = ".feature.md"
_STATE = pytest.StashKey["_State"]()
_MARKS = {"passed": "✓", "failed": "✗", "undefined": "?", "skipped": "-", "pending": "…"}
SECTION_LIMIT = 4000  # characters of one request or response body in the http section
SECTION_EXCHANGES = 20  # the last HTTP exchanges of a scenario its section shows


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("spec-harness", "executable Markdown specs (spec-harness)")
    group.addoption(
        "--spec-target",
        default="embedded",
        choices=["embedded", "remote"],
        help="where the backend and the mock live (default: embedded, started once per session)",
    )
    group.addoption("--spec-api-url", default="", help="remote: the backend's REST base URL")
    group.addoption("--spec-mock-url", default="", help="remote: the mock nRF Cloud's URL")
    group.addoption("--spec-ws-url", default=None, help="remote: websocket URL")
    group.addoption("--spec-admin-token", default="", help="remote: the backend's admin token")
    group.addoption(
        "--spec-target-config",
        default=None,
        metavar="FILE",
        help="remote: YAML/JSON with api_url, mock_url, admin_token, ws_url",
    )
    group.addoption(
        "--spec-api-version",
        default="",
        metavar="DATE",
        type=_api_version,
        help="the API generation to test, e.g. 2024-04-17",
    )
    group.addoption(
        "--spec-var",
        dest="spec_variables",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a context value for every feature run",
    )
    group.addoption(
        "--spec-steps",
        dest="spec_step_modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="step module or folder to load besides `steps`",
    )
    group.addoption(
        "--spec-jobs",
        type=int,
        default=8,
        metavar="N",
        help="feature runs at once within one group (default 8)",
    )
    parser.addini(
        "spec_paths",
        type="paths",
        default=[],
        help="folders whose *.feature.md files pytest collects (default: any "
        "given on the command line)",
    )


def _api_version(text: str) -> str:
    from harness.api_version import parse_api_version

    try:
        return parse_api_version(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STATE] = _State(config)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist: `-n N` alone means `--dist load`, which would split a feature's story
    over workers. Specs get a loadgroup scheduler that keeps each group (a feature with
    what it needs and what needs it) on one worker and spreads the rest as load does.
    Ours, not xdist's own: its `xdist_group` suffix on node ids has no effect on pytest 9,
    and it would need marks the controller (which collects nothing) cannot compute."""
    dist = config.getvalue("dist")
    if not (dist == "loadgroup" or (dist == "load" and not _dist_given(config))):
        return None
    if not _runs_specs(config):
        return None
    from harness.pytest_xdist import SpecScheduling

    return SpecScheduling(config, log, lambda paths: config.stash[_STATE].groups_of(paths))


def _dist_given(config: pytest.Config) -> bool:
    args = [
        *config.invocation_params.args,
        *config.getini("addopts"),
        *os.environ.get("PYTEST_ADDOPTS", "").split(),
    ]
    return any(str(a) == "--dist" or str(a).startswith("--dist=") for a in args)


def _runs_specs(config: pytest.Config) -> bool:
    """Whether a path pytest was given holds a spec this plugin collects."""
    for arg in config.args:
        path = Path(config.invocation_params.dir, str(arg).split("::", 1)[0])
        candidates = [path] if path.is_file() else path.rglob(f"*{SUFFIX}")
        if any(p.name.endswith(SUFFIX) and _collects(config, p) for p in candidates):
            return True
    return False


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is not None:
        state.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(SUFFIX) and _collects(parent.config, file_path):
        return SpecFile.from_parent(parent, path=file_path)
    return None


def _collects(config: pytest.Config, path: Path) -> bool:
    roots = config.getini("spec_paths")
    if roots:
        return any(path.resolve().is_relative_to(Path(r).resolve()) for r in roots)
    return config.args_source == pytest.Config.ArgsSource.ARGS


def _shown(path: Path, config: pytest.Config) -> str:
    """The path as messages show it (`path:line`): relative to where pytest started."""
    try:
        return os.path.relpath(path, config.invocation_params.dir)
    except ValueError:  # another drive
        return str(path)


# -- collection -------------------------------------------------------------------------


class SpecFile(pytest.File):
    def collect(self) -> list[SpecItem]:
        try:
            feature = parse_file(_shown(self.path, self.config))
        except SpecErrors as exc:
            raise self.CollectError(str(exc)) from None
        self.config.stash[_STATE].features[feature.path] = feature
        # The planner names and numbers the executions; `needs` are resolved later, with
        # every collected feature known (ids do not depend on them).
        alone = dataclasses.replace(
            feature, front_matter={k: v for k, v in feature.front_matter.items() if k != "needs"}
        )
        items, seen = [], set()
        for run in make_plan([alone]).runs:
            for execution in run.executions:
                if execution.kind == "background":
                    continue  # runs before the first scenario; not a test of its own
                name = _item_name(execution, run)
                while name in seen:  # two scenarios of one title: keep node ids unique
                    name += "'"
                seen.add(name)
                items.append(SpecItem.from_parent(self, name=name, run=run, execution=execution))
        return items


def _item_name(execution: Execution, run: FeatureRun) -> str:
    """`Title[variant, row]`, the brackets as for a parametrised test."""
    title = execution.title.replace("::", ":")
    params = ", ".join(x for x in (label(run.variant), label(execution.row)) if x)
    return f"{title}[{params}]" if params else title


class SpecItem(pytest.Item):
    def __init__(self, *, run: FeatureRun, execution: Execution, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.feature_path = run.feature.path
        self.run_id = run.run_id
        self.execution_id = execution.id
        self.line = execution.scenario.line
        self.feature_name = run.name
        self.scenario_name = execution.name
        self.spec_duration: float | None = None
        # `-k` also matches the feature's title and the tags (`-k fota`, `-k "not slow"`).
        self.extra_keyword_matches.update(
            [run.feature.title, *run.feature.all_tags, *execution.scenario.tags]
        )

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.line - 1, f"{self.feature_name} › {self.scenario_name}"

    def runtest(self) -> None:
        from harness.report.results import outcome

        state = self.config.stash[_STATE]
        builder = state.results_for(self)
        scenario = builder.find_scenario(self.execution_id)
        feature = builder.find_feature(self.run_id)
        if scenario is None or feature is None:
            raise pytest.skip.Exception("not run", _use_item_location=True)
        self._add_sections(scenario)
        # what junit.xml and --durations show: the scenario's time, not the group run's
        self.spec_duration = scenario.duration
        if state.first_item.get(self.run_id) == self.nodeid:
            # A Background or a hook that failed outside any scenario shows on the first.
            earlier = [
                (s, st)
                for f, s, st in builder.result().failures()
                if f.id == self.run_id and (s is None or s.kind == "background")
            ]
            if earlier:
                raise SpecFailure(_failure_text(feature.name, feature.path, earlier))
        result = outcome(scenario.status)
        if result == "failed":
            failed = [st for st in scenario.steps if outcome(st.status) == "failed"]
            raise SpecFailure(
                _failure_text(
                    f"{feature.name} › {scenario.name}",
                    feature.path,
                    [(scenario, st) for st in failed] or [(scenario, None)],
                    scenario,
                )
            )
        if result == "skipped":
            # reported at the scenario's place, not this line of the plugin
            raise pytest.skip.Exception(
                scenario.reason or feature.reason or "skipped", _use_item_location=True
            )

    def _add_sections(self, scenario: ScenarioResult) -> None:
        attempts = [line for st in scenario.steps for line in _attempt_lines(st)]
        if attempts:
            self.add_report_section("call", "spec attempts", "\n".join(attempts))
        exchanges = [
            text
            for st in scenario.steps
            for a in st.attachments
            if a.kind == "http"
            for text in [_http_text(st, a.data)]
        ]
        if len(exchanges) > SECTION_EXCHANGES:  # a Soon step polling for 30 s
            left = len(exchanges) - SECTION_EXCHANGES
            exchanges = [f"({left} earlier exchanges left out)", *exchanges[-SECTION_EXCHANGES:]]
        if exchanges:
            self.add_report_section("call", "spec http", "\n\n".join(exchanges))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, SpecFailure):
            return str(excinfo.value)  # the harness's own message: no runner traceback
        return super().repr_failure(excinfo, style=style)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if isinstance(item, SpecItem) and call.when == "call" and item.spec_duration is not None:
        report.duration = item.spec_duration
    return report


class SpecFailure(Exception):
    """A scenario failed; the message is what pytest shows for it."""


# -- the session's state: features, groups, results ------------------------------------


class _State:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.features: dict[str, Feature] = {}  # collected, by path
        self.extra: dict[str, Feature] = {}  # found only because something `needs` them
        self.errors: dict[str, str] = {}  # path -> why its `needs` cannot be resolved
        self.graph: dict[str, list[str]] = {}  # path -> paths it needs
        self.group: dict[str, str] = {}  # path -> group name
        self.lines: dict[str, int] = {}  # path -> line of the last selected scenario
        self.first_item: dict[str, str] = {}  # run_id -> node id of its first selected item
        self.results: dict[str, ResultBuilder] = {}  # group -> its run's read model
        self._session: SpecSession | None = None

    @property
    def session(self) -> SpecSession:
        """The session's target and loop, made when the first spec runs."""
        if self._session is None:
            from harness.run.runner import RunSettings
            from harness.spec_session import SpecSession

            option = self.config.option
            targets = argparse.Namespace(
                target=option.spec_target,
                api_url=option.spec_api_url,
                mock_url=option.spec_mock_url,
                ws_url=option.spec_ws_url,
                admin_token=option.spec_admin_token,
                target_config=option.spec_target_config,
                variables=option.spec_variables,
                api_version=option.spec_api_version,
            )
            self._session = SpecSession(
                targets, option.spec_step_modules, RunSettings(jobs=max(1, option.spec_jobs))
            )
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def all_features(self) -> dict[str, Feature]:
        return {**self.extra, **self.features}

    def resolve(self) -> None:
        """Each collected feature's `needs` as paths; a title not collected is looked
        for in the folders above the feature (up to the rootdir), as `spec-harness run`
        would find it when given that folder."""
        todo = list(self.features.values())
        while todo:
            feature = todo.pop()
            paths = []
            for title in feature.needs:
                found = self._find(title, Path(feature.path))
                if isinstance(found, str):
                    self.errors[feature.path] = found
                    continue
                if found.path not in self.features and found.path not in self.extra:
                    self.extra[found.path] = found
                    todo.append(found)
                paths.append(found.path)
            self.graph[feature.path] = paths
        # a feature whose need cannot run cannot run either
        changed = True
        while changed:
            changed = False
            for path, deps in self.graph.items():
                bad = next((d for d in deps if d in self.errors), None)
                if bad and path not in self.errors:
                    self.errors[path] = f"needs {bad}, which cannot run: {self.errors[bad]}"
                    changed = True

    def _find(self, title: str, path: Path) -> Feature | str:
        known = [f for f in self.all_features().values() if f.title == title]
        if len(known) == 1:
            return known[0]
        root = self.config.rootpath.resolve()
        folder = path.resolve().parent
        while True:
            found = [f for f in _parse_quietly(folder, self.config) if f.title == title]
            if len(found) == 1:
                return self.features.get(found[0].path) or self.extra.get(found[0].path) or found[0]
            if len(found) > 1:
                return str(
                    SpecError(
                        str(path),
                        1,
                        1,
                        f"needs {title!r}, but several "
                        f"features have that title: "
                        f"{', '.join(f.path for f in found)}",
                    )
                )
            if folder == root or folder.parent == folder or not folder.is_relative_to(root):
                return str(
                    SpecError(str(path), 1, 1, f"needs {title!r}, but no feature has that title")
                )
            folder = folder.parent

    def groups_of(self, paths: list[str]) -> dict[str, str]:
        """The group of each spec file (rootdir-relative, as in node ids): for the xdist
        controller, which collects nothing itself."""
        shown = {p: _shown(self.config.rootpath / p, self.config) for p in paths}
        for path in shown.values():
            if path not in self.features:
                try:
                    self.features[path] = parse_file(path)
                except SpecErrors:
                    continue  # the workers report it when they collect
        self.resolve()
        self.make_groups()
        return {p: self.group.get(s, s) for p, s in shown.items()}

    def plan_order(self) -> dict[str, int]:
        """run_id -> position in the planner's order (needs first, `order`, path)."""
        ok = [f for p, f in self.all_features().items() if p not in self.errors]
        try:
            plan = make_plan(ok)
        except SpecErrors:  # a cycle: keep the collection order
            return {}
        return {r.run_id: n for n, r in enumerate(plan.runs)}

    def make_groups(self) -> None:
        """Features joined by `needs`, either way, make one group (one xdist worker)."""
        parent = {p: p for p in self.all_features()}

        def root(p: str) -> str:
            while parent[p] != p:
                parent[p] = parent[parent[p]]
                p = parent[p]
            return p

        for path, deps in self.graph.items():
            for dep in deps:
                parent[root(dep)] = root(path)
        members: dict[str, list[str]] = {}
        for path in sorted(parent):
            members.setdefault(root(path), []).append(path)
        for paths in members.values():
            for path in paths:
                self.group[path] = paths[0]

    def results_for(self, item: SpecItem) -> ResultBuilder:
        if item.feature_path in self.errors:
            raise SpecFailure(self.errors[item.feature_path])
        group = self.group.get(item.feature_path, item.feature_path)
        if group not in self.results:
            self.results[group] = self._run_group(group)
        return self.results[group]

    def _run_group(self, group: str) -> ResultBuilder:
        members = [
            f
            for p, f in self.all_features().items()
            if self.group.get(p, p) == group and p not in self.errors
        ]
        # Each feature with selected items runs up to its last selected scenario (the
        # story before it included); what they need comes along, whole.
        lines = {p: {line} for p, line in self.lines.items() if self.group.get(p, p) == group}
        try:
            plan: Plan = make_plan(members, Selection(lines=lines))
        except SpecErrors as exc:
            raise SpecFailure(str(exc)) from None
        from harness.spec_session import SessionBroken

        try:
            return self.session.run(plan)
        except SessionBroken as exc:
            raise SpecFailure(str(exc)) from None


def _parse_quietly(folder: Path, config: pytest.Config) -> list[Feature]:
    features = []
    for path in sorted(folder.rglob(f"*{SUFFIX}")):
        try:
            features.append(parse_file(_shown(path, config)))
        except SpecErrors:
            continue  # its own collection (or run) reports it
    return features


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    spec_items = [i for i in items if isinstance(i, SpecItem)]
    if not spec_items:
        return
    state = config.stash[_STATE]
    state.resolve()
    state.make_groups()
    _deselect_not_only(state, items, config)
    # The planner's order (needs first), the story's order within a feature run; the
    # other tests keep their places.
    order = state.plan_order()
    slots = [n for n, i in enumerate(items) if isinstance(i, SpecItem)]
    ranked = sorted(
        (i for i in items if isinstance(i, SpecItem)),
        key=lambda i: (order.get(i.run_id, len(order)), int(i.execution_id.rsplit("/", 1)[1])),
    )
    for slot, item in zip(slots, ranked, strict=True):
        items[slot] = item
    for item in ranked:
        item.add_marker(pytest.mark.xdist_group(name=f"spec:{state.group[item.feature_path]}"))


def _deselect_not_only(state: _State, items: list[pytest.Item], config: pytest.Config) -> None:
    """`run: only` somewhere: the rest is not planned (as `spec-harness run` does)."""
    only = {p for p, f in state.all_features().items() if f.run == "only"}
    if not only:
        return
    keep = set(only)
    todo = list(only)
    while todo:
        for dep in state.graph.get(todo.pop(), []):
            if dep not in keep:
                keep.add(dep)
                todo.append(dep)
    dropped = [i for i in items if isinstance(i, SpecItem) and i.feature_path not in keep]
    if dropped:
        items[:] = [i for i in items if i not in dropped]
        config.hook.pytest_deselected(items=dropped)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What is selected now (after -k, --lf, --deselect): how far each story runs."""
    state = session.config.stash.get(_STATE, None)
    if state is None:
        return
    for item in session.items:
        if isinstance(item, SpecItem):
            state.lines[item.feature_path] = max(state.lines.get(item.feature_path, 0), item.line)
            state.first_item.setdefault(item.run_id, item.nodeid)


# -- what a failure shows ---------------------------------------------------------------


def _failure_text(
    title: str,
    path: str,
    failures: list[tuple[ScenarioResult | None, StepResult | None]],
    scenario: ScenarioResult | None = None,
) -> str:
    from harness.report.results import outcome

    # First `path:line: message`, as compilers write it: pytest's short summary shows
    # this line, and editors' problem matchers read it.
    head = [
        f"{where.line if where else 0}: {(where.reason if where else None) or 'failed'}"
        if step is None
        else f"{step.line}: " + str((step.error or {}).get("message") or step.reason or step.status)
        for where, step in failures[:1]
    ]
    lines = [f"{path}:{head[0].splitlines()[0]}" if head else path, "", title]
    if scenario is not None:
        # the story of the scenario up to the failure, each step with its mark
        for step in scenario.steps:
            lines.append(f"  {_MARKS.get(step.status, '-')} {step.keyword} {step.shown_text}")
            if outcome(step.status) == "failed":
                break
    for where, step in failures:
        if step is None:
            line = where.line if where else 0
            reason = (where.reason if where else None) or "failed"
            lines += ["", f"{path}:{line}: {reason}"]
            continue
        attempts = (
            f" ({step.status} after {step.attempt_count} attempts)"
            if step.attempt_count > 1
            else ""
        )
        lines += ["", f"{step.keyword} {step.shown_text}{attempts}", f"{path}:{step.line}"]
        error = step.error or {}
        lines += [
            "  " + m for m in str(error.get("message") or step.reason or step.status).split("\n")
        ]
        if error.get("detail"):
            lines += ["", *("  " + d for d in str(error["detail"]).split("\n"))]
        if step.status == "undefined":
            from harness.run.registry import snippet

            lines += [
                "",
                "  a definition to start from:",
                *("    " + d for d in snippet(step).split("\n")),
            ]  # type: ignore[arg-type]
    return "\n".join(lines)


def _attempt_lines(step: StepResult) -> list[str]:
    """A retried step's attempts: each distinct error once, with how often."""
    if step.attempt_count <= 1:
        return []
    lines = [f"{step.keyword} {step.shown_text}: {step.status} after {step.attempt_count} attempts"]
    for failure in step.distinct_failures():
        when = (
            f"attempt {failure.first}"
            if failure.count == 1
            else f"attempts {failure.first}-{failure.last} ({failure.count}x)"
        )
        lines.append(f"  {when}: {' '.join(failure.error.split())[:300]}")
    return lines


def _http_text(step: StepResult, data: dict[str, Any]) -> str:
    request = data.get("request") or {}
    response = data.get("response") or {}
    lines = [
        f"{step.keyword} {step.shown_text}",
        f"  {request.get('method')} {request.get('url')} → {response.get('status')}",
    ]
    for name, part in (("request", request), ("response", response)):
        body = part.get("body")
        if body not in (None, ""):
            text = body if isinstance(body, str) else repr(body)
            lines.append(f"  {name}: {text[:SECTION_LIMIT]}")
    return "\n".join(lines)
