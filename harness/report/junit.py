"""JUnit XML: one testsuite per feature run, one testcase per scenario (an outline row
is a scenario; a Background only when it failed, as in every other count).

Only elements and attributes that both the Jenkins/Ant junit-4 schema and the
xunit-plugin junit-10 schema allow are written (besides testcase `file` and `line`,
which GitLab and Jenkins' JUnit plugin read and the others ignore), in the order junit-4 requires
(testsuites: name tests failures errors time; testsuite: properties, testcases,
system-out; testcase: skipped | failure, system-out; <skipped> carries its reason as
text, since junit-4 allows it no attributes). A failed scenario is a <failure> when an
assertion failed (the system under test misbehaved) and an <error> when the test
itself could not run as written (a crash in a step, a timeout, an undefined step, a
hook); `failures` + `errors` equals the failed count of the console summary line.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from harness.report import html
from harness.report.results import FeatureResult, RunResult, ScenarioResult, StepResult, outcome
from harness.report.text import first_line, iso

# XML 1.0 cannot carry most control characters (an ANSI colour code in an error
# message would make the whole file unparsable), so they are replaced.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SYMBOL = {"passed": "+", "failed": "x", "skipped": "-"}


def _clean(text: str | None) -> str:
    return _INVALID_XML.sub("\ufffd", text or "")


def _seconds(value: float) -> str:
    return f"{max(0.0, value):.3f}"


def _errored(scenario: ScenarioResult) -> bool:
    """Failed other than by an assertion: a crash, a timeout, an undefined step, a hook."""
    if scenario.outcome != "failed":
        return False
    step = next((s for s in scenario.steps if outcome(s.status) == "failed"), None)
    return step is None or (step.error or {}).get("kind") != "assertion"


def _errors(feature: FeatureResult) -> int:
    return sum(1 for s in feature.scenarios if s.counted and _errored(s))


def render(run: RunResult) -> str:
    """The JUnit XML document for a finished result tree."""
    errors = sum(_errors(f) for f in run.feature_runs)
    root = ET.Element(
        "testsuites",
        {
            "name": "spec-harness",
            "tests": str(sum(sum(f.counts.values()) for f in run.feature_runs)),
            "failures": str(run.counts.get("failed", 0) - errors),
            "errors": str(errors),
            "time": _seconds(run.duration),
        },
    )
    anchors = html.anchors_of(run)[1]
    for index, feature in enumerate(run.feature_runs):
        root.append(_suite(feature, index, anchors))
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _suite(feature: FeatureResult, index: int, anchors: dict[int, str]) -> ET.Element:
    attrs = {
        "name": _clean(feature.name),
        "tests": str(sum(feature.counts.values())),
        "failures": str(feature.counts.get("failed", 0) - _errors(feature)),
        "errors": str(_errors(feature)),
        "skipped": str(feature.counts.get("skipped", 0)),
        "time": _seconds(feature.duration),
        "id": str(index),
    }
    if feature.started is not None:
        attrs["timestamp"] = iso(feature.started)
    suite = ET.Element("testsuite", attrs)
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", {"name": "path", "value": _clean(feature.path)})
    ET.SubElement(properties, "property", {"name": "run_id", "value": _clean(feature.id)})
    ET.SubElement(properties, "property", {"name": "status", "value": feature.status})
    if feature.reason:
        ET.SubElement(properties, "property", {"name": "reason", "value": _clean(feature.reason)})
    if feature.previous:
        # --rerun-failed ran it again; CI views show properties, and flaky ones passed.
        ET.SubElement(properties, "property", {"name": "attempts", "value": str(feature.attempt)})
        ET.SubElement(
            properties, "property", {"name": "flaky", "value": "true" if feature.flaky else "false"}
        )
    seen: dict[str, int] = {}
    # A Background is not a test case unless it failed (see ScenarioResult.counted); its
    # steps still show in the transcript of the scenario after it.
    for scenario in (s for s in feature.scenarios if s.counted):
        # Two scenarios may share a title (FOTA checks the status twice); CI tools key
        # test history by name, so the second one becomes "Title (2)".
        count = seen[scenario.name] = seen.get(scenario.name, 0) + 1
        name = scenario.name if count == 1 else f"{scenario.name} ({count})"
        suite.append(_case(feature, scenario, name, anchors.get(id(scenario))))
    if not any(s.counted for s in feature.scenarios) and feature.reason:
        ET.SubElement(suite, "system-out").text = _clean(f"{feature.status}: {feature.reason}")
    return suite


def _case(
    feature: FeatureResult, scenario: ScenarioResult, name: str, anchor: str | None
) -> ET.Element:
    # `file` and `line` are read by GitLab, the xunit plugin and most CI test views; the
    # classname (the feature run's name) and name (the scenario's, numbered when two
    # share a title) come from the spec alone, so test history lines up across runs.
    case = ET.Element(
        "testcase",
        {
            "name": _clean(name),
            "classname": _clean(feature.name),
            "file": _clean(feature.path),
            "line": str(scenario.line),
            "time": _seconds(scenario.duration),
        },
    )
    result = scenario.outcome
    if result == "skipped":
        reason = scenario.reason or ("pending" if scenario.status == "pending" else "skipped")
        # junit-4 declares <skipped> a plain string element (no attributes), so the
        # reason is its text; junit-10 readers accept that too.
        ET.SubElement(case, "skipped").text = _clean(reason)
    elif result == "failed":
        failed = [s for s in scenario.steps if outcome(s.status) == "failed"]
        step = failed[0] if failed else None
        error = (step.error if step else None) or {}
        message = first_line(error.get("message")) or scenario.reason or f"{scenario.status}"
        kind = str(error.get("kind") or scenario.status)
        element = "error" if _errored(scenario) else "failure"
        failure = ET.SubElement(case, element, {"message": _clean(message), "type": kind})
        failure.text = _clean(_failure_text(feature, scenario, step))
    if scenario.steps:
        # The HTML report sits next to junit.xml: the link works from an artifact too.
        link = f"HTML report: index.html#{anchor}\n" if anchor else ""
        ET.SubElement(case, "system-out").text = _clean(link + _transcript(scenario))
    return case


def _failure_text(feature: FeatureResult, scenario: ScenarioResult, step: StepResult | None) -> str:
    if step is None:
        return f"{feature.path}:{scenario.line}: {scenario.reason or scenario.status}"
    error = step.error or {}
    parts = [f"{step.keyword} {step.shown_text}", f"  at {feature.path}:{step.line}"]
    if step.attempt_count > 1:
        parts.append(f"  failed after {step.attempt_count} attempts")
    parts += ["", error.get("message") or step.reason or step.status]
    distinct = step.distinct_failures()
    if len(distinct) > 1:
        parts += ["", "earlier attempts:"] + [f"  {f.count}x {f.error}" for f in distinct]
    if error.get("detail"):
        parts += ["", error["detail"]]
    return "\n".join(parts)


def _transcript(scenario: ScenarioResult) -> str:
    lines = []
    for step in scenario.steps:
        mark = _SYMBOL[outcome(step.status)]
        extra = (
            f" ({step.status} after {step.attempt_count} attempts)"
            if step.attempt_count > 1
            else ""
        )
        lines.append(f"{mark} {step.keyword} {step.shown_text}{extra}")
    return "\n".join(lines)
