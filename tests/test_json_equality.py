"""JSON equality is written twice on purpose: a yes/no for the mock's hot path
(mock_nrfcloud/jsonequal.py `json_equal`) and an explaining matcher for the steps
(steps/matching.py `difference` in EQUAL mode). One table holds both to the same rule."""

from __future__ import annotations

from typing import Any

import pytest

from mock_nrfcloud.jsonequal import json_equal
from steps.matching import EQUAL, difference

EQUAL_CASES: list[tuple[Any, Any]] = [
    (1, 1),
    (1, 1.0),
    (0, -0.0),
    (1.5, 1.5),
    ("a", "a"),
    (True, True),
    (False, False),
    (None, None),
    ({}, {}),
    ([], []),
    ({"a": [1, 2.0]}, {"a": [1.0, 2]}),
    ({"a": {"b": None}}, {"a": {"b": None}}),
    ([{"x": "y"}, [True]], [{"x": "y"}, [True]]),
]
UNEQUAL_CASES: list[tuple[Any, Any]] = [
    (True, 1),
    (1, True),
    (False, 0),
    (0, False),
    ("1", 1),
    (1, "1"),
    (None, 0),
    (None, False),
    ("", None),
    (1, 2),
    ({"a": 1}, {"a": 1, "b": 2}),
    ({"a": 1, "b": 2}, {"a": 1}),
    ({"a": 1}, {"b": 1}),
    ([1, 2], [2, 1]),
    ([1], [1, 1]),
    ([1, 1], [1]),
    ({}, []),
    ([], {}),
    ([1], {"0": 1}),
    ({"a": [True]}, {"a": [1]}),
    ("a", ["a"]),
]


@pytest.mark.parametrize(("expected", "actual"), EQUAL_CASES)
def test_equal_in_both(expected: Any, actual: Any) -> None:
    assert json_equal(expected, actual)
    assert difference(expected, actual, EQUAL) is None


@pytest.mark.parametrize(("expected", "actual"), UNEQUAL_CASES)
def test_unequal_in_both(expected: Any, actual: Any) -> None:
    assert not json_equal(expected, actual)
    assert difference(expected, actual, EQUAL) is not None
