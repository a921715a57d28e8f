"""Matchers for queued responses and journal searches.

One convention everywhere: a string written ``/regex/`` or ``/regex/i`` is a regular
expression (searched, so anchor it with ``^...$`` for a whole match); anything else
must be equal. Matchers are compiled once, when a response is queued or a search
starts, so that serving a request only runs the compiled form.

User regular expressions run on RE2 (``google-re2``), whose matching time is linear in
the input: a pattern such as ``(a+)+$`` cannot stall the server for other clients, as
Python's backtracking ``re`` would. RE2 has no backreferences or lookaround; such a
pattern is refused when it is queued, naming the field.

A body matcher never fails on a deeply nested body: a document or JSONPath that runs
out of recursion simply does not match.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import re2
from jsonpath_ng import JSONPath
from jsonpath_ng.ext import parse as parse_jsonpath

from mock_nrfcloud.jsonequal import json_equal

TextMatcher = Callable[[str], bool]

_MISSING = object()


class MatcherError(ValueError):
    """A matcher that cannot be compiled; ``field`` names where it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# RE2 memory per compiled pattern: bounds what one user pattern can take.
_RE2_MAX_MEM = 8 << 20


def _re2_options(ignore_case: bool) -> Any:
    options = re2.Options()
    options.log_errors = False  # the error goes to the admin caller, not to stderr
    options.case_sensitive = not ignore_case
    options.max_mem = _RE2_MAX_MEM
    options.never_capture = True  # matchers only ask whether it matches
    return options


_OPTIONS = {False: _re2_options(False), True: _re2_options(True)}


class LinearRegex:
    """A compiled RE2 pattern with ``search(text) -> bool``.

    google-re2's public ``search`` builds a match object through a Python generator
    (about 7 µs a call here against 0.4 µs for ``re``); asking the compiled RE2 object
    directly takes about 1.4 µs (benchmarks/RESULTS.md). That object is not public API,
    so it is checked once at import and the public ``search`` used if it changed.
    """

    __slots__ = ("_match", "search")

    def __init__(self, compiled: Any) -> None:
        raw = getattr(compiled, "_regexp", None)
        if _RAW_MATCH_WORKS and raw is not None:
            match = raw.Match

            def search(text: str) -> bool:
                data = text.encode("utf-8", "surrogatepass")
                return match(_UNANCHORED, data, 0, len(data))[0][0] != -1

        else:
            public = compiled.search

            def search(text: str) -> bool:
                return public(text) is not None

        self.search = search


def _raw_match_works() -> bool:
    try:
        raw = re2.compile("b+", _OPTIONS[False])._regexp
        unanchored = re2._Anchor.UNANCHORED
        hit, miss = raw.Match(unanchored, b"abb", 0, 3), raw.Match(unanchored, b"a", 0, 1)
        return hit[0] == (1, 3) and miss[0][0] == -1
    except Exception:  # any change in the binding: use the public API
        return False


_RAW_MATCH_WORKS = _raw_match_works()
_UNANCHORED = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)


def compile_regex(source: str, ignore_case: bool = False) -> LinearRegex:
    """A user regular expression on RE2 (linear time); ``re.error`` if RE2 refuses it."""
    try:
        return LinearRegex(re2.compile(source, _OPTIONS[ignore_case]))
    except re2.error as error:
        reason = error.args[0] if error.args else error
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise re.error(
            f"{reason} (the mock runs RE2, a linear-time engine: no backreferences or lookaround)"
        ) from None


def regex_of(value: str) -> LinearRegex | None:
    """The compiled regex when ``value`` is written ``/.../`` or ``/.../i``, else None.

    Raises ``re.error`` for an invalid expression.
    """
    if len(value) >= 2 and value[0] == "/":
        if value.endswith("/i") and len(value) >= 3:
            return compile_regex(value[1:-2], ignore_case=True)
        if value[-1] == "/":
            return compile_regex(value[1:-1])
    return None


def text_matcher(value: str, field: str) -> TextMatcher:
    """Compile a string matcher (equality, or a ``/regex/``)."""
    try:
        pattern = regex_of(value)
    except re.error as error:
        raise MatcherError(field, f"invalid regular expression {value!r}: {error}") from None
    if pattern is None:
        return value.__eq__
    return pattern.search


