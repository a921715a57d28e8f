"""index.html: the run as a living document, one self-contained file.

The page is rendered with jinja2 (autoescaping on) from `templates/report.html.j2`;
the stylesheet and script are inlined from `templates/report.css` and `report.js`, so
the file opens from a CI artifact with no network. Descriptions are Markdown rendered
by markdown-it-py with raw HTML off: a `<b>` written in a spec shows as text.
"""

from __future__ import annotations

import json
import re
import weakref
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import orjson
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from harness.environment import rerun_command
from harness.report.results import FeatureResult, RunResult, ScenarioResult, StepResult, outcome
from harness.report.text import clock, diff_kind, duration, first_line, stamp

TEMPLATES = Path(__file__).with_name("templates")

_PRETTY = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
_MD = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
# markupsafe's escaping, as a table: no Markup object per value on the fast path.
_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})
_ICON = {
    "passed": "✓",
    "failed": "✗",
    "skipped": "–",
    "undefined": "?",
    "pending": "…",
    "running": "…",
}


@lru_cache(maxsize=512)
def markdown(text: str | None) -> Markup:
    """A description rendered as Markdown; HTML inside it is escaped, links stay links.
    (Cached: every variant of a feature repeats the same descriptions.)"""
    if not text:
        return Markup("")
    return Markup(_MD.render(text))  # markdown-it escapes (html option off)


@lru_cache(maxsize=4096)
def step_text(text: str | None) -> Markup:
    """Step text with its `code spans` shown as code; nothing else is interpreted, since a
    resolved value may hold `*` or `_` that Markdown would turn into emphasis."""
    out: list[str] = []
    last = 0
    source = text or ""
    for match in _CODE_SPAN.finditer(source):
        out.append(str(escape(source[last : match.start()])))
        out.append(f"<code>{escape(match.group(2))}</code>")
        last = match.end()
    out.append(str(escape(source[last:])))
    return Markup("".join(out))  # every piece was escaped above


def pretty(value: Any) -> str:
    """A body for reading: JSON indented (also JSON held in a string), other text as is."""
    if value is None:
        return ""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "["):
            try:
                return _indented(orjson.loads(stripped))
            except ValueError:  # orjson.JSONDecodeError: not JSON after all
                return value
        return value
    return _indented(value)


def _indented(value: Any) -> str:
    # orjson: the stdlib's indenting encoder is pure Python, and every HTTP body and
    # websocket message of a run goes through here.
    try:
        return orjson.dumps(value, default=str, option=_PRETTY).decode()
    except TypeError:  # what orjson refuses (an integer beyond 64 bits, a lone surrogate)
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def compact(value: Any, limit: int = 120) -> str:
    """A one-line preview of a message or body."""
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_url(url: Any) -> str:
    """Path and query only: the host is the same for every exchange of a run."""
    text = str(url or "")
    parts = urlsplit(text)
    if parts.scheme and parts.netloc:
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return text


def diff_lines(detail: str | None) -> list[tuple[str, str]]:
    """Lines of a failure detail with a class each, so a unified diff reads as one."""
    return [(f"d-{diff_kind(line)}", line) for line in (detail or "").split("\n")]


def journal_summary(entry: Any) -> str:
    """`POST /v1/fota-jobs → 200` for a journal entry shaped like a request."""
    if not isinstance(entry, dict):
        return compact(entry, 100)
    method = entry.get("method") or (entry.get("request") or {}).get("method")
    path = entry.get("path") or entry.get("url") or (entry.get("request") or {}).get("url")
    status = entry.get("status") or (entry.get("response") or {}).get("status")
    if method or path:
        text = f"{method or ''} {short_url(path)}".strip()
        return f"{text} → {status}" if status is not None else text
    return compact(entry, 100)


def plain_step(
    feature: FeatureResult, scenario: ScenarioResult, step: StepResult, anchor: Any
) -> Markup | None:
    """The `step_block` macro's markup for a plain step (no code, table, comment, error,
    attempt, attachment or log: most steps of a passing run), or None for any other.

    A fast path: the macro costs ~100 µs a step, which made the report most of the cost
    of a large run. tests/test_report_html.py holds it to the macro, byte for byte."""
    if (
        step.comments
        or step.description
        or step.code is not None
        or step.table
        or step.error
        or step.attempts
        or step.attempt_count > 1
        or step.attachments
        or step.logs
        or step.interrupted
        or step.status in ("undefined", "pending")
        or (step.resolved is not None and step.resolved != step.text)
    ):
        return None
    result = outcome(step.status)
    if step.reason and result == "skipped" and step.ran and step.reason != scenario.reason:
        return None
    where = anchor(step)
    took = (
        f'<span class="dur">{duration(step.duration)}</span>'
        if step.duration or (step.ran and result != "skipped")
        else ""
    )
    status = step.status.translate(_ESCAPE)
    return Markup(
        f'<li class="step st-{result}{"" if step.ran else " unrun"}" id="{where}">\n'
        f'<div class="step-line">\n<span class="icon st-{result}" title="{status}">'
        f'{_ICON.get(step.status, "•")}</span>\n<span class="text"><span class="kw">'
        f"{step.keyword.translate(_ESCAPE)}</span> {step_text(step.shown_text)}</span>\n"
        f'<span class="step-meta">\n{took}<a class="line" href="#{where}" '
        f'title="{feature.path.translate(_ESCAPE)}:{step.line}">:{step.line}</a>\n</span>\n'
        "</div>\n\n</li>"
    )


