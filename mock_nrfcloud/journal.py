"""The request journal: every call an account received, bounded.

Appending is O(1) and cheap (the hot path): a list append and a count; once the
bound is reached the oldest entries go first and are counted as dropped. Entries are
kept in id order in a list with a moving start offset (so ``since`` is a binary
search) and indexed by path and method (so a verification search for one endpoint
only looks at that endpoint's calls, and counting them is a length); the index is
brought up to date in batches, and always before it is read.

An entry is a plain tuple of strings, numbers, bytes and tuples of pairs, never a
class instance or a dict: CPython's garbage collector stops tracking such tuples, so
100,000 journal entries add nothing to the collector's full passes (which otherwise
pause the server for tens of milliseconds every few seconds under load). Use the
field positions below, ``entry_dict`` and ``entry_json``.
"""

from __future__ import annotations

import base64
import bisect
import heapq
import json
from collections import deque
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any

from mock_nrfcloud.guard import redact
from mock_nrfcloud.matching import (
    BodyMatcher,
    HeaderMatcher,
    LazyJsonBody,
    QueryMatcher,
    normalize_path,
    regex_of,
    text_matcher,
)
from mock_nrfcloud.wire import Pairs, first_values, iso_time

# Request headers as the server received them: aiohttp's ``request.raw_headers``,
# kept as they are (no copy per call); entries restored from ``--state`` hold text.
RawPairs = tuple[tuple[bytes, bytes], ...]
# (id, ts, account, method, path, query, headers, body,
#  status, response_id, matched, fault, response_headers, response_body)
Entry = tuple[
    int, float, str, str, str, Pairs, Pairs | RawPairs, bytes | None,
    int | None, str | None, bool, str | None, Pairs, bytes | None,
]  # fmt: skip
(
    ID, TS, ACCOUNT, METHOD, PATH, QUERY, HEADERS, BODY,
    STATUS, RESPONSE_ID, MATCHED, FAULT, RESPONSE_HEADERS, RESPONSE_BODY,
) = range(14)  # fmt: skip

_entry_id = itemgetter(ID)

# The path index is brought up to date after this many appends (and before it is read).
_SYNC_EVERY = 64
# The list of entries drops its dead prefix once it is this long (and an eighth of it).
_COMPACT_AFTER = 4096


def _text_or_base64(data: bytes | None) -> tuple[str | None, str | None]:
    """Bodies are shown as text when they are UTF-8, else as base64."""
    if not data:
        return None, None
    try:
        return data.decode(), None
    except UnicodeDecodeError:
        return None, base64.b64encode(data).decode()


def _bytes_of(text: str | None, b64: str | None) -> bytes | None:
    if b64:
        return base64.b64decode(b64)
    if text:
        return text.encode()
    return None


