"""Fixtures shared by the mock's tests: one real redis-server per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.redis_server import fresh_prefix, redis_server


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
