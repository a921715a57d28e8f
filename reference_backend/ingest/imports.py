"""The senml-imports log: per device, what the backend made of each SenML message (BE
`lwm2m/importLogs.ts`), newest first, at most IMPORT_LIMIT. Kept in memory only."""

from __future__ import annotations

from collections import deque
from typing import Any

from reference_backend.clock import now_iso
from reference_backend.ulid import new_ulid

IMPORT_LIMIT = 100


class ImportLog:
    def __init__(self, limit: int = IMPORT_LIMIT) -> None:
        self._limit = limit
        self._by_device: dict[str, deque[dict[str, Any]]] = {}

    def add(
        self,
        device_id: str,
        senml: Any,
        objects: list[dict[str, Any]] | None = None,
        errors: list[str] | None = None,
        timestamp: str | None = None,
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "importId": new_ulid(),
            "timestamp": timestamp or now_iso(),
            "success": not errors,
            "senML": senml,
        }
        if objects:
            entry["lwm2m"] = objects
        if errors:
            entry["errors"] = errors
        log = self._by_device.setdefault(device_id, deque(maxlen=self._limit))
        log.appendleft(entry)
        return entry

    def of(self, device_id: str, since: str | None = None) -> list[dict[str, Any]]:
        """Newest first; with `since` (hideDataBefore) only those at or after it."""
        entries = list(self._by_device.get(device_id, ()))
        if since is not None:
            entries = [e for e in entries if e["timestamp"] >= since]
        return entries
