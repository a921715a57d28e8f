"""The two servers as processes, for tests: start-up, signals, kill -9 and exit codes.

``server_process(MOCK, *args)`` runs ``python -m mock_nrfcloud --port 0 ARGS`` (or
``BACKEND``, the reference backend), waits for its "listening on URL" line and yields a
``ServerProcess``; whatever is still running at the end is killed. Async tests use
``await started(...)``, which waits in a thread so that the test's own loop (a mock the
process talks to, say) keeps serving. ``run_module`` runs a command line that ends by
itself (``--help``, a refused option).

Both servers print ``... listening on http://HOST:PORT ...`` first (their cli.py), so one
spawner serves both.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MOCK, BACKEND, HARNESS = "mock_nrfcloud", "reference_backend", "harness"
# Devices and responses both servers `--load` (the README's local stack).
EXAMPLE = ROOT / "mock_nrfcloud" / "data" / "example.yaml"
START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 10
_LISTENING = re.compile(r"listening on (http://\S+)")


class ServerProcess:
    """A server process that has said where it listens; its output is read all along
    (a full pipe would block it) and handed back by ``stop``."""

    def __init__(self, process: subprocess.Popen[str], url: str, first_line: str) -> None:
        self.process = process
        self.url = url
        self.ws_url = url.replace("http://", "ws://", 1) + "/ws"  # the backend's websocket
        self._stdout = [first_line]
        self._stderr: list[str] = []
        self._readers = [
            _drain(process.stdout, self._stdout),
            _drain(process.stderr, self._stderr),
        ]

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill9(self) -> None:
        """SIGKILL and wait: no shutdown code runs (what ``--state`` must survive)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT_S)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Send ``sig`` and wait; the exit code and everything printed."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=STOP_TIMEOUT_S)
        for reader in self._readers:
            reader.join(timeout=STOP_TIMEOUT_S)
        return code, "".join(self._stdout), "".join(self._stderr)


def spawn_module(
    module: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """``python -m <module> ARGS`` started, its output piped; `env`: the whole
    environment, the test process's when None."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def start(module: str, *args: str) -> ServerProcess:
    """``python -m <module> --port 0 ARGS``, once it listens (or an AssertionError with
    what it printed)."""
    process = spawn_module(module, "--port", "0", *args)
    try:
        line = _first_line(process)
    except BaseException:
        process.kill()
        raise
    match = _LISTENING.search(line)
    if match is None:
        if process.poll() is None:
            process.kill()
        stdout, stderr = process.communicate(timeout=STOP_TIMEOUT_S)
        raise AssertionError(f"{module} did not start: {line}{stdout}{stderr}")
    return ServerProcess(process, match.group(1), line)


@contextmanager
def server_process(module: str, *args: str) -> Iterator[ServerProcess]:
    server = start(module, *args)
    try:
        yield server
    finally:
        server.kill9()


async def started(module: str, *args: str) -> ServerProcess:
    return await asyncio.to_thread(start, module, *args)


def run_module(
    module: str,
    *args: str,
    timeout: float = 20,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m <module> ARGS`` to its end (no ``--port 0`` added); `env`: the whole
    environment, the test process's when None."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def _first_line(process: subprocess.Popen[str]) -> str:
    """The first stdout line; empty if there is none within START_TIMEOUT_S (no hanging
    test) or the process ended first."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()))  # type: ignore[union-attr]
    reader.daemon = True
    reader.start()
    reader.join(START_TIMEOUT_S)
    return lines[0] if lines else ""


def _drain(stream: object, into: list[str]) -> threading.Thread:
    def read() -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader
