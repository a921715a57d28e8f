"""The remote target against a mock and backend started by hand, as README.md shows."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from support.processes import BACKEND, MOCK, ROOT, server_process


@pytest.fixture(scope="module")
def remote_stack() -> Iterator[tuple[str, str]]:
    """A mock and a backend started by hand: the backend's URL and the mock's."""
    with server_process(MOCK) as mock, server_process(
        BACKEND, "--nrfcloud", mock.url, "--admin-token", "s3cret", "--shadow-interval", "0.2",
        "--job-interval", "0.2", "--log-level", "WARNING",
    ) as backend:  # fmt: skip
        try:
            yield backend.url, mock.url
        finally:
            backend.stop()
            mock.stop()


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness", "run", *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=120,
    )


def test_specs_pass_against_a_hand_started_stack(remote_stack, tmp_path):
    api_url, mock_url = remote_stack
    config = tmp_path / "remote.yaml"
    config.write_text(f"api_url: {api_url}\nmock_url: {mock_url}\nadmin_token: s3cret\n")
    done = run(
        "specs/FOTA.feature.md",
        "tests/specs/vars",
        "--var",
        "greeting=hello world",
        "--target",
        "remote",
        "--target-config",
        str(config),
        "--no-reports",
    )
    assert done.returncode == 0, done.stdout + done.stderr  # vars: VERSION from /health


def test_an_admin_token_refusal_is_exit_3_with_the_url(remote_stack, tmp_path):
    api_url, mock_url = remote_stack
    reports = tmp_path / "reports"
    for token in ("wrong", ""):
        done = run(
            "specs/FOTA.feature.md",
            "--target",
            "remote",
            "--api-url",
            api_url,
            "--mock-url",
            mock_url,
            "--admin-token",
            token,
            "--reports",
            str(reports),
        )
        assert done.returncode == 3, done.stdout + done.stderr
        assert f"POST {api_url}/__admin/devices refused the admin token" in done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""
        assert not reports.exists() or not list(reports.iterdir())
