"""Generated admin input: every call is accepted or refused with a 4xx problem, never a 5xx.

The mock runs in a thread with its own event loop so that hypothesis can drive it with
plain blocking HTTP calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.mock_servers import ThreadedMock


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedMock]:
    running = ThreadedMock()
    yield running
    running.stop()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)  # fmt: skip
text_values = st.sampled_from(
    ["GET", "post", "/v1/x", "/v1/x?a=1", "x", "", "/(/", "/a/i", "reset", "empty", "ü", "a\x00b",
     "A: b", "$.a", "$[", "0", "-1"]
) | st.text(max_size=10)  # fmt: skip
field_values = st.one_of(
    json_values,
    text_values,
    st.integers(-5, 700),
    st.dictionaries(text_values, text_values | json_values, max_size=3),
    st.lists(st.lists(text_values, max_size=3), max_size=2),
)
RESPONSE_FIELDS = ["account", "query", "body_matches", "status", "reason",
                   "headers", "body", "body_base64", "keep", "times", "ttl_s", "delay_ms", "fault",
                   "bogus"]  # fmt: skip
response_specs = st.fixed_dictionaries(
    {
        # Mostly valid, so that the other fields get checked (and served) too.
        "method": st.sampled_from(["GET", "POST", "GET", "POST"]) | field_values,
        "path": st.sampled_from(["/v1/fuzz", "/v1/f/", "/v1/fuzz", "/v1/f/"]) | field_values,
    },
    optional={name: field_values for name in RESPONSE_FIELDS},
)


def check_answer(status: int, content_type: str, body: bytes, what: Any) -> None:
    assert status < 500, (status, body, what)
    if status >= 400:
        assert content_type == "application/problem+json", (status, body, what)
        problem = json.loads(body)
        assert problem["status"] == status and problem["detail"], problem


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=st.one_of(response_specs, response_specs, response_specs, field_values))
def test_queueing_anything_then_calling_never_gives_a_5xx(server: ThreadedMock, spec: Any) -> None:
    if isinstance(spec, dict):
        spec = {**spec, "delay_ms": 0} if "delay_ms" in spec else spec
    status, content_type, body = server.request(
        "POST", "/__admin/responses", json.dumps(spec).encode()
    )
    check_answer(status, content_type, body, spec)
    if status == 201:
        queued = json.loads(body)
        if queued["fault"] is None:
            path = queued["path"] if queued["path"].startswith("/") else "/v1/fuzz"
            answer = server.request(queued["method"], path, b"{}", {})
            assert answer[0] < 600
        server.request("DELETE", f"/__admin/responses/{queued['id']}")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    criteria=st.fixed_dictionaries(
        {},
        optional={
            name: field_values
            for name in ["account", "method", "path", "query", "headers", "body_matches", "limit"]
        },
    )
    | field_values,
    params=st.dictionaries(
        st.sampled_from(["account", "method", "path", "since", "limit", "last", "x"]),
        text_values,
        max_size=3,
    ),
)
def test_journal_reads_never_give_a_5xx(
    server: ThreadedMock, criteria: Any, params: dict[str, str]
) -> None:
    server.request("POST", "/v1/fuzz", b'{"a": [1, "x"]}', {"Authorization": "Bearer k"})
    for path in ("/__admin/requests/find", "/__admin/requests/count"):
        answer = server.request("POST", path, json.dumps(criteria).encode())
        check_answer(*answer, criteria)
    query = urlencode(params)
    for method, path in (("GET", "/__admin/requests"), ("GET", "/__admin/responses")):
        answer = server.request(method, f"{path}?{query}")
        check_answer(*answer, params)
