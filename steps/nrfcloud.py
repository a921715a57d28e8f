"""The nRF Cloud mock: queue responses for this feature run's accounts, check the journal.

Each account of a feature run has its own API key, and the mock keeps queues and
journals per key, so parallel feature runs never see each other's calls.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from behave import step, use_step_matcher

from harness.run.context import StepContext
from harness.targets.base import SPEC_ACCOUNT
from mock_nrfcloud.accounts import account_id
from mock_nrfcloud.guard import REDACTED, SECRET_HEADERS
from mock_nrfcloud.rawhttp import RawHttpError, RawRequest, parse_raw_request
from steps.common import code_block, device_account, json_block
from steps.matching import EQUAL, MatchFailure, difference

use_step_matcher("re")

SHADOW_PATH = "/v1/devices"
SHADOW_QUERY = {"includeState": "true", "includeStateMeta": "true", "pageLimit": "100"}


def device_ids_matcher(*device_ids: str) -> str:
    """A query matcher for `deviceIds` holding one of `device_ids` as a whole word."""
    return f"/(^|,)({'|'.join(re.escape(d) for d in device_ids)})(,|$)/"


@step(r"there is this device shadow data for `(?P<device_id>[^`]+)` in nRF Cloud")
async def shadow_data(ctx: StepContext, device_id: str) -> None:
    """Serve the JSON block, every time, for the shadow request of that device.

    The backend asks for the shadows of an account's devices in one request, and the
    mock serves the newest kept response: so with several devices in one account, the
    response queued is one listing the items of all of them.
    """
    body = json_block(ctx)
    account = await ctx.target.account(device_account(ctx, device_id))
    known = ctx.state.setdefault("nrfcloud.shadows", {}).setdefault(account.name, {})
    known[device_id] = body
    if len(known) > 1 and all(
        isinstance(b, dict) and isinstance(b.get("items"), list) for b in known.values()
    ):
        items = [item for b in known.values() for item in b["items"]]
        body = {"items": items, "total": len(items)}
    await ctx.target.mock.queue(
        account.api_key,
        "GET",
        SHADOW_PATH,
        query={**SHADOW_QUERY, "deviceIds": device_ids_matcher(*known)},
        status=200,
        headers={"Content-Type": "application/json"},
        body=json.dumps(body),
        keep=True,
    )


@step(r"this nRF Cloud API request is queued for a `(?P<target>[^`]+)` request")
async def queue_response(ctx: StepContext, target: str) -> None:
    """Queue the raw HTTP response once for that method and path (and query, if given)."""
    method, _, url = target.strip().partition(" ")
    if not method or not url.startswith("/"):
        raise ValueError(f"expected `METHOD /path?query`, got `{target}`")
    raw = code_block(ctx)
    # The mock checks the block (once) and refuses a bad one with its line: a 400 that
    # fails this step with the mock's message (mock_nrfcloud/admin.py queue_raw).
    parts = urlsplit(url)
    account = await ctx.target.account(SPEC_ACCOUNT)
    await ctx.target.mock.queue_raw(
        account.api_key, method.upper(), parts.path, raw, query=dict(parse_qsl(parts.query)) or None
    )


@step(r"the nRF Cloud API should have been called with")
async def called_with(ctx: StepContext) -> None:
    """The journal holds a request with that method, path, query, headers and body."""
    try:
        expected = parse_raw_request(code_block(ctx))
    except RawHttpError as exc:
        raise ValueError(f"the raw HTTP request is invalid: {exc}") from None
    target = ctx.target
    accounts = target.accounts or [await target.account(SPEC_ACCOUNT)]
    entries: list[dict[str, Any]] = []
    for account in accounts:
        entries += await target.mock.find(
            account.api_key,
            method=expected.method,
            path=expected.path,
            query=expected.query or None,
        )
    misses = [_request_difference(expected, e) for e in entries]
    if any(m is None for m in misses):
        return
    where = f"{expected.method} {expected.path}"
    if not entries:
        recent: list[dict[str, Any]] = []
        for account in accounts:
            recent += await target.mock.requests(account.api_key, last=_NEAR_MISS_SCAN)
        raise MatchFailure(
            f"nRF Cloud was not called with {where}"
            + (f" and query {expected.query}" if expected.query else ""),
            _closest(expected, recent),
        )
    raise MatchFailure(
        f"nRF Cloud was called {len(entries)} time(s) with {where}, but none matched: {misses[-1]}",
        _closest(expected, entries),
    )


# The journal entries looked at for the closest calls when none has the method and path.
_NEAR_MISS_SCAN = 200


def _closest(expected: RawRequest, entries: list[dict[str, Any]], count: int = 3) -> str:
    """The calls closest to the expected one (newest first among equals), each with its
    first difference: method, path, query parameter, header or body."""
    if not entries:
        return "The journal of this run's accounts is empty: nRF Cloud was not called at all."
    ranked = []
    for position, entry in enumerate(entries):
        difference = _first_difference(expected, entry)
        rank = (
            entry.get("path") != expected.path,
            entry.get("method") != expected.method,
            difference is not None and difference.startswith("query"),
            -position,
        )
        ranked.append((rank, entry, difference))
    ranked.sort(key=lambda item: item[0])
    lines = ["Closest calls in the journal:"]
    for _, entry, difference in ranked[:count]:
        query = "&".join(f"{k}={v}" for k, v in (entry.get("query") or {}).items())
        lines.append(
            f"#{entry.get('id')} {entry.get('method')} {entry.get('path')}"
            f"{'?' + query if query else ''}: {difference or 'matches'}"
        )
    return "\n".join(lines)


def _first_difference(expected: RawRequest, entry: dict[str, Any]) -> str | None:
    """The first way a journal entry differs from the expected request, or None."""
    if entry.get("method") != expected.method:
        return f"method: expected {expected.method}, got {entry.get('method')}"
    if entry.get("path") != expected.path:
        return f"path: expected {expected.path}, got {entry.get('path')}"
    actual_query = entry.get("query") or {}
    for name, value in (expected.query or {}).items():
        if name not in actual_query:
            return f"query parameter {name}: expected {value!r}, missing"
        if actual_query[name] != value:
            return f"query parameter {name}: expected {value!r}, got {actual_query[name]!r}"
    return _request_difference(expected, entry)


def _request_difference(expected: RawRequest, entry: dict[str, Any]) -> str | None:
    """Why a journal entry is not the expected request, or None when it is."""
    actual_headers = {k.lower(): v for k, v in (entry.get("headers") or {}).items()}
    for name, value in expected.headers:
        actual = actual_headers.get(name.lower())
        if actual is None:
            return f"header {name} is missing"
        if actual.endswith(REDACTED) and name.lower() in SECRET_HEADERS:
            # The mock never shows the secret; a bearer key is known by the entry's
            # account, the key's id (mock_nrfcloud/accounts.py).
            scheme = actual[: -len(REDACTED)].strip()
            wanted_scheme, _, wanted_key = value.partition(" ")
            if wanted_scheme == scheme:
                if scheme.lower() != "bearer":
                    continue
                if account_id(wanted_key.strip()) == entry.get("account"):
                    continue
            if scheme.lower() == "bearer":
                actual = f"{scheme} <the key of account {entry.get('account')}>"
        if not same_header(name, value, actual):
            return f"header {name}: expected {value!r}, got {actual!r}"
    body = entry.get("body") or ""
    if expected.is_json() or _looks_json(expected.body):
        want = expected.json()
        try:
            got = json.loads(body) if body.strip() else None
        except json.JSONDecodeError:
            return f"body is not JSON: {body[:200]!r}"
        if want in (None, {}) and got in (None, {}):
            return None
        miss = difference(want, got, EQUAL)
        return f"body {miss}" if miss else None
    if expected.body.strip() != body.strip():
        return f"body: expected {expected.body[:200]!r}, got {body[:200]!r}"
    return None


def same_header(name: str, expected: str, actual: str) -> bool:
    if name.lower() == "content-type":  # compare media types; parameters may differ
        return expected.split(";")[0].strip().lower() == actual.split(";")[0].strip().lower()
    return expected == actual


def _looks_json(body: str) -> bool:
    return body.strip()[:1] in ("{", "[")


@step(
    r"the shadow for `(?P<device_id>[^`]+)` in the `(?P<account>[^`]+)` account has been "
    r"requested"
)
async def shadow_requested(ctx: StepContext, device_id: str, account: str) -> None:
    """The journal of that account's API key holds a shadow request for the device."""
    key = (await ctx.target.account(account)).api_key
    entries = await ctx.target.mock.find(
        key, method="GET", path=SHADOW_PATH, query={"deviceIds": device_ids_matcher(device_id)}
    )
    if not entries:
        raise MatchFailure(
            f"the shadow of {device_id} was not requested with the API key of account {account!r}"
        )


use_step_matcher("parse")
