"""`POST /feedback`: a user's feedback, passed on to a Teams webhook as a MessageCard
(REAL-SUITE.md §2.5)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from reference_backend import app_keys
from reference_backend.body import read_json
from reference_backend.problems import Problem, bad_gateway, bad_request

_EMAIL = re.compile(r".+@.+")
WEBHOOK_CONTENT_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Feedback:
    email: str
    stars: int
    suggestion: str
    browser: str


def parse_feedback(body: Any) -> Feedback:
    """The feedback of a request body; ValueError naming the first bad field."""
    if not isinstance(body, dict):
        raise ValueError("The body must be a JSON object.")
    email, stars = body.get("email"), body.get("stars")
    suggestion, browser = body.get("suggestion"), body.get("browser")
    if not isinstance(email, str) or not _EMAIL.search(email):
        raise ValueError("`email` must be an e-mail address.")
    if not isinstance(stars, int) or isinstance(stars, bool) or not 1 <= stars <= 5:
        raise ValueError("`stars` must be a whole number from 1 to 5.")
    if not isinstance(suggestion, str):
        raise ValueError("`suggestion` must be a string.")
    if not isinstance(browser, str) or not browser:
        raise ValueError("`browser` must be a non-empty string.")
    return Feedback(email, stars, suggestion, browser)


def message_card(feedback: Feedback) -> dict[str, Any]:
    """The Teams MessageCard the backend posts for a feedback."""
    rating = "★" * feedback.stars + "☆" * (5 - feedback.stars)
    return {
        "summary": "New feedback",
        "themeColor": "00a9ce",
        "title": "New feedback received",
        "sections": [
            {
                "facts": [
                    {"name": "Rating", "value": rating},
                    {"name": "Email", "value": feedback.email},
                    {"name": "Browser", "value": feedback.browser},
                ],
                "text": feedback.suggestion,
            }
        ],
    }


async def post_feedback(request: web.Request) -> web.Response:
    config = request.app[app_keys.CONFIG]
    try:
        feedback = parse_feedback(await read_json(request))
    except ValueError as e:
        raise bad_request(str(e)) from e
    url = config.feedback_webhook_url
    if url is None:
        raise Problem(503, "Feedback is not configured on this backend (no webhook URL).")
    data = json.dumps(message_card(feedback), ensure_ascii=False).encode()
    session = request.app[app_keys.SERVICES].session
    try:
        async with session.post(
            url,
            data=data,
            headers={"Content-Type": WEBHOOK_CONTENT_TYPE},
            timeout=aiohttp.ClientTimeout(total=config.nrfcloud_timeout),
        ) as response:
            status = response.status
    except (aiohttp.ClientError, OSError, TimeoutError) as e:
        raise bad_gateway(f"The feedback webhook could not be reached: {e}") from e
    if not 200 <= status < 300:
        raise bad_gateway(f"The feedback webhook answered with status {status}.")
    return web.Response(status=201)


def add_routes(app: web.Application, base: str = "") -> None:
    app.router.add_post(base + "/feedback", post_feedback)
