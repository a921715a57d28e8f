"""The parts of a running backend, wired together, and their start and stop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from reference_backend import thirdparty
from reference_backend.accounts import endpoint_problem, normalize_endpoint
from reference_backend.config import DEFAULT_API_KEY, BackendConfig
from reference_backend.devices import DEFAULT_ACCOUNT, UNSUPPORTED
from reference_backend.fota.flow_service import FlowService
from reference_backend.fota.jobs import FotaService
from reference_backend.history.store import ResourceHistory
from reference_backend.hub import Hub
from reference_backend.ingest.bridge import BridgeConsumers
from reference_backend.ingest.imports import ImportLog
from reference_backend.ingest.service import IngestService
from reference_backend.jwt import MapKeys
from reference_backend.loader import DeviceEntry, LoadError, read_devices
from reference_backend.location.service import LocationService
from reference_backend.memfault import RebootService
from reference_backend.nrfcloud import NrfCloud
from reference_backend.shadow.service import ShadowService
from reference_backend.store import Account, Device, FingerprintTaken, Store
from reference_backend.tasks import Background


@dataclass
class Services:
    store: Store
    hub: Hub
    nrfcloud: NrfCloud
    shadows: ShadowService
    fota: FotaService  # the seed's, at the root
    fota_flow: FlowService  # the 2024-04-17 API's
    background: Background
    session: aiohttp.ClientSession
    ingest: IngestService
    bridge: BridgeConsumers
    history: ResourceHistory
    map_keys: MapKeys
    location: LocationService | None = None  # set by thirdparty.start
    reboots: RebootService | None = None  # None while Memfault is not configured

    def nrfcloud_changed(self, api_key: str) -> None:
        """nRF Cloud may now answer differently for the accounts with this API key (a
        test set up an answer in the mock): ask it about their devices and jobs now rather
        than at the next poll. Polls already under way are not doubled."""
        for account in self.store.accounts():
            if account.api_key == api_key:
                self.shadows.poll_now(account.name)
                self.fota.poll(account.name)
                self.fota_flow.poll(account.name)

    async def close(self) -> None:
        await self.background.close()  # pollers first, so nothing sends while closing
        await self.bridge.close()
        await self.hub.close_all()
        await self.nrfcloud.close()
        await self.session.close()
        self.store.close()


async def open_services(config: BackendConfig) -> Services:
    """Opens the store, registers the configured account and `--load` devices, and starts
    the pollers. ValueError (LoadError) for a bad configuration."""
    if config.nrfcloud_url is not None and (problem := endpoint_problem(config.nrfcloud_url)):
        raise ValueError(f"the nRF Cloud URL {config.nrfcloud_url!r} {problem}")
    entries = read_devices(config.load) if config.load is not None else []
    store = Store(config.state)
    try:
        _register(store, config, entries)
    except BaseException:
        store.close()
        raise
    # No cookies: one session serves every account, and nothing may pass between them.
    session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    hub = Hub()
    background = Background()
    nrfcloud = NrfCloud(session, config.nrfcloud_timeout)
    shadows = ShadowService(store, nrfcloud, hub, background, config.shadow_interval)
    fota = FotaService(store, nrfcloud, hub, shadows, background, config.job_interval)
    ingest = IngestService(store, hub, shadows, ImportLog())
    bridge = BridgeConsumers(store, background, ingest.ingest)
    history = ResourceHistory()
    shadows.on_reported(history.record)
    map_keys = MapKeys(session, config.map_api_url)
    fota_flow = FlowService(store, nrfcloud, hub, shadows, background, config.job_interval)
    services = Services(
        store,
        hub,
        nrfcloud,
        shadows,
        fota,
        fota_flow,
        background,
        session,
        ingest=ingest,
        bridge=bridge,
        history=history,
        map_keys=map_keys,
    )
    background.spawn(shadows.ticker.run(), "shadow poller")
    background.spawn(fota.ticker.run(), "job poller")
    background.spawn(fota_flow.ticker.run(), "2024-04-17 job poller")
    for account in store.accounts():
        bridge.ensure(account)
    thirdparty.start(services, config)
    await asyncio.sleep(0)  # let the pollers start
    return services


def _register(store: Store, config: BackendConfig, entries: list[DeviceEntry]) -> None:
    if config.nrfcloud_url is not None:
        endpoint = normalize_endpoint(config.nrfcloud_url)
        store.put_account(Account(DEFAULT_ACCOUNT, endpoint, config.api_key or DEFAULT_API_KEY))
    for entry in entries:
        account = None
        if entry.model != UNSUPPORTED:
            account = entry.account or DEFAULT_ACCOUNT
            if store.account(account) is None:
                if config.nrfcloud_url is None:
                    raise LoadError(
                        f"{config.load}: device {entry.id} is in the account {account}, which needs"
                        " an nRF Cloud URL (--nrfcloud)"
                    )
                # The mock keys its accounts by bearer key: an account the file names is
                # served by the mock account of that name.
                store.put_account(
                    Account(account, normalize_endpoint(config.nrfcloud_url), account)
                )
        try:
            store.put_device(Device(entry.id, entry.fingerprint, entry.model, account))
        except FingerprintTaken as e:
            raise LoadError(
                f"{config.load}: the fingerprint of {entry.id} belongs to another device"
            ) from e
