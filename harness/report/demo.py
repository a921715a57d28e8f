"""Synthetic event streams: preview the reports without servers, and feed the tests.

`Script` plays a parsed Feature through the events a runner would emit, on a fake
clock, with the outcome of each step chosen by the caller. `demo_events()` is a
whole run that exercises every part of the reports (passes, a failure with a diff,
a Soon step with three attempts, HTTP and websocket attachments, a journal, an
outline, a rule, a variant, a skipped feature).

    python -m harness.report.demo reports/    # writes a demo report there
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.events import (
    Attachment,
    Event,
    FeatureRunFinished,
    FeatureRunStarted,
    Log,
    RunFinished,
    RunStarted,
    ScenarioFinished,
    ScenarioStarted,
    StepAttempt,
    StepFinished,
    StepStarted,
    worst,
)
from harness.spec.model import Feature, Scenario, Step
from harness.spec.parser import parse_text

START = 1_717_400_000.0  # a fixed clock, so demo reports are reproducible


@dataclass
class Outcome:
    """What a step does when played: its status, attempts and what it leaves behind."""

    status: str = "passed"
    attempts: int = 1  # > 1: the first attempts fail with `retry_error`
    error: dict[str, Any] | None = None
    retry_error: str = "assertion failed"
    duration: float = 0.004
    text: str | None = None  # resolved text
    code: str | None = None  # resolved code block
    attachments: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    logs: list[tuple[str, str]] = field(default_factory=list)


Decide = Callable[[Scenario, Step, dict[str, str] | None], Outcome | None]


class Script:
    """Emits the events of a run on a fake clock."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        self.events: list[Event] = []
        self.scenario_counts = {"passed": 0, "failed": 0, "skipped": 0}

    def emit(self, event_type: type[Event], **fields: Any) -> Event:
        event = event_type(**fields, time=self.now)
        self.events.append(event)
        return event

    def tick(self, seconds: float) -> None:
        self.now += seconds

    def run_started(self, planned: list[dict[str, Any]], target: str = "embedded") -> None:
        self.emit(RunStarted, paths=["specs/"], target=target, jobs=4, planned=planned)

    def run_finished(self, *, interrupted: bool = False) -> None:
        counts = self.scenario_counts
        failed = counts["failed"] > 0
        status = "interrupted" if interrupted else ("failed" if failed else "passed")
        code = 130 if interrupted else (1 if failed else 0)
        self.emit(RunFinished, status=status, duration=self.now - START, counts=dict(counts),
                  exit_code=code, interrupted=interrupted)

    def skip_feature(self, feature: Feature, run_id: str, reason: str,
                     variant: dict[str, Any] | None = None) -> None:
        """A feature run skipped before it started (a needed feature failed)."""
        self.emit(FeatureRunStarted, run_id=run_id, path=feature.path,
                  title=_named(feature.title, variant, "[]"), variant=variant,
                  feature=dataclasses.asdict(feature))
        self.emit(FeatureRunFinished, run_id=run_id, status="skipped", duration=0.0,
                  reason=reason)
        for scenario in feature.scenarios():  # the Background is not counted
            self.scenario_counts["skipped"] += len(_rows(scenario))

    def play(self, feature: Feature, run_id: str, decide: Decide | None = None, *,
             variant: dict[str, Any] | None = None, stop_after: int | None = None) -> str:
        """Play a feature run; `stop_after` steps ends it there, as a kill would."""
        decide = decide or (lambda _sc, _st, _row: None)
        started = self.now
        # Titles as the runner gives them: "Title [variant]", outline rows "Title (row)".
        self.emit(FeatureRunStarted, run_id=run_id, path=feature.path,
                  title=_named(feature.title, variant, "[]"), variant=variant,
                  feature=dataclasses.asdict(feature))
        failed = False
        played = 0
        statuses: list[str] = []
        number = 0
        for scenario in _scenarios(feature):
            for row in _rows(scenario) or [None]:
                number += 1
                scenario_id = f"{run_id}/{number}"
                self.emit(ScenarioStarted, run_id=run_id, scenario_id=scenario_id,
                          title=_named(scenario.title, row, "()"), line=scenario.line,
                          kind=scenario.kind, example=row, rule=scenario.rule)
                scenario_start = self.now
                step_statuses: list[str] = []
                for index, step in enumerate(scenario.steps, 1):
                    if stop_after is not None and played >= stop_after:
                        return "interrupted"
                    played += 1
                    step_id = f"{scenario_id}/{index}"
                    if failed:
                        self.emit(StepStarted, run_id=run_id, scenario_id=scenario_id,
                                  step_id=step_id, keyword=step.keyword, kind=step.kind,
                                  text=step.text, line=step.line)
                        self.emit(StepFinished, run_id=run_id, scenario_id=scenario_id,
                                  step_id=step_id, status="skipped", duration=0.0,
                                  text=_fill(step.text, row), reason="an earlier step failed")
                        step_statuses.append("skipped")
                        continue
                    result = decide(scenario, step, row) or Outcome()
                    status = self._step(run_id, scenario_id, step_id, step, row, result,
                                        stop_after is not None and played >= stop_after)
                    if status == "interrupted":
                        return status
                    step_statuses.append(status)
                    failed = status in ("failed", "undefined")
                status = worst(step_statuses)
                self.emit(ScenarioFinished, run_id=run_id, scenario_id=scenario_id,
                          status=status, duration=self.now - scenario_start,
                          reason="an earlier step failed" if status == "skipped" else None)
                counted = {"undefined": "failed", "pending": "skipped"}.get(status, status)
                if scenario.kind != "background" or counted == "failed":
                    self.scenario_counts[counted] += 1
                statuses.append(status)
        status = worst(statuses)
        self.emit(FeatureRunFinished, run_id=run_id, status=status,
                  duration=self.now - started)
        return status

    def _step(self, run_id: str, scenario_id: str, step_id: str, step: Step,
              row: dict[str, str] | None, result: Outcome, cut: bool) -> str:
        self.emit(StepStarted, run_id=run_id, scenario_id=scenario_id, step_id=step_id,
                  keyword=step.keyword, kind=step.kind, text=step.text, line=step.line)
        start = self.now
        for level, message in result.logs:
            self.emit(Log, run_id=run_id, step_id=step_id, level=level, message=message)
        delay = 0.05
        for attempt in range(1, result.attempts + 1):
            last = attempt == result.attempts
            self.tick(result.duration)
            if last and cut:
                return "interrupted"  # killed while waiting: no more events
            error = None
            if not last:
                error = result.retry_error
            elif result.status != "passed" and result.error:
                error = result.error["message"]
            self.emit(StepAttempt, run_id=run_id, step_id=step_id, attempt=attempt,
                      duration=result.duration, error=error,
                      next_delay=None if last else delay)
            if not last:
                self.tick(delay)
                delay *= 2
        for kind, data in result.attachments:
            self.emit(Attachment, run_id=run_id, step_id=step_id, kind=kind, data=data)
        self.emit(StepFinished, run_id=run_id, scenario_id=scenario_id, step_id=step_id,
                  status=result.status, duration=self.now - start,
                  text=result.text or _fill(step.text, row),
                  code=result.code if result.code is not None
                  else (_fill(step.code.text, row) if step.code else None),
                  attempts=result.attempts, error=result.error)
        return result.status

    def journal(self, run_id: str, scenario_id: str, entries: list[dict[str, Any]]) -> None:
        self.emit(Attachment, run_id=run_id, step_id=None, kind="journal",
                  data={"scenario_id": scenario_id, "entries": entries})


