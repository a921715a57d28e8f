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
"""

from __future__ import annotations

import sys
import threading

# Only `run` uses aiohttp: `check`, `steps` and `report` would pay for it for nothing.
PRELOADED = {"run": ("aiohttp",)}


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


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command in PRELOADED:
        preload(PRELOADED[command])
    from harness.cli import main as cli_main

    cli_main()
