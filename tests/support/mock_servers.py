"""The mock as a process (``mock_process``) and in a thread (``ThreadedMock``), for tests.

``mock_process`` runs ``python -m mock_nrfcloud`` (kill -9 and start-up tests);
``ThreadedMock`` runs it in a thread with its own event loop, so that blocking clients
(hypothesis, schemathesis) can drive it.
"""

from __future__ import annotations

import asyncio
import http.client
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from mock_nrfcloud.server import RunningMock, start_mock

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "mock_nrfcloud" / "data" / "example.yaml"
START_TIMEOUT_S = 15


@contextmanager
def mock_process(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``python -m mock_nrfcloud --port 0 ARGS``; yields the process and its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_nrfcloud", "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = _readline(process, START_TIMEOUT_S)
        match = re.search(r"listening on (http://\S+) ", line)
        assert match, f"unexpected first line {line!r}"
        yield process, match.group(1)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def _readline(process: subprocess.Popen[str], timeout: float) -> str:
    """The first stdout line, or fail after ``timeout`` seconds (no hanging test)."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()))  # type: ignore[union-attr]
    reader.daemon = True
    reader.start()
    reader.join(timeout)
    if not lines:
        process.kill()
        raise AssertionError(f"the mock did not start: {process.communicate(timeout=5)[1]}")
    return lines[0]


class ThreadedMock:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.mock: RunningMock = asyncio.run_coroutine_threadsafe(start_mock(), self.loop).result(
            timeout=10
        )
        parts = urlsplit(self.mock.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 0

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, str, bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type") or "", response.read()
        finally:
            connection.close()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.mock.stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