def _scenarios(feature: Feature) -> list[Scenario]:
    return ([feature.background] if feature.background else []) + list(feature.scenarios())


def _rows(scenario: Scenario) -> list[dict[str, str] | None]:
    if scenario.kind != "outline":
        return [None]
    rows: list[dict[str, str] | None] = []
    for examples in scenario.examples:
        if examples.table:
            rows.extend(examples.table.as_dicts())
    return rows or [None]


def _named(title: str, values: dict[str, Any] | None, brackets: str) -> str:
    if not values:
        return title
    return f"{title} {brackets[0]}{', '.join(f'{k}={v}' for k, v in values.items())}{brackets[1]}"


def _fill(text: str, row: dict[str, str] | None) -> str:
    for key, value in (row or {}).items():
        text = text.replace(f"<{key}>", value)
    return text


FOTA = """\
---
tags: [fota]
variants:
  - nw: ltem
  - nw: nbiot
---

# Device FOTA

> A user can schedule a firmware update for a device.
>
> Firmware update over the air (FOTA) is implemented using the nRF Cloud
> [FOTA Service](https://docs.nordicsemi.com/bundle/nrf-cloud/page/Devices/FirmwareUpdate/FOTAOverview.html).

## Background

Given I have the fingerprint for a `PCA20065` device in `fingerprint`

And I have a random UUIDv4 in `jobId`

<!-- This is the response nRF Cloud returns on job creation. -->

And this nRF Cloud API request is queued for a `POST /v1/fota-jobs` request

```
HTTP/1.1 200 OK
Content-Type: application/json

{"jobId": "${jobId}"}
```

## Schedule the FOTA job

> This is the most simple example, it defines an upgrade path from version 2.0.0
> (the key of the object) to 2.0.1 (the bundle ID).

When I `POST` `${APIURL}/device/${fingerprint_deviceId}/fota/app?fingerprint=${fingerprint}` with

```json
{
  "upgradePath": {
    "2.0.0": "APP*1e29dfa3*v2.0.1"
  }
}
```

Then the status code of the last response should be `201`

Soon the nRF Cloud API should have been called with

```
POST /v1/fota-jobs HTTP/1.1
Content-Type: application/json

{"bundleId":"APP*1e29dfa3*v2.0.1","autoApply":true}
```

## Check the status

When I `GET` `${APIURL}/device/${fingerprint_deviceId}/fota/jobs?fingerprint=${fingerprint}`

Soon `$.jobs[0]` of the last response should match

```json
{
  "id": "${jobId}",
  "status": "COMPLETED"
}
```

## Receive a notification

Soon I should receive a message on the websocket that matches

```json
{
  "@context": "https://github.com/hello-nrfcloud/proto/fota/job-execution",
  "status": "COMPLETED"
}
```
"""

