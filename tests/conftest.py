"""Fixtures shared by the test modules; helpers live in tests/support/.

`redis_url` is a redis-server started for the test session; `store_options` gives
`start_mock` options for each store (in process, Redis), so that a module whose `mock`
fixture takes them runs its tests against both implementations.

`mock` is the mock nRF Cloud in this test's loop, `admin` its client, `http` a client
session.

`stack` is the mock nRF Cloud and a reference backend in this test's loop (a
`support.backend.Stack`). A module that needs other backend options overrides
`stack_options`, e.g. ``@pytest.fixture def stack_options(): return {"nrfcloud_timeout": 0.5}``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from support.backend import Stack, close_stack, open_stack
from support.redis_server import fresh_prefix, redis_server

from mock_nrfcloud.client import MockClient
from mock_nrfcloud.server import RunningMock, start_mock


@pytest.fixture
async def mock() -> AsyncIterator[RunningMock]:
    async with await start_mock() as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


@pytest.fixture
async def admin(mock: RunningMock, http: aiohttp.ClientSession) -> MockClient:
    return MockClient(mock.url, http)


@pytest.fixture
def stack_options() -> dict[str, Any]:
    """`start_backend` options of `stack`, besides open_stack's defaults."""
    return {}


@pytest.fixture
async def stack(stack_options: dict[str, Any]) -> AsyncIterator[Stack]:
    s = await open_stack(**stack_options)
    try:
        yield s
    finally:
        await close_stack(s)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """``redis://127.0.0.1:PORT/0`` of a redis-server started for this test session."""
    with redis_server() as url:
        yield url


@pytest.fixture(params=["memory", "redis"])
def store_options(request: pytest.FixtureRequest) -> dict[str, str]:
    """``start_mock`` options for each store: in process, and Redis (a fresh key prefix
    on the session's redis-server), so one test runs against both implementations."""
    if request.param == "memory":
        return {}
    return {"redis": request.getfixturevalue("redis_url"), "redis_prefix": fresh_prefix()}
