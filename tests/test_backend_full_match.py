"""The reference backend's input checks are full matches (issue 16): a trailing newline
in an id, a fingerprint or an upgrade-path key is refused, and a non-ASCII admin token is
a 403, not a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from test_backend_support import Stack, assert_problem, close_stack, open_stack

from reference_backend.devices import is_fingerprint
from reference_backend.fota.upgrade_path import InvalidRequest, validate_body
from reference_backend.fota.versions import is_valid_key

APP = "APP*1e29dfa3*v2.0.1"


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    s = await open_stack(max_body_bytes=100_000)
    try:
        yield s
    finally:
        await close_stack(s)


def test_a_trailing_newline_is_no_fingerprint_or_upgrade_path_key() -> None:
    assert is_fingerprint("92b.ABCDEF")
    assert not is_fingerprint("92b.ABCDEF\n")
    assert is_valid_key(">=2.0.0")
    assert not is_valid_key(">=2.0.0\n")
    with pytest.raises(InvalidRequest):
        validate_body({"upgradePath": {"2.0.0\n": APP}}, "app")


async def test_admin_ids_with_a_trailing_newline_are_refused(stack: Stack) -> None:
    url = f"{stack.backend.url}/__admin/devices"
    account = await stack.account()
    for body in (
        {"model": "PCA20065", "account": account, "id": "oob-351234567890123\n"},
        {"model": "PCA20065\n", "account": account},
    ):
        await assert_problem(await stack.http.post(url, json=body, headers=stack.admin), 400)
    accounts = f"{stack.backend.url}/__admin/accounts"
    for body in (
        {"name": "a\n", "apiEndpoint": stack.mock.url, "apiKey": "k"},
        {"name": "a", "apiEndpoint": stack.mock.url, "apiKey": "k\n"},
    ):
        await assert_problem(await stack.http.post(accounts, json=body, headers=stack.admin), 400)


async def test_a_non_ascii_admin_token_is_a_403(stack: Stack) -> None:
    url = f"{stack.backend.url}/__admin/devices"
    for token in ("Bearer \u00e9t\u00e9".encode(), b"Bearer \xff\xfe"):
        response = await stack.http.post(
            url, json={"model": "PCA20065"}, headers={"Authorization": token.decode("latin-1")}
        )
        await assert_problem(response, 403)


async def test_the_admin_api_answers_no_foreign_host_or_page(stack: Stack) -> None:
    url = f"{stack.backend.url}/__admin/devices"
    body = {"model": "PCA20065"}
    foreign = {**stack.admin, "Host": "attacker.example"}
    await assert_problem(await stack.http.post(url, json=body, headers=foreign), 403)
    page = {**stack.admin, "Origin": "http://evil.example"}
    refused = await stack.http.post(url, json=body, headers=page)
    await assert_problem(refused, 403)
    assert "Access-Control-Allow-Origin" not in refused.headers
    preflight = await stack.http.options(
        url, headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    local = {**stack.admin, "Host": "localhost:1"}
    assert (await stack.http.post(url, json=body, headers=local)).status != 403