def _shown(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class QueryMatcher:
    """Every expected parameter must be present and match; extra parameters are fine."""

    __slots__ = ("_expected", "_items")

    def __init__(self, expected: Mapping[str, str], field: str = "query") -> None:
        self._items = [
            (name, text_matcher(value, f"{field}.{name}")) for name, value in expected.items()
        ]
        self._expected = dict(expected)

    def __call__(self, query: Mapping[str, str]) -> bool:
        for name, matches in self._items:
            actual = query.get(name)
            if actual is None or not matches(actual):
                return False
        return True

    def explain(self, query: Mapping[str, str]) -> str | None:
        """Why ``query`` does not match (the first parameter that fails), or None."""
        for name, matches in self._items:
            actual = query.get(name)
            expected = _shown(self._expected[name])
            if actual is None:
                return f"query parameter {name}: expected {expected}, missing"
            if not matches(actual):
                return f"query parameter {name}: expected {expected}, got {_shown(actual)}"
        return None


class HeaderMatcher:
    """Like ``QueryMatcher`` with case-insensitive header names."""

    __slots__ = ("_items",)

    def __init__(self, expected: Mapping[str, str], field: str = "headers") -> None:
        self._items = [
            (name.lower(), text_matcher(value, f"{field}.{name}"))
            for name, value in expected.items()
        ]

    def __call__(self, headers: Mapping[str, str]) -> bool:
        lowered = {name.lower(): value for name, value in headers.items()}
        for name, matches in self._items:
            actual = lowered.get(name)
            if actual is None or not matches(actual):
                return False
        return True


class BodyMatcher:
    """JSONPath expressions mapped to an expected value or a ``/regex/``.

    An expression holds when some value it selects equals the expected JSON value (or,
    for a regex, is a string the regex finds). A body that is not JSON fails them all.
    """

    __slots__ = ("_expected", "_items")

    def __init__(self, expected: Mapping[str, Any], field: str = "body_matches") -> None:
        self._expected = list(expected.items())
        items: list[tuple[JSONPath, Callable[[Any], bool]]] = []
        for expression, value in expected.items():
            where = f"{field}.{expression}"
            try:
                path = parse_jsonpath(expression)
            except Exception as error:  # jsonpath-ng raises several unrelated types
                raise MatcherError(where, f"invalid JSONPath {expression!r}: {error}") from None
            items.append((path, self._value_matcher(value, where)))
        self._items = items

    @staticmethod
    def _value_matcher(value: Any, field: str) -> Callable[[Any], bool]:
        if isinstance(value, str):
            try:
                pattern = regex_of(value)
            except re.error as error:
                raise MatcherError(
                    field, f"invalid regular expression {value!r}: {error}"
                ) from None
            if pattern is not None:
                search = pattern.search
                return lambda actual: isinstance(actual, str) and search(actual)
        return lambda actual: json_equal(value, actual)

    def __call__(self, document: Any) -> bool:
        if document is _MISSING:
            return False
        try:
            for path, matches in self._items:
                if not any(matches(found.value) for found in path.find(document)):
                    return False
        except RecursionError:  # a body nested deeper than the JSONPath walk can go
            return False
        return True

    def explain(self, document: Any) -> str | None:
        """Why ``document`` does not match (the first expression that fails), or None."""
        if document is _MISSING:
            return "body matchers: the body is not JSON"
        for (expression, value), (path, matches) in zip(self._expected, self._items, strict=True):
            try:
                found = [f.value for f in path.find(document)]
            except RecursionError:
                return f"body matcher {expression}: the body is nested too deeply"
            if not any(matches(v) for v in found):
                got = "nothing" if not found else ", ".join(_shown(v) for v in found[:3])
                return f"body matcher {expression}: expected {_shown(value)}, found {got}"
        return None


class LazyJsonBody:
    """A request body parsed as JSON at most once, and only if a matcher asks."""

    __slots__ = ("_body", "_parsed")

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._parsed: Any = None

    def get(self) -> Any:
        """The parsed document, or a sentinel that every body matcher rejects."""
        if self._parsed is None:
            try:
                self._parsed = json.loads(self._body) if self._body else _MISSING
            except (ValueError, UnicodeDecodeError, RecursionError):
                self._parsed = _MISSING
            if self._parsed is None:  # the JSON literal null
                self._parsed = _NULL
        return None if self._parsed is _NULL else self._parsed


_NULL = object()


def normalize_path(path: str) -> str:
    """Paths compare with a trailing slash aside."""
    if len(path) > 1 and path.endswith("/"):
        return path.rstrip("/") or "/"
    return path
