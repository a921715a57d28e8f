"""The pytest-xdist scheduler for specs (imported only when xdist runs the session).

A spec's node id starts with its file; every file of one group (joined by `needs`)
maps to one scope, and a scope goes to one worker whole, in collection order. Other
tests are scheduled as xdist's loadgroup does (their own `xdist_group` or alone).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from xdist.scheduler import LoadGroupScheduling

SUFFIX = ".feature.md"


class SpecScheduling(LoadGroupScheduling):
    def __init__(
        self, config: pytest.Config, log: Any, groups: Callable[[list[str]], dict[str, str]]
    ) -> None:
        super().__init__(config, log)
        self._groups_of = groups
        self._groups: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        if not path.endswith(SUFFIX):
            return super()._split_scope(nodeid)
        if self._groups is None:
            # first call: schedule() has the whole collection by now
            files = {n.split("::", 1)[0] for n in self.collection or []}
            self._groups = self._groups_of(sorted(f for f in files if f.endswith(SUFFIX)))
        return "spec:" + self._groups.get(path, path)
