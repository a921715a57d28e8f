"""Checking admin input before anything changes.

Each ``parse_*`` function takes untrusted JSON-ish input and returns a canonical,
fully checked form, or raises a 400 ``Problem`` naming the offending field
(``query.deviceIds``, ``responses[2].status``...). Nothing is stored until the whole
input has passed, so a refused call changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any
from urllib.parse import parse_qsl

from mock_nrfcloud.accounts import DEFAULT_ACCOUNT, KEY, address
from mock_nrfcloud.matching import (
    BodyMatcher,
    HeaderMatcher,
    MatcherError,
    QueryMatcher,
    text_matcher,
)
from mock_nrfcloud.problems import Problem, bad_request

FAULTS = ("reset", "empty")

RESPONSE_FIELDS = frozenset(
    {
        "account",
        "method",
        "path",
        "query",
        "body_matches",
        "status",
        "reason",
        "headers",
        "body",
        "body_base64",
        "keep",
        "times",
        "ttl_s",
        "delay_ms",
        "fault",
        "template",
    }
)
FIND_FIELDS = frozenset({"account", "method", "path", "query", "headers", "body_matches", "limit"})

_METHOD = re.compile(r"[A-Za-z]{1,32}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")
# What HTTP/1.1 cannot carry in a header value or reason phrase (tab is fine).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_MAX_DELAY_MS = 600_000
_MAX_TTL_S = 10 * 365 * 24 * 3600
_MAX_TIMES = 1_000_000_000


def _name(prefix: str, field: str) -> str:
    return f"{prefix}{field}"


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# Admin JSON nested deeper than this is refused: what is queued is also encoded again,
# searched with JSONPath and shown, and none of that may run out of recursion.
MAX_JSON_DEPTH = 100


def check_json_input(data: Any) -> None:
    """Refuse admin JSON nested too deeply or holding a lone surrogate (``"\ud800"``).

    A lone surrogate is valid JSON text but no UTF-8 string: it could never be served
    or journaled. Walks the document without recursion.
    """
    stack: list[tuple[Any, str, int]] = [(data, "$", 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value, where)
        elif isinstance(value, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise bad_request(f"nested deeper than {MAX_JSON_DEPTH} levels", field=where)
            if isinstance(value, dict):
                for key, item in value.items():
                    _check_text(key, f"{where}.{key!r}")
                    stack.append((item, f"{where}.{key}", depth + 1))
            else:
                stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))


def _check_text(text: str, where: str) -> None:
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            raise bad_request(
                "a lone surrogate (e.g. \\ud800) is not text; send valid UTF-8", field=where
            ) from None


def require_object(data: Any, field: str = "$") -> dict[str, Any]:
    """``field`` ``$`` is the whole request body."""
    if not isinstance(data, dict):
        raise bad_request(
            f"expected a JSON object, got {_type_name(data)}", field=field, kind="invalid-body"
        )
    return data


def reject_unknown(data: dict[str, Any], allowed: frozenset[str], prefix: str = "") -> None:
    for key in data:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise bad_request(
                f"unknown field {key!r}; known fields: {known}",
                field=_name(prefix, key),
                kind="unknown-field",
            )


def parse_account(value: Any, field: str = "account") -> str:
    """The account id an admin call names: its id (``acct-<16 hex>``, ``default``) or
    its API key, mapped to the id (accounts.py), so that the stores never see a key."""
    if value is None:
        return DEFAULT_ACCOUNT
    if not isinstance(value, str) or not KEY.fullmatch(value):
        raise bad_request(
            "expected the account as a non-empty string of visible ASCII characters"
            " without spaces: its id (acct-<16 hex digits>) or its nRF Cloud API key",
            field=field,
        )
    return address(value)


def parse_method(value: Any, field: str = "method") -> str:
    if not isinstance(value, str) or not _METHOD.fullmatch(value):
        raise bad_request(f'expected an HTTP method such as "GET", got {value!r}', field=field)
    return value.upper()


def parse_path(value: Any, field: str = "path") -> tuple[str, dict[str, str]]:
    """A served path (``/v1/...``); a ``?query`` part becomes exact query matchers."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise bad_request(f'expected a path starting with "/", got {value!r}', field=field)
    if any(c.isspace() for c in value) or len(value) > 8192:
        raise bad_request("expected a path without spaces, at most 8192 characters", field=field)
    path, _, query_text = value.partition("?")
    if path == "/__admin" or path.startswith("/__admin/"):
        raise bad_request(
            "paths under /__admin belong to the admin API and are never served", field=field
        )
    return path, dict(parse_qsl(query_text, keep_blank_values=True))


