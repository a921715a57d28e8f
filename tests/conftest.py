"""Fixtures shared by the test modules; helpers live in tests/support/.

`stack` is the mock nRF Cloud and a reference backend in this test's loop (a
`support.backend.Stack`). A module that needs other backend options overrides
`stack_options`, e.g. ``@pytest.fixture def stack_options(): return {"nrfcloud_timeout": 0.5}``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from support.backend import Stack, close_stack, open_stack


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
