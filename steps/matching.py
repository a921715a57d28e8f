"""The one JSON matcher module: exact, partial and deep partial matches that explain themselves.

- equal: the same JSON value (1 equals 1.0; "1" does not equal 1; true is not 1): the
  mock's rule (mock_nrfcloud/jsonequal.py), held to it by tests/test_json_equality.py.
- partial ("should match"): every expected key present and matching recursively; arrays
  of the same length, item by item.
- deep partial ("matches", websocket): objects as partial; an expected array matches an
  actual array when each expected item deep-partially matches some actual item.

A failure raises `MatchFailure` (an AssertionError) whose message names the JSON path of
the first difference with expected and actual, and whose `detail` holds a short diff.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from mock_nrfcloud.jsonequal import same_scalar

EQUAL, PARTIAL, DEEP = "equal", "partial", "deep"


class MatchFailure(AssertionError):
    def __init__(self, message: str, detail: str | None = None):
        super().__init__(message)
        self.detail = detail


def difference(expected: Any, actual: Any, mode: str = PARTIAL, path: str = "$") -> str | None:
    """The first difference as `at PATH: expected X, got Y`, or None when they match."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return _got(path, "an object", actual)
        if mode == EQUAL and set(actual) - set(expected):
            extra = sorted(set(actual) - set(expected))[0]
            return f"at {_key(path, extra)}: unexpected key, value {_show(actual[extra])}"
        for key, value in expected.items():
            if key not in actual:
                return f"at {_key(path, key)}: expected {_show(value)}, but the key is missing"
            found = difference(value, actual[key], mode, _key(path, key))
            if found:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return _got(path, "an array", actual)
        if mode == DEEP:
            return _deep_array(expected, actual, path)
        if len(expected) != len(actual):
            return (
                f"at {path}: expected an array of {len(expected)} item(s), "
                f"got {len(actual)}: {_show(actual)}"
            )
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            found = difference(e, a, mode, f"{path}[{i}]")
            if found:
                return found
        return None
    if not same_scalar(expected, actual):
        return f"at {path}: expected {_show(expected)}, got {_show(actual)}"
    return None


def _deep_array(expected: list, actual: list, path: str) -> str | None:
    for i, item in enumerate(expected):
        misses = [difference(item, a, DEEP, f"{path}[{j}]") for j, a in enumerate(actual)]
        if all(misses):
            closest = min(misses, key=lambda m: -len(m.split(":")[0])) if misses else None
            why = f" (closest: {closest})" if closest else " (the array is empty)"
            return f"at {path}: no item matches expected item {i} {_show(item)}{why}"
    return None


def check(expected: Any, actual: Any, mode: str = PARTIAL, what: str = "value") -> None:
    """Raise MatchFailure unless `actual` matches `expected` in `mode`."""
    found = difference(expected, actual, mode)
    if found:
        verb = {EQUAL: "does not equal", PARTIAL: "does not match", DEEP: "does not match"}[mode]
        raise MatchFailure(
            f"{what} {verb} the expected JSON: {found}", diff(expected, actual, mode)
        )


def diff(expected: Any, actual: Any, mode: str = PARTIAL) -> str:
    """A unified diff of expected against actual (for partial modes, only compared keys)."""
    shown = actual if mode == EQUAL else project(actual, expected)
    a = pretty(expected).splitlines()
    b = pretty(shown).splitlines()
    return "\n".join(difflib.unified_diff(a, b, "expected", "actual", lineterm="", n=2))


def project(actual: Any, expected: Any) -> Any:
    """`actual` limited to the keys `expected` names, so a diff shows what was compared."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {k: project(actual[k], expected[k]) for k in expected if k in actual}
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [project(a, e) for a, e in zip(actual, expected, strict=True)]
    return actual


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def _got(path: str, wanted: str, actual: Any) -> str:
    return f"at {path}: expected {wanted}, got {_show(actual)}"


def _key(path: str, key: str) -> str:
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{json.dumps(key)}]"


def _show(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"
