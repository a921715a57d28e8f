"""API generations: `--api-version DATE` points the target at the backend's `/DATE` base,
and a spec whose front matter says `apiVersion: DATE` runs only against that generation.

Specs without `apiVersion` (the seed's, the backend's own suite) run against whichever
generation the target names; a spec written for another generation is skipped, with the
reason in the console and the reports, rather than failing against the wrong API.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from .plan import Plan
from .spec.model import Feature

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_api_version(text: str) -> str:
    """`2024-04-17` (a leading or trailing `/` is dropped); "" for the root API."""
    version = text.strip().strip("/")
    if version and not _DATE.match(version):
        raise ValueError(f"expected an API version date like 2024-04-17, got {text!r}")
    return version


def feature_api_version(feature: Feature) -> str | None:
    """The front matter's `apiVersion` as text (YAML reads an unquoted date as a date)."""
    value: Any = feature.front_matter.get("apiVersion")
    if value is None:
        return None
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip().strip("/")


def skip_other_api_versions(plan: Plan, api_version: str) -> None:
    """Marks the runs of specs written for another API generation as skipped."""
    for run in plan.runs:
        wanted = feature_api_version(run.feature)
        if wanted is None or wanted == api_version or run.skip_reason:
            continue
        target = f"--api-version {api_version}" if api_version else "the root API"
        run.skip_reason = (
            f"written for API version {wanted} (front matter `apiVersion`), and this run"
            f" targets {target}: run it with --api-version {wanted}"
        )