OUTLINE = """\
---
tags: [math]
---

# Arithmetic <html> & "quotes"

> Checks that `<b>` in a description stays text, and that **Markdown** renders.

## Rule: Sums

> Adding numbers.

### Scenario Outline: Add <a> and <b>

<!-- @slow -->

Given I store `<a> + <b>` into `sum`

Then `sum` should equal

```json
<sum>
```

#### Examples

| a | b | sum |
|---|---|-----|
| 1 | 2 | 3   |
| 2 | 2 | 4   |
| 5 | 5 | 11  |
"""

MAP = """\
---
needs:
  - Device FOTA
---

# Device map

## Show the device on the map

Given I have the fingerprint for a `PCA20065` device in `fingerprint`

Then the map should show `${fingerprint}`
"""

DIFF = """\
--- expected
+++ actual
@@ -1,4 +1,4 @@
 {
   "id": "bc631093",
-  "status": "COMPLETED"
+  "status": "IN_PROGRESS"
 }"""


def fota_feature() -> Feature:
    return parse_text(FOTA, "specs/FOTA.feature.md")


def outline_feature() -> Feature:
    return parse_text(OUTLINE, "specs/Arithmetic.feature.md")


def map_feature() -> Feature:
    return parse_text(MAP, "specs/Map.feature.md")


def _http(method: str, url: str, status: int, request: Any, response: Any) -> dict[str, Any]:
    return {"request": {"method": method, "url": url,
                        "headers": {"Accept": "application/json"}, "body": request},
            "response": {"status": status, "headers": {"Content-Type": "application/json"},
                         "body": response},
            "duration": 0.012}


