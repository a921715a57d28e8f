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
"""

from __future__ import annotations

import gc
import sys
import threading

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
    global _collector_held
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command in COLLECTOR_HELD and gc.isenabled():
        gc.disable()
        _collector_held = True
    if command in PRELOADED:
        preload(PRELOADED[command])
    from harness.cli import main as cli_main

    return cli_main()
