"""Reading a request's JSON body: every way it can be wrong is a 4xx problem."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from reference_backend import app_keys
from reference_backend.problems import Problem, bad_request


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def read_json(request: web.Request) -> Any:
    limit = request.app[app_keys.CONFIG].max_body_bytes  # aiohttp enforces it too while reading
    if request.content_length is not None and request.content_length > limit:
        raise Problem(413, f"The body is larger than {limit} bytes.")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as e:
        raise Problem(413, f"The body is larger than {limit} bytes.") from e
    if not raw.strip():
        raise bad_request("The body is empty; a JSON object is expected.")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as e:
        raise bad_request("The body is not UTF-8 text.") from e
    except RecursionError as e:
        raise bad_request("The body is nested too deeply.") from e
    except ValueError as e:
        raise bad_request(f"The body is not valid JSON: {e}.") from e