def _fota_decider(fail: bool) -> Decide:
    """The FOTA story; with `fail`, the job status check never sees COMPLETED."""
    api = "http://127.0.0.1:8000"

    def decide(scenario: Scenario, step: Step, row: dict[str, str] | None) -> Outcome | None:
        text = step.text
        resolved = (text.replace("${APIURL}", api)
                    .replace("${fingerprint_deviceId}", "oob-352656108602296")
                    .replace("${fingerprint}", "92b.y7i24q"))
        if text.startswith("I `POST`"):
            return Outcome(text=resolved, attachments=[("http", _http(
                "POST", f"{api}/device/oob-352656108602296/fota/app?fingerprint=92b.y7i24q", 201,
                '{"upgradePath":{"2.0.0":"APP*1e29dfa3*v2.0.1"}}',
                '{"@context":"https://github.com/hello-nrfcloud/proto/fota/job-execution",'
                '"id":"bc631093","status":"IN_PROGRESS"}'))])
        if text.startswith("the nRF Cloud API"):
            return Outcome(attempts=3, retry_error="no matching request in the journal (2 seen)",
                           logs=[("progress", "waiting for POST /v1/fota-jobs"),
                                 ("debug", "journal has 2 entries")])
        if text.startswith("I `GET`"):
            return Outcome(text=resolved, attachments=[("http", _http(
                "GET", f"{api}/device/oob-352656108602296/fota/jobs?fingerprint=92b.y7i24q", 200,
                None, {"jobs": [{"id": "bc631093", "status": "IN_PROGRESS"}]}))])
        if text.startswith("`$.jobs[0]`") and fail:
            message = 'at $.jobs[0].status: expected "COMPLETED", got "IN_PROGRESS"'
            return Outcome(status="failed", attempts=4, retry_error=message, duration=0.01,
                           error={"message": message, "kind": "assertion", "detail": DIFF},
                           code='{\n  "id": "bc631093",\n  "status": "COMPLETED"\n}')
        if text.startswith("I should receive a message"):
            return Outcome(attempts=2, retry_error="no message matched (1 examined)",
                           attachments=[("ws-in", {"fingerprint": "92b.y7i24q", "message": {
                               "@context": "https://github.com/hello-nrfcloud/proto/fota/"
                                           "job-execution", "status": "COMPLETED"}})])
        if fail and "should equal" in text and row and row.get("sum") == "11":
            message = "expected 11, got 10"
            return Outcome(status="failed", error={"message": message, "kind": "assertion",
                                                   "detail": "--- expected\n+++ actual\n-11\n+10"})
        return None

    return decide


def demo_script(*, fail: bool = True, interrupt_after: int | None = None) -> Script:
    """A whole run: FOTA in two variants (the second fails), an outline, a skipped feature."""
    fota, outline, mapf = fota_feature(), outline_feature(), map_feature()
    script = Script()
    planned = [
        {"run_id": "specs/FOTA.feature.md", "path": fota.path,
         "title": f"{fota.title} [nw=ltem]", "variant": {"nw": "ltem"}, "needs": []},
        {"run_id": "specs/FOTA.feature.md#2", "path": fota.path,
         "title": f"{fota.title} [nw=nbiot]", "variant": {"nw": "nbiot"}, "needs": []},
        {"run_id": "specs/Arithmetic.feature.md", "path": outline.path, "title": outline.title,
         "variant": None, "needs": []},
        {"run_id": "specs/Map.feature.md", "path": mapf.path, "title": mapf.title,
         "variant": None, "needs": ["specs/FOTA.feature.md", "specs/FOTA.feature.md#2"]},
    ]
    script.run_started(planned)
    script.play(fota, "specs/FOTA.feature.md", _fota_decider(False), variant={"nw": "ltem"})
    script.journal("specs/FOTA.feature.md", "specs/FOTA.feature.md/2", [
        {"time": START + 0.1, "method": "POST", "path": "/v1/fota-jobs", "query": {},
         "headers": {"Content-Type": "application/json"},
         "body": '{"bundleId":"APP*1e29dfa3*v2.0.1","autoApply":true}', "status": 200}])
    status = script.play(fota, "specs/FOTA.feature.md#2", _fota_decider(fail),
                         variant={"nw": "nbiot"}, stop_after=interrupt_after)
    if status == "interrupted":
        return script
    script.play(outline, "specs/Arithmetic.feature.md", _fota_decider(fail))
    if fail:
        script.skip_feature(mapf, "specs/Map.feature.md",
                            "needs 'Device FOTA [nw=nbiot]', which failed")
    else:
        script.play(mapf, "specs/Map.feature.md")
    script.run_finished()
    return script


def demo_events(**options: Any) -> list[Event]:
    return demo_script(**options).events


def main(argv: list[str] | None = None) -> int:
    from harness.report import make_reporters

    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0] if args else "reports")
    reporters = make_reporters(target, color=None)
    for event in demo_events():
        for reporter in reporters:
            reporter(event)
    for reporter in reporters:
        reporter.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
