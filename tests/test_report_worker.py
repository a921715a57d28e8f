"""The report writer process (harness/report/worker.py): the same files as in-process,
nothing without a header, reports after the runner is killed, a dead writer said once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from support.processes import ROOT
from support.reports import SPECS, feed, play

from harness.entry import start_report_writer
from harness.report.worker import WorkerProcess
from harness.report.writer import RENDERERS

ASYNC_SLEEP_STEPS = """
import asyncio
import os
from behave import given

@given("an asynchronous step that sleeps {n:d} seconds")
async def sleepy(ctx, n):
    open(os.environ["STEP_MARKER"], "w").close()
    await asyncio.sleep(n)
"""


def _worker() -> WorkerProcess:
    process = start_report_writer()
    assert process is not None
    return WorkerProcess(process)


def test_the_worker_writes_the_same_files_as_the_in_process_reporter(tmp_path):
    here = tmp_path / "in-process"
    played = play(SPECS / "reports", here)
    there = tmp_path / "worker"
    reporter = _worker().reporter(there)
    assert reporter is not None
    feed(reporter, played.events)
    reporter.close()
    assert reporter.process.returncode == 0
    for name in (*RENDERERS, "events.ndjson"):
        assert (there / name).read_bytes() == (here / name).read_bytes(), name


def test_without_a_header_the_worker_writes_nothing(tmp_path):
    worker = _worker()
    worker.discard()
    assert worker.process.returncode == 0
    assert worker.reporter(tmp_path / "reports") is None  # discarded: not claimable
    assert not (tmp_path / "reports").exists()


def test_a_dead_worker_is_said_once_and_the_run_goes_on(tmp_path, capsys):
    played = play(SPECS / "reports")
    worker = _worker()
    reporter = worker.reporter(tmp_path / "reports")
    assert reporter is not None
    worker.process.kill()
    worker.process.wait()
    feed(reporter, played.events)  # no exception reaches the runner
    reporter.close()
    err = capsys.readouterr().err
    assert err.count("the report writer stopped") == 1
    assert str(tmp_path / "reports") in err


def test_reports_are_written_after_the_runner_is_killed(tmp_path):
    steps = tmp_path / "sleepy_steps.py"
    steps.write_text(ASYNC_SLEEP_STEPS)
    spec = tmp_path / "Sleep.feature.md"
    spec.write_text("# Sleep\n\n## S\n\nGiven an asynchronous step that sleeps 300 seconds\n")
    marker, reports = tmp_path / "started", tmp_path / "reports"
    # Output to files: the writer shares the runner's stdout and stderr, so pipes would
    # stay open while it writes.
    with open(tmp_path / "out", "w") as out:
        command = ["run", str(spec), "--steps", str(steps), "--reports", str(reports)]
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness", *command],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "STEP_MARKER": str(marker)},
        )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, (tmp_path / "out").read_text()
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)
    time.sleep(0.5)  # the runner sends what happened at most 0.1 s late
    proc.kill()  # kill -9: no code of the runner's runs
    proc.wait(timeout=10)
    while not (reports / "results.json").exists():
        assert time.monotonic() < deadline, "the writer wrote no reports"
        time.sleep(0.05)
    results = json.loads((reports / "results.json").read_text())
    (feature,) = results["feature_runs"]
    assert feature["name"] == "Sleep" and results["complete"] is False
    assert (reports / "index.html").exists() and (reports / "junit.xml").exists()
