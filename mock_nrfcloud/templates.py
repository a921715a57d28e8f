"""Response templates: a queued body that uses the request's values and fresh ones.

Opt-in per response (``"template": true``), so no existing body ever changes. In the
body (text, or the strings of a JSON body) and in header values, ``{{expression}}`` is
replaced when the response is served:

| expression | value |
|---|---|
| ``request.method`` | the call's method |
| ``request.path`` | the call's path |
| ``request.path.N`` | the N-th path segment from 0 (``/v1/jobs/abc``: ``.2`` is ``abc``) |
| ``request.query.NAME`` | the query parameter (its first value) |
| ``request.body.A.B`` | a field of the JSON request body (a number selects a list item) |
| ``uuid`` | a new random UUID |
| ``now`` | the time, ``2024-06-03T10:00:00.123Z`` |
| ``now.ms`` | the time in milliseconds since 1970 |

A value that is not there (no such segment, parameter or field) is the empty string. In
a JSON body a string that is exactly one expression takes the value's JSON type
(``"{{request.body.count}}"`` becomes ``3``, or ``null`` when missing); within longer
text a non-string value is written as JSON. A bad template (an unknown expression, a
``{{`` without ``}}``) is refused when it is queued.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mock_nrfcloud.wire import iso_time

_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_NAME = re.compile(r"[A-Za-z0-9_\-.~%*@$]+")
_MISSING = object()


class TemplateError(ValueError):
    """A template that cannot be compiled; the message says what is wrong."""


@dataclass(frozen=True)
class Call:
    """What a template can read of the call being answered."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else _MISSING
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _MISSING


Getter = Callable[[Call, dict[str, Any]], Any]


def _compile_expression(text: str) -> Getter:
    expression = text.strip()
    if expression == "uuid":
        return lambda call, memo: str(uuid.uuid4())
    if expression == "now":
        return lambda call, memo: iso_time(memo.setdefault("now", time.time()))
    if expression == "now.ms":
        return lambda call, memo: int(memo.setdefault("now", time.time()) * 1000)
    if expression == "request.method":
        return lambda call, memo: call.method
    if expression == "request.path":
        return lambda call, memo: call.path
    head, _, rest = expression.partition(".")
    kind, _, name = rest.partition(".")
    if head == "request" and name and kind in ("path", "query", "body"):
        if not _NAME.fullmatch(name):
            raise TemplateError(f"{{{{{expression}}}}}: {name!r} is not a name")
        if kind == "path":
            if not name.isdigit():
                raise TemplateError(
                    f"{{{{{expression}}}}}: a path segment is a number from 0, e.g. request.path.2"
                )
            index = int(name)
            return lambda call, memo: _segment(call.path, index)
        if kind == "query":
            return lambda call, memo: call.query.get(name, _MISSING)
        keys = name.split(".")
        return lambda call, memo: _field(memo, call, keys)
    raise TemplateError(
        f"unknown template expression {{{{{expression}}}}}; known: request.method,"
        " request.path, request.path.N, request.query.NAME, request.body.FIELD, uuid, now,"
        " now.ms"
    )


def _segment(path: str, index: int) -> Any:
    segments = path.strip("/").split("/")
    return segments[index] if index < len(segments) else _MISSING


def _field(memo: dict[str, Any], call: Call, keys: list[str]) -> Any:
    if "json" not in memo:
        memo["json"] = call.json()  # parsed once per answer, and only if asked
    value = memo["json"]
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key, _MISSING)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return _MISSING
    return value


class TextTemplate:
    """A string with ``{{...}}`` expressions, compiled once."""

    __slots__ = ("_parts", "whole")

    def __init__(self, text: str) -> None:
        parts: list[str | Getter] = []
        position = 0
        for match in _EXPRESSION.finditer(text):
            parts.append(text[position : match.start()])
            parts.append(_compile_expression(match.group(1)))
            position = match.end()
        tail = text[position:]
        if "{{" in tail:
            raise TemplateError(f"a {{{{ without }}}} in {text[:80]!r}")
        parts.append(tail)
        self._parts = [p for p in parts if p != ""]
        # Exactly one expression: in JSON the value keeps its type.
        self.whole = len(self._parts) == 1 and not isinstance(self._parts[0], str)

    @property
    def static(self) -> bool:
        return all(isinstance(p, str) for p in self._parts)

    def value(self, call: Call, memo: dict[str, Any]) -> Any:
        """The one expression's value (``whole`` templates), None when missing."""
        getter = self._parts[0]
        assert not isinstance(getter, str)
        value = getter(call, memo)
        return None if value is _MISSING else value

    def render(self, call: Call, memo: dict[str, Any]) -> str:
        out = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = part(call, memo)
            if value is _MISSING or value is None:
                continue
            out.append(value if isinstance(value, str) else json.dumps(value))
        return "".join(out)


class ResponseTemplate:
    """The templated body and header values of one queued response."""

    def __init__(self, body: Any, headers: tuple[tuple[str, str], ...]) -> None:
        """Raises ``TemplateError`` naming the field (``body``, ``headers.NAME``)."""
        self._json = not isinstance(body, str | None)
        try:
            self._body = _compile_json(body) if self._json else TextTemplate(body or "")
        except TemplateError as error:
            raise TemplateError(f"body: {error}") from None
        compiled = []
        for name, value in headers:
            try:
                compiled.append((name, TextTemplate(value)))
            except TemplateError as error:
                raise TemplateError(f"headers.{name}: {error}") from None
        self._headers = compiled

    def render(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[tuple[tuple[str, str], ...], bytes]:
        """Header pairs and body bytes for this call."""
        call = Call(method, path, query, body)
        memo: dict[str, Any] = {}
        headers = tuple(
            (name, _one_line(template.render(call, memo))) for name, template in self._headers
        )
        if self._json:
            rendered = _render_json(self._body, call, memo)
            return headers, json.dumps(rendered, separators=(",", ":")).encode()
        assert isinstance(self._body, TextTemplate)
        return headers, self._body.render(call, memo).encode("utf-8", "replace")


def _one_line(text: str) -> str:
    """A header value cannot carry line breaks or control characters."""
    return "".join(" " if (ord(c) < 32 and c != "\t") or c == "\x7f" else c for c in text)


def _compile_json(value: Any) -> Any:
    if isinstance(value, str):
        template = TextTemplate(value)
        return value if template.static else template
    if isinstance(value, list):
        return [_compile_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _compile_json(item) for key, item in value.items()}
    return value


def _render_json(value: Any, call: Call, memo: dict[str, Any]) -> Any:
    if isinstance(value, TextTemplate):
        return value.value(call, memo) if value.whole else value.render(call, memo)
    if isinstance(value, list):
        return [_render_json(item, call, memo) for item in value]
    if isinstance(value, dict):
        return {key: _render_json(item, call, memo) for key, item in value.items()}
    return value
