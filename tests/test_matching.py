"""The JSON matcher: exact, partial and deep partial, with the path of the first difference."""

import pytest

from steps.matching import DEEP, EQUAL, PARTIAL, MatchFailure, check, difference


def test_partial_ignores_extra_keys_but_not_array_length():
    assert difference({"a": 1}, {"a": 1, "b": 2}, PARTIAL) is None
    assert "array of 1 item(s), got 2" in difference({"a": [1]}, {"a": [1, 2]}, PARTIAL)


def test_json_scalar_types():
    assert difference(1, 1.0) is None
    assert difference("1", 1) == 'at $: expected "1", got 1'
    assert difference(True, 1) is not None
    assert difference(None, None) is None


def test_path_of_first_difference():
    found = difference(
        {"jobs": [{"status": "COMPLETED"}]}, {"jobs": [{"status": "IN_PROGRESS"}]}, PARTIAL
    )
    assert found == 'at $.jobs[0].status: expected "COMPLETED", got "IN_PROGRESS"'
    assert (
        difference({"@context": "x"}, {}, PARTIAL)
        == 'at $["@context"]: expected "x", but the key is missing'
    )


def test_deep_partial_arrays_any_order_any_extra():
    actual = {"reported": [{"ObjectID": 14204}, {"ObjectID": 14401, "Resources": {"0": ["A"]}}]}
    assert difference({"reported": [{"ObjectID": 14401}]}, actual, DEEP) is None
    missing = difference({"reported": [{"ObjectID": 1}]}, actual, DEEP)
    assert missing.startswith("at $.reported: no item matches expected item 0")


def test_equal_refuses_extra_keys():
    assert "unexpected key" in difference({"a": 1}, {"a": 1, "b": 2}, EQUAL)


def test_failure_carries_message_and_diff():
    with pytest.raises(MatchFailure) as info:
        check({"status": "COMPLETED", "id": "x"}, {"status": "IN_PROGRESS", "id": "x", "o": 1})
    assert 'at $.status: expected "COMPLETED", got "IN_PROGRESS"' in str(info.value)
    assert '-  "status": "COMPLETED"' in info.value.detail
    assert '"o"' not in info.value.detail  # only compared keys are shown
    assert isinstance(info.value, AssertionError)
