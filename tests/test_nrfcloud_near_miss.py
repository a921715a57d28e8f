"""``the nRF Cloud API should have been called with`` names the closest calls (issue 16)."""

from __future__ import annotations

from typing import Any

from mock_nrfcloud.accounts import account_id
from mock_nrfcloud.rawhttp import parse_raw_request
from steps.nrfcloud import _closest, _first_difference


def entry(id: int, method: str, path: str, **extra: Any) -> dict[str, Any]:
    return {"id": id, "method": method, "path": path, "query": {}, "headers": {},
            "body": None, "account": account_id("k"), **extra}  # fmt: skip


def test_the_closest_calls_come_first_with_their_first_difference() -> None:
    expected = parse_raw_request(
        'POST /v1/fota-jobs?x=1 HTTP/1.1\nContent-Type: application/json\n\n{"bundleId": "APP*1"}'
    )
    journal = [
        entry(1, "GET", "/v1/devices"),
        entry(2, "POST", "/v1/fota-jobs", query={"x": "2"}),
        entry(
            3,
            "POST",
            "/v1/fota-jobs",
            query={"x": "1"},
            headers={"Content-Type": "application/json"},
            body='{"bundleId": "APP*2"}',
        ),
        entry(4, "GET", "/v1/fota-jobs"),
    ]
    text = _closest(expected, journal)
    lines = text.splitlines()
    assert lines[0] == "Closest calls in the journal:"
    assert lines[1].startswith("#3 POST /v1/fota-jobs?x=1: body at $.bundleId")
    assert lines[2] == "#2 POST /v1/fota-jobs?x=2: query parameter x: expected '1', got '2'"
    assert lines[3] == "#4 GET /v1/fota-jobs: method: expected POST, got GET"
    assert "#1" not in text


def test_a_redacted_bearer_key_is_compared_with_the_account() -> None:
    expected = parse_raw_request("GET /v1/devices HTTP/1.1\nAuthorization: Bearer k\n\n")
    redacted = entry(1, "GET", "/v1/devices", headers={"Authorization": "Bearer <redacted>"})
    assert _first_difference(expected, redacted) is None
    other = parse_raw_request("GET /v1/devices HTTP/1.1\nAuthorization: Bearer other\n\n")
    difference = _first_difference(other, redacted) or ""
    assert "header Authorization" in difference
    assert f"<the key of account {account_id('k')}>" in difference  # never the key


def test_an_empty_journal_says_so() -> None:
    expected = parse_raw_request("GET /v1/devices HTTP/1.1\n\n")
    assert "not called at all" in _closest(expected, [])
