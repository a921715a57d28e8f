"""What the two FOTA services share: the seed's `FotaService` (jobs.py) and the
2024-04-17 `FlowService` (flow_service.py) both follow nRF Cloud's jobs every job
interval and serialise the changes of one thing (a device's target, a job) with a lock.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar, Generic, TypeVar

from reference_backend.hub import Hub
from reference_backend.nrfcloud import NrfCloud
from reference_backend.polling import Locks, Polls
from reference_backend.shadow.service import ShadowService
from reference_backend.store import Store
from reference_backend.tasks import Background

K = TypeVar("K", bound=Hashable)


class JobPoller(Generic[K]):
    """The collaborators, the poller (`poll` starts `_polls.start(key, ...)` for the
    jobs to ask nRF Cloud about) and `_locks`, one lock per K. A service names its poller
    in `poller_name` and does its own set-up in `_set_up`."""

    poller_name: ClassVar[str]

    def __init__(
        self,
        store: Store,
        nrfcloud: NrfCloud,
        hub: Hub,
        shadows: ShadowService,
        background: Background,
        interval: float,
    ) -> None:
        self._store = store
        self._nrfcloud = nrfcloud
        self._hub = hub
        self._shadows = shadows
        self._background = background
        self._polls: Polls[K] = Polls(interval, self._tick, self.poller_name, background)
        self.ticker = self._polls.ticker
        self._locks: Locks[K] = Locks()
        self._set_up()

    def _set_up(self) -> None:
        """The service's own set-up, at the end of `__init__`."""

    def _tick(self) -> None:
        self.poll(None)

    def poll(self, account: str | None) -> None:
        """Start a poll of each job to follow (of that account's devices only, unless
        None) that has none under way."""
        raise NotImplementedError

    def _in_account(self, device_id: str, account: str | None) -> bool:
        if account is None:
            return True
        device = self._store.device(device_id)
        return device is not None and device.account == account
