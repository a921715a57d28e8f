"""messages.ndjson: the run in the Cucumber Messages format (one envelope per line).

Cucumber's interchange format, read by its HTML formatter, Allure, ReportPortal and
others. Rendered from the one result tree, like every other report:

- `meta`, then per spec file its `source` (when the file is readable here) and a
  `gherkinDocument` (the feature, its rules, Background and scenarios, from the plan);
- a `pickle` per execution (the Background of a feature run, each scenario, each
  outline row, per variant), whose ids are the plan's (`<run_id>/<n>`, steps
  `<run_id>/<n>/<i>`), so a message points at the same thing as an event;
- `testRunStarted`, a `testCase` per pickle, then per execution `testCaseStarted`,
  `testStepStarted`/`testStepFinished` with the result (steps that never ran are
  SKIPPED), `attachment`s (HTTP exchanges, websocket messages, logs, Soon attempts,
  the mock's journal), `testCaseFinished`; a feature run re-run by `--rerun-failed`
  gives one testCaseStarted per attempt (`attempt`, `willBeRetried`);
- `testRunFinished` with `success`.

A `stepDefinition` per definition the plan's steps match (RunStarted.definitions),
and each test step names its own; the arguments matched are not recorded
(`stepMatchArguments` is empty). Ids in the AST are made
here (`d<hash of the path>:<kind>:<line>`); test cases, test steps and their runs get
short ids (`c<n>`, `s<n>`, `r<n>`), as they come up on every line.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import platform
from pathlib import Path
from typing import Any

import orjson

from harness import __version__
from harness.naming import named
from harness.report.results import (
    AttachmentEntry,
    FeatureResult,
    RunResult,
    ScenarioResult,
    StepResult,
)

PROTOCOL_VERSION = "34.2.1"  # the @cucumber/messages schema the tests check every line against
MEDIA_MARKDOWN = "text/x.cucumber.gherkin+markdown"
MEDIA_LOG = "text/x.cucumber.log+plain"
_STATUS = {
    "passed": "PASSED",
    "failed": "FAILED",
    "skipped": "SKIPPED",
    "pending": "PENDING",
    "undefined": "UNDEFINED",
}
_TYPE = {"given": "Context", "when": "Action", "then": "Outcome", "soon": "Outcome"}
_RUN_ID = "run"


def _timestamp(seconds: float | None) -> dict[str, int]:
    whole, nanos = divmod(int(max(0.0, seconds or 0.0) * 1e9), 1_000_000_000)
    return {"seconds": whole, "nanos": nanos}


_duration = _timestamp


def _time_json(seconds: float | None) -> str:
    """`_timestamp` as JSON text, for the lines written without a dict (see _step_messages)."""
    whole, nanos = divmod(int((seconds or 0.0) * 1e9), 1_000_000_000)
    if whole < 0:
        whole = nanos = 0
    return f'{{"seconds":{whole},"nanos":{nanos}}}'


@functools.lru_cache(maxsize=1 << 16)
def _text(value: str) -> str:
    """A JSON string (ids come up two to four times each)."""
    return orjson.dumps(value).decode()


def _tag(name: str, line: int, node: str) -> dict[str, Any]:
    return {
        "location": {"line": line},
        "name": name if name.startswith("@") else f"@{name}",
        "id": f"{node}:@{name}",
    }


def render(run: RunResult, *, environment: dict[str, Any] | None = None) -> str:
    """The messages of a finished result tree, one JSON envelope per line."""
    lines: list[str] = []
    out = lines.append
    out(_line({"meta": _meta(environment or getattr(run, "environment", None) or {})}))
    by_path: dict[str, list[FeatureResult]] = {}
    for feature in run.feature_runs:
        by_path.setdefault(feature.path, []).append(feature)
    for path, features in by_path.items():
        source = _source(path)
        if source is not None:
            out(_line({"source": {"uri": path, "data": source, "mediaType": MEDIA_MARKDOWN}}))
        out(_line({"gherkinDocument": _document(path, features)}))
    for feature in run.feature_runs:
        for scenario in feature.scenarios:
            out(_line({"pickle": _pickle(feature, scenario)}))
    for definition in run.definitions:
        out(
            _line(
                {
                    "stepDefinition": {
                        "id": definition["id"],
                        "pattern": {
                            "source": definition["pattern"],
                            # a `parse` pattern's `{name}` reads as a cucumber expression's
                            "type": "REGULAR_EXPRESSION"
                            if definition.get("regex")
                            else "CUCUMBER_EXPRESSION",
                        },
                        "sourceReference": {
                            "uri": definition["file"],
                            "location": {"line": max(1, definition["line"])},
                        },
                    }
                }
            )
        )
    started = run.started or 0.0
    out(_line({"testRunStarted": {"timestamp": _timestamp(started), "id": _RUN_ID}}))
    # Test cases and test steps get short ids (`c<n>`, `s<n>`: they come up on every
    # line of a step's run); pickles keep the plan's ids.
    ids: dict[str, str] = {}
    for feature in run.feature_runs:
        for scenario in feature.scenarios:
            ids[scenario.id] = f"c{len(ids)}"
            for s in scenario.steps:
                ids[s.id] = f"s{len(ids)}"
            steps = ",".join(
                f'{{"id":"{ids[s.id]}","pickleStepId":{_text(s.id)},'
                + (
                    f'"stepDefinitionIds":["{s.definition}"],"stepMatchArgumentsLists":'
                    '[{"stepMatchArguments":[]}]}'
                    if s.definition
                    else '"stepDefinitionIds":[],"stepMatchArgumentsLists":[]}'
                )
                for s in scenario.steps
            )
            out(
                f'{{"testCase":{{"id":"{ids[scenario.id]}","pickleId":'
                f'{_text(scenario.id)},"testRunStartedId":"{_RUN_ID}","testSteps":[{steps}]}}}}'
            )
    # Each test case's messages together, in the order they started.
    blocks = []
    counter = itertools.count()
    for feature in run.feature_runs:
        start = feature.started or started
        for attempt in getattr(feature, "previous", None) or []:
            blocks.extend(_executions(attempt, start, ids, counter, retried=True))
        blocks.extend(_executions(feature, start, ids, counter, retried=False))
    blocks.sort(key=lambda b: b[0])
    for _, block in blocks:
        lines.extend(block)
    end = started + (run.duration or 0.0)
    success = run.status == "passed" or (run.exit_code == 0 and not run.interrupted)
    out(
        _line(
            {
                "testRunFinished": {
                    "success": bool(success),
                    "timestamp": _timestamp(end),
                    "testRunStartedId": _RUN_ID,
                }
            }
        )
    )
    lines.append("")
    return "\n".join(lines)


def _line(envelope: dict[str, Any]) -> str:
    return orjson.dumps(envelope, option=orjson.OPT_NON_STR_KEYS, default=str).decode()


def _meta(environment: dict[str, Any]) -> dict[str, Any]:
    version = environment.get("harness") or __version__
    meta: dict[str, Any] = {
        "protocolVersion": PROTOCOL_VERSION,
        "implementation": {"name": "spec-harness", "version": version},
        "runtime": {"name": platform.python_implementation(), "version": platform.python_version()},
        "os": {"name": platform.system() or "unknown", "version": platform.release()},
        "cpu": {"name": platform.machine() or "unknown"},
    }
    ci = environment.get("ci")
    if isinstance(ci, dict) and ci.get("name"):
        meta["ci"] = {k: str(v) for k, v in ci.items() if k in ("name", "url", "buildNumber") and v}
        if ci.get("remote") and ci.get("revision"):
            meta["ci"]["git"] = {
                k: str(ci[k]) for k in ("remote", "revision", "branch") if ci.get(k)
            }
    return meta


def _source(path: str) -> str | None:
    # The spec as it is on disk now (a rebuild elsewhere may not have it: then the
    # envelope is left out, as the schema allows).
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


# -- the gherkin document (the AST), from the plan the result tree holds --------------


def _ast(path: str, kind: str, line: int) -> str:
    return f"{_document_key(path)}:{kind}:{line}"


@functools.lru_cache(maxsize=4096)
def _document_key(path: str) -> str:
    # Short and the same in every rendering of the file: AST ids appear twice per step.
    return "d" + hashlib.sha1(path.encode("utf-8", "replace")).hexdigest()[:8]


def _document(path: str, features: list[FeatureResult]) -> dict[str, Any]:
    first = features[0]
    # Every scenario any feature run of this file ran, once, in line order (variants
    # run the same scenarios; a selection may differ between them).
    scenarios: dict[int, list[ScenarioResult]] = {}
    for feature in features:
        for scenario in feature.scenarios:
            rows = scenarios.setdefault(scenario.line, [])
            if scenario.example is None and rows:
                continue
            if scenario.example is not None and any(r.example == scenario.example for r in rows):
                continue
            rows.append(scenario)
    children: list[dict[str, Any]] = []
    rules: dict[str, dict[str, Any]] = {}
    info = {r.title: r for r in first.rules}
    for line in sorted(scenarios):
        executions = scenarios[line]
        node = _scenario_node(path, executions)
        rule_title = executions[0].rule
        if rule_title is None or (executions[0].kind == "background" and rule_title not in info):
            children.append(node)
            continue
        rule = rules.get(rule_title)
        if rule is None:
            meta = info.get(rule_title)
            rule_line = meta.line if meta else line
            rule = rules[rule_title] = {
                "location": {"line": rule_line},
                "keyword": "Rule",
                "name": rule_title,
                "description": (meta.description if meta else None) or "",
                "tags": [
                    _tag(t, rule_line, _ast(path, "rule", rule_line))
                    for t in (meta.tags if meta else [])
                ],
                "children": [],
                "id": _ast(path, "rule", rule_line),
            }
            children.append({"rule": rule})
        rule["children"].append(node)
    feature_node = {
        "location": {"line": 1},
        "language": "en",
        "keyword": "Feature",
        "name": first.title,
        "description": first.description or "",
        "tags": [_tag(t, 1, _ast(path, "feature", 1)) for t in first.tags],
        "children": children,
    }
    return {"uri": path, "feature": feature_node, "comments": []}


def _scenario_node(path: str, executions: list[ScenarioResult]) -> dict[str, Any]:
    scenario = executions[0]
    node_id = _ast(path, scenario.kind, scenario.line)
    steps = [_step_node(path, s) for s in scenario.steps]
    examples = []
    outline = scenario.kind == "outline"
    # A Background runs once per feature run here, as an execution of its own (not
    # before each scenario, as in cucumber): a scenario node, so that its pickle has a
    # lineage the formatters can show.
    background = scenario.kind == "background"
    if outline:
        header = list((scenario.example or {}).keys())
        examples.append(
            {
                "location": {"line": scenario.line},
                "tags": [],
                "keyword": "Examples",
                "name": "",
                "description": "",
                "id": f"{node_id}:examples",
                "tableHeader": _row(f"{node_id}:header", scenario.line, header),
                "tableBody": [
                    _row(
                        _row_id(node_id, n),
                        scenario.line,
                        [str(v) for v in (e.example or {}).values()],
                    )
                    for n, e in enumerate(executions, 1)
                ],
            }
        )
    return {
        "scenario": {
            "location": {"line": scenario.line},
            "tags": [_tag(t, scenario.line, node_id) for t in scenario.tags],
            "keyword": scenario.keyword
            or ("Scenario Outline" if outline else "Background" if background else "Scenario"),
            "name": "" if background and scenario.title == "Background" else scenario.title,
            "description": scenario.description or "",
            "steps": steps,
            "examples": examples,
            "id": node_id,
        }
    }


def _row_id(node_id: str, n: int) -> str:
    return f"{node_id}:row:{n}"


def _row(row_id: str, line: int, cells: list[str]) -> dict[str, Any]:
    return {
        "location": {"line": line},
        "id": row_id,
        "cells": [{"location": {"line": line}, "value": c} for c in cells],
    }


def _step_node(path: str, step: StepResult) -> Any:
    if step.code is None and not step.table:  # most steps (see _pickle)
        text = step.template if step.template is not None else step.text
        return orjson.Fragment(
            f'{{"location":{{"line":{step.line}}},"keyword":{_text(step.keyword + " ")},'
            f'"keywordType":"{_TYPE.get(step.kind, "Unknown")}","text":{_text(text)},'
            f'"id":"{_ast(path, "step", step.line)}"}}'
        )  # AST ids need no escaping
    node: dict[str, Any] = {
        "location": {"line": step.line},
        "keyword": f"{step.keyword} ",
        "keywordType": _TYPE.get(step.kind, "Unknown"),
        "text": step.template if step.template is not None else step.text,
        "id": _ast(path, "step", step.line),
    }
    if step.code is not None:
        node["docString"] = {
            "location": {"line": step.line + 1},
            "content": step.code,
            "delimiter": "```",
            **({"mediaType": step.language} if step.language else {}),
        }
    table = _table_rows(step)
    if table:
        node["dataTable"] = {
            "location": {"line": step.line + 1},
            "rows": [
                _row(f"{node['id']}:table:{n}", step.line + 1, cells)
                for n, cells in enumerate(table)
            ],
        }
    return node


def _table_rows(step: StepResult) -> list[list[str]]:
    table = step.table
    if not table:
        return []
    header = table.get("header") or []
    rows = table.get("rows") or []
    return [[str(c) for c in r] for r in ([header] if header else []) + list(rows)]


# -- pickles and their runs ------------------------------------------------------------


def _pickle(feature: FeatureResult, scenario: ScenarioResult) -> dict[str, Any]:
    node_id = _ast(feature.path, scenario.kind, scenario.line)
    ast_ids = [node_id]
    if scenario.kind == "outline":
        n = _row_number(feature, scenario)
        ast_ids.append(_row_id(node_id, n))
    steps: list[Any] = []
    rest = "".join(f",{_text(i)}" for i in ast_ids[1:])
    for step in scenario.steps:
        if step.code is None and not step.table:  # most steps: no dict, no encoder pass
            steps.append(
                orjson.Fragment(
                    f'{{"id":{_text(step.id)},"text":{_text(step.text)},"type":'
                    f'"{_TYPE.get(step.kind, "Unknown")}","astNodeIds":'
                    f'["{_ast(feature.path, "step", step.line)}"{rest}]}}'
                )
            )
            continue
        pickle_step: dict[str, Any] = {
            "id": step.id,
            "text": step.text,
            "type": _TYPE.get(step.kind, "Unknown"),
            "astNodeIds": [_ast(feature.path, "step", step.line), *ast_ids[1:]],
        }
        argument: dict[str, Any] = {}
        if step.code is not None:
            argument["docString"] = {
                "content": step.code,
                **({"mediaType": step.language} if step.language else {}),
            }
        table = _table_rows(step)
        if table:
            argument["dataTable"] = {
                "rows": [{"cells": [{"value": c} for c in r]} for r in table if r]
            }
        if argument:
            pickle_step["argument"] = argument
        steps.append(pickle_step)
    tags = [
        {"name": t if t.startswith("@") else f"@{t}", "astNodeId": node_id}
        for t in dict.fromkeys([*feature.tags, *scenario.tags])
    ]
    name = scenario.name if scenario.kind != "background" else f"Background: {feature.title}"
    return {
        "id": scenario.id,
        "uri": feature.path,
        "location": {"line": scenario.line},
        "name": named(name, feature.variant),
        "language": "en",
        "steps": steps,
        "tags": tags,
        "astNodeIds": ast_ids,
    }


def _row_number(feature: FeatureResult, scenario: ScenarioResult) -> int:
    """The outline row's number among the rows of the document's Examples."""
    rows = [s.example for s in feature.scenarios if s.line == scenario.line]
    return rows.index(scenario.example) + 1 if scenario.example in rows else 1


def _executions(
    feature: FeatureResult, run_start: float, ids: dict[str, str], counter: Any, *, retried: bool
) -> list[tuple[float, list[str]]]:
    attempt = max(0, getattr(feature, "attempt", 1) - 1)
    blocks = []
    for scenario in feature.scenarios:
        start = scenario.started or feature.started or run_start
        started_id = f"r{next(counter)}"
        lines = [
            _line(
                {
                    "testCaseStarted": {
                        "attempt": attempt,
                        "id": started_id,
                        "testCaseId": ids[scenario.id],
                        "workerId": feature.id,
                        "timestamp": _timestamp(start),
                    }
                }
            )
        ]
        at = start
        for step in scenario.steps:
            step_start = step.started if step.started is not None else at
            at = step_start + (step.duration or 0.0)
            if (
                step.status == "passed"
                and not step.attachments
                and not step.logs
                and step.attempt_count <= 1
                and step_start >= 0
            ):
                # Most steps pass at once with nothing attached: their two lines are
                # written as text (a dict and an encoder call per line were most of
                # this report's cost).
                both = f'"testCaseStartedId":"{started_id}","testStepId":"{ids[step.id]}"'
                s_sec, s_ns = divmod(int(step_start * 1e9), 1_000_000_000)
                d_sec, d_ns = divmod(int(step.duration * 1e9), 1_000_000_000)
                e_sec, e_ns = divmod(int(at * 1e9), 1_000_000_000)
                lines.append(
                    f'{{"testStepStarted":{{{both},"timestamp":{{"seconds":{s_sec},'
                    f'"nanos":{s_ns}}}}}}}'
                )
                lines.append(
                    f'{{"testStepFinished":{{{both},"testStepResult":{{"duration":'
                    f'{{"seconds":{d_sec},"nanos":{d_ns}}},"status":"PASSED"}},'
                    f'"timestamp":{{"seconds":{e_sec},"nanos":{e_ns}}}}}}}'
                )
            else:
                lines += _step_messages(step, started_id, ids[step.id], step_start, at)
        for entry in _journal(scenario, at):
            if scenario.steps:
                lines.append(_attachment(entry, started_id, ids[scenario.steps[-1].id]))
        end = max(at, start + (scenario.duration or 0.0))
        lines.append(
            _line(
                {
                    "testCaseFinished": {
                        "testCaseStartedId": started_id,
                        "timestamp": _timestamp(end),
                        "willBeRetried": retried,
                    }
                }
            )
        )
        blocks.append((start, lines))
    return blocks


def _step_messages(
    step: StepResult, started_id: str, step_id: str, start: float, end: float
) -> list[str]:
    ids = f'"testCaseStartedId":{_text(started_id)},"testStepId":{_text(step_id)}'
    began = f'{{"testStepStarted":{{{ids},"timestamp":{_time_json(start)}}}}}'
    lines = [began]
    for entry in step.attachments:
        lines.append(_attachment(entry, started_id, step_id))
    for log in step.logs:
        lines.append(
            _line(
                {
                    "attachment": {
                        "body": log.message,
                        "contentEncoding": "IDENTITY",
                        "mediaType": MEDIA_LOG,
                        "testCaseStartedId": started_id,
                        "testStepId": step_id,
                        "timestamp": _timestamp(log.time),
                    }
                }
            )
        )
    if step.attempt_count > 1:  # a Soon step that retried, passed or not
        lines.append(
            _line(
                {
                    "attachment": {
                        "body": _attempts_text(step),
                        "contentEncoding": "IDENTITY",
                        "mediaType": "text/plain",
                        "fileName": "Soon attempts",
                        "testCaseStartedId": started_id,
                        "testStepId": step_id,
                        "timestamp": _timestamp(end),
                    }
                }
            )
        )
    result: dict[str, Any] = {
        "duration": _duration(step.duration),
        "status": _STATUS.get(step.status, "UNKNOWN"),
    }
    error = step.error or {}
    message = error.get("message") or (step.reason if step.status != "passed" else None)
    if message:
        detail = error.get("detail")
        result["message"] = message + (f"\n\n{detail}" if detail else "")
    if error:
        result["exception"] = {
            "type": str(error.get("kind") or "error"),
            "message": str(error.get("message") or ""),
        }
    lines.append(
        _line(
            {
                "testStepFinished": {
                    "testCaseStartedId": started_id,
                    "testStepId": step_id,
                    "testStepResult": result,
                    "timestamp": _timestamp(end),
                }
            }
        )
    )
    return lines


def _attempts_text(step: StepResult) -> str:
    lines = [f"{step.attempt_count} attempts, {step.status}"]
    for a in step.attempts:
        folded = f" (+{a.repeated} alike before it)" if a.repeated else ""
        wait = f", next in {a.next_delay:.3f} s" if a.next_delay is not None else ""
        lines.append(f"attempt {a.attempt}{folded}: {a.error or 'passed'}{wait}")
    return "\n".join(lines)


def _attachment(entry: AttachmentEntry, started_id: str, step_id: str) -> str:
    names = {
        "http": "HTTP exchange",
        "ws-in": "websocket message received",
        "ws-out": "websocket message sent",
        "journal": "mock nRF Cloud journal",
    }
    return _line(
        {
            "attachment": {
                "body": orjson.dumps(
                    entry.data, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_INDENT_2, default=str
                ).decode(),
                "contentEncoding": "IDENTITY",
                "mediaType": "application/json",
                "fileName": names.get(entry.kind, entry.kind),
                "testCaseStartedId": started_id,
                "testStepId": step_id,
                "timestamp": _timestamp(entry.time),
            }
        }
    )


def _journal(scenario: ScenarioResult, when: float) -> list[AttachmentEntry]:
    if not scenario.journal:
        return []
    return [AttachmentEntry(time=when, kind="journal", data={"entries": scenario.journal})]