def parse_string_map(value: Any, field: str, what: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise bad_request(f"expected an object of {what}, got {_type_name(value)}", field=field)
    for key, item in value.items():
        if not isinstance(item, str):
            raise bad_request(
                f'expected a string (equal) or "/regex/", got {_type_name(item)}',
                field=f"{field}.{key}",
            )
    return value


def parse_query(value: Any, field: str = "query") -> dict[str, str] | None:
    if value is None:
        return None
    query = parse_string_map(value, field, 'parameter name -> value or "/regex/"')
    _compile(lambda: QueryMatcher(query, field))
    return query


def parse_body_matches(value: Any, field: str = "body_matches") -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request(
            f'expected an object of JSONPath -> value or "/regex/", got {_type_name(value)}',
            field=field,
        )
    _compile(lambda: BodyMatcher(value, field))
    return value


def _compile(build: Any) -> None:
    try:
        build()
    except MatcherError as error:
        raise bad_request(error.message, field=error.field) from None


def parse_headers(value: Any, field: str = "headers") -> dict[str, str] | list[list[str]] | None:
    """Response headers: an object, or a list of ``[name, value]`` pairs (repeats allowed)."""
    if value is None:
        return None
    if isinstance(value, dict):
        pairs = list(value.items())
        labels = [f"{field}.{name}" for name, _ in pairs]
    elif isinstance(value, list):
        pairs = []
        labels = []
        for index, pair in enumerate(value):
            label = f"{field}[{index}]"
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(isinstance(p, str) for p in pair)
            ):
                raise bad_request("expected a [name, value] pair of strings", field=label)
            pairs.append((pair[0], pair[1]))
            labels.append(label)
    else:
        raise bad_request(
            f"expected an object of header name -> value, got {_type_name(value)}", field=field
        )
    for (name, item), label in zip(pairs, labels, strict=True):
        if not _HEADER_NAME.fullmatch(name):
            raise bad_request(f"invalid header name {name!r}", field=label)
        if not isinstance(item, str):
            raise bad_request(
                f"expected the header value as a string, got {_type_name(item)}", field=label
            )
        if _CONTROL.search(item):
            raise bad_request(
                "a header value cannot contain line breaks or control characters", field=label
            )
    return value


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise bad_request(
                f"expected an integer from {low} to {high}, got {value!r}", field=field
            )
    if not low <= value <= high:
        raise bad_request(f"expected an integer from {low} to {high}, got {value}", field=field)
    return value


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise bad_request(f"expected true or false, got {_type_name(value)}", field=field)
    return value


