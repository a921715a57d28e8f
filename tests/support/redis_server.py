"""A real ``redis-server`` for tests: started on a free loopback port in a temporary
folder (no snapshots, no append-only file) and stopped by its PID afterwards."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

_START_TIMEOUT_S = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server() -> Iterator[str]:
    """Yields ``redis://127.0.0.1:PORT/0``; ``.ci/run`` installs redis-server."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = (
            "redis-server is not installed; install it (apt-get install redis-server),"
            " as .ci/run does"
        )
        if os.environ.get("CI"):  # CI must run the Redis store's tests, never skip them
            raise RuntimeError(message)
        # A newcomer's first `pytest` (README) passes without it; the Redis store's
        # tests say why they did not run.
        pytest.skip(message)
    with tempfile.TemporaryDirectory(prefix="mock-redis-") as folder:
        for _ in range(5):  # a port taken between choosing and binding: choose again
            port = _free_port()
            process = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", folder],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            deadline = time.monotonic() + _START_TIMEOUT_S
            while process.poll() is None and time.monotonic() < deadline:
                if _answers(port):
                    break
                time.sleep(0.02)
            if process.poll() is None and _answers(port):
                break
            process.kill()
            process.wait()
        else:
            raise RuntimeError("redis-server did not start")
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def fresh_prefix() -> str:
    """A key prefix of its own per test: tests share one server and never meet."""
    return f"t{uuid.uuid4().hex[:12]}:"
