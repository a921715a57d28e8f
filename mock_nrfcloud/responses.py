"""Queued responses and how one is chosen for a call.

Per account, responses are indexed by (method, path), so serving a call looks at the
few responses queued for that endpoint only. Within an endpoint the one-shot
responses wait in queue order (an ordered dict: FIFO with O(1) removal of whichever
one is used up) and the kept ones in the order they were queued; the first matching
one-shot wins, else the newest matching kept one.
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from itertools import chain
from typing import Any
from urllib.parse import unquote

from mock_nrfcloud.matching import BodyMatcher, LazyJsonBody, QueryMatcher, normalize_path
from mock_nrfcloud.templates import ResponseTemplate
from mock_nrfcloud.wire import Pairs, first_values, iso_time

# A 404 explains itself from at most this many pending responses of the account.
_NEAR_MISS_SCAN = 500


@dataclass(slots=True, eq=False)
class QueuedResponse:
    id: str
    seq: int
    spec: dict[str, Any]  # the canonical admin form, as listed and persisted
    account: str
    method: str
    path: str  # normalised: percent-decoded, no trailing slash
    query: QueryMatcher | None
    body_matches: BodyMatcher | None
    status: int
    reason: str | None
    headers: tuple[tuple[str, str], ...]  # a tuple: journal entries share it (see journal)
    body: bytes
    keep: bool
    remaining: int
    expires_at: float | None
    delay_ms: int
    fault: str | None
    created: float
    served: int = field(default=0)
    template: ResponseTemplate | None = None  # `template: true`: rendered per call

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    @property
    def unconditional(self) -> bool:
        """Matches every call to its endpoint, for ever (no matchers, no ``ttl``)."""
        return self.query is None and self.body_matches is None and self.expires_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.spec,
            "remaining": None if self.keep else self.remaining,
            "served": self.served,
            "created": iso_time(self.created),
            "expires_at": None if self.expires_at is None else iso_time(self.expires_at),
        }


def _served_body(spec: dict[str, Any]) -> tuple[bytes, str | None]:
    """The bytes to send, and the Content-Type to use when none was given."""
    if spec["body_base64"] is not None:
        return base64.b64decode(spec["body_base64"]), "application/octet-stream"
    body = spec["body"]
    if body is None:
        return b"", None
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body, separators=(",", ":")).encode(), "application/json"


def compile_response(
    spec: dict[str, Any],
    *,
    id: str,
    seq: int,
    created: float,
    remaining: int | None = None,
    expires_at: float | None = None,
) -> QueuedResponse:
    """Turn a checked spec (see ``validation.parse_response_spec``) into a servable response."""
    body, default_type = _served_body(spec)
    raw_headers = spec["headers"] or {}
    pairs = (
        list(raw_headers.items())
        if isinstance(raw_headers, dict)
        else [(name, value) for name, value in raw_headers]
    )
    # The server frames the body itself: a copied Content-Length (say, from a raw block
    # whose body was edited) would hang or break the client, so it is not sent.
    pairs = [(n, v) for n, v in pairs if n.lower() not in ("content-length", "transfer-encoding")]
    if default_type and not any(name.lower() == "content-type" for name, _ in pairs):
        pairs.append(("Content-Type", default_type))
    if expires_at is None and spec["ttl_s"] is not None:
        expires_at = created + spec["ttl_s"]
    template = ResponseTemplate(spec["body"], tuple(pairs)) if spec.get("template") else None
    return QueuedResponse(
        template=template,
        id=id,
        seq=seq,
        spec=spec,
        account=spec["account"],
        method=spec["method"],
        path=normalize_path(unquote(spec["path"])),
        query=QueryMatcher(spec["query"]) if spec["query"] else None,
        body_matches=BodyMatcher(spec["body_matches"]) if spec["body_matches"] else None,
        status=spec["status"],
        reason=spec["reason"],
        headers=tuple(pairs),
        body=body,
        keep=spec["keep"],
        remaining=0 if spec["keep"] else (spec["times"] if remaining is None else remaining),
        expires_at=expires_at,
        delay_ms=spec["delay_ms"] or 0,
        fault=spec["fault"],
        created=created,
    )


class _Endpoint:
    __slots__ = ("always", "kept", "one_shots")

    def __init__(self) -> None:
        self.one_shots: OrderedDict[str, QueuedResponse] = OrderedDict()
        self.kept: list[QueuedResponse] = []  # oldest first
        # The newest kept response when it is unconditional: with no one-shot pending
        # it is the answer to every call, found without looking at the call.
        self.always: QueuedResponse | None = None

    def kept_changed(self) -> None:
        kept = self.kept
        self.always = kept[-1] if kept and kept[-1].unconditional else None


def _common_prefix(a: str, b: str) -> int:
    """How many leading characters two paths share (to rank near misses by path)."""
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


class ResponseIndex:
    """The pending responses of one account."""

    def __init__(self) -> None:
        self._endpoints: dict[tuple[str, str], _Endpoint] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, response: QueuedResponse) -> None:
        key = (response.method, response.path)
        endpoint = self._endpoints.get(key)
        if endpoint is None:
            endpoint = self._endpoints[key] = _Endpoint()
        if response.keep:
            kept = endpoint.kept
            # Responses arrive in seq order except when restored; keep the list sorted.
            if kept and kept[-1].seq > response.seq:
                kept.append(response)
                kept.sort(key=lambda r: r.seq)
            else:
                kept.append(response)
            endpoint.kept_changed()
        else:
            endpoint.one_shots[response.id] = response
        self._count += 1

    def remove(self, response: QueuedResponse) -> bool:
        key = (response.method, response.path)
        endpoint = self._endpoints.get(key)
        if endpoint is None:
            return False
        if response.keep:
            try:
                endpoint.kept.remove(response)
            except ValueError:
                return False
            endpoint.kept_changed()
        elif endpoint.one_shots.pop(response.id, None) is None:
            return False
        if not endpoint.kept and not endpoint.one_shots:
            del self._endpoints[key]
        self._count -= 1
        return True

    def choose(
        self,
        method: str,
        path: str,
        query: Pairs,
        body: bytes,
        now: float,
        expired: list[QueuedResponse],
    ) -> QueuedResponse | None:
        """The response for a call, or None. Expired responses met are added to ``expired``.

        ``path`` must already be normalised. The caller removes ``expired`` ones. The
        query is turned into a dict, and the body parsed, only if a matcher asks.
        """
        endpoint = self._endpoints.get((method, path))
        if endpoint is None:
            return None
        if endpoint.always is not None and not endpoint.one_shots:
            return endpoint.always
        params: dict[str, str] | None = None
        document: LazyJsonBody | None = None
        # First the one-shots in queue order, then the kept ones newest first.
        for response in chain(endpoint.one_shots.values(), reversed(endpoint.kept)):
            if response.expires_at is not None and response.expires_at <= now:
                expired.append(response)
                continue
            if response.query is not None:
                if params is None:
                    params = first_values(query)
                if not response.query(params):
                    continue
            if response.body_matches is not None:
                if document is None:
                    document = LazyJsonBody(body)
                if not response.body_matches(document.get()):
                    continue
            return response
        return None

    def near_misses(
        self, method: str, path: str, query: Pairs, body: bytes, now: float, limit: int = 3
    ) -> list[tuple[QueuedResponse, str]]:
        """The pending responses closest to a call none matched, and why each failed.

        Closest: the same path before the same method, then the fewest failing
        matchers, then the longest common path prefix. Only on the 404 path, and at
        most ``_NEAR_MISS_SCAN`` responses are looked at.
        """
        params = first_values(query)
        document = LazyJsonBody(body)
        ranked: list[tuple[tuple[int, ...], int, QueuedResponse, str]] = []
        scanned = 0
        for (r_method, r_path), endpoint in self._endpoints.items():
            for response in chain(endpoint.one_shots.values(), reversed(endpoint.kept)):
                scanned += 1
                if scanned > _NEAR_MISS_SCAN:
                    break
                if response.expired(now):
                    continue
                reasons = []
                if r_path != path:
                    reasons.append(f"path: expected {r_path}, got {path}")
                if r_method != method:
                    reasons.append(f"method: expected {r_method}, got {method}")
                if r_path == path:
                    # Matchers are evaluated for the call's own path only: bounded work
                    # for a flood of unmatched calls to other paths.
                    if response.query is not None:
                        query_miss = response.query.explain(params)
                        if query_miss:
                            reasons.append(query_miss)
                    if response.body_matches is not None:
                        body_miss = response.body_matches.explain(document.get())
                        if body_miss:
                            reasons.append(body_miss)
                if not reasons:
                    continue
                prefix = _common_prefix(r_path, path)
                rank = (r_path != path, r_method != method, len(reasons), -prefix)
                ranked.append((rank, response.seq, response, "; ".join(reasons)))
        ranked.sort(key=lambda item: (item[0], item[1]))
        return [(response, reason) for _, _, response, reason in ranked[:limit]]

    def all(self) -> list[QueuedResponse]:
        """Every pending response, in the order they were queued."""
        items = [r for e in self._endpoints.values() for r in (*e.one_shots.values(), *e.kept)]
        items.sort(key=lambda r: r.seq)
        return items

    def clear(self) -> None:
        self._endpoints.clear()
        self._count = 0
