"""Problem details (RFC 9457) for the admin API.

The names are the reference backend's (reference_backend/problems.py): `Problem` is
raised, `problem_response` answers it, `bad_request`/`not_found` make the usual ones;
the two servers share the shape, not the code.

Every refusal of the admin API is an ``application/problem+json`` body that names the
offending field, so that a spec author or a frontend developer can fix the input
without reading the mock's source.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from aiohttp import web

PROBLEM_JSON = "application/problem+json"
_TYPE_BASE = "urn:mock-nrfcloud:problem:"


class Problem(Exception):
    """An admin request the mock refuses; rendered as problem+json."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        field: str | None = None,
        kind: str = "invalid-input",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field
        self.kind = kind
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": _TYPE_BASE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "field": self.field,
        }


def bad_request(detail: str, *, field: str | None = None, kind: str = "invalid-field") -> Problem:
    """A 400 for one field of the admin input (``field`` uses dotted/indexed paths)."""
    return Problem(400, "Invalid admin input", detail, field=field, kind=kind)


def not_found(detail: str, *, field: str | None = None) -> Problem:
    return Problem(404, "Not found", detail, field=field, kind="not-found")


def method_not_allowed(method: str, allowed: Iterable[str]) -> Problem:
    """A 405 naming the methods the path takes (also in ``Allow``)."""
    allow = ", ".join(allowed)
    return Problem(
        405,
        "Method not allowed",
        f"{method} is not supported here; use {allow}",
        field="method",
        kind="method-not-allowed",
        headers={"Allow": allow},
    )


class StoreUnavailable(Exception):
    """The shared store (``--redis``) could not be reached or refused a command."""


# What a store raises when it cannot keep a change: answered 503 (``state_failed``).
STORE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, StoreUnavailable)


def state_failed(error: Exception) -> Problem:
    """A 503 for a call whose change or journal entry could not be written to ``--state``
    (or, with ``--redis``, to Redis)."""
    if isinstance(error, StoreUnavailable):
        return Problem(
            503,
            "Redis unavailable",
            f"the mock could not reach its Redis store ({error}); the call may not be remembered.",
            kind="state-unavailable",
            headers={"Retry-After": "1"},
        )
    return Problem(
        503,
        "State file unavailable",
        f"the mock could not write its state file ({error}); is another program holding"
        " a lock on it, or is the disk full? The call may not be remembered.",
        kind="state-unavailable",
        headers={"Retry-After": "1"},
    )


def problem_response(problem: Problem) -> web.Response:
    return web.Response(
        status=problem.status,
        body=json.dumps(problem.to_dict()).encode(),
        content_type=PROBLEM_JSON,
        headers=problem.headers,
    )
