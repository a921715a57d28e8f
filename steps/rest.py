"""REST: requests to the backend, and assertions on the last response.

`retrying N times` on a request lets the assertion steps after it re-send that request
(up to N times, with the Soon back-off) until they pass.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from behave import step, use_step_matcher

from harness.run.context import StepContext
from steps.common import json_block
from steps.matching import PARTIAL, MatchFailure, check, same_scalar

use_step_matcher("re")

NO_BODY = object()


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: str | None


@dataclass
class Response:
    request: Request
    status: int
    headers: dict[str, str]
    text: str
    retries_left: int = 0
    _json: Any = field(default=NO_BODY, repr=False)

    def json(self) -> Any:
        """The body as JSON; an assertion failure showing the body when it is not."""
        if self._json is NO_BODY:
            try:
                self._json = json.loads(self.text)
            except json.JSONDecodeError:
                raise MatchFailure(
                    f"the response to {self.request.method} {self.request.url} "
                    f"(status {self.status}) is not JSON: "
                    f"{self.text[:300]!r}"
                ) from None
        return self._json


async def send(ctx: StepContext, request: Request) -> Response:
    """Send a request on the run's session; attach the exchange to the step."""
    import aiohttp  # imported when used: `spec-harness check` starts faster

    started = time.monotonic()
    try:
        async with ctx.session.request(
            request.method, request.url, headers=request.headers, data=request.body
        ) as resp:
            text = await resp.text(errors="replace")
            response = Response(request, resp.status, dict(resp.headers), text)
    except aiohttp.ClientError as exc:
        raise ConnectionError(f"{request.method} {request.url} failed: {exc}") from None
    ctx.log.attach(
        "http",
        {
            "request": {
                "method": request.method,
                "url": request.url,
                "headers": request.headers,
                "body": request.body,
            },
            "response": {
                "status": response.status,
                "headers": response.headers,
                "body": response.text,
            },
            "duration": time.monotonic() - started,
        },
    )
    return response


@step(
    r"I `(?P<method>GET|POST|PUT|PATCH|DELETE)` (?:to )?`(?P<url>[^`]+)`"
    r"(?: retrying (?P<retries>\d+) times)?(?P<has_body> with)?"
)
async def request(
    ctx: StepContext, method: str, url: str, retries: str | None, has_body: str | None
) -> None:
    """Send a request (JSON body from the code block with `with`); it becomes the last
    response."""
    headers = {"Accept": "application/json", **ctx.state.pop("rest.next_headers", {})}
    body = None
    if has_body:
        body = json.dumps(json_block(ctx), separators=(",", ":"), ensure_ascii=False)
        headers.setdefault("Content-Type", "application/json")
    response = await send(ctx, Request(method, url, headers, body))
    response.retries_left = int(retries or 0)
    ctx.state["rest.last"] = response


@step(r"the `(?P<header>[^`]+)` header of the next request is `(?P<value>[^`]*)`")
def next_header(ctx: StepContext, header: str, value: str) -> None:
    """Add a header to the next request only."""
    ctx.state.setdefault("rest.next_headers", {})[header] = value


def assert_last(ctx: StepContext, check_response: Callable[[Response], None]) -> None:
    """Check the last response; on failure, ask the runner to re-send the request and
    check again when it was sent `retrying N times`, or when this is a Soon step (an
    assertion on a response that is never re-sent could only wait out its budget)."""
    last: Response | None = ctx.state.get("rest.last")
    if last is None:
        raise AssertionError("there is no last response: send a request first")
    try:
        check_response(last)
    except AssertionError:
        if last.retries_left > 0 or ctx.step.kind == "soon":

            async def resend() -> None:
                again = await send(ctx, last.request)
                again.retries_left = max(0, last.retries_left - 1)
                ctx.state["rest.last"] = again

            ctx.retry_with(tries=ctx.attempt + 1, before_retry=resend)
        raise


@step(r"the status code of the last response should be `(?P<code>\d+)`")
def status_code(ctx: StepContext, code: str) -> None:
    """The HTTP status of the last response equals."""

    def check_status(r: Response) -> None:
        if r.status != int(code):
            raise MatchFailure(
                f"expected status {code}, got {r.status} from {r.request.method} "
                f"{r.request.url}: {r.text[:500]}"
            )

    assert_last(ctx, check_status)


@step(r"I should receive a `(?P<url>[^`]+)` response")
def receive_context(ctx: StepContext, url: str) -> None:
    """The body is JSON and its `@context` equals the URL."""

    def check_context(r: Response) -> None:
        body = r.json()
        actual = body.get("@context") if isinstance(body, dict) else None
        if not same_scalar(url, actual):
            raise MatchFailure(
                f"expected a {url} response, got @context {actual!r} "
                f"(status {r.status}): {r.text[:500]}"
            )

    assert_last(ctx, check_context)


@step(r"(?:`(?P<expr>[^`]+)` of )?the last response should match")
def last_should_match(ctx: StepContext, expr: str | None) -> None:
    """Partial match of the body, or of the JSONata value of `expr` on the body."""
    expected = json_block(ctx)

    def check_body(r: Response) -> None:
        actual = ctx.evaluate(expr, r.json()) if expr else r.json()
        check(
            expected,
            actual,
            PARTIAL,
            f"`{expr}` of the last response" if expr else "the last response",
        )

    assert_last(ctx, check_body)


@step(r"I store `(?P<expr>[^`]+)` of the last response into `(?P<name>[^`]+)`")
def store_from_last(ctx: StepContext, expr: str, name: str) -> None:
    """JSONata on the body of the last response, stored; fails when it yields nothing."""

    def take(r: Response) -> None:
        value = ctx.evaluate(expr, r.json())
        if value is None:
            raise MatchFailure(f"`{expr}` yielded nothing on the last response: {r.text[:500]}")
        ctx.vars[name] = value

    assert_last(ctx, take)


use_step_matcher("parse")