def parse_response_spec(data: Any, prefix: str = "") -> dict[str, Any]:
    """Check a ``POST /__admin/responses`` body; return its canonical form.

    ``prefix`` is prepended to field names (``responses[3].``) for load files.
    """
    data = require_object(data, prefix.rstrip(".") or "$")
    reject_unknown(data, RESPONSE_FIELDS, prefix)

    def name(field: str) -> str:
        return _name(prefix, field)

    if "method" not in data:
        raise bad_request(
            'the method is required, e.g. "GET"', field=name("method"), kind="missing-field"
        )
    if "path" not in data:
        raise bad_request(
            'the path is required, e.g. "/v1/devices"', field=name("path"), kind="missing-field"
        )
    account = parse_account(data.get("account"), name("account"))
    method = parse_method(data["method"], name("method"))
    path, path_query = parse_path(data["path"], name("path"))
    query = parse_query(data.get("query"), name("query"))
    if path_query:
        # `?a=b` in the path is an exact match; explicit `query` entries win.
        query = {**{k: _literal(v) for k, v in path_query.items()}, **(query or {})}
    body_matches = parse_body_matches(data.get("body_matches"), name("body_matches"))
    status = _int(data.get("status", 200), name("status"), 200, 599)
    reason = data.get("reason")
    if reason is not None and (
        not isinstance(reason, str) or _CONTROL.search(reason) or len(reason) > 256
    ):
        raise bad_request('expected a one-line reason phrase, e.g. "OK"', field=name("reason"))
    headers = parse_headers(data.get("headers"), name("headers"))
    body = data.get("body")
    body_base64 = data.get("body_base64")
    if body_base64 is not None:
        if body is not None:
            raise bad_request(
                "give either body or body_base64, not both", field=name("body_base64")
            )
        if not isinstance(body_base64, str):
            raise bad_request("expected base64 text", field=name("body_base64"))
        try:
            base64.b64decode(body_base64, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("expected valid base64 text", field=name("body_base64")) from None
    keep = _bool(data.get("keep", False), name("keep"))
    if keep and "times" in data:
        raise bad_request(
            "a kept response is served every time; drop times or keep", field=name("times")
        )
    times = _int(data.get("times", 1), name("times"), 1, _MAX_TIMES)
    ttl_s = data.get("ttl_s")
    if ttl_s is not None and (
        isinstance(ttl_s, bool)
        or not isinstance(ttl_s, int | float)
        or not math.isfinite(ttl_s)
        or not 0 < ttl_s <= _MAX_TTL_S
    ):
        raise bad_request(f"expected seconds greater than 0, got {ttl_s!r}", field=name("ttl_s"))
    delay_ms = data.get("delay_ms")
    if delay_ms is not None:
        delay_ms = _int(delay_ms, name("delay_ms"), 0, _MAX_DELAY_MS)
    fault = data.get("fault")
    if fault is not None and fault not in FAULTS:
        raise bad_request(
            f"expected one of {', '.join(FAULTS)}, got {fault!r}", field=name("fault")
        )
    template = _bool(data.get("template", False), name("template"))
    if template:
        _check_template(body, body_base64, headers, name)
    spec = {
        "account": account,
        "method": method,
        "path": path,
        "query": query,
        "body_matches": body_matches,
        "status": status,
        "reason": reason,
        "headers": headers,
        "body": body,
        "body_base64": body_base64,
        "keep": keep,
        "times": 1 if keep else times,
        "ttl_s": ttl_s,
        "delay_ms": delay_ms,
        "fault": fault,
    }
    if template:  # only when set: specs queued without it keep their form
        spec["template"] = True
    return spec


def _check_template(body: Any, body_base64: Any, headers: Any, name: Any) -> None:
    """Compile the templates of a ``template: true`` response, or a 400 naming the field."""
    from mock_nrfcloud.templates import ResponseTemplate, TemplateError

    if body_base64 is not None:
        raise bad_request(
            "templates apply to text and JSON bodies, not body_base64", field=name("template")
        )
    pairs = (
        list(headers.items()) if isinstance(headers, dict) else [tuple(p) for p in headers or []]
    )
    try:
        ResponseTemplate(body, tuple(pairs))
    except TemplateError as error:
        field, _, message = str(error).partition(": ")
        raise bad_request(message, field=name(field), kind="invalid-template") from None


def _literal(value: str) -> str:
    """A query value from a path's ``?a=b``: exact, even if it looks like ``/regex/``."""
    if value.startswith("/") and (value.endswith("/") or value.endswith("/i")):
        escaped = re.escape(value)
        return f"/^{escaped}$/"
    return value


def parse_find(data: Any) -> dict[str, Any]:
    """Check a ``POST /__admin/requests/find`` body."""
    data = require_object(data)
    reject_unknown(data, FIND_FIELDS)
    method = data.get("method")
    if method is not None:
        method = parse_method(method)
    path = data.get("path")
    if path is not None:
        if not isinstance(path, str) or not path:
            raise bad_request('expected a path (equal) or "/regex/"', field="path")
        try:
            text_matcher(path, "path")
        except MatcherError as error:
            raise bad_request(error.message, field=error.field) from None
    query = parse_query(data.get("query"))
    headers = data.get("headers")
    if headers is not None:
        headers = parse_string_map(headers, "headers", 'header name -> value or "/regex/"')
        _compile(lambda: HeaderMatcher(headers))
    body_matches = parse_body_matches(data.get("body_matches"))
    limit = data.get("limit")
    if limit is not None:
        limit = _int(limit, "limit", 0, 10_000_000)
    return {
        "account": parse_account(data.get("account")),
        "method": method,
        "path": path,
        "query": query,
        "headers": headers,
        "body_matches": body_matches,
        "limit": limit,
    }


def parse_int_param(value: str | None, field: str, low: int = 0) -> int | None:
    """An integer query-string parameter of an admin call."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise bad_request(f"expected an integer, got {value!r}", field=field) from None
    if number < low:
        raise bad_request(f"expected an integer of at least {low}, got {number}", field=field)
    return number


def parse_bool_param(value: str | None, field: str) -> bool:
    if value is None or value == "":
        return False
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise bad_request(f"expected true or false, got {value!r}", field=field)


__all__ = [
    "DEFAULT_ACCOUNT",
    "FAULTS",
    "Problem",
    "check_json_input",
    "parse_account",
    "parse_body_matches",
    "parse_bool_param",
    "parse_find",
    "parse_headers",
    "parse_int_param",
    "parse_method",
    "parse_path",
    "parse_query",
    "parse_response_spec",
]
