"""The OpenAPI 3.1 description of the admin API, served at ``/__admin/openapi.json``.

Written by hand from MOCK.md and validation.py (the checks there are the truth; this
describes them for tools and people). tests/test_mock_openapi.py holds it to the
router: every admin and bridge route, with every method, must be described here, and a
property-based run (schemathesis) against it must see no 5xx.
"""

from __future__ import annotations

from typing import Any

# The version of this description (bump when the admin API changes).
DESCRIPTION_VERSION = "2.0.0"

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_MATCHER_MAP = {
    "type": "object",
    "description": 'name -> exact value, or "/regex/" / "/regex/i" (RE2)',
    "additionalProperties": {"type": "string"},
}
_BODY_MATCHES = {
    "type": "object",
    "description": 'JSONPath -> expected JSON value or "/regex/"',
    "additionalProperties": True,
}
_ACCOUNT = {
    "type": "string",
    "pattern": "^[\\x21-\\x7e]{1,1024}$",
    "description": "the account: its id (`acct-<16 hex digits>`, or `default`), or the nRF"
    " Cloud API key of `Authorization: Bearer <key>`, which the mock maps to its id",
}
# What the mock shows: always the id, never the key (mock_nrfcloud/accounts.py).
_ACCOUNT_ID = {
    "type": "string",
    "pattern": "^(default|acct-[0-9a-f]{16})$",
    "description": "the account's id: `acct-` and 16 hex digits of the SHA-256 of its API"
    " key (of the host name for a third party's account), or `default`",
}
_ACCOUNT_PARAM = {
    "name": "account",
    "in": "query",
    "required": False,
    "schema": _ACCOUNT,
    "description": "default: `default`",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_PROBLEM = {
    "description": "refused: problem details naming the field",
    "content": {"application/problem+json": {"schema": _ref("Problem")}},
}


def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    body_type: str = "application/json",
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {**responses, "400": _PROBLEM, "403": _PROBLEM, "503": _PROBLEM},
    }
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {body_type: {"schema": body}}}
    return operation


def _int_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 0},
        "description": description,
    }


def _string_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": "string"},
            "description": description}  # fmt: skip


_JOURNAL_LIST = _json(
    {
        "type": "object",
        "properties": {
            "requests": {"type": "array", "items": _ref("JournalEntry")},
            "count": {"type": "integer"},
            "dropped": {"type": "integer"},
        },
        "required": ["requests", "count"],
    }
)

_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "field": {"type": ["string", "null"]},
        },
        "required": ["type", "title", "status", "detail"],
    },
    "ResponseSpec": {
        "type": "object",
        "additionalProperties": False,
        "required": ["method", "path"],
        "properties": {
            "account": _ACCOUNT,
            "method": {"type": "string", "pattern": "^[A-Za-z]{1,32}$"},
            "path": {"type": "string", "pattern": "^/", "maxLength": 8192},
            "query": _MATCHER_MAP,
            "body_matches": _BODY_MATCHES,
            "status": {"type": "integer", "minimum": 200, "maximum": 599},
            "reason": {"type": ["string", "null"], "maxLength": 256},
            "headers": {
                "oneOf": [
                    _STRING_MAP,
                    {
                        "type": "array",
                        "items": {
                            "type": "array",
                            "items": {"type": "string"},
                            "minItems": 2,
                            "maxItems": 2,
                        },
                    },
                    {"type": "null"},
                ]
            },
            "body": {"description": "text, or any JSON value (sent as JSON)"},
            "body_base64": {"type": ["string", "null"], "contentEncoding": "base64"},
            "keep": {"type": "boolean"},
            "times": {"type": "integer", "minimum": 1, "maximum": 1_000_000_000},
            "ttl_s": {"type": ["number", "null"], "exclusiveMinimum": 0},
            "delay_ms": {"type": ["integer", "null"], "minimum": 0, "maximum": 600_000},
            "fault": {"enum": ["reset", "empty", None]},
            "template": {
                "type": "boolean",
                "description": "render {{request.…}}, {{uuid}}, {{now}} in body and headers",
            },
        },
    },
    "QueuedResponse": {
        "allOf": [_ref("ResponseSpec")],
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "remaining": {"type": ["integer", "null"]},
            "served": {"type": "integer"},
            "created": {"type": "string"},
            "expires_at": {"type": ["string", "null"]},
        },
    },
    "Find": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "account": _ACCOUNT,
            "method": {"type": "string", "pattern": "^[A-Za-z]{1,32}$"},
            "path": {"type": "string", "minLength": 1, "description": 'exact, or "/regex/"'},
            "query": _MATCHER_MAP,
            "headers": _MATCHER_MAP,
            "body_matches": _BODY_MATCHES,
            "limit": {"type": "integer", "minimum": 0},
        },
    },
    "JournalEntry": {
        "type": "object",
        "description": "one call; `Authorization` values are redacted (`Bearer <redacted>`)",
        "properties": {
            "id": {"type": "integer"},
            "time": {"type": "string"},
            "account": _ACCOUNT_ID,
            "method": {"type": "string"},
            "path": {"type": "string"},
            "query": _STRING_MAP,
            "headers": _STRING_MAP,
            "body": {"type": ["string", "null"]},
            "body_base64": {"type": ["string", "null"]},
            "response": {"type": "object"},
        },
    },
    "DeviceMessage": {
        "type": "object",
        "required": ["deviceId", "transport"],
        "properties": {
            "account": _ACCOUNT,
            "deviceId": {"type": "string"},
            "transport": {"enum": ["mqtt", "coap"]},
            "topic": {"type": "string"},
            "method": {"type": "string"},
            "resource": {"type": "string"},
            "payload": {},
            "payloadBase64": {"type": "string"},
        },
    },
}


