"""The remote target: a backend and a mock that someone else started.

URLs and the admin token come from the command line or a YAML/JSON config file
(`api_url`, `mock_url`, `admin_token`, `ws_url`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import yaml

from .base import Target, TargetError


def load_config(path: str | Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TargetError(f"cannot read target config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise TargetError(f"target config {path} must be a mapping of api_url, mock_url, "
                          "admin_token")
    return data


class RemoteTarget(Target):
    name = "remote"

    async def start(self) -> None:
        if not self.api_url or not self.mock_url:
            raise TargetError("the remote target needs --api-url and --mock-url "
                              "(or a --target-config file with api_url and mock_url)")
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for url in (f"{self.api_url}/health", f"{self.mock_url}/__admin/health"):
                try:
                    async with session.get(url) as resp:
                        if resp.status != 200:
                            raise TargetError(f"{url} answered {resp.status}, expected 200")
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise TargetError(f"cannot reach {url}: {exc or type(exc).__name__}") \
                        from None