def header_pairs(pairs: Pairs | RawPairs) -> Pairs:
    """Header pairs as text (raw bytes decoded the way aiohttp decodes them)."""
    if pairs and isinstance(pairs[0][0], bytes):
        return tuple(
            (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
            for name, value in pairs  # type: ignore[union-attr]
        )
    return pairs  # type: ignore[return-value]


def joined_values(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers as name -> value; a repeated header's values joined as HTTP allows."""
    result: dict[str, str] = {}
    for name, value in pairs:
        result[name] = f"{result[name]}, {value}" if name in result else value
    return result


def redacted_headers(pairs: Pairs | RawPairs) -> dict[str, str]:
    """Request headers as shown: secrets (``Authorization``) keep only their scheme."""
    return {name: redact(name, value) for name, value in joined_values(header_pairs(pairs)).items()}


def entry_dict(entry: Entry) -> dict[str, Any]:
    """The JSON form of an entry (what the admin API, the live stream and ``--state`` hold).

    ``Authorization`` values are redacted here, the one place every view goes through;
    in memory the entry keeps them, so a search by that header still works until a
    restart.
    """
    body, body_b64 = _text_or_base64(entry[BODY])
    response_body, response_b64 = _text_or_base64(entry[RESPONSE_BODY])
    return {
        "id": entry[ID],
        "time": iso_time(entry[TS]),
        "account": entry[ACCOUNT],
        "method": entry[METHOD],
        "path": entry[PATH],
        "query": first_values(entry[QUERY]),
        "headers": redacted_headers(entry[HEADERS]),
        "body": body,
        "body_base64": body_b64,
        "response": {
            "status": entry[STATUS],
            "response_id": entry[RESPONSE_ID],
            "matched": entry[MATCHED],
            "fault": entry[FAULT],
            "headers": joined_values(entry[RESPONSE_HEADERS]),
            "body": response_body,
            "body_base64": response_b64,
        },
    }


def entry_json(entry: Entry) -> str:
    return json.dumps(entry_dict(entry), separators=(",", ":"))


def entry_from_dict(data: dict[str, Any], ts: float) -> Entry:
    """Rebuild an entry from its JSON form (restoring ``--state``)."""
    response = data["response"]
    return (
        data["id"],
        ts,
        data["account"],
        data["method"],
        data["path"],
        tuple((data.get("query") or {}).items()),
        tuple((data.get("headers") or {}).items()),
        _bytes_of(data.get("body"), data.get("body_base64")),
        response.get("status"),
        response.get("response_id"),
        bool(response.get("matched")),
        response.get("fault"),
        tuple((response.get("headers") or {}).items()),
        _bytes_of(response.get("body"), response.get("body_base64")),
    )


class JournalQuery:
    """A compiled search: every given criterion must hold."""

    __slots__ = ("body_matches", "headers", "method", "path", "path_exact", "query")

    def __init__(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body_matches: dict[str, Any] | None = None,
    ) -> None:
        """Raises ``matching.MatcherError`` for an invalid regex or JSONPath."""
        self.method = method.upper() if method else None
        self.path_exact: str | None = None
        self.path: Callable[[str], bool] | None = None
        if path is not None:
            if regex_of(path) is None:
                self.path_exact = normalize_path(path)
            else:
                self.path = text_matcher(path, "path")
        self.query = QueryMatcher(query) if query else None
        self.headers = HeaderMatcher(headers) if headers else None
        self.body_matches = BodyMatcher(body_matches) if body_matches else None

    @property
    def everything(self) -> bool:
        """No criterion at all: every entry matches."""
        return (
            self.method is None
            and self.path_exact is None
            and not (self.path or self.query or self.headers or self.body_matches)
        )

    @property
    def index_only(self) -> bool:
        """Only an exact path (and maybe a method): the journal's index answers alone."""
        return self.path_exact is not None and not (
            self.path or self.query or self.headers or self.body_matches
        )

    def __call__(self, entry: Entry) -> bool:
        if self.path_exact is not None and normalize_path(entry[PATH]) != self.path_exact:
            return False
        return self.matches_rest(entry)

    def matches_rest(self, entry: Entry) -> bool:
        """Every criterion but an exact path (which the path index already applied)."""
        if self.method is not None and entry[METHOD] != self.method:
            return False
        if self.path is not None and not self.path(entry[PATH]):
            return False
        if self.query is not None and not self.query(first_values(entry[QUERY])):
            return False
        if self.headers is not None and not self.headers(
            joined_values(header_pairs(entry[HEADERS]))
        ):
            return False
        return self.body_matches is None or self.body_matches(
            LazyJsonBody(entry[BODY] or b"").get()
        )


# What an entry costs besides its bodies (the tuple, its id, time, path and pairs).
ENTRY_OVERHEAD_BYTES = 256


def entry_size(entry: Entry) -> int:
    """The bytes an entry counts against ``--journal-max-mb``: its bodies and an overhead.

    Response bodies are usually shared with the queued response, so this overstates
    the memory; a bound that errs on the safe side.
    """
    body = entry[BODY]
    response_body = entry[RESPONSE_BODY]
    return (
        ENTRY_OVERHEAD_BYTES
        + len(entry[PATH])
        + (len(body) if body else 0)
        + (len(response_body) if response_body else 0)
    )


class Journal:
    """The bounded journal of one account: at most ``limit`` entries and ``max_bytes``."""

    def __init__(self, limit: int, max_bytes: int | None = None) -> None:
        self.limit = limit
        self.max_bytes = max_bytes
        self.bytes = 0  # the entry_size of the entries kept
        self.dropped = 0
        self._entries: list[Entry] = []
        self._start = 0  # the oldest entry kept; those before it are dropped
        # normalised path -> method -> that endpoint's entries, oldest first. Appending
        # only adds to the list; the index catches up in batches (``_sync``), and before
        # anything reads it.
        self._index: dict[str, dict[str, deque[Entry]]] = {}
        self._indexed = 0  # entries before this position have been added to the index
        self._unindexed = 0  # entries before this position have been taken out again

    def __len__(self) -> int:
        return len(self._entries) - self._start

    def append(self, entry: Entry) -> int:
        """Add an entry; returns how many old entries were dropped to make room (O(1))."""
        entries = self._entries
        entries.append(entry)
        self.bytes += entry_size(entry)
        dropped = len(entries) - self._start - self.limit
        if dropped > 0:
            for old in entries[self._start : self._start + dropped]:
                self.bytes -= entry_size(old)
            self._start += dropped
            self.dropped += dropped
        else:
            dropped = 0
        max_bytes = self.max_bytes
        if max_bytes is not None and self.bytes > max_bytes:
            # The newest entry is always kept, even when it alone is over the bound.
            while self.bytes > max_bytes and len(entries) - self._start > 1:
                self.bytes -= entry_size(entries[self._start])
                self._start += 1
                self.dropped += 1
                dropped += 1
        if len(entries) - self._indexed >= _SYNC_EVERY:
            self._sync()
        return dropped

    def _sync(self) -> None:
        """Bring the path index up to date: take dropped entries out, add new ones.

        Calls come in runs to one endpoint, so each loop keeps the bucket it used last.
        """
        entries = self._entries
        index = self._index
        start = self._start
        last_path: str | None = None
        last_method: str | None = None
        bucket: deque[Entry] | None = None
        for oldest in entries[self._unindexed : min(self._indexed, start)]:
            path = oldest[PATH]
            method = oldest[METHOD]
            if bucket is None or path != last_path or method != last_method:
                key = normalize_path(path) if path[-1:] == "/" else path
                bucket = index[key][method]
                last_path, last_method = path, method
            bucket.popleft()  # entries leave in id order, so it is this bucket's first
            if not bucket:
                key = normalize_path(path) if path[-1:] == "/" else path
                methods = index[key]
                del methods[method]
                if not methods:
                    del index[key]
                bucket = None
        bucket = None
        for entry in entries[max(self._indexed, start) :]:
            path = entry[PATH]
            method = entry[METHOD]
            if bucket is None or path != last_path or method != last_method:
                key = normalize_path(path) if path[-1:] == "/" else path
                methods = index.get(key)
                if methods is None:
                    methods = index[key] = {}
                bucket = methods.get(method)
                if bucket is None:
                    bucket = methods[method] = deque()
                last_path, last_method = path, method
            bucket.append(entry)
        # Compacting the list once the dead prefix is long keeps this amortised O(1)
        # without copying on every drop, and the prefix under an eighth of the list.
        if start >= _COMPACT_AFTER and start * 8 >= len(entries):
            del entries[:start]
            start = self._start = 0
        self._unindexed = start
        self._indexed = len(entries)

    @property
    def oldest_id(self) -> int | None:
        return self._entries[self._start][ID] if len(self) else None

    @property
    def newest_id(self) -> int | None:
        return self._entries[-1][ID] if len(self) else None

    def clear(self) -> None:
        """Forget every entry (the dropped count stays; the caller decides)."""
        self._entries = []
        self._start = 0
        self.bytes = 0
        self._index = {}
        self._indexed = self._unindexed = 0

    def entries(
        self,
        *,
        since: int | None = None,
        method: str | None = None,
        path: str | None = None,
        limit: int | None = None,
        last: int | None = None,
    ) -> list[Entry]:
        """Entries oldest first: after id ``since``, the first ``limit`` or last ``last``."""
        self._catch_up()
        lo = self._start
        if since is not None:
            lo = bisect.bisect_right(self._entries, since, lo=lo, key=_entry_id)
        if method or path:
            query = JournalQuery(method=method, path=path)
            selected = [e for e in self._candidates(query, lo) if query.matches_rest(e)]
        else:
            selected = self._entries[lo:]
        if last is not None:
            selected = selected[-last:] if last else []
        if limit is not None:
            selected = selected[:limit]
        return selected

    def _catch_up(self) -> None:
        """Sync the index before reading it (this may also move the list's positions)."""
        if self._indexed != len(self._entries) or self._unindexed != self._start:
            self._sync()

    def _buckets(self, query: JournalQuery) -> list[deque[Entry]]:
        """The index buckets for the query's exact path (and method, if given)."""
        self._catch_up()
        methods = self._index.get(query.path_exact or "", {})
        if query.method is not None:
            bucket = methods.get(query.method)
            return [] if bucket is None else [bucket]
        return list(methods.values())

    def _candidates(self, query: JournalQuery, lo: int) -> Iterable[Entry]:
        """Entries (after position ``lo``) that may match, oldest first."""
        if query.path_exact is None:
            return self._entries[lo:]
        buckets = self._buckets(query)
        merged: Iterable[Entry]
        if not buckets:
            return ()
        merged = buckets[0] if len(buckets) == 1 else heapq.merge(*buckets, key=_entry_id)
        if lo == self._start:
            return merged
        after = self._entries[lo - 1][ID]
        return [e for e in merged if e[ID] > after]

    def find(self, query: JournalQuery) -> list[Entry]:
        """Every entry matching ``query``, oldest first."""
        if query.everything:
            return self._entries[self._start :]
        candidates = self._candidates(query, self._start)
        if query.index_only:
            return list(candidates)
        return [e for e in candidates if query.matches_rest(e)]

    def count(self, query: JournalQuery) -> int:
        """How many entries match ``query`` (O(1) for everything, a path, or a method and path)."""
        if query.everything:
            return len(self)
        if query.index_only:
            return sum(len(bucket) for bucket in self._buckets(query))
        return sum(1 for e in self._candidates(query, self._start) if query.matches_rest(e))
