"""The event bus: fan-out in order, and a listener never breaks the run."""

from harness.events import EventBus, Log


def test_a_listener_that_raises_is_logged_and_the_next_still_hears(caplog):
    heard = []

    def broken(event):
        raise RuntimeError("reporter bug")

    bus = EventBus(clock=lambda: 0.0)
    bus.subscribe(broken)
    bus.subscribe(heard.append)
    bus.emit(Log(run_id="r", step_id=None, level="info", message="m"))
    assert [e.type for e in heard] == ["log"]
    assert "reporter bug" in caplog.text
