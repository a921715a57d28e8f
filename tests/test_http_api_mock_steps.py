"""The HTTP API Mock steps against a mock on loopback: queueing under a host, and the
journal check that sees only this feature run's calls and matches JSON bodies partially."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import aiohttp
import pytest

from mock_nrfcloud.client import MockClient
from mock_nrfcloud.rawhttp import parse_raw_request
from mock_nrfcloud.server import RunningMock
from steps import http_api_mock
from steps.http_api_mock import request_difference
from steps.matching import MatchFailure

# behave wraps the step functions it registers; the harness calls the originals
queue_response = http_api_mock.queue_response.__wrapped__
called_with = http_api_mock.called_with.__wrapped__

CARD_CALL = """POST /webhook.office.com/ HTTP/1.1
content-type: application/json; charset=utf-8

{"summary": "New feedback", "sections": [{"text": "%s"}]}
"""


def run_context(mock: RunningMock, client: MockClient, text: str) -> SimpleNamespace:
    """What the steps use of a StepContext: the block, and the feature run's target."""
    target_run = SimpleNamespace(
        target=SimpleNamespace(mock_url=mock.url), mock=client, started_at=time.time()
    )
    return SimpleNamespace(text=text, target=target_run)


async def post_card(mock: RunningMock, text: str) -> None:
    async with aiohttp.ClientSession() as http:
        body = '{"summary": "New feedback", "themeColor": "00a9ce", "sections": [{"text": "%s"}]}'
        await http.post(
            mock.url + "/webhook.office.com/",
            data=(body % text).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )


async def test_queued_under_the_host_and_served_to_its_path(mock: RunningMock) -> None:
    async with MockClient(mock.url) as client:
        ctx = run_context(mock, client, "HTTP/1.1 202 Accepted\n")
        await queue_response(ctx, f"POST {mock.url}/webhook.office.com/", None)
        [queued] = await client.responses("webhook.office.com")
        assert queued["path"] == "/webhook.office.com/" and queued["status"] == 202
        ctx = run_context(mock, client, "HTTP/1.1 200 OK\n\n{}")
        # https:// as the corpus writes it, and a query as a subset matcher, kept
        await queue_response(
            ctx, f"GET {mock.url.replace('http', 'https')}/api.memfault.com/x?since=1", " and kept"
        )
        kept = (await client.responses("api.memfault.com"))[0]
        assert kept["query"] == {"since": "1"} and kept["keep"] is True


async def test_called_with_sees_only_calls_since_the_run_started(mock: RunningMock) -> None:
    async with MockClient(mock.url) as client:
        await post_card(mock, "earlier run")
        await asyncio.sleep(0.01)  # the journal's times have millisecond resolution
        ctx = run_context(mock, client, CARD_CALL % "earlier run")
        with pytest.raises(MatchFailure, match="not called"):
            await called_with(ctx)
        await post_card(mock, "this run")
        with pytest.raises(MatchFailure, match="none matched"):
            await called_with(ctx)
        ctx.text = CARD_CALL % "this run"
        await called_with(ctx)  # partial: themeColor is not in the expected body


def test_bodies_match_as_json_only_when_the_call_says_json() -> None:
    expected = parse_raw_request('POST /h.com/ HTTP/1.1\n\n{"a": 1}\n')
    json_call = {"headers": {"Content-Type": "application/json"}, "body": '{"a": 1, "b": 2}'}
    text_call = {"headers": {"Content-Type": "text/plain"}, "body": '{"a": 1, "b": 2}'}
    assert request_difference(expected, json_call) is None
    assert "body" in request_difference(expected, text_call)
    assert request_difference(expected, {**text_call, "body": '{"a": 1}'}) is None
    with_header = parse_raw_request("POST /h.com/ HTTP/1.1\nX-Id: 7\n\n")
    assert "X-Id" in request_difference(with_header, {"headers": {}, "body": ""})
    assert request_difference(with_header, {"headers": {"x-id": "7"}, "body": None}) is None
