"""Raw HTTP blocks as specs write them.

A response block::

    HTTP/1.1 200 OK
    Content-Type: application/json

    {"jobId": "..."}

A request block starts with ``POST /v1/fota-jobs?x=1 HTTP/1.1`` instead. Header lines
are ``Name: value`` (the value may contain colons), a blank line ends the head, and
the body is everything after it, byte for byte. The head accepts LF or CRLF line
endings; one trailing newline of the block itself is not part of the body (fenced
code blocks always end with one).

This module is shared by the mock (``POST /__admin/responses/raw``) and by the spec
steps, so that there is exactly one parser for these blocks.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "RawHttpError",
    "RawRequest",
    "RawResponse",
    "parse_raw_request",
    "parse_raw_response",
]

_STATUS_LINE = re.compile(r"^HTTP/(\d+(?:\.\d+)?)[ \t]+(\d+)(?:[ \t]+(.*?))?[ \t]*$")
_REQUEST_LINE = re.compile(r"^([A-Za-z]+)[ \t]+(\S+)(?:[ \t]+HTTP/(\d+(?:\.\d+)?))?[ \t]*$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class RawHttpError(ValueError):
    """A raw block that cannot be parsed; ``line`` is 1-based within the block."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


class _Message:
    """Helpers shared by requests and responses."""

    headers: list[tuple[str, str]]
    body: str
    body_line: int

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def is_json(self) -> bool:
        content_type = self.header("Content-Type") or ""
        media = content_type.split(";", 1)[0].strip().lower()
        return media == "application/json" or media.endswith("+json")

    def json(self) -> Any:
        """The body parsed as JSON.

        None for an empty body, or for a body that is neither declared JSON nor
        parseable as JSON. A body declared JSON that does not parse raises
        ``RawHttpError`` pointing at the offending line of the block.
        """
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except json.JSONDecodeError as error:
            if not self.is_json():
                return None
            raise RawHttpError(
                self.body_line + error.lineno - 1,
                f"the body is declared JSON but does not parse: {error.msg} (column {error.colno})",
            ) from None


@dataclass
class RawResponse(_Message):
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: str
    body_line: int = field(default=0, repr=False, compare=False)


@dataclass
class RawRequest(_Message):
    method: str
    path: str
    query: dict[str, str]
    headers: list[tuple[str, str]]
    body: str
    body_line: int = field(default=0, repr=False, compare=False)


def _split_block(text: str, kind: str) -> tuple[int, str, list[tuple[int, str]], str, int]:
    """Split a block into (first line number, first line, header lines, body, body line)."""
    if not isinstance(text, str):
        raise RawHttpError(1, f"expected the raw HTTP {kind} as text")
    # One trailing newline belongs to the block (a fenced code block), not the body.
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    pos = 0
    number = 0
    first: tuple[int, str] | None = None
    heads: list[tuple[int, str]] = []
    while pos <= len(text):
        end = text.find("\n", pos)
        line_end = len(text) if end == -1 else end
        line = text[pos:line_end].removesuffix("\r")
        number += 1
        next_pos = line_end + 1
        if first is None:
            if line.strip():
                first = (number, line)
            # Leading blank lines are tolerated; they are not a head.
        elif line.strip() == "":
            # The blank line: the rest is the body, byte for byte.
            body = text[next_pos:] if end != -1 else ""
            return first[0], first[1], heads, body, number + 1
        else:
            heads.append((number, line))
        if end == -1:
            break
        pos = next_pos
    if first is None:
        expected = "`HTTP/1.1 200 OK`" if kind == "response" else "`GET /path HTTP/1.1`"
        raise RawHttpError(1, f"the block is empty; expected a first line like {expected}")
    return first[0], first[1], heads, "", number + 1


def _parse_headers(lines: list[tuple[int, str]]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for number, line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise RawHttpError(
                number,
                f"expected a header line `Name: value` or a blank line before the body,"
                f" got {line.strip()!r}",
            )
        # Leading whitespace would be an obsolete line folding: refuse it via the regex.
        name = name.rstrip()
        if not _HEADER_NAME.match(name):
            raise RawHttpError(
                number, f"expected a header name before `:` (letters, digits, `-`), got {name!r}"
            )
        headers.append((name, value.strip()))
    return headers


def parse_raw_response(text: str) -> RawResponse:
    """Parse a block whose first line is ``HTTP/1.1 <status> [reason]``."""
    first_number, first, heads, body, body_line = _split_block(text, "response")
    match = _STATUS_LINE.match(first.strip())
    if not match:
        raise RawHttpError(
            first_number, f"expected a status line like `HTTP/1.1 200 OK`, got {first.strip()!r}"
        )
    status = int(match.group(2))
    if len(match.group(2)) != 3 or not 100 <= status <= 599:
        raise RawHttpError(first_number, f"expected a status code from 100 to 599, got {status}")
    reason = match.group(3) or ""
    if not reason:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
    return RawResponse(status, reason, _parse_headers(heads), body, body_line)


def parse_raw_request(text: str) -> RawRequest:
    """Parse a block whose first line is ``METHOD /path?query [HTTP/1.1]``.

    The target may also be an absolute URL; only its path and query are kept. The
    path is percent-decoded (as servers see it), the query becomes name -> value.
    """
    first_number, first, heads, body, body_line = _split_block(text, "request")
    match = _REQUEST_LINE.match(first.strip())
    if not match:
        raise RawHttpError(
            first_number,
            f"expected a request line like `POST /v1/fota-jobs HTTP/1.1`, got {first.strip()!r}",
        )
    method, target = match.group(1), match.group(2)
    if method != method.upper():
        raise RawHttpError(first_number, f"expected an upper-case method, got {method!r}")
    if target.startswith(("http://", "https://")):
        parts = urlsplit(target)
        path, query_text = parts.path or "/", parts.query
    elif target.startswith("/"):
        path, _, query_text = target.partition("?")
    else:
        raise RawHttpError(
            first_number, f"expected the request target to start with `/`, got {target!r}"
        )
    query = dict(parse_qsl(query_text, keep_blank_values=True))
    return RawRequest(method, unquote(path), query, _parse_headers(heads), body, body_line)
