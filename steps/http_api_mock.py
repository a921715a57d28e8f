"""The "HTTP API Mock" of the backend's real suite: third parties served by the mock.

A URL under the mock names the third party by its host as the first path segment
(`<mock>/api.memfault.com/...`); the mock keeps such calls in the account named after the
host (mock_nrfcloud/hosts.py). These calls carry no per-run API key, so runs share the
host accounts: a queued response is matched by its path (the corpus puts a random IMEI or
device ID there), and the journal check looks only at entries since this feature run
started (mock_nrfcloud/README.md, "Third-party hosts").
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from behave import step, use_step_matcher

from harness.run.context import StepContext
from harness.targets.base import SPEC_ACCOUNT
from mock_nrfcloud.hosts import route
from mock_nrfcloud.rawhttp import RawHttpError, RawRequest, parse_raw_request
from steps.common import code_block
from steps.matching import EQUAL, PARTIAL, MatchFailure, difference
from steps.nrfcloud import same_header

use_step_matcher("re")


def mock_path(url: str, mock_url: str) -> str:
    """The path (and query) of `url` on the mock: the mock's base URL stripped, with
    `http://` or `https://` alike; a third party's own URL becomes `/<host>/<path>`."""
    base = mock_url.rstrip("/").split("://", 1)[-1]
    scheme, sep, rest = url.partition("://")
    if not sep:
        if url.startswith("/"):
            return url
        raise ValueError(
            f"expected a URL under the mock ({mock_url or 'no mock URL'}) or a "
            f"path starting with `/`, got {url!r}"
        )
    if scheme.lower() not in ("http", "https"):
        raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
    if base and rest.startswith(base) and rest[len(base) : len(base) + 1] in ("", "/", "?"):
        rest = rest[len(base) :]
        return rest if rest.startswith("/") else "/" + rest
    # A third party's real URL (e.g. from an example context): its host is the segment.
    return "/" + rest


async def _account(ctx: StepContext, path: str) -> tuple[str, str]:
    """(mock account, path as the mock journals it) for a path on the mock."""
    host, routed = route(path)
    if host is not None:
        return host, routed
    return (await ctx.target.account(SPEC_ACCOUNT)).api_key, routed


@step(r"this HTTP API Mock response for `(?P<target>[^`]+)` is queued(?P<kept> and kept)?")
async def queue_response(ctx: StepContext, target: str, kept: str | None) -> None:
    """Queue the raw HTTP response for that method and URL (once, or every time when kept);
    the URL's query parameters must be present in the call, others may be too."""
    method, _, url = target.strip().partition(" ")
    url = url.strip()
    if not method or not url:
        raise ValueError(f"expected `METHOD URL`, got `{target}`")
    raw = code_block(ctx)
    # The mock checks the block (once) and refuses a bad one with its line: a 400 that
    # fails this step with the mock's message (mock_nrfcloud/admin.py queue_raw).
    full = mock_path(url, ctx.target.target.mock_url)
    path, _, query = full.partition("?")
    account, path = await _account(ctx, path)
    await ctx.target.mock.queue_raw(
        account,
        method.upper(),
        path,
        raw,
        query=dict(parse_qsl(query, keep_blank_values=True)) or None,
        keep=bool(kept),
    )


@step(r"the HTTP API Mock should have been called with")
async def called_with(ctx: StepContext) -> None:
    """Since this feature run started, the mock got a request with that method, path and
    query (a subset), the given headers, and the body: JSON matched partially when the
    call's content type is JSON, else the same text."""
    try:
        expected = parse_raw_request(code_block(ctx))
    except RawHttpError as exc:
        raise ValueError(f"the raw HTTP request is invalid: {exc}") from None
    path = mock_path(expected.path, ctx.target.target.mock_url)
    account, path = await _account(ctx, path)
    found = await ctx.target.mock.find(
        account, method=expected.method, path=path, query=expected.query or None
    )
    # journal times are whole milliseconds: a call in the run's first millisecond counts
    since_ms = math.floor(ctx.target.started_at * 1000)
    entries = [e for e in found if _epoch_ms(e["time"]) >= since_ms]
    misses = [request_difference(expected, e) for e in entries]
    if any(m is None for m in misses):
        return
    where = f"{expected.method} {path}" + (
        f" with query {expected.query}" if expected.query else ""
    )
    if not entries:
        raise MatchFailure(f"the HTTP API Mock was not called with {where} in this run")
    raise MatchFailure(
        f"the HTTP API Mock was called {len(entries)} time(s) with {where}, but "
        f"none matched: {misses[-1]}",
        "\n".join(f"{e.get('method')} {e.get('path')} {e.get('body')}" for e in entries[-5:]),
    )


def request_difference(expected: RawRequest, entry: dict[str, Any]) -> str | None:
    """Why a journal entry is not the expected request, or None when it is."""
    actual_headers = {k.lower(): v for k, v in (entry.get("headers") or {}).items()}
    for name, value in expected.headers:
        actual = actual_headers.get(name.lower())
        if actual is None:
            return f"header {name} is missing"
        if not same_header(name, value, actual):
            return f"header {name}: expected {value!r}, got {actual!r}"
    body = entry.get("body") or ""
    if "application/json" in actual_headers.get("content-type", "").lower():
        try:
            want = json.loads(expected.body) if expected.body.strip() else None
        except json.JSONDecodeError as exc:
            return f"the expected body is not JSON ({exc.msg}), but the call's is"
        try:
            got = json.loads(body) if body.strip() else None
        except json.JSONDecodeError:
            return f"body is declared JSON but is not: {body[:200]!r}"
        if want is None:
            return None if got in (None, {}) else f"body: expected none, got {body[:200]!r}"
        miss = difference(want, got, PARTIAL if isinstance(want, dict | list) else EQUAL)
        return f"body {miss}" if miss else None
    if expected.body.strip() != body.strip():
        return f"body: expected {expected.body[:200]!r}, got {body[:200]!r}"
    return None


def _epoch_ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


use_step_matcher("parse")
