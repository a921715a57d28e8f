"""Problem details (`application/problem+json`), the one shape of every error answer.

The names are the mock's too (mock_nrfcloud/problems.py): `Problem` is raised,
`problem_response` answers it, `bad_request`/`not_found`/... make the usual ones; the
two servers share the shape, not the code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aiohttp import web

from reference_backend.contexts import PROBLEM_DETAIL

PROBLEM_JSON = "application/problem+json"


def problem_body(status: int, detail: str, title: str | None = None) -> dict[str, Any]:
    """The problem document for `status` with a human-readable `detail`."""
    return {
        "@context": PROBLEM_DETAIL,
        "title": title or _phrase(status),
        "status": status,
        "detail": detail,
    }


class Problem(Exception):
    """Raised anywhere below a handler; the problem middleware turns it into the answer."""

    def __init__(
        self,
        status: int,
        detail: str,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.headers = dict(headers or {})


def problem_response(problem: Problem) -> web.Response:
    """The answer for `problem` (the problems middleware in app.py sends it)."""
    return web.Response(
        status=problem.status,
        text=json.dumps(problem_body(problem.status, problem.detail, problem.title)),
        content_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def bad_request(detail: str) -> Problem:
    return Problem(400, detail)


def not_found(detail: str) -> Problem:
    return Problem(404, detail)


def forbidden(detail: str) -> Problem:
    return Problem(403, detail)


def conflict(detail: str) -> Problem:
    return Problem(409, detail)


def bad_gateway(detail: str) -> Problem:
    return Problem(502, detail)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
