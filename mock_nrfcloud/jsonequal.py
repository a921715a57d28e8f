"""JSON equality, the one rule for both products: numbers compare by value (1 == 1.0),
booleans are not numbers (true != 1), strings are not numbers ("1" != 1), objects need
the same keys.

It lives in the mock, which imports nothing of the harness; the step library already
imports the mock (rawhttp.py) and takes `same_scalar` from here for its explaining
matcher (steps/matching.py). tests/test_json_equality.py runs one table of cases
against both.
"""

from __future__ import annotations

from typing import Any


def same_scalar(expected: Any, actual: Any) -> bool:
    """JSON scalar equality: numbers by value (booleans are not numbers), others by type."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual
    return type(expected) is type(actual) and expected == actual


def json_equal(expected: Any, actual: Any) -> bool:
    """The same JSON value: objects with the same keys, arrays item by item, scalars as
    `same_scalar`. A yes/no answer for the mock's hot path (no explanation built)."""
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(json_equal(v, actual[k]) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(json_equal(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return same_scalar(expected, actual)
