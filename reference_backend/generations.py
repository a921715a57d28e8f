"""The two API generations the backend serves, side by side (REAL-SUITE.md §3):

- the seed's at the root: FOTA job executions named by nRF Cloud's job IDs;
- the real backend's 2024-04-17 API under `/2024-04-17/`: FOTA jobs with ULIDs and the
  multi-bundle flow.

Everything else (devices, shadow, nRF Cloud client, polling, websocket) is shared. What
differs is the FOTA routes, their job store (separate services), and which websocket
connections get a generation's FOTA notifications (the hub keeps each connection's base).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from reference_backend.fota import flow_routes, seed_routes

ROOT = ""
DATED = "/2024-04-17"


@dataclass(frozen=True)
class ApiGeneration:
    base: str  # the path prefix: "" or "/2024-04-17"
    add_fota_routes: Callable[[web.Application, str], None]


GENERATIONS = (
    ApiGeneration(ROOT, seed_routes.add_routes),
    ApiGeneration(DATED, flow_routes.add_routes),
)
