"""Console output: progress, failures with diffs, and the summary line CI reads."""

from __future__ import annotations

import asyncio
import io
import re

from harness.report.console import REDRAW_EVERY, ConsoleReporter, summary_line, use_color
from harness.report.demo import demo_events, demo_script

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def play(events, stream=None, *, close=True, **options) -> str:
    stream = stream if stream is not None else io.StringIO()
    console = ConsoleReporter(stream, **options)
    for event in events:
        console(event)
    if close:
        console.close()
    return stream.getvalue()


def test_last_line_is_exactly_the_summary():
    script = demo_script()
    out = play(script.events)
    assert out.endswith("\n6 passed, 2 failed, 2 skipped\n")
    assert out.splitlines()[-1] == summary_line(script.scenario_counts)


def test_not_a_terminal_prints_one_line_per_scenario_and_feature_run_without_colour():
    out = play(demo_events())
    assert not ANSI.search(out)
    lines = out.splitlines()
    assert "  ✓ Device FOTA [nw=ltem] › Schedule the FOTA job 170 ms" in lines
    assert any(line.startswith("  ✗ Device FOTA [nw=nbiot] › Check the status") for line in lines)
    assert any(line.startswith("✗ Device FOTA [nw=nbiot]  failed · 7/9 steps passed")
               for line in lines)
    assert "– Device map  skipped · needs 'Device FOTA [nw=nbiot]', which failed" in lines


def test_failures_show_step_place_message_and_diff():
    out = play(demo_events())
    failures = out[out.index("Failures (2):"):]
    assert "1) Device FOTA [nw=nbiot] › Check the status" in failures
    assert "✗ Soon `$.jobs[0]` of the last response should match (4 attempts)" in failures
    assert "specs/FOTA.feature.md:62" in failures
    assert 'at $.jobs[0].status: expected "COMPLETED", got "IN_PROGRESS"' in failures
    assert '     +  "status": "IN_PROGRESS"' in failures
    assert "2) Arithmetic <html> & \"quotes\" › Add 5 and 5 [a=5, b=5, sum=11]" in failures


def test_colour_when_asked_but_never_with_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    coloured = play(demo_events(), color=True)
    assert "\x1b[31m" in coloured
    assert coloured.splitlines()[-1] == "6 passed, 2 failed, 2 skipped"  # never coloured
    monkeypatch.setenv("NO_COLOR", "1")
    assert not ANSI.search(play(demo_events(), color=True))


def test_auto_colour_follows_the_terminal(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Terminal(), None) and not use_color(io.StringIO(), None)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Terminal(), None)


def test_quiet_prints_only_failures_and_summary():
    out = play(demo_events(), quiet=True)
    lines = [line for line in out.splitlines() if line]
    assert lines[0] == "Failures (2):"
    assert lines[-1] == "6 passed, 2 failed, 2 skipped"
    assert "Schedule the FOTA job" not in out and "feature runs" not in out


def test_quiet_passing_run_is_one_line():
    assert play(demo_events(fail=False), quiet=True) == "10 passed, 0 failed, 0 skipped\n"


def test_verbose_prints_steps_logs_and_attachments():
    out = play(demo_events(), verbose=True)
    assert "    ✓ And I have a random UUIDv4 in `jobId`" in out
    assert "      progress: waiting for POST /v1/fota-jobs" in out
    assert ("      attempt 1 failed: no matching request in the journal (2 seen) (next in 50 ms)"
            in out)
    assert "      http POST http://127.0.0.1:8000/device/" in out
    assert "      ws-in 92b.y7i24q:" in out
    assert "     attempt 4: at $.jobs[0].status" in out  # every attempt of a failure


def test_terminal_redraws_a_status_area_then_leaves_a_clean_summary(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    events = demo_events()
    # The status area shows a Soon step waiting, with its attempt.
    cut = next(i for i, e in enumerate(events)
               if e.type == "step_attempt" and e.attempt == 2 and e.error)
    partial = play(events[:cut + 1], Terminal(), close=False, color=False)
    assert "\x1b[" in partial  # cursor movement: redrawn in place
    assert "⏳ attempt 2: Soon the nRF Cloud API should have been called with" in partial
    out = play(events, Terminal(), color=False)
    tail = out[out.rindex("\x1b[J") + 3:]  # after the last erase of the status area
    assert "running," not in tail
    assert tail.endswith("\n6 passed, 2 failed, 2 skipped\n")


def test_interrupted_stream_still_ends_with_a_summary():
    out = play(demo_events(interrupt_after=6))
    assert "Interrupted: the summary and reports cover what ran." in out
    assert out.endswith("\n3 passed, 0 failed, 3 skipped\n")


def test_summary_printed_once_whatever_the_order_of_close():
    stream = io.StringIO()
    console = ConsoleReporter(stream)
    for event in demo_events():
        console(event)
    console.close()
    console.close()
    assert stream.getvalue().count("6 passed, 2 failed, 2 skipped") == 1


async def test_on_the_runners_loop_a_throttled_update_is_drawn_later():
    stream = Terminal()
    console = ConsoleReporter(stream, color=False)
    events = demo_events()
    for event in events[:6]:  # up to the first StepFinished, too soon to be drawn
        console(event)
    assert stream.getvalue().endswith("  Device FOTA [nw=ltem] · 0/9 steps\n")
    await asyncio.sleep(REDRAW_EVERY * 2)
    assert stream.getvalue().endswith(" › Background · 1/9 steps\n")


def test_a_broken_stream_never_raises():
    class Broken(io.StringIO):
        def write(self, text):
            raise BrokenPipeError

    console = ConsoleReporter(Broken(), verbose=True)
    for event in demo_events():
        console(event)
    console.close()
