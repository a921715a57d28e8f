"""Targets: where the specs' backend and nRF Cloud mock live, behind one small interface.

A target gives URLs for the context and, per feature run, a `TargetRun` that names that
run's nRF Cloud accounts (each with its own API key, so the mock keeps their queues and
journals apart) and registers test devices. The reference backend and the mock share
the admin API used here, so embedded and remote targets differ only in how they start.
"""

from __future__ import annotations

import asyncio
import bisect
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp

    from mock_nrfcloud.client import MockClient


# The nRF Cloud account a spec means when it names none: the backend's real suite
# registers its devices in `nordic` (REAL-SUITE.md), and so do the steps.
SPEC_ACCOUNT = "nordic"


class TargetError(Exception):
    """The target could not be reached or started (exit code 3)."""


@dataclass(frozen=True)
class Account:
    name: str  # as the spec says it, e.g. SPEC_ACCOUNT
    remote_name: str  # as registered in the backend, unique per feature run
    api_key: str  # the mock's account key for it


class TargetRun:
    """One feature run's view of the target: its accounts, devices and mock client."""

    def __init__(self, target: Target, run_token: str, session: aiohttp.ClientSession):
        self.target = target
        self.token = run_token
        self.session = session
        self.mock: MockClient = target.mock_client(session)
        self._accounts: dict[str, Account] = {}
        self._journal_seen: dict[str, int] = {}  # api key -> last journal id returned
        self._scenario_ends: list[tuple[str, str]] = []  # (scenario id, end as journal time)
        # Third-party calls share the mock's host accounts between runs: a run looks only at
        # the journal entries since it started (the embedded mock shares this clock).
        self.started_at = time.time()

    async def account(self, name: str = SPEC_ACCOUNT) -> Account:
        """This run's account of that name, registered with the backend on first use."""
        if name not in self._accounts:
            account = Account(
                name=name,
                remote_name=f"{name}-{self.token}",
                api_key=f"{self.token}-{name}-{secrets.token_hex(4)}",
            )
            await self.target.admin(
                "POST",
                "/__admin/accounts",
                {
                    "name": account.remote_name,
                    "apiEndpoint": self.target.mock_url,
                    "apiKey": account.api_key,
                },
                session=self.session,
            )
            self._accounts[name] = account
        return self._accounts[name]

    async def register_device(
        self, model: str, account: str | None = SPEC_ACCOUNT
    ) -> dict[str, Any]:
        """Register a device; returns {"id", "fingerprint"}. No account for `unsupported`."""
        body: dict[str, Any] = {"model": model}
        if account is not None:
            body["account"] = (await self.account(account)).remote_name
        return await self.target.admin("POST", "/__admin/devices", body, session=self.session)

    async def device_message(
        self,
        device_id: str,
        *,
        account: str = SPEC_ACCOUNT,
        transport: str,
        topic: str | None = None,
        method: str | None = None,
        resource: str | None = None,
        payload: Any = None,
    ) -> dict[str, Any]:
        """The device (of this run's `account`) sends a message to nRF Cloud: over MQTT
        to `topic` with the JSON `payload`, or over CoAP (`method`, `resource`) with the
        SenML `payload` encoded as CBOR, as a device does. Here it goes to the mock's
        device ingress; returns the mock's `{"seq", "topic"}`."""
        key = (await self.account(account)).api_key
        if transport == "coap":
            from mock_nrfcloud.senml_cbor import encode

            return await self.mock.send_device_message(
                key,
                device_id,
                transport="coap",
                method=method or "POST",
                resource=resource or "/msg/d2c/raw",
                payload_bytes=encode(payload),
            )
        return await self.mock.send_device_message(
            key, device_id, transport="mqtt", topic=topic, payload=payload
        )

    @property
    def accounts(self) -> list[Account]:
        return list(self._accounts.values())

    async def new_journal_entries(self) -> list[dict[str, Any]]:
        """The mock's journal entries of this run's accounts not returned before."""
        entries = []
        for account in self._accounts.values():
            since = self._journal_seen.get(account.api_key)
            found = await self.mock.requests(account.api_key, since=since)
            if found:
                self._journal_seen[account.api_key] = found[-1]["id"]
                entries += found
        return sorted(entries, key=lambda e: e["id"])

    def scenario_ended(self, scenario_id: str) -> bool:
        """With a mock on this process's clock (`Target.shares_clock`), note when the
        scenario ended and return True: `journal_by_scenario` then fetches the journal
        once for the feature run (one request per account, not one per scenario and
        account) and splits it at these ends. False: fetch the scenario's entries now."""
        if not self.target.shares_clock:
            return False
        self._scenario_ends.append((scenario_id, _journal_time(time.time())))
        return True

    async def journal_by_scenario(
        self, timeout: float | None = None
    ) -> list[tuple[str, list[dict[str, Any]]]]:
        """The entries since the last fetch, each given to the first scenario that ended
        at or after the mock received it (the mock's times are truncated to milliseconds,
        as the ends are, so a scenario's own calls are never given to the next one); what
        came after the last scenario ended is left out, as fetching per scenario does."""
        ends, self._scenario_ends = self._scenario_ends, []
        if not ends or not self._accounts:
            return []
        times = [end for _, end in ends]
        try:
            entries = await asyncio.wait_for(self.new_journal_entries(), timeout)
        except Exception as exc:  # the reports lose a view, the run goes on
            return [(ends[-1][0], [{"error": f"journal unavailable: {exc!r}"}])]
        split: dict[int, list[dict[str, Any]]] = {}
        for entry in entries:
            n = bisect.bisect_left(times, str(entry.get("time", "")))
            if n < len(ends):
                split.setdefault(n, []).append(entry)
        return [(ends[n][0], split[n]) for n in sorted(split)]


