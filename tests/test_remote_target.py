"""The remote target against a mock and backend started by hand, as README.md shows."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LISTENING = re.compile(r"listening on (http://\S+)")


def start(*args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", *args, "--port", "0"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    for line in proc.stdout:
        if m := LISTENING.search(line):
            # keep reading what it logs, so a full pipe never blocks the server
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, m.group(1)
    proc.wait()
    raise AssertionError(f"{args[0]} did not start")


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[str, str]]:
    mock, mock_url = start("mock_nrfcloud")
    try:
        backend, api_url = start("reference_backend", "--nrfcloud", mock_url, "--admin-token",
                                 "s3cret", "--shadow-interval", "0.2", "--job-interval", "0.2",
                                 "--log-level", "WARNING")
        try:
            yield api_url, mock_url
        finally:
            backend.terminate()
            backend.wait(10)
    finally:
        mock.terminate()
        mock.wait(10)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", "run", *args], cwd=ROOT,
                          text=True, capture_output=True, timeout=120)


def test_specs_pass_against_a_hand_started_stack(stack, tmp_path):
    api_url, mock_url = stack
    config = tmp_path / "remote.yaml"
    config.write_text(f"api_url: {api_url}\nmock_url: {mock_url}\nadmin_token: s3cret\n")
    done = run("specs/FOTA.feature.md", "tests/specs/vars", "--var", "greeting=hello world",
               "--target", "remote", "--target-config", str(config), "--no-reports")
    assert done.returncode == 0, done.stdout + done.stderr  # vars: VERSION from /health


def test_an_admin_token_refusal_is_exit_3_with_the_url(stack, tmp_path):
    api_url, mock_url = stack
    reports = tmp_path / "reports"
    for token in ("wrong", ""):
        done = run("specs/FOTA.feature.md", "--target", "remote", "--api-url", api_url,
                   "--mock-url", mock_url, "--admin-token", token, "--reports", str(reports))
        assert done.returncode == 3, done.stdout + done.stderr
        assert f"POST {api_url}/__admin/devices refused the admin token" in done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""
        assert not reports.exists() or not list(reports.iterdir())
