"""Scripted steps for the report tests: each one's outcome is decided by its sentence
(and the attempt), so a fixture spec says what happens and the real runner plays it.

`register(step)` defines them on a behave step decorator (a private registry's, so
tests never touch behave's global one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.run.context import StepContext

DIFF = """\
--- expected
+++ actual
@@ -1,4 +1,4 @@
 {
   "id": "bc631093",
-  "status": "COMPLETED"
+  "status": "IN_PROGRESS"
 }"""


def _fail(message: str, detail: str | None = None) -> None:
    error = AssertionError(message)
    error.detail = detail  # type: ignore[attr-defined]  # shown as the diff, as steps/ do
    raise error


def register(step: Callable[[str], Callable[[Any], Any]]) -> None:
    @step("I store `{expr}` into `{name}`")
    def store(ctx: StepContext, expr: str, name: str) -> None:
        """A JSONata value into the context."""
        ctx.vars[name] = ctx.require(expr)

    @step("`{actual}` equals `{expected}`")
    def equals(ctx: StepContext, actual: str, expected: str) -> None:
        """Two strings; a mismatch fails with a diff."""
        if actual != expected:
            _fail(
                f"expected {expected}, got {actual}",
                f"--- expected\n+++ actual\n-{expected}\n+{actual}",
            )

    @step("I `{method}` `{url}` with")
    def request(ctx: StepContext, method: str, url: str) -> None:
        """Records an HTTP exchange, as the HTTP steps do."""
        ctx.log.info(f"{method} {url}")
        ctx.log.attach(
            "http",
            {
                "request": {
                    "method": method,
                    "url": url,
                    "headers": {"Accept": "application/json"},
                    "body": ctx.text,
                },
                "response": {
                    "status": 201,
                    "headers": {"Content-Type": "application/json"},
                    "body": {"id": "bc631093", "status": "IN_PROGRESS"},
                },
                "duration": 0.012,
            },
        )

    @step("the nRF Cloud API has been called `{times:d}` times")
    def called(ctx: StepContext, times: int) -> None:
        """Passes at attempt `times`."""
        ctx.log.progress("waiting for POST /v1/fota-jobs")
        if ctx.attempt < times:
            ctx.log.debug(f"journal has {ctx.attempt} entries")
            _fail(f"no matching request in the journal ({ctx.attempt} seen)")

    @step("the job status in `{network}` should be")
    def job_status(ctx: StepContext, network: str) -> None:
        """Passes on ltem; elsewhere the job is missing at first, then never completes."""
        if network == "ltem":
            return
        if ctx.attempt == 1:
            _fail("no job yet")
        _fail('at $.status: expected "COMPLETED", got "IN_PROGRESS"', DIFF)

    @step("a websocket message arrives after `{attempts:d}` attempts")
    def websocket(ctx: StepContext, attempts: int) -> None:
        """Passes at attempt `attempts`, with the message attached."""
        if ctx.attempt < attempts:
            _fail("no message matched (1 examined)")
        ctx.log.attach(
            "ws-in",
            {
                "fingerprint": ctx.vars.get("fingerprint"),
                "message": {
                    "@context": "https://github.com/hello-nrfcloud/proto/fota/job-execution",
                    "status": "COMPLETED",
                },
            },
        )

    @step("it crashes")
    def crash(ctx: StepContext) -> None:
        """Not an assertion: a bug in the step (JUnit <error>)."""
        raise RuntimeError("boom")

    @step("it waits forever")
    async def hang(ctx: StepContext) -> None:
        import asyncio

        await asyncio.sleep(3600)
