"""How a backend is set up: the values of the CLI options and of `start_backend`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reference_backend.accounts import endpoint_problem

DEPLOYMENT_SHADOW_INTERVAL = 5.0
DEPLOYMENT_JOB_INTERVAL = 60.0
DEFAULT_NRFCLOUD_TIMEOUT = 10.0
DEFAULT_MAX_BODY_BYTES = 1_000_000
# The deployment polls location history and Memfault reboots of connected devices this often.
DEPLOYMENT_LOCATION_INTERVAL = 60.0
DEPLOYMENT_MEMFAULT_INTERVAL = 60.0
# The mock nRF Cloud serves requests without a known key from its `default` account, and
# keys accounts by the bearer key: this default makes the two a working stack as they come.
DEFAULT_API_KEY = "default"


@dataclass(frozen=True)
class BackendConfig:
    nrfcloud_url: str | None = None  # when set: the account `nordic`, with api_key
    api_key: str | None = None  # None: DEFAULT_API_KEY
    admin_token: str | None = None  # the /__admin API is there only when this is set
    shadow_interval: float = DEPLOYMENT_SHADOW_INTERVAL
    job_interval: float = DEPLOYMENT_JOB_INTERVAL
    nrfcloud_timeout: float = DEFAULT_NRFCLOUD_TIMEOUT
    state: str | Path | None = None  # SQLite file; None keeps everything in memory
    load: str | Path | None = None  # a YAML/JSON file with a top-level `devices:` list
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Third parties (REAL-SUITE.md §2.5); each feature is off while its URL is None.
    feedback_webhook_url: str | None = None
    memfault_api_url: str | None = None  # polled only with token, org and project too
    memfault_token: str | None = None
    memfault_org: str | None = None
    memfault_project: str | None = None
    map_api_url: str | None = None  # the map backend, whose JWKS signs device JWTs
    location_interval: float = DEPLOYMENT_LOCATION_INTERVAL
    memfault_interval: float = DEPLOYMENT_MEMFAULT_INTERVAL

    def __post_init__(self) -> None:
        for name in (
            "shadow_interval",
            "job_interval",
            "nrfcloud_timeout",
            "location_interval",
            "memfault_interval",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be greater than 0")
        for name in ("feedback_webhook_url", "memfault_api_url", "map_api_url"):
            url = getattr(self, name)
            if url is not None and (problem := endpoint_problem(url)):
                raise ValueError(f"{name} {url!r} {problem}")
        if self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be at least 1")