def admin_openapi() -> dict[str, Any]:
    """The description, as a JSON-ready dict (a fresh copy each time)."""
    account = [_ACCOUNT_PARAM]
    html = {"description": "the page", "content": {"text/html": {"schema": {"type": "string"}}}}
    sse = {
        "description": "server-sent events",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
    paths: dict[str, Any] = {
        "/__admin": {"get": _op("redirect to the dashboard", {"302": {"description": "to /"}})},
        "/__admin/": {"get": _op("the dashboard", {"200": html})},
        "/__admin/openapi.json": {"get": _op("this description", {"200": _json({})})},
        "/__admin/health": {
            "get": _op(
                "health",
                {"200": _json({"type": "object", "properties": {"status": {"const": "ok"}}})},
            )
        },
        "/__admin/accounts": {
            "get": _op(
                "accounts (by id) with their counts; with `account` (a key or an id), also"
                " the id it names",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "accounts": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {"account": _ACCOUNT_ID},
                                    },
                                },
                                "account": _ACCOUNT_ID,
                            },
                        }
                    )
                },
                parameters=account,
            )
        },
        "/__admin/responses": {
            "get": _op(
                "pending responses of an account",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "responses": {"type": "array", "items": _ref("QueuedResponse")}
                            },
                        }
                    )
                },
                parameters=account,
            ),
            "post": _op(
                "queue a response",
                {"201": _json(_ref("QueuedResponse"), "queued")},
                body=_ref("ResponseSpec"),
            ),
            "delete": _op(
                "remove every pending response of an account",
                {"200": _json({"type": "object", "properties": {"deleted": {"type": "integer"}}})},
                parameters=account,
            ),
        },
        "/__admin/responses/raw": {
            "post": _op(
                "queue a response given as raw HTTP (`HTTP/1.1 200 OK` ...)",
                {"201": _json(_ref("QueuedResponse"), "queued")},
                parameters=[
                    _ACCOUNT_PARAM,
                    _string_param("method", "the method to match"),
                    _string_param("path", "the path to match"),
                    _string_param("query", "a JSON object of query matchers"),
                    _string_param("body_matches", "a JSON object of body matchers"),
                    _string_param("keep", "true: serve every time"),
                    _string_param("template", "true: render templates"),
                    _int_param("times", "one-shot uses"),
                    _string_param("ttl_s", "seconds until it expires"),
                    _int_param("delay_ms", "delay before answering"),
                    _string_param("fault", "reset or empty"),
                ],
                body={"type": "string"},
                body_type="text/plain",
            )
        },
        "/__admin/responses/{id}": {
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": _op(
                "one pending response",
                {"200": _json(_ref("QueuedResponse")), "404": _PROBLEM},
            ),
            "delete": _op(
                "remove one pending response", {"204": {"description": "gone"}, "404": _PROBLEM}
            ),
        },
        "/__admin/requests": {
            "get": _op(
                "journal entries, oldest first",
                {"200": _JOURNAL_LIST},
                parameters=[
                    _ACCOUNT_PARAM,
                    _string_param("method", "only this method"),
                    _string_param("path", 'only this path (or "/regex/")'),
                    _int_param("since", "after this entry id"),
                    _int_param("limit", "at most this many"),
                    _int_param("last", "only the newest N"),
                ],
            ),
            "delete": _op(
                "clear the journal of an account",
                {"204": {"description": "cleared"}},
                parameters=account,
            ),
        },
        "/__admin/requests/find": {
            "post": _op("journal entries that match", {"200": _JOURNAL_LIST}, body=_ref("Find"))
        },
        "/__admin/requests/count": {
            "post": _op(
                "how many journal entries match",
                {"200": _json({"type": "object", "properties": {"count": {"type": "integer"}}})},
                body=_ref("Find"),
            )
        },
        "/__admin/requests/stream": {
            "get": _op(
                "new journal entries as server-sent events",
                {"200": sse},
                parameters=[_ACCOUNT_PARAM, _int_param("since", "replay after this id")],
            )
        },
        "/__admin/reset": {
            "post": _op("everything back to empty (or to --load)", {"200": _json({})})
        },
        "/__admin/device-messages": {
            "post": _op(
                "a simulated device sends a message (journaled, on the bridge feed)",
                {
                    "201": _json(
                        {
                            "type": "object",
                            "properties": {"seq": {"type": "integer"}, "topic": {"type": "string"}},
                        }
                    )
                },
                body=_ref("DeviceMessage"),
            )
        },
        "/__bridge/messages": {
            "get": _op(
                "the account's message-bridge feed (polling); account from the bearer key"
                " (401 for a key of the id form)",
                {"200": _json({"type": "object"})},
                parameters=[
                    _int_param("since", "after this seq"),
                    _int_param("limit", "at most this many (1 to 1000)"),
                ],
            )
        },
        "/__bridge/stream": {
            "get": _op(
                "the account's message-bridge feed as server-sent events; account from the"
                " bearer key (401 for a key of the id form)",
                {"200": sse},
                parameters=[_int_param("since", "after this seq")],
            )
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mock nRF Cloud: admin API",
            "version": DESCRIPTION_VERSION,
            "description": "Queue responses, read the journal, send device messages. Loopback"
            " only by default; no CORS unless --admin-origin. See mock_nrfcloud/README.md.",
        },
        "paths": paths,
        "components": {"schemas": _SCHEMAS},
    }
