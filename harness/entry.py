"""The `spec-harness` entry point (and `python -m harness`): for `run`, aiohttp is
imported on a second thread while this one imports and starts the rest.

aiohttp builds its two default TLS contexts when aiohttp.connector is imported, loading
the system's CA certificates twice (~70 ms, a tenth of a FOTA run's whole process).
aiohttp's own comment there asks for its import to happen "before the event loop starts
or in a thread"; OpenSSL loads the certificates with the GIL released, so on a second
core that time overlaps with the harness's own imports, the parsing and the planning.
Python's import lock makes the main thread's `import aiohttp` wait for (and then share)
the module the thread is importing, so nothing is imported twice or half. The thread is
only a head start: if it fails, the main thread's import fails the ordinary way.

The cyclic garbage collector is off while the process starts: start-up creates ~60,000
objects that live as long as the process (modules, classes, functions, compiled
patterns), and each of the ~130 collections their allocation triggered traversed them
again (50–80 ms of a FOTA run, and a full collection at exit). `started()`, called once
the target and the reporters are up, moves them to the permanent generation
(`gc.freeze()`), where collections do not look, and turns the collector back on for the
run. (Cyclic garbage made while starting is frozen with the rest: a one-off, bounded by
what planning allocates.) `check` runs whole without the collector: it is all start-up.
`steps` and `report` keep it: `report` may fold a large events file.

`run` with file reports starts the report writer (harness/report/worker.py) before
anything else, so the second process has its imports done on the other core by the
time the run begins; a run that never gets to reporting ends it unused.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.report.worker import WorkerProcess

# Only `run` uses aiohttp: `check`, `steps` and `report` would pay for it for nothing.
PRELOADED = {"run": ("aiohttp",)}
COLLECTOR_HELD = {"run", "check"}


def preload(modules: tuple[str, ...]) -> threading.Thread:
    """Import `modules` on a daemon thread (started); a failure is left for whoever
    imports them next, which raises it with its own traceback."""

    def work() -> None:
        for name in modules:
            try:
                __import__(name)
            except Exception:  # the main thread's own import reports it
                return

    thread = threading.Thread(target=work, name="preload " + ", ".join(modules), daemon=True)
    thread.start()
    return thread


_collector_held = False  # main() turned the collector off; started() turns it back on
_writer: subprocess.Popen[bytes] | None = None  # the report writer main() started
_worker: WorkerProcess | None = None


def start_report_writer() -> subprocess.Popen[bytes] | None:
    """`python -m harness.report.worker`, started (only `subprocess` imported so far,
    so it starts at once); None when it cannot be (the run writes in-process)."""
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "harness.report.worker"], stdin=subprocess.PIPE
        )
    except OSError:
        return None


def report_worker() -> WorkerProcess | None:
    """The report writer started for this `run`, if any (None in a test calling
    `cli.main()`: the reports are then written in-process)."""
    global _worker
    if _worker is None and _writer is not None:
        from harness.report.worker import WorkerProcess

        _worker = WorkerProcess(_writer)
    return _worker


def started() -> None:
    """Start-up is over (the run begins): what it allocated is kept out of every later
    collection, and the collector runs again. Nothing unless main() turned it off, so
    `cli.main()` called in a long-lived process (a test) leaves the collector alone."""
    global _collector_held
    if _collector_held:
        _collector_held = False
        gc.freeze()
        gc.enable()


def main() -> int:
    global _collector_held, _writer
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    # Not for watch mode, which writes its reports in-process after each run.
    if command == "run" and not {"--no-reports", "--watch"} & set(sys.argv):
        _writer = start_report_writer()
    if command in COLLECTOR_HELD and gc.isenabled():
        gc.disable()
        _collector_held = True
    if command in PRELOADED:
        preload(PRELOADED[command])
    try:
        from harness.cli import main as cli_main

        return cli_main()
    finally:
        worker = report_worker()
        if worker is not None:
            worker.discard()  # unless the run claimed it
