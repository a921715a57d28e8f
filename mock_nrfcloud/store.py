"""The mock's state: per account, the pending responses and the journal.

Everything here runs on the event loop thread and never awaits between choosing a
one-shot response and using it up, which is what makes "served exactly once" hold
under any number of concurrent calls. With ``--state`` every change is committed to
SQLite before the caller acknowledges it (see ``persistence``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mock_nrfcloud.journal import (
    ACCOUNT,
    HEADERS,
    ID,
    QUERY,
    RESPONSE_BODY,
    RESPONSE_HEADERS,
    TS,
    Entry,
    Journal,
    JournalQuery,
    Pairs,
    RawPairs,
    entry_from_dict,
    entry_json,
    first_values,
)
from mock_nrfcloud.loader import load_responses
from mock_nrfcloud.matching import normalize_path
from mock_nrfcloud.persistence import SqliteState
from mock_nrfcloud.responses import QueuedResponse, ResponseIndex, compile_response
from mock_nrfcloud.simulation import FotaJobs, load_simulation
from mock_nrfcloud.tasks import stopped
from mock_nrfcloud.validation import DEFAULT_ACCOUNT

log = logging.getLogger(__name__)

NOT_FOUND_BODY = b"No responses found"
NOT_FOUND_HEADERS: Pairs = (("Content-Type", "text/plain; charset=utf-8"),)

# Trims of the journal reach SQLite at least this often (entries before their answer).
_FLUSH_INTERVAL_S = 0.05
# Shared header sets and bodies (see `Store._shared`): at most this many, bodies this big.
_SHARED_MAX = 4096
_SHARED_BODY_MAX = 1024
# A live stream whose reader falls this far behind is closed rather than buffered.
SUBSCRIBER_BACKLOG = 1000
# Journal bounds per account (`--journal-max-mb`), and idle accounts (`--idle-account-s`).
DEFAULT_JOURNAL_MAX_BYTES = 128 * 1024 * 1024
DEFAULT_IDLE_ACCOUNT_S = 6 * 3600.0


def _shared_parts(entry: Entry, shared: dict[Any, Any]) -> Entry:
    """``entry`` with its pairs and response body replaced by equal ones seen before."""
    if len(shared) >= _SHARED_MAX:
        shared.clear()
    parts = list(entry)
    for index in (QUERY, HEADERS, RESPONSE_HEADERS, RESPONSE_BODY):
        value = parts[index]
        if value and (index != RESPONSE_BODY or len(value) <= _SHARED_BODY_MAX):
            parts[index] = shared.setdefault(value, value)
    return tuple(parts)  # type: ignore[return-value]


def not_found_body(misses: list[tuple[QueuedResponse, str]]) -> bytes:
    """The 404 body: ``No responses found`` (the first line, as always), then why not."""
    if not misses:
        return NOT_FOUND_BODY
    lines = [NOT_FOUND_BODY.decode(), "", "Closest queued responses:"]
    for response, reason in misses:
        lines.append(f"- {response.method} {response.path} (id {response.id}): {reason}")
    return "\n".join(lines).encode()


class Subscriber:
    """A live reader of one account's journal (the SSE stream).

    Its queue holds at most ``SUBSCRIBER_BACKLOG`` entries: a reader that falls that
    far behind is dropped (``too_slow``; the stream says so and ends), so it holds no
    more memory than that and never slows the calls that feed it.
    """

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Entry | None] = asyncio.Queue()
        self.closed = False
        self.too_slow = False

    def push(self, entry: Entry) -> None:
        if self.closed:
            return
        if self.queue.qsize() >= SUBSCRIBER_BACKLOG:
            self.too_slow = True
            self.close()
            return
        self.queue.put_nowait(entry)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


class Account:
    __slots__ = ("journal", "last_used", "name", "responses", "subscribers")

    def __init__(self, name: str, journal_limit: int, journal_max_bytes: int | None) -> None:
        self.name = name
        self.responses = ResponseIndex()
        self.journal = Journal(journal_limit, journal_max_bytes)
        self.subscribers: set[Subscriber] = set()
        self.last_used = time.time()  # a call or an admin call; see Store.evict_idle


class Store:
    """All accounts of one mock."""

    def __init__(
        self,
        *,
        journal_limit: int = 100_000,
        state: SqliteState | None = None,
        baseline: Iterable[dict[str, Any]] = (),
        journal_max_bytes: int | None = DEFAULT_JOURNAL_MAX_BYTES,
        idle_account_s: float | None = DEFAULT_IDLE_ACCOUNT_S,
    ) -> None:
        if journal_limit < 0:
            raise ValueError("journal_limit must be at least 0")
        self.journal_limit = journal_limit
        self.journal_max_bytes = journal_max_bytes
        self.idle_account_s = idle_account_s
        self._sweeper: asyncio.Task[None] | None = None
        self.accounts: dict[str, Account] = {}
        self.baseline = list(baseline)  # what --load loaded; `reset` returns to it
        # Accounts the load file fills are never evicted (a restart would bring them back).
        self._kept_accounts = {DEFAULT_ACCOUNT, *(spec["account"] for spec in self.baseline)}
        self.simulation: FotaJobs | None = None  # `simulate:` in the --load file
        self._state = state
        self._by_id: dict[str, QueuedResponse] = {}
        self._next_entry_id = 1
        self._next_seq = 1
        self._pending: list[Entry] = []
        self._trimmed: set[str] = set()
        # Header sets (and small bodies) seen lately, each kept once: a client sends the
        # same ones call after call, and 100,000 journal entries sharing them take a
        # fraction of the memory (and give the garbage collector nothing to follow).
        self._shared: dict[Any, Any] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._durable: asyncio.Future[None] | None = None
        self._wake_flusher: asyncio.Event | None = None
        if state is not None:
            self._restore(state)
        else:
            self._install_baseline()

    @classmethod
    def open(
        cls,
        *,
        journal_limit: int = 100_000,
        state: str | Path | None = None,
        load: str | Path | None = None,
        journal_max_bytes: int | None = DEFAULT_JOURNAL_MAX_BYTES,
        idle_account_s: float | None = DEFAULT_IDLE_ACCOUNT_S,
    ) -> Store:
        """A store with ``--load`` responses and, with ``--state``, what the file holds.

        Raises ``loader.LoadError`` for a bad load file.
        """
        baseline = load_responses(load) if load is not None else []
        sqlite = SqliteState(state) if state is not None else None
        try:
            store = cls(
                journal_limit=journal_limit,
                state=sqlite,
                baseline=baseline,
                journal_max_bytes=journal_max_bytes,
                idle_account_s=idle_account_s,
            )
            store.simulation = load_simulation(load) if load is not None else None
        except BaseException:
            if sqlite is not None:
                sqlite.close()  # and let go of the lock
            raise
        return store

    # -- lifecycle -------------------------------------------------------------------

    @property
    def durable(self) -> bool:
        """Whether calls are written to a state file (``written`` then has work to do)."""
        return self._state is not None

    def written(self) -> asyncio.Future[None] | None:
        """What to await before answering a journaled call: its entry is committed then.

        Entries of calls that arrive together are committed together, right after the
        event loop has run what is ready (a group commit): one commit per batch, and no
        answer before its entry is on disk. None when nothing is waiting to be written.
        The future fails with ``sqlite3.Error`` when the state file cannot be written.
        """
        return self._durable

    async def start(self) -> None:
        """Start writing the journal to the state file in the background."""
        if self._state is not None:
            self._state.serving()
        if self.idle_account_s is not None and self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_loop(), name="mock-evict-idle")
        if self._state is not None and self._flusher is None:
            self._wake_flusher = asyncio.Event()
            self._flusher = asyncio.create_task(self._flush_loop(), name="mock-journal-flush")

    def close_streams(self) -> None:
        """End every live journal stream (on shutdown)."""
        for subscriber in list(self._all_subscribers()):
            subscriber.close()

    async def close(self) -> None:
        """Close the live streams, write what is pending and close the state file."""
        self.close_streams()
        await stopped(self._sweeper)
        await stopped(self._flusher)
        self._sweeper = self._flusher = None
        if self._state is not None:
            self._commit()
            self._state.close()
            self._state = None

    def _all_subscribers(self) -> Iterable[Subscriber]:
        for account in self.accounts.values():
            yield from account.subscribers

    # -- accounts --------------------------------------------------------------------

    def account(self, name: str) -> Account:
        account = self.accounts.get(name)
        if account is None:
            account = self.accounts[name] = Account(
                name, self.journal_limit, self.journal_max_bytes
            )
        else:
            account.last_used = time.time()
        return account

    def _existing(self, name: str) -> Account | None:
        """The account if it exists (an admin read: it counts as a use)."""
        account = self.accounts.get(name)
        if account is not None:
            account.last_used = time.time()
        return account

    def evict_idle(self, now: float | None = None) -> list[str]:
        """Forget accounts unused for ``idle_account_s``: their queue and journal.

        An account is used by every call with its key and every admin call naming it.
        Kept: the default account, accounts the load file fills, and accounts with a
        live journal stream. The harness makes new accounts for every feature run, so
        without this a mock that runs for weeks would keep every run's journal.
        """
        if self.idle_account_s is None:
            return []
        cutoff = (time.time() if now is None else now) - self.idle_account_s
        idle = [
            account
            for name, account in self.accounts.items()
            if account.last_used < cutoff
            and not account.subscribers
            and name not in self._kept_accounts
        ]
        for account in idle:
            for response in account.responses.all():
                self._by_id.pop(response.id, None)
            del self.accounts[account.name]
            self._trimmed.discard(account.name)
        if idle and self._state is not None:
            with self._state.transaction() as db:
                self._flush_into(db)
                for account in idle:
                    db.delete_account_responses(account.name)
                    db.clear_journal(account.name)
        return [account.name for account in idle]

    async def _sweep_loop(self) -> None:
        assert self.idle_account_s is not None
        interval = min(60.0, max(self.idle_account_s / 4, 0.05))
        while True:
            await asyncio.sleep(interval)
            try:
                evicted = self.evict_idle()
            except Exception:  # a locked state file: try again at the next sweep
                log.exception("evicting idle accounts failed")
                continue
            if evicted:
                log.info("evicted %d idle account(s)", len(evicted))

    def summary(self) -> list[dict[str, Any]]:
        return [
            {
                "account": a.name,
                "pending": len(a.responses),
                "requests": len(a.journal),
                "dropped": a.journal.dropped,
                "last_request_id": a.journal.newest_id,
            }
            for a in sorted(self.accounts.values(), key=lambda a: a.name)
        ]

    # -- serving (the hot path) ------------------------------------------------------

    def serve(
        self,
        account_name: str,
        method: str,
        path: str,
        query: Pairs,
        headers: Pairs | RawPairs,
        body: bytes,
    ) -> tuple[QueuedResponse | None, Entry]:
        """Choose and use up the response for a call, and journal the call."""
        account = self.accounts.get(account_name)
        if account is None:
            account = self.account(account_name)
        now = time.time()
        account.last_used = now
        expired: list[QueuedResponse] = []
        path_key = normalize_path(path) if path[-1:] == "/" else path
        response = account.responses.choose(method, path_key, query, body, now, expired)
        if self.simulation is not None:
            response = self.simulation.answer(account_name, method, path_key, body, response, now)
        shared = self._shared
        if len(shared) >= _SHARED_MAX:
            shared.clear()
        headers = shared.setdefault(headers, headers)
        if query:
            query = shared.setdefault(query, query)
        if body and len(body) <= _SHARED_BODY_MAX:
            body = shared.setdefault(body, body)
        if response is not None and path == response.path:
            path = response.path  # the same text, kept once
        entry_id = self._next_entry_id
        self._next_entry_id = entry_id + 1
        if response is None:
            not_found = NOT_FOUND_BODY
            if len(account.responses):
                # Off the hot path: say which queued responses came closest, and why not.
                misses = account.responses.near_misses(method, path_key, query, body, now)
                not_found = not_found_body(misses)
            entry: Entry = (
                entry_id, now, account_name, method, path, query, headers, body or None,
                404, None, False, None, NOT_FOUND_HEADERS, not_found,
            )  # fmt: skip
        elif response.fault is None:
            response_headers, response_body = response.headers, response.body
            if response.template is not None:  # `template: true`, rendered for this call
                response_headers, response_body = response.template.render(
                    method, path, first_values(query), body
                )
            entry = (
                entry_id, now, account_name, method, path, query, headers, body or None,
                response.status, response.id, True, None, response_headers, response_body,
            )  # fmt: skip
        else:
            entry = (
                entry_id, now, account_name, method, path, query, headers, body or None,
                None, response.id, True, response.fault, (), None,
            )  # fmt: skip
        # `_record`, written out: this runs for every call.
        if account.journal.append(entry) and self._state is not None:
            self._trimmed.add(account_name)
        if self._state is not None or account.subscribers:
            self._share(account, entry)
        if response is not None:
            response.served += 1
            if not response.keep:
                response.remaining -= 1
                if response.remaining <= 0:
                    account.responses.remove(response)
                    del self._by_id[response.id]
        if expired:
            self._forget(account, expired)
        if self._state is not None and (expired or (response is not None and not response.keep)):
            # The use of a one-shot response is durable before it is answered.
            with self._state.transaction() as db:
                self._flush_into(db)
                if response is not None and not response.keep:
                    if response.remaining <= 0:
                        db.delete_response(response.id)
                    else:
                        db.update_remaining(response.id, response.remaining)
                if expired:
                    db.delete_responses(r.id for r in expired)
        return response, entry

    def record_unserved(
        self,
        account_name: str,
        method: str,
        path: str,
        query: Pairs,
        headers: Pairs | RawPairs,
        body: bytes | None,
        status: int,
        response_headers: Pairs,
        response_body: bytes,
    ) -> Entry:
        """Journal a call the mock answered itself (401 without a key, 413 too large)."""
        account = self.account(account_name)
        entry_id = self._next_entry_id
        self._next_entry_id += 1
        entry: Entry = (
            entry_id, time.time(), account_name, method, path, query, headers, body or None,
            status, None, False, None, response_headers, response_body,
        )  # fmt: skip
        self._record(account, entry)
        return entry

    def _record(self, account: Account, entry: Entry) -> None:
        if account.journal.append(entry) and self._state is not None:
            self._trimmed.add(account.name)
        if self._state is not None or account.subscribers:
            self._share(account, entry)

    def _share(self, account: Account, entry: Entry) -> None:
        """Hand a new entry to the state file's writer and to the live streams."""
        if self._state is not None:
            self._pending.append(entry)
            if self._durable is None:
                loop = asyncio.get_running_loop()
                self._durable = loop.create_future()
                loop.call_soon(self._group_commit)
        if account.subscribers:
            for subscriber in tuple(account.subscribers):
                subscriber.push(entry)

    # -- responses (admin) -----------------------------------------------------------

    def add_response(self, spec: dict[str, Any], *, loaded: bool = False) -> QueuedResponse:
        """Queue a checked spec (``validation.parse_response_spec``); durable on return."""
        response = self._queue(spec, loaded=loaded)
        if self._state is not None:
            try:
                with self._state.transaction() as db:
                    self._flush_into(db)
                    self._save(db, response, loaded)
            except BaseException:
                self._forget(self.account(response.account), [response])  # not acknowledged
                raise
        return response

    def _queue(
        self, spec: dict[str, Any], *, loaded: bool, id: str | None = None
    ) -> QueuedResponse:
        seq = self._next_seq
        self._next_seq += 1
        response = compile_response(
            spec,
            id=id or (f"load-{seq}" if loaded else str(uuid.uuid4())),
            seq=seq,
            created=time.time(),
        )
        self.account(response.account).responses.add(response)
        self._by_id[response.id] = response
        return response

    def _save(self, db: SqliteState, response: QueuedResponse, loaded: bool) -> None:
        db.save_response(
            response.id,
            response.account,
            response.seq,
            response.spec,
            response.remaining,
            response.expires_at,
            response.created,
            loaded,
        )

    def get_response(self, id: str) -> QueuedResponse | None:
        response = self._by_id.get(id)
        if response is not None and response.expired(time.time()):
            self._forget(self.account(response.account), [response])
            return None
        return response

    def remove_response(self, id: str) -> bool:
        response = self._by_id.get(id)
        if response is None:
            return False
        self._forget(self.account(response.account), [response])
        if self._state is not None:
            with self._state.transaction() as db:
                self._flush_into(db)
                db.delete_response(id)
        return True

    def remove_responses(self, account_name: str) -> int:
        account = self._existing(account_name)
        if account is None:
            return 0
        gone = account.responses.all()
        for response in gone:
            del self._by_id[response.id]
        account.responses.clear()
        if self._state is not None:
            with self._state.transaction() as db:
                self._flush_into(db)
                db.delete_account_responses(account_name)
        return len(gone)

    def responses(self, account_name: str) -> list[QueuedResponse]:
        """Pending responses of an account, in queue order (expired ones left out)."""
        account = self._existing(account_name)
        if account is None:
            return []
        now = time.time()
        return [r for r in account.responses.all() if not r.expired(now)]

    def _forget(self, account: Account, responses: list[QueuedResponse]) -> None:
        for response in responses:
            if account.responses.remove(response):
                self._by_id.pop(response.id, None)

    # -- journal (admin) -------------------------------------------------------------

    def journal(self, account_name: str) -> Journal | None:
        account = self._existing(account_name)
        return None if account is None else account.journal

    def find(self, account_name: str, query: JournalQuery) -> list[Entry]:
        journal = self.journal(account_name)
        return [] if journal is None else journal.find(query)

    def clear_journal(self, account_name: str) -> None:
        account = self._existing(account_name)
        if account is None:
            return
        if self._state is not None:
            with self._state.transaction() as db:
                self._flush_into(db)
                db.clear_journal(account_name)
        account.journal.clear()
        account.journal.dropped = 0
        self._trimmed.discard(account_name)

    def subscribe(self, account_name: str) -> Subscriber:
        """A live feed of the new journal entries of an account."""
        subscriber = Subscriber()
        self.account(account_name).subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, account_name: str, subscriber: Subscriber) -> None:
        account = self.accounts.get(account_name)
        if account is not None:
            account.subscribers.discard(subscriber)

    # -- reset -----------------------------------------------------------------------

    def reset(self) -> None:
        """Everything back to empty, or to what ``--load`` loaded."""
        subscribers = {a.name: a.subscribers for a in self.accounts.values() if a.subscribers}
        self.accounts = {}
        self._by_id = {}
        self._pending = []
        self._trimmed = set()
        if self.simulation is not None:
            self.simulation.reset()
        for name, subs in subscribers.items():
            self.account(name).subscribers = subs  # live streams keep following
        if self._state is not None:
            with self._state.transaction() as db:
                db.clear_all()
                self._install_baseline(db)
        else:
            self._install_baseline()

    def _install_baseline(self, db: SqliteState | None = None) -> None:
        for spec in self.baseline:
            response = self._queue(spec, loaded=True)
            if db is not None:
                self._save(db, response, True)

    # -- persistence -----------------------------------------------------------------

    def _restore(self, state: SqliteState) -> None:
        snapshot = state.load(self.journal_limit)
        self._next_entry_id = snapshot.next_entry_id
        self._next_seq = snapshot.next_seq
        now = time.time()
        with state.transaction() as db:
            # The load file is the truth for loaded responses: replace last run's copies,
            # so that editing the file and restarting shows the edit.
            db.delete_loaded_responses()
            stale = []
            for saved in snapshot.responses:
                if saved.loaded:
                    continue
                if saved.expires_at is not None and saved.expires_at <= now:
                    stale.append(saved.id)
                    continue
                try:
                    response = compile_response(
                        saved.spec,
                        id=saved.id,
                        seq=saved.seq,
                        created=saved.created,
                        remaining=saved.remaining,
                        expires_at=saved.expires_at,
                    )
                except (KeyError, TypeError, AttributeError, ValueError) as error:
                    raise state.damaged("responses", saved.id, error) from None
                self.account(response.account).responses.add(response)
                self._by_id[response.id] = response
            db.delete_responses(stale)
            self._install_baseline(db)
        # Entries read back share equal header sets, queries and response bodies, as
        # entries made while serving do (see `_shared`): a full journal takes a fraction
        # of the memory.
        shared: dict[Any, Any] = {}
        for name, rows in snapshot.journal.items():
            journal = self.account(name).journal
            for row_id, text, ts in rows:
                try:
                    entry = entry_from_dict(json.loads(text), float(ts))
                except (KeyError, TypeError, AttributeError, ValueError, RecursionError) as error:
                    raise state.damaged("journal", row_id, error) from None
                journal.append(_shared_parts(entry, shared))
            rows.clear()  # let go of the text as the entries are made
        for name, dropped in snapshot.dropped.items():
            self.account(name).journal.dropped += dropped

    def _commit(self) -> None:
        if self._state is not None and (self._pending or self._trimmed):
            with self._state.transaction() as db:
                self._flush_into(db)

    def _flush_into(self, db: SqliteState) -> None:
        """Write pending journal entries and trims (inside the caller's transaction)."""
        if self._pending:
            rows = []
            for entry in self._pending:
                account = self.accounts.get(entry[ACCOUNT])
                oldest = account.journal.oldest_id if account is not None else None
                if oldest is None or entry[ID] < oldest:
                    continue  # already dropped (or cleared) before it was written
                rows.append((entry[ID], entry[ACCOUNT], entry[TS], entry_json(entry)))
            db.write_journal(rows, self._next_entry_id)
            self._pending = []  # only once written: a failed commit is tried again
        for name in self._trimmed:
            account = self.accounts.get(name)
            if account is not None:
                db.trim_journal(name, account.journal.oldest_id, account.journal.dropped)
        self._trimmed = set()

    def _group_commit(self) -> None:
        """Commit every entry journaled since the last group commit; settle its waiters."""
        done, self._durable = self._durable, None
        try:
            self._commit()
        except Exception as error:  # a full disk, a lock held by another program
            log.error("writing the journal to the state file failed: %s", error)
            if done is not None and not done.done():
                done.set_exception(error)
                done.exception()  # retrieved: a call answered without awaiting it is fine
            return
        if done is not None and not done.done():
            done.set_result(None)

    async def _flush_loop(self) -> None:
        assert self._wake_flusher is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_flusher.wait(), _FLUSH_INTERVAL_S)
            self._wake_flusher.clear()
            try:
                self._commit()
            except Exception:  # a full disk must not stop the mock from serving
                log.exception("writing the journal to the state file failed")
