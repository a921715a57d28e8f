"""Retry policy for `Soon` steps: exponential back-off within a time budget.

All durations are milliseconds, in front matter, tags and on the command line alike.
The spec's settings are parsed and checked by the parser (harness/spec/retry.py); this
is where they meet the command line: the planner merges the spec's (front matter, a
`@retry:` on the feature, its rule and scenario, on the step, and the step's `after N
retries`, later winning; `PlannedStep.retry`) and the runner applies that once over
the command line's policy (`RetryPolicy.merged`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

# Seconds: the least wait between attempts, whatever the settings say. A zero delay
# would spin the loop, starve every other feature run, and record attempts unbounded.
MIN_DELAY = 0.001


@dataclass(frozen=True)
class RetryPolicy:
    tries: int | None = None  # None: limited by the timeout only
    initialDelay: float = 50
    factor: float = 2
    maxDelay: float = 1000
    timeout: float = 30_000

    def merged(self, settings: dict[str, Any]) -> RetryPolicy:
        """This policy with checked settings (as the parser leaves them) applied."""
        if not settings:
            return self
        known = {k: v for k, v in settings.items() if k in self.__dataclass_fields__}
        if "tries" in known:
            known["tries"] = int(known["tries"])
        return replace(self, **known)

    def delays(self):
        """Seconds to wait before each further attempt (unbounded; the caller stops)."""
        delay = self.initialDelay
        while True:
            yield max(MIN_DELAY, min(delay, self.maxDelay) / 1000)
            delay *= max(1.0, self.factor)
