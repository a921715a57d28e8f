"""Per-device back-off of the location and Memfault pollers (reference_backend/backoff.py)."""

from reference_backend.backoff import Backoff


def ticks(backoff: Backoff, device: str, connection: int, n: int, found: bool = False) -> str:
    """n ticks; after each due poll, report `found`. 'x' polled, '.' skipped."""
    out = ""
    for _ in range(n):
        if backoff.due(device, connection):
            backoff.polled(device, found)
            out += "x"
        else:
            out += "."
    return out


def test_empty_polls_double_the_gap_up_to_the_cap() -> None:
    backoff = Backoff(cap=4)
    assert ticks(backoff, "d", 1, 16) == "x.x...x...x...x."


def test_a_poll_that_finds_something_polls_every_tick_again() -> None:
    backoff = Backoff(cap=4)
    ticks(backoff, "d", 1, 8)
    while not backoff.due("d", 1):
        pass
    backoff.polled("d", True)
    assert ticks(backoff, "d", 1, 3, found=True) == "xxx"


def test_a_new_connection_starts_afresh() -> None:
    backoff = Backoff(cap=16)
    ticks(backoff, "d", 1, 10)
    assert backoff.due("d", 2)  # reconnected: the first tick polls at once


def test_devices_back_off_independently_and_gone_ones_are_forgotten() -> None:
    backoff = Backoff(cap=16)
    ticks(backoff, "a", 1, 10)
    assert backoff.due("b", 2)
    backoff.keep_only({"b"})
    assert backoff.due("a", 1)  # forgotten: polled at once when it is back
