"""summary.md: a short Markdown summary for a CI job summary page.

Titles are escaped, since GitHub renders HTML in job summaries and a title such as
`<html>` must show as text; messages go in code fences longer than any backtick run
inside them.
"""

from __future__ import annotations

import re

from harness.environment import rerun_command
from harness.report.results import RunResult
from harness.report.text import duration, stamp

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_MARK = {"passed": "✅", "failed": "❌", "skipped": "⏭️"}


def escape(text: str) -> str:
    """Text shown literally in Markdown (and in the HTML GitHub makes of it)."""
    return _SPECIAL.sub(r"\\\1", text.replace("&", "&amp;")).replace("\n", " ")


def md_step(text: str) -> str:
    """Step text with its `code spans` kept as code and the rest escaped."""
    out, last = [], 0
    for match in _CODE_SPAN.finditer(text):
        out.append(escape(text[last : match.start()]))
        out.append(match.group(0).replace("\n", " "))
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)


def code(text: str) -> str:
    """Text as an inline code span: nothing inside is escaped (GitHub would show the
    backslashes), the fence is longer than any backtick run in it."""
    text = str(text).replace("\n", " ")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}\n{text.rstrip()}\n{ticks}"


def render(run: RunResult, *, max_failures: int = 20) -> str:
    counts = run.counts
    if run.interrupted:
        head = f"⚠️ Spec run {run.stopped_by}"
    elif counts.get("failed"):
        head = "❌ Spec run failed"
    else:
        head = "✅ Spec run passed"
    lines = [f"## {head}", ""]
    if run.interrupted:
        lines += [
            f"The run {'was ' if run.stopped_by == 'interrupted' else ''}"
            f"{run.stopped_by}: this summary covers what ran.",
            "",
        ]
    lines += [
        "| passed | failed | skipped | steps passed after retries | duration |",
        "|---:|---:|---:|---:|---:|",
        f"| {counts.get('passed', 0)} | {counts.get('failed', 0)} | {counts.get('skipped', 0)} "
        f"| {run.passed_after_retries} | {duration(run.duration)} |",
        "",
        *(
            [
                f"Flaky (failed, then passed when run again): "
                f"{', '.join(escape(f.name) for f in run.feature_runs if f.flaky)}.",
                "",
            ]
            if run.flaky
            else []
        ),
        f"Scenarios of {len(run.feature_runs)} feature runs"
        + (f", target {code(run.target)}" if run.target else "")
        + (f", started {stamp(run.started)}" if run.started else "")
        + ".",
        "",
    ]
    failures = run.failures()
    if failures:
        lines += ["### Failures", ""]
        rerun = rerun_command(
            run.environment.get("reports"),
            list(dict.fromkeys(f.path for f in run.feature_runs if f.outcome == "failed")),
        )
        if rerun:
            lines += ["Run them again: " + " or ".join(code(c) for c in rerun), ""]
        for feature, scenario, step in failures[:max_failures]:
            where = escape(feature.name) + (f" › {escape(scenario.name)}" if scenario else "")
            if step is not None:
                error = step.error or {}
                attempts = (
                    f", failed after {step.attempt_count} attempts"
                    if step.attempt_count > 1
                    else ""
                )
                lines += [
                    f"- **{where}**  ",
                    f"  {escape(step.keyword)} {md_step(step.shown_text)}  ",
                    f"  at {code(f'{feature.path}:{step.line}')}{attempts}",
                    "",
                ]
                message = error.get("message") or step.reason or step.status
                distinct = step.distinct_failures()
                if len(distinct) > 1:
                    message += "\n\nearlier attempts:\n" + "\n".join(
                        f"  {f.count}x {' '.join(f.error.split())[:200]}" for f in distinct
                    )
                lines += ["  " + line for line in _fence(message).split("\n")] + [""]
            else:
                line = scenario.line if scenario else 0
                reason = (scenario.reason if scenario else feature.reason) or "failed"
                lines += [
                    f"- **{where}** at {code(f'{feature.path}:{line}')}: {escape(reason)}",
                    "",
                ]
        if len(failures) > max_failures:
            lines += [
                f"…and {len(failures) - max_failures} more failures (see the HTML report).",
                "",
            ]
    lines += [
        "### Feature runs",
        "",
        "| | feature run | passed | failed | skipped | duration |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for feature in run.feature_runs:
        mark = _MARK.get(feature.outcome, "")
        if feature.interrupted:
            mark = "⚠️"
        name = escape(feature.name)
        if feature.reason and feature.outcome != "passed":
            name += f" ({escape(feature.reason)})"
        if feature.flaky:
            name += f" (flaky: passed at attempt {feature.attempt})"
        c = feature.counts
        took = feature.duration or c.get("passed") or c.get("failed")
        lines.append(
            f"| {mark} | {name} | {c.get('passed', 0)} | {c.get('failed', 0)} "
            f"| {c.get('skipped', 0)} | {duration(feature.duration) if took else ''} |"
        )
    lines.append("")
    return "\n".join(lines)
