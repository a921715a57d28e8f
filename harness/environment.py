"""Where and how a run ran, for the reports: target, API version, versions, CI build.

`RunStarted.environment` carries this dict; the HTML report shows it, messages.ndjson
puts the CI build in `meta.ci`. The CI build is read from the variables GitHub
Actions, GitLab CI and Jenkins set; nothing is asked of the network.
"""

from __future__ import annotations

import os
import platform
import shlex
from collections.abc import Mapping
from typing import Any

from harness import __version__


def ci_build(environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The CI system and a link to this build, when its variables say so."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_ACTIONS") == "true":
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        repo, run = env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
        return _some(
            {
                "name": "GitHub Actions",
                "url": f"{server}/{repo}/actions/runs/{run}" if repo and run else "",
                "buildNumber": env.get("GITHUB_RUN_NUMBER", ""),
                "revision": env.get("GITHUB_SHA", ""),
                "branch": env.get("GITHUB_REF_NAME", ""),
                "remote": f"{server}/{repo}" if repo else "",
            }
        )
    if env.get("GITLAB_CI") == "true":
        return _some(
            {
                "name": "GitLab CI",
                "url": env.get("CI_JOB_URL", ""),
                "buildNumber": env.get("CI_PIPELINE_IID", env.get("CI_JOB_ID", "")),
                "revision": env.get("CI_COMMIT_SHA", ""),
                "branch": env.get("CI_COMMIT_REF_NAME", ""),
                "remote": env.get("CI_PROJECT_URL", ""),
            }
        )
    if env.get("JENKINS_URL") or env.get("BUILD_URL"):
        return _some(
            {
                "name": "Jenkins",
                "url": env.get("BUILD_URL", ""),
                "buildNumber": env.get("BUILD_NUMBER", ""),
                "revision": env.get("GIT_COMMIT", ""),
                "branch": env.get("GIT_BRANCH", ""),
                "remote": env.get("GIT_URL", ""),
            }
        )
    return None


def _some(values: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


def environment(
    *,
    target: str,
    api_version: str = "",
    backend: str | None = None,
    argv: list[str] | None = None,
    reports: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The dict RunStarted carries (see the module docstring)."""
    env: dict[str, Any] = {
        "target": target,
        "api_version": api_version or "root (unversioned)",
        "harness": __version__,
        "python": platform.python_version(),
    }
    if backend:
        env["backend"] = backend
    if argv is not None:
        env["command"] = shlex.join(["spec-harness", *argv])
    if reports:
        env["reports"] = reports
    ci = ci_build(environ)
    if ci:
        env["ci"] = ci
    return env


def rerun_command(reports: str | None, failed_paths: list[str]) -> list[str]:
    """Commands that run the failures again: by the last run's events, and by path."""
    if not failed_paths:
        return []
    by_path = shlex.join(["spec-harness", "run", *failed_paths])
    if reports is None:  # --no-reports: no events for --last-failed to read
        return [by_path]
    folder = "" if reports == "reports" else f" --reports {shlex.quote(reports)}"
    return [f"spec-harness run --last-failed{folder}", by_path]
