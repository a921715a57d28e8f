"""Retry policy for `Soon` steps: exponential back-off within a time budget.

All durations are milliseconds, in front matter, tags and on the command line alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

_AFTER_RETRIES = re.compile(r"\s+after (\d+) retries$")


@dataclass(frozen=True)
class RetryPolicy:
    tries: int | None = None  # None: limited by the timeout only
    initialDelay: float = 50
    factor: float = 2
    maxDelay: float = 1000
    timeout: float = 30_000

    def merged(self, settings: dict[str, Any]) -> RetryPolicy:
        known = {k: v for k, v in settings.items() if k in self.__dataclass_fields__}
        if "tries" in known:
            known["tries"] = int(known["tries"])
        return replace(self, **known)

    def delays(self):
        """Seconds to wait before each further attempt (unbounded; the caller stops)."""
        delay = self.initialDelay
        while True:
            yield min(delay, self.maxDelay) / 1000
            delay *= self.factor


def parse_retry_tag(tag: str) -> dict[str, Any] | None:
    """`retry:tries=5,initialDelay=100` -> {"tries": 5, "initialDelay": 100.0}."""
    if not tag.startswith("retry:"):
        return None
    settings: dict[str, Any] = {}
    for part in filter(None, tag[len("retry:"):].split(",")):
        key, _, value = part.partition("=")
        try:
            settings[key.strip()] = float(value)
        except ValueError:
            settings[key.strip()] = value
    return settings


def split_after_retries(text: str) -> tuple[str, int | None]:
    """`... after 20 retries` -> (`...`, 20)."""
    m = _AFTER_RETRIES.search(text)
    if not m:
        return text, None
    return text[:m.start()], int(m.group(1))