def plain_scenario(
    feature: FeatureResult, scenario: ScenarioResult, anchor: Any, is_open: bool
) -> Markup | None:
    """The `scenario_block` macro's markup for a passed scenario of plain steps (no
    example row, tag, description, reason or journal), or None for any other: the
    same fast path as `plain_step`, one level up, held to the macro the same way."""
    if (
        scenario.status != "passed"
        or scenario.interrupted
        or scenario.example
        or scenario.tags
        or scenario.description
        or scenario.journal
        or scenario.reason
    ):
        return None
    steps = []
    for step in scenario.steps:
        fast = plain_step(feature, scenario, step, anchor)
        if fast is None:
            return None
        steps.append(fast)
    if scenario.kind == "background":
        head = '<span class="kw">Background</span>'
    else:
        keyword = (
            f'<span class="kw">{scenario.keyword.translate(_ESCAPE)}:</span> '
            if scenario.keyword
            else ""
        )
        head = keyword + scenario.title.translate(_ESCAPE)
    took = (
        f'<span class="dur">{duration(scenario.duration)}</span>'
        if scenario.duration or scenario.ran
        else ""
    )
    tags = " ".join(feature.tags).translate(_ESCAPE)
    return Markup(
        f'<details class="scenario st-passed" id="{anchor(scenario)}" data-status="passed"\n'
        f' data-tags="{tags}"{" open" if is_open else ""}>\n<summary>\n<h3><span class="icon '
        f'st-passed">{_ICON["passed"]}</span>\n{head}</h3>\n<span class="sc-meta">\n{took}'
        f'</span>\n</summary>\n<div class="sc-body">\n<ol class="steps">\n{"".join(steps)}'
        "</ol>\n</div>\n</details>"
    )


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # Compiling the template costs more than a whole FOTA run's
        # report: kept compiled in the user's temp folder, keyed by
        # the template's checksum (jinja2 checks it).
        bytecode_cache=jinja2.FileSystemBytecodeCache(),
        # Attachments are whatever steps attached: a missing key
        # must render as nothing, never fail the whole report.
        undefined=jinja2.ChainableUndefined,
    )
    env.filters.update(
        markdown=markdown,
        step_text=step_text,
        pretty=pretty,
        compact=compact,
        short_url=short_url,
        duration=duration,
        clock=clock,
        stamp=stamp,
        first_line=first_line,
        outcome=outcome,
        diff_lines=diff_lines,
        journal_summary=journal_summary,
    )
    env.globals.update(icon=_ICON, plain_step=plain_step, plain_scenario=plain_scenario)
    return env


def _asset(name: str) -> Markup:
    # Our own files, inlined verbatim: neither may contain "</style" or "</script".
    return Markup((TEMPLATES / name).read_text(encoding="utf-8"))


def _feature_rank(feature: FeatureResult) -> int:
    if feature.outcome == "failed":
        return 0
    return 1 if feature.interrupted else 2


def page_order(run: RunResult) -> list[FeatureResult]:
    """The feature runs in the page's order."""
    # Failures first (stable, so the plan order holds within each group): a reader
    # opens the report to see what broke.
    return sorted(run.feature_runs, key=_feature_rank)


def anchors_of(run: RunResult) -> tuple[list[FeatureResult], dict[int, str]]:
    """The page's order and anchors of a run, computed once for the HTML and junit.xml
    (the last run's are kept: the reports of one run are rendered one after another)."""
    global _last
    if _last is not None and _last[0]() is run:
        return _last[1], _last[2]
    features = page_order(run)
    anchors = page_anchors(features)
    _last = (weakref.ref(run), features, anchors)
    return features, anchors


_last: tuple[weakref.ref, list[FeatureResult], dict[int, str]] | None = None


