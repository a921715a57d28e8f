"""The reference backend's input checks are full matches (issue 16): a trailing newline
in an id, a fingerprint or an upgrade-path key is refused, and a non-ASCII admin token is
a 403, not a 500."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support.backend import Stack, assert_problem

from reference_backend.devices import is_fingerprint
from reference_backend.fota.upgrade_path import InvalidRequest, validate_body
from reference_backend.fota.versions import is_valid_key

APP = "APP*1e29dfa3*v2.0.1"


@pytest.fixture
def stack_options() -> dict[str, Any]:
    return {"max_body_bytes": 100_000}


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
    # Raw bytes: aiohttp's client would encode the header itself. `\xf6` alone is not
    # UTF-8, and was a 500 before (the token compare encoded a surrogate).
    host, port = stack.backend.url.split("//")[1].rsplit(":", 1)
    for token in (b"\xff\xfe", "t\u00f6k".encode("latin-1"), "\u00e9t\u00e9".encode()):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /__admin/devices HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
            b"Authorization: Bearer " + token + b"\r\nConnection: close\r\n\r\n{}"
        )
        await writer.drain()
        status_line = (await reader.read()).split(b"\r\n", 1)[0]
        writer.close()
        assert status_line == b"HTTP/1.1 403 Forbidden", token


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
