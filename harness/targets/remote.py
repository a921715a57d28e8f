"""The remote target: a backend and a mock that someone else started.

URLs and the admin token come from the command line or a YAML/JSON config file
(`api_url`, `mock_url`, `admin_token`, `ws_url`, `vars`); README.md shows how to start
both by hand. Before anything runs, `start` checks that both answer their health checks
and that the backend takes the admin token (the test set-up API the harness needs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.targets.base import Target, TargetError

CONFIG_KEYS = {
    "api_url": str,
    "mock_url": str,
    "admin_token": str,
    "ws_url": str,
    "api_version": str,
    "vars": dict,
}


class TargetConfigError(ValueError):
    """A --target-config file that cannot be used as written (exit 2, not 3: the file
    is wrong, not the target)."""


def load_config(path: str | Path) -> dict[str, Any]:
    from harness.spec.frontmatter import BoundedYamlError, load_yaml

    try:
        data = load_yaml(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise TargetConfigError(f"cannot read target config {path}: {exc.strerror}") from None
    except BoundedYamlError as exc:
        raise TargetConfigError(f"{path}:{exc.line}: {exc}") from None
    if not isinstance(data, dict):
        raise TargetConfigError(
            f"target config {path} must be a mapping of {', '.join(CONFIG_KEYS)}"
        )
    for key, value in data.items():
        if key not in CONFIG_KEYS:
            raise TargetConfigError(
                f"{path}: unknown key {key!r}; expected one of {', '.join(CONFIG_KEYS)}"
            )
        if not isinstance(value, CONFIG_KEYS[key]):
            raise TargetConfigError(
                f"{path}: `{key}` must be a {'mapping' if CONFIG_KEYS[key] is dict else 'string'}"
            )
    return data


class RemoteTarget(Target):
    name = "remote"

    async def start(self) -> None:
        import aiohttp

        if not self.api_url or not self.mock_url:
            raise TargetError(
                "the remote target needs --api-url and --mock-url "
                "(or a --target-config file with api_url and mock_url)"
            )
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for url in (f"{self.api_url}/health", f"{self.mock_url}/__admin/health"):
                try:
                    async with session.get(url) as resp:
                        if resp.status != 200:
                            raise TargetError(f"{url} answered {resp.status}, expected 200")
                        if url.startswith(self.api_url):
                            self._take_version(await resp.text())
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise TargetError(f"cannot reach {url}: {exc or type(exc).__name__}") from None
            await self._check_admin(session)

    def _take_version(self, body: str) -> None:
        """`VERSION` is what the backend's health check reports (as for the embedded
        target), unless `--var VERSION=...` or the config's `vars` say otherwise."""
        import json

        try:
            version = json.loads(body).get("version")
        except (ValueError, AttributeError):
            return
        if isinstance(version, str):
            self.variables.setdefault("VERSION", version)

    async def _check_admin(self, session: Any) -> None:
        """An empty device registration: 400 where the token is taken, and nothing is
        registered; 401/403 for a wrong or missing token, 404 without the admin API."""
        import aiohttp

        url = f"{self.api_url}/__admin/devices"
        try:
            async with session.post(
                url, json={}, headers={"Authorization": f"Bearer {self.admin_token}"}
            ) as resp:
                status, text = resp.status, (await resp.text())[:200]
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TargetError(f"cannot reach {url}: {exc or type(exc).__name__}") from None
        if status in (401, 403):
            hint = (
                "give it with --admin-token"
                if not self.admin_token
                else "it must be the token the backend was started with (--admin-token)"
            )
            raise TargetError(f"POST {url} refused the admin token ({status}: {text}); {hint}")
        if status == 404:
            raise TargetError(
                f"POST {url} answered 404: the backend has no test set-up API; "
                "start it with --admin-token TOKEN"
            )
        if status >= 500:
            raise TargetError(f"POST {url} answered {status}: {text}")
