"""The admin API's OpenAPI 3.1 description: complete, served, and fuzzed (issue 16).

Every admin and bridge route of the router is described with all its methods, and a
bounded property-based run of schemathesis against the description (loopback only)
sees no 5xx.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import aiohttp
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from support.mock_servers import ThreadedMock

from mock_nrfcloud.admin import ADMIN_ROUTES
from mock_nrfcloud.app import create_app
from mock_nrfcloud.openapi import admin_openapi
from mock_nrfcloud.server import start_mock
from mock_nrfcloud.store import Store

_METHODS = {"get", "post", "put", "patch", "delete"}


def test_every_admin_route_is_described() -> None:
    described = {
        (method.upper(), path)
        for path, item in admin_openapi()["paths"].items()
        for method in item
        if method in _METHODS
    }
    routes = set(create_app(Store())[ADMIN_ROUTES])
    assert len(routes) >= 18
    assert routes - described == set()
    assert described - routes == set()


async def test_the_description_is_served() -> None:
    async with await start_mock() as mock, aiohttp.ClientSession() as http:
        response = await http.get(mock.url + "/__admin/openapi.json")
        assert response.status == 200
        document = await response.json()
    assert document["openapi"] == "3.1.0"
    assert re.fullmatch(r"\d+\.\d+\.\d+", document["info"]["version"])


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedMock]:
    running = ThreadedMock()
    yield running
    running.stop()


# Streams never end (not for a fuzzer); the rest is fuzzed.
schema = schemathesis.openapi.from_dict(admin_openapi()).exclude(path_regex="stream$")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_admin_input_gives_a_5xx(case: schemathesis.Case, server: ThreadedMock) -> None:
    response = case.call(base_url=server.mock.url, timeout=10)
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
