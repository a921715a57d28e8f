"""Console output: progress, failures with diffs, and the summary line CI reads; the
events come from the real runner playing fixture specs (tests/specs/reports)."""

from __future__ import annotations

import asyncio
import io
import re

import pytest
from support.reports import SPECS, play

from harness.report.console import REDRAW_EVERY, ConsoleReporter, summary_line, use_color

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SUMMARY = "6 passed, 2 failed, 2 skipped"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def played():
    return play(SPECS / "reports")


def replay(events, stream=None, *, close=True, **options) -> str:
    """The same events through a console of its own (it keeps its own read model)."""
    stream = stream if stream is not None else io.StringIO()
    console = ConsoleReporter(stream, **options)
    for event in events:
        console(event)
    if close:
        console.close()
    return stream.getvalue()


def cut_after_first_feature_run(events):
    return events[: next(i for i, e in enumerate(events) if e.type == "feature_finished") + 1]


def test_last_line_is_exactly_the_summary(played):
    assert played.output.endswith(f"\n{SUMMARY}\n")
    assert played.output.splitlines()[-1] == summary_line(played.outcome.counts)


def test_not_a_terminal_prints_one_line_per_scenario_and_feature_run_without_colour(played):
    out = played.output
    assert not ANSI.search(out)
    lines = out.splitlines()
    assert any(
        line.startswith("  ✓ Device FOTA [nw=ltem] › Schedule the FOTA job ") for line in lines
    )
    assert any(line.startswith("  ✗ Device FOTA [nw=nbiot] › Check the status") for line in lines)
    assert any(
        line.startswith("✗ Device FOTA [nw=nbiot]  failed · 5/7 steps passed") for line in lines
    )
    assert "– Device map  skipped · needs 'Device FOTA [nw=nbiot]', which failed" in lines


def test_failures_show_step_place_message_distinct_errors_and_diff(played):
    out = played.output
    failures = out[out.index("Failures (2):") :]
    assert "2) Device FOTA [nw=nbiot] › Check the status" in failures
    assert "✗ Soon the job status in `nbiot` should be (failed after 4 attempts)" in failures
    assert "FOTA.feature.md:37" in failures
    assert 'at $.status: expected "COMPLETED", got "IN_PROGRESS"' in failures
    assert '     +  "status": "IN_PROGRESS"' in failures
    # Each different failure once, with how often: not a line per attempt.
    assert "       attempt 1: no job yet" in failures
    assert '       attempts 2-4 (3x): at $.status: expected "COMPLETED"' in failures
    assert failures.count("no job yet") == 1
    assert '1) Arithmetic <html> & "quotes" › Add 5 and 5 [a=5, b=5, sum=11]' in failures


def test_retried_steps_are_not_called_flaky(played):
    assert "flaky" not in played.output
    assert "3 steps passed after retries" in played.output


def test_colour_when_asked_but_never_with_no_color(played, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    coloured = replay(played.events, color=True)
    assert "\x1b[31m" in coloured
    assert coloured.splitlines()[-1] == SUMMARY  # never coloured
    monkeypatch.setenv("NO_COLOR", "1")
    assert not ANSI.search(replay(played.events, color=True))


def test_auto_colour_follows_the_terminal(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Terminal(), None) and not use_color(io.StringIO(), None)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Terminal(), None)


def test_quiet_prints_only_failures_and_summary(played):
    out = replay(played.events, quiet=True)
    lines = [line for line in out.splitlines() if line]
    assert lines[0] == "Failures (2):"
    assert lines[-1] == SUMMARY
    assert "Schedule the FOTA job" not in out and "feature runs" not in out


def test_quiet_passing_run_is_one_line(tmp_path):
    spec = tmp_path / "Pass.feature.md"
    spec.write_text("# Pass\n\n## S\n\nGiven I store `1` into `x`\n", encoding="utf-8")
    assert play(spec, quiet=True).output == "1 passed, 0 failed, 0 skipped\n"


def test_verbose_prints_steps_logs_and_attachments(played):
    out = replay(played.events, verbose=True)
    assert '    ✓ And I store `"bc631093"` into `jobId`' in out
    assert "      progress: waiting for POST /v1/fota-jobs" in out
    assert re.search(
        r"      attempt 1 failed: no matching request in the journal \(1 seen\) "
        r"\(next in \d+ ms\)",
        out,
    )
    assert "      http POST http://127.0.0.1:8000/device/92b.y7i24q/fota/app" in out
    assert "      ws-in 92b.y7i24q:" in out
    assert "(passed after 3 attempts)" in out


def test_terminal_redraws_a_status_area_then_leaves_a_clean_summary(played, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    events = played.events
    # The status area shows a Soon step waiting, with its attempt.
    cut = next(
        i for i, e in enumerate(events) if e.type == "step_attempt" and e.attempt == 2 and e.error
    )
    partial = replay(events[: cut + 1], Terminal(), close=False, color=False)
    assert "\x1b[" in partial  # cursor movement: redrawn in place
    assert "⏳ attempt 2: Soon " in partial
    out = replay(events, Terminal(), color=False)
    tail = out[out.rindex("\x1b[J") + 3 :]  # after the last erase of the status area
    assert "running," not in tail
    assert tail.endswith(f"\n{SUMMARY}\n")


def test_interrupted_stream_still_ends_with_a_summary(played):
    out = replay(cut_after_first_feature_run(played.events))
    assert "Interrupted: the summary and reports cover what ran." in out
    assert out.endswith("\n2 passed, 1 failed, 7 skipped\n")


def test_summary_printed_once_whatever_the_order_of_close(played):
    stream = io.StringIO()
    console = ConsoleReporter(stream)
    for event in played.events:
        console(event)
    console.close()
    console.close()
    assert stream.getvalue().count(SUMMARY) == 1


async def test_on_the_runners_loop_a_throttled_update_is_drawn_later(played):
    stream = Terminal()
    console = ConsoleReporter(stream, color=False)
    events = played.events
    first_step = next(i for i, e in enumerate(events) if e.type == "step_finished")
    for event in events[: first_step + 1]:  # too soon after the feature start to be drawn
        console(event)
    assert stream.getvalue().endswith(" · 0/6 steps\n")
    await asyncio.sleep(REDRAW_EVERY * 2)
    assert stream.getvalue().endswith(" › Add 1 and 2 [a=1, b=2, sum=3] · 1/6 steps\n")


def test_a_broken_stream_never_raises(played):
    class Broken(io.StringIO):
        def write(self, text):
            raise BrokenPipeError

    console = ConsoleReporter(Broken(), verbose=True)
    for event in played.events:
        console(event)
    console.close()
