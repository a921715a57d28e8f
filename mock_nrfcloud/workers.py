"""``mock-nrfcloud --workers N --redis URL``: N mock processes listening on one port.

Each worker is the mock's own command line with ``--reuse-port``: every process binds
the port with SO_REUSEPORT and the kernel spreads new connections over them. They share
queues, journal and feeds through Redis, so they answer as one mock. This parent
process starts them, waits until each listens, prints one ``listening on`` line, starts
a worker again if one dies, and stops them all on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from types import FrameType

_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0
_LISTENING = re.compile(r"listening on (http://\S+)")


def _die_with_parent() -> None:
    """In the worker, before it runs: SIGTERM when this parent ends, even by kill -9 (a
    parent killed hard would otherwise leave its workers holding the port)."""
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _reserve_port(host: str, port: int) -> tuple[socket.socket, int]:
    """A socket bound to the port with SO_REUSEPORT (not listening: it takes no calls),
    so that port 0 becomes a concrete port no other program takes while workers start."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock, sock.getsockname()[1]


def _without_workers(argv: list[str]) -> list[str]:
    """The command line minus ``--workers N`` and ``--port P`` (set per worker)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--workers", "--port"):
            skip = True
            continue
        if arg.startswith(("--workers=", "--port=")):
            continue
        out.append(arg)
    return out


class _Worker:
    def __init__(self, argv: list[str], number: int) -> None:
        self.argv = argv
        self.number = number
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "mock_nrfcloud", *self.argv],
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    def wait_listening(self) -> str | None:
        """The URL the worker printed, or None when it ended or timed out first."""
        assert self.process.stdout is not None
        found: list[str] = []

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                match = _LISTENING.search(line)
                if match:
                    found.append(match.group(1))
                    break
                sys.stdout.write(line)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(_START_TIMEOUT_S)
        if not found:
            return None
        # Pass on what the worker prints later (its stop line), without blocking it.
        threading.Thread(target=self._forward, daemon=True).start()
        return found[0]

    def _forward(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if "mock-nrfcloud stopped" not in line:
                sys.stdout.write(line)

    def restart(self) -> None:
        self.process = self._spawn()
        self.wait_listening()


def run_workers(args: argparse.Namespace, argv: list[str]) -> int:
    """Run ``args.workers`` mock processes on one port until SIGINT or SIGTERM."""
    try:
        reservation, port = _reserve_port(args.host, args.port)
    except OSError as error:
        print(f"mock-nrfcloud: cannot listen on {args.host}:{args.port}: {error.strerror}",
              file=sys.stderr)  # fmt: skip
        return 1
    worker_argv = [*_without_workers(argv), "--port", str(port), "--reuse-port"]
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    workers = [_Worker(worker_argv, n) for n in range(args.workers)]
    try:
        urls = [worker.wait_listening() for worker in workers]
        reservation.close()
        if any(url is None for url in urls):
            print("mock-nrfcloud: a worker did not start (see its message above)",
                  file=sys.stderr)  # fmt: skip
            return 2
        url = urls[0]
        print(f"mock-nrfcloud listening on {url} (dashboard: {url}/__admin/)"
              f" with {args.workers} workers sharing {args.redis}", flush=True)  # fmt: skip
        while not stopping.wait(0.5):
            for worker in workers:
                if worker.process.poll() is not None and not stopping.is_set():
                    print(f"mock-nrfcloud: worker {worker.number} ended"
                          f" (exit {worker.process.returncode}); starting it again",
                          file=sys.stderr, flush=True)  # fmt: skip
                    worker.restart()
    finally:
        reservation.close()
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.terminate()
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        for worker in workers:
            try:
                worker.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
    print("mock-nrfcloud stopped", flush=True)
    return 0