def page_anchors(features: list[FeatureResult]) -> dict[int, str]:
    """The page's anchor of every feature run, scenario and step, by `id()` of the
    object (junit.xml links to them too)."""
    anchors: dict[int, str] = {}
    for f_index, feature in enumerate(features, 1):
        anchors[id(feature)] = f"f{f_index}"
        for s_index, scenario in enumerate(feature.scenarios, 1):
            anchors[id(scenario)] = f"f{f_index}-s{s_index}"
            for t_index, step in enumerate(scenario.steps, 1):
                anchors[id(step)] = f"f{f_index}-s{s_index}-{t_index}"
    return anchors


def render(run: RunResult) -> str:
    """The report page for a finished result tree."""
    features, anchors = anchors_of(run)
    failures = [(f, s, t) for f, s, t in _failures_in(features)]
    first = failures[0] if failures else None
    first_anchor = anchors[id(first[2] or first[1] or first[0])] if first else None
    stop_anchor = None
    if run.interrupted:  # where the run was cut: the step (or scenario) left unfinished
        stopped = [
            item
            for f in features
            for sc in f.scenarios
            if sc.interrupted and sc.ran
            for item in ([st for st in sc.steps if st.interrupted and st.ran] or [sc])
        ]
        stop_anchor = anchors[id(stopped[0])] if stopped else None
    tags = sorted(
        {t for f in features for t in f.tags}
        | {t for f in features for s in f.scenarios for t in s.tags}
    )
    single = len(features) == 1

    def anchor(item: FeatureResult | ScenarioResult | StepResult) -> str:
        return anchors[id(item)]

    def feature_open(feature: FeatureResult) -> bool:
        # Failed runs, and a run cut short while running: that is where to look.
        return (
            single
            or feature.outcome == "failed"
            or (feature.interrupted and any(s.ran for s in feature.scenarios))
        )

    def scenario_open(feature: FeatureResult, scenario: ScenarioResult) -> bool:
        # In a failed feature only the failed scenarios are open, so the failure is on
        # screen at once; elsewhere an opened feature reads as the whole document.
        return feature.outcome != "failed" or scenario.outcome == "failed"

    template = _environment().get_template("report.html.j2")
    return template.render(
        run=run,
        features=features,
        failures=failures,
        first_anchor=first_anchor,
        stop_anchor=stop_anchor,
        tags=tags,
        anchor=anchor,
        feature_open=feature_open,
        scenario_open=scenario_open,
        rules_of=_rules_of,
        earlier_failures=_earlier_failures,
        timeline=timeline(run, anchors),
        environment=run.environment,
        rerun=rerun_commands(run),
        css=_asset("report.css"),
        js=_asset("report.js"),
    )


def _failures_in(
    features: list[FeatureResult],
) -> list[tuple[FeatureResult, ScenarioResult | None, StepResult | None]]:
    # RunResult.failures() in the page's feature order.
    return RunResult(feature_runs=features).failures()


def _rules_of(feature: FeatureResult) -> dict[str, Any]:
    return {rule.title: rule for rule in feature.rules}


def _earlier_failures(
    feature: FeatureResult,
) -> list[tuple[FeatureResult, ScenarioResult | None, StepResult | None]]:
    # The first failure of an earlier attempt (--rerun-failed), for its one line.
    return RunResult(feature_runs=[feature]).failures()[:1]


@dataclass
class Bar:
    """One feature run on the timeline: where it starts and how long it is, in percent
    of the run."""

    name: str
    anchor: str
    status: str
    left: float
    width: float
    took: float


def timeline(run: RunResult, anchors: dict[int, str]) -> list[list[Bar]]:
    """The feature runs that ran, in lanes: each lane holds runs that did not overlap,
    so the lanes show what ran in parallel and a slow feature run is a long bar."""
    ran = sorted(
        (f for f in run.feature_runs if f.started is not None), key=lambda f: (f.started, f.id)
    )
    if not ran or run.started is None:
        return []
    begin = min(run.started, ran[0].started or run.started)
    end = max([begin + run.duration, *((f.started or 0) + f.duration for f in ran)])
    span = max(end - begin, 1e-9)
    lanes: list[list[Bar]] = []
    ends: list[float] = []
    for feature in ran:
        start = feature.started or begin
        lane = next((i for i, e in enumerate(ends) if e <= start), None)
        if lane is None:
            lane = len(lanes)
            lanes.append([])
            ends.append(0.0)
        ends[lane] = start + feature.duration
        status = "flaky" if feature.flaky else feature.outcome
        lanes[lane].append(
            Bar(
                name=feature.name,
                anchor=anchors.get(id(feature), ""),
                status=status,
                left=100 * (start - begin) / span,
                width=max(0.3, 100 * feature.duration / span),
                took=feature.duration,
            )
        )
    return lanes


def rerun_commands(run: RunResult) -> list[str]:
    """The commands that run the failures again (harness/environment.py)."""
    failed = list(dict.fromkeys(f.path for f in run.feature_runs if f.outcome == "failed"))
    return rerun_command(run.environment.get("reports"), failed)
