"""A step that fails the first N times in a process: what --rerun-failed is for."""

from behave import step

_seen: dict[str, int] = {}


@step("this step fails the first `{times:d}` times for `{key}`")
def fails_at_first(ctx, times: int, key: str) -> None:
    _seen[key] = _seen.get(key, 0) + 1
    assert _seen[key] > times, f"attempt {_seen[key]} for {key} fails on purpose"
