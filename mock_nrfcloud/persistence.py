"""``--state FILE``: the queue and the journal in SQLite (stdlib ``sqlite3``).

The database runs in WAL mode with ``synchronous=NORMAL``: a committed transaction is
in the operating system's hands, which survives ``kill -9`` of the mock (not a power
cut, which is not what a test mock needs to survive). The store commits every admin
change and every consumption of a one-shot response before answering; journal entries
are written in small batches, and always together with the next commit, so anything
journaled before an acknowledged admin call is durable too.

Everything runs on the event loop thread: single-row commits in WAL mode take tens of
microseconds, less than handing them to a thread would cost. So that nothing can freeze
the loop, a write that finds the file locked by another program waits at most
``BUSY_TIMEOUT_MS`` and then fails with ``sqlite3.OperationalError`` (the caller
answers 503).

The file keeps accounts by id (accounts.py), never by API key: ``meta.format`` is
``FORMAT`` (2). A file of format 1 (no ``format``; a mock that kept accounts by key) is
migrated when it is opened: every key becomes its id, and the file is vacuumed so that no
key is left in its free pages. A file of a newer format is refused.

One process owns a state file: ``SqliteState`` takes an exclusive ``flock`` on
``<file>.lock`` and refuses to open when another process holds it (two mocks on one
file would overwrite each other's journal ids).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mock_nrfcloud.accounts import account_id

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    seq INTEGER NOT NULL,
    spec TEXT NOT NULL,
    remaining INTEGER NOT NULL,
    expires_at REAL,
    created REAL NOT NULL,
    loaded INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    ts REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_by_account ON journal (account, id);
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY,
    dropped INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


# The file's format (``meta.format``): 2 keeps accounts by id; 1 (none given) by API key.
FORMAT = 2

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; a second process is not detected
    fcntl = None  # type: ignore[assignment]

# How long a write waits for a lock held by another program (the sqlite3 shell, say).
BUSY_TIMEOUT_MS = 100
# At start-up a little longer: a previous process may be finishing its last commit.
_OPEN_TIMEOUT_S = 1.0


class StateFileError(Exception):
    """A state file that cannot be used; the message names the file and what is wrong."""


@dataclass
class SavedResponse:
    id: str
    seq: int
    spec: dict[str, Any]
    remaining: int
    expires_at: float | None
    created: float
    loaded: bool


@dataclass
class Snapshot:
    """What a previous run left behind."""

    responses: list[SavedResponse] = field(default_factory=list)
    # account -> (row id, entry JSON text, ts), oldest first; parsed by the store one by
    # one, so that a restart never holds every entry twice (as dicts and as tuples).
    journal: dict[str, list[tuple[int, str, float]]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    next_entry_id: int = 1
    next_seq: int = 1


class SqliteState:
    """The SQLite file behind ``--state``."""

    def __init__(self, path: str | Path) -> None:
        """Raises ``StateFileError`` when another process uses the file, ``sqlite3.Error``
        when it is not a database or stays locked."""
        self.path = Path(path)
        self._lock_fd = _lock(self.path)
        self._in_tx = False
        try:
            # isolation_level=None: transactions are explicit (BEGIN/COMMIT below).
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=_OPEN_TIMEOUT_S
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._upgrade()
        except BaseException:
            if hasattr(self, "_db"):
                self._db.close()
            self._unlock()
            raise

    def _upgrade(self) -> None:
        """Bring a file of an older format to ``FORMAT``, or refuse a newer one."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        try:
            found = 1 if row is None else int(row[0])
        except ValueError:
            found = -1
        if found == FORMAT:
            return
        if found != 1:
            raise StateFileError(
                f"{self.path}: meta.format is {row[0]!r}; this mock reads format {FORMAT}"
                " (and migrates format 1): start with a new state file"
            )
        with self.transaction():
            migrated = self._accounts_by_id()
            self._set_meta("format", FORMAT)
        if migrated:
            # The keys are still in the freed pages and the WAL: rewrite the whole file.
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _accounts_by_id(self) -> bool:
        """Format 1 -> 2: each account's key becomes its id (in the columns and in the
        JSON of specs and entries). Whether anything was there to change."""
        db = self._db
        changed = False
        for table, column in (("responses", "spec"), ("journal", "data")):  # our own names
            rows = db.execute(f"SELECT id, account, {column} FROM {table}").fetchall()
            for row_id, key, text in rows:
                db.execute(
                    f"UPDATE {table} SET account = ?, {column} = ? WHERE id = ?",
                    (*_by_id(text, key), row_id),
                )
                changed = True
        dropped: dict[str, int] = {}
        for name, count in db.execute("SELECT name, dropped FROM accounts").fetchall():
            dropped[account_id(name)] = dropped.get(account_id(name), 0) + count
            changed = True
        db.execute("DELETE FROM accounts")
        db.executemany("INSERT INTO accounts (name, dropped) VALUES (?, ?)", dropped.items())
        return changed

    def serving(self) -> None:
        """From now on, wait at most ``BUSY_TIMEOUT_MS`` for another program's lock."""
        self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    def close(self) -> None:
        self._db.close()
        self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    @contextmanager
    def transaction(self) -> Iterator[SqliteState]:
        """One atomic, committed unit of change (re-entrant: inner uses join the outer)."""
        if self._in_tx:
            yield self
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._in_tx = True
        try:
            yield self
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")
        finally:
            self._in_tx = False

    # -- reading, at start-up --------------------------------------------------------

    def damaged(self, table: str, row_id: object, error: Exception) -> StateFileError:
        """The error for a row that cannot be read back."""
        return StateFileError(
            f"{self.path}: row {row_id!r} of table {table} is damaged ({error});"
            f' delete that row (sqlite3 {self.path} "DELETE FROM {table} WHERE id = {row_id!r}")'
            " or start with a new state file"
        )

    def load(self, journal_limit: int) -> Snapshot:
        snapshot = Snapshot()
        for row in self._db.execute(
            "SELECT id, seq, spec, remaining, expires_at, created, loaded"
            " FROM responses ORDER BY seq"
        ):
            try:
                spec = json.loads(row[2])
                if not isinstance(spec, dict):
                    raise ValueError("the spec is not a JSON object")
            except (ValueError, TypeError, RecursionError) as error:
                raise self.damaged("responses", row[0], error) from None
            snapshot.responses.append(
                SavedResponse(row[0], row[1], spec, row[3], row[4], row[5], bool(row[6]))
            )
        accounts = [r[0] for r in self._db.execute("SELECT DISTINCT account FROM journal")]
        for account in accounts:
            rows = self._db.execute(
                "SELECT id, data, ts FROM journal WHERE account = ? ORDER BY id DESC LIMIT ?",
                (account, journal_limit),
            ).fetchall()
            rows.reverse()
            snapshot.journal[account] = rows
        snapshot.dropped = dict(self._db.execute("SELECT name, dropped FROM accounts"))
        meta = dict(self._db.execute("SELECT key, value FROM meta"))
        max_entry = self._db.execute("SELECT MAX(id) FROM journal").fetchone()[0] or 0
        max_seq = self._db.execute("SELECT MAX(seq) FROM responses").fetchone()[0] or 0
        snapshot.next_entry_id = max(int(meta.get("next_entry_id", 1)), max_entry + 1)
        snapshot.next_seq = max(int(meta.get("next_seq", 1)), max_seq + 1)
        return snapshot

    # -- writing (call inside ``transaction()``) ------------------------------------

    def save_response(
        self,
        id: str,
        account: str,
        seq: int,
        spec: dict[str, Any],
        remaining: int,
        expires_at: float | None,
        created: float,
        loaded: bool = False,
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO responses"
            " (id, account, seq, spec, remaining, expires_at, created, loaded)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (id, account, seq, json.dumps(spec), remaining, expires_at, created, int(loaded)),
        )
        self._set_meta("next_seq", seq + 1)

    def update_remaining(self, id: str, remaining: int) -> None:
        self._db.execute("UPDATE responses SET remaining = ? WHERE id = ?", (remaining, id))

    def delete_response(self, id: str) -> None:
        self._db.execute("DELETE FROM responses WHERE id = ?", (id,))

    def delete_responses(self, ids: Iterable[str]) -> None:
        self._db.executemany("DELETE FROM responses WHERE id = ?", [(i,) for i in ids])

    def delete_account_responses(self, account: str) -> None:
        self._db.execute("DELETE FROM responses WHERE account = ?", (account,))

    def delete_loaded_responses(self) -> None:
        self._db.execute("DELETE FROM responses WHERE loaded = 1")

    def write_journal(self, rows: list[tuple[int, str, float, str]], next_entry_id: int) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO journal (id, account, ts, data) VALUES (?, ?, ?, ?)", rows
        )
        self._set_meta("next_entry_id", next_entry_id)

    def trim_journal(self, account: str, oldest_kept: int | None, dropped: int) -> None:
        if oldest_kept is None:
            self._db.execute("DELETE FROM journal WHERE account = ?", (account,))
        else:
            self._db.execute(
                "DELETE FROM journal WHERE account = ? AND id < ?", (account, oldest_kept)
            )
        self._db.execute(
            "INSERT INTO accounts (name, dropped) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET dropped = excluded.dropped",
            (account, dropped),
        )

    def clear_journal(self, account: str) -> None:
        self._db.execute("DELETE FROM journal WHERE account = ?", (account,))
        self._db.execute("DELETE FROM accounts WHERE name = ?", (account,))

    def clear_all(self) -> None:
        self._db.execute("DELETE FROM responses")
        self._db.execute("DELETE FROM journal")
        self._db.execute("DELETE FROM accounts")

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )


def _by_id(text: str, key: str) -> tuple[str, str]:
    """(the id of ``key``, the JSON ``text`` with its ``account`` as that id), for a
    format 1 row of the account ``key``. A row that is not JSON keeps its text (``load``
    names it as damaged)."""
    account = account_id(key)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return account, text
    if not isinstance(data, dict):
        return account, text
    data["account"] = account
    return account, json.dumps(data, separators=(",", ":"))


def _lock(path: Path) -> int | None:
    """Take ``<path>.lock`` for this process, or raise ``StateFileError``."""
    if fcntl is None:
        return None
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise StateFileError(f"cannot create the lock file {lock_path}: {error.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StateFileError(
            f"the state file {path} is in use by another process (it holds {lock_path});"
            " stop that one, or give this one another --state file"
        ) from None
    return fd
