"""API generations: `--api-version DATE` points the target at the backend's `/DATE` base
for every spec, and a spec whose front matter says `apiVersion: DATE` always talks to
that generation (its `APIURL` and `websocketURL` end in `/DATE` and `/DATE/ws`).

So specs written for the 2024-04-17 API can live in `specs/` beside the seed's and pass
in one `spec-harness run specs`, while specs that do not say (the seed's, the backend's
own suite) run against whichever generation the command line names.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from harness.spec.model import Feature

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