class Target:
    """Base target: a backend URL with the test set-up API, and a mock nRF Cloud URL."""

    name = "remote"
    # Whether the mock's journal times come from this process's clock (the embedded mock
    # does); a remote mock's clock may differ, so its journal is fetched per scenario.
    shares_clock = False

    def __init__(
        self,
        api_url: str = "",
        mock_url: str = "",
        admin_token: str = "",
        ws_url: str | None = None,
        variables: dict[str, Any] | None = None,
        api_version: str = "",
    ):
        self.variables = dict(variables or {})  # `--var NAME=VALUE`: more context values
        self.api_url = api_url.rstrip("/")  # the backend's root: /health, /__admin
        # `--api-version`: the API generation the specs talk to, under /<api_version>
        self.api_version = api_version.strip("/")
        self.mock_url = mock_url.rstrip("/")
        self.admin_token = admin_token
        self._ws_url = ws_url

    def api_base(self, api_version: str | None = None) -> str:
        """`APIURL`: the backend's URL, under `/<api_version>` (default: the target's
        `--api-version`; "" for the root)."""
        version = self.api_version if api_version is None else api_version
        return self.api_url + (f"/{version}" if version else "")

    def websocket_url(self, api_version: str | None = None) -> str:
        """`websocketURL`: as given (remote `--ws-url`, for the target's own API version),
        else `/ws` under the API base."""
        if self._ws_url and (api_version is None or api_version == self.api_version):
            return self._ws_url
        base = self.api_base(api_version)
        return base.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/ws"

    @property
    def ws_url(self) -> str:
        return self.websocket_url()

    async def start(self) -> None:
        """Make the target ready; raise TargetError when it cannot be."""

    async def stop(self) -> None:
        pass

    def values(self, api_version: str | None = None) -> dict[str, Any]:
        """What every feature run's context starts with; `api_version` for a spec written
        for one API generation (front matter `apiVersion`)."""
        return {
            "APIURL": self.api_base(api_version),
            "websocketURL": self.websocket_url(api_version),
            "nrfCloudMockURL": self.mock_url,
            **third_party_urls(self.mock_url),
            **self.variables,
        }

    def open_run(self, run_id: str, session: aiohttp.ClientSession) -> TargetRun:
        return TargetRun(self, secrets.token_hex(5), session)

    def mock_client(self, session: aiohttp.ClientSession) -> MockClient:
        """The client of the mock's admin API that a feature run's steps use."""
        from mock_nrfcloud.client import MockClient  # the harness needs it only when running

        return MockClient(self.mock_url, session=session)

    async def admin(
        self, method: str, path: str, body: dict[str, Any], session: aiohttp.ClientSession
    ) -> dict[str, Any]:
        """Call the backend's test set-up API; a refusal is a TargetError naming the URL."""
        import aiohttp  # imported when used: `spec-harness check` starts faster

        url = self.api_url + path
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        try:
            async with session.request(method, url, json=body, headers=headers) as resp:
                text = await resp.text()
                if resp.status >= 300:
                    raise TargetError(f"{method} {url} answered {resp.status}: {text[:300]}")
                return await resp.json(content_type=None) if text else {}
        except aiohttp.ClientError as exc:
            raise TargetError(f"{method} {url} failed: {exc}") from None


def _journal_time(ts: float) -> str:
    """A time as the mock's journal writes it (ISO-8601 UTC, milliseconds truncated), so
    that the two compare as strings."""
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def third_party_urls(mock_url: str) -> dict[str, str]:
    """The third parties' URLs under the mock, as the TypeScript runner names them
    (REAL-SUITE.md §1.3); none without a mock."""
    if not mock_url:
        return {}
    return {
        "feedbackWebhookURL": f"{mock_url}/webhook.office.com/",
        "memfaultApiEndpoint": f"{mock_url}/api.memfault.com",
        "mapAPIURL": f"{mock_url}/api.nordicsemi.world",
    }
