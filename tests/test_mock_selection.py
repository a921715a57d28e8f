"""Choosing the response for a call, matchers, the bounded journal (no server)."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest

from mock_nrfcloud.accounts import account_id
from mock_nrfcloud.journal import METHOD, PATH, STATUS, JournalQuery, entry_dict
from mock_nrfcloud.matching import (
    BodyMatcher,
    LazyJsonBody,
    MatcherError,
    QueryMatcher,
    json_equal,
    normalize_path,
)
from mock_nrfcloud.problems import Problem
from mock_nrfcloud.store import Store
from mock_nrfcloud.validation import parse_response_spec


def spec(**fields: Any) -> dict[str, Any]:
    return parse_response_spec({"method": "GET", "path": "/v1/x", **fields})


def call(
    store: Store,
    path: str = "/v1/x",
    *,
    method: str = "GET",
    query: dict | None = None,
    body: bytes = b"",
    account: str = "default",
) -> str | None:
    """Serve one call; the id of the response used, or None for 404."""
    pairs = tuple((query or {}).items())
    response, _ = store.serve(account, method, path, pairs, (), body)
    return None if response is None else response.id


def test_one_shots_are_served_in_queue_order_then_the_newest_kept() -> None:
    store = Store()
    kept_old = store.add_response(spec(keep=True)).id
    kept_new = store.add_response(spec(keep=True)).id
    first = store.add_response(spec()).id
    second = store.add_response(spec(times=2)).id
    assert [call(store) for _ in range(5)] == [first, second, second, kept_new, kept_new]
    store.remove_response(kept_new)
    assert call(store) == kept_old


def test_nothing_queued_or_nothing_matching_is_none() -> None:
    store = Store()
    assert call(store) is None
    store.add_response(spec(method="POST"))
    assert call(store) is None
    assert call(store, method="POST") is not None
    assert call(store, method="POST") is None


def test_paths_compare_with_a_trailing_slash_aside_and_percent_decoded() -> None:
    store = Store()
    store.add_response(spec(path="/v1/x/", keep=True))
    store.add_response(spec(path="/v1/firmwares/APP%2Aabc", keep=True))
    assert call(store, "/v1/x") is not None
    assert call(store, "/v1/x/") is not None
    assert call(store, "/v1/x/y") is None
    assert call(store, "/v1/firmwares/APP*abc") is not None
    assert normalize_path("/") == "/"


def test_query_matchers_equal_regex_and_extra_parameters() -> None:
    store = Store()
    shadow = store.add_response(
        spec(
            path="/v1/devices",
            query={"includeState": "true", "deviceIds": r"/(^|,)oob-1(,|$)/"},
            keep=True,
        )
    ).id
    assert (
        call(store, "/v1/devices", query={"includeState": "true", "deviceIds": "oob-1"}) == shadow
    )
    assert (
        call(
            store,
            "/v1/devices",
            query={"deviceIds": "oob-2,oob-1", "includeState": "true", "x": "1"},
        )
        == shadow
    )
    assert call(store, "/v1/devices", query={"includeState": "true", "deviceIds": "oob-11"}) is None
    assert call(store, "/v1/devices", query={"deviceIds": "oob-1"}) is None
    assert call(store, "/v1/devices", query={"includeState": "TRUE", "deviceIds": "oob-1"}) is None


def test_case_insensitive_regex_and_path_query_is_exact() -> None:
    assert QueryMatcher({"a": "/^ab$/i"})({"a": "AB"})
    store = Store()
    exact = store.add_response(spec(path="/v1/x?a=/b/", keep=True)).id
    assert call(store, query={"a": "/b/"}) == exact
    assert call(store, query={"a": "abc"}) is None


def test_a_response_without_query_matches_any_query() -> None:
    store = Store()
    any_query = store.add_response(spec(keep=True)).id
    assert call(store, query={"whatever": "1"}) == any_query


def test_body_matchers() -> None:
    store = Store()
    matcher = {"$.deviceIdentifiers[0]": "oob-352656108602296", "$.autoApply": True}
    job = store.add_response(spec(method="POST", path="/v1/fota-jobs", body_matches=matcher)).id
    body = b'{"bundleId":"APP*1","autoApply":true,"deviceIdentifiers":["oob-352656108602296"]}'
    assert call(store, "/v1/fota-jobs", method="POST", body=b"not json") is None
    assert call(store, "/v1/fota-jobs", method="POST", body=body.replace(b"true", b"1")) is None
    assert call(store, "/v1/fota-jobs", method="POST", body=body) == job


def test_body_matcher_regex_and_json_equality() -> None:
    matcher = BodyMatcher({"$.bundleId": "/^APP\\*/", "$.n": 1})
    assert matcher(LazyJsonBody(b'{"bundleId": "APP*x", "n": 1.0}').get())
    assert not matcher(LazyJsonBody(b'{"bundleId": "MODEM*x", "n": 1}').get())
    assert not matcher(LazyJsonBody(b'{"bundleId": 5, "n": 1}').get())
    assert not matcher(LazyJsonBody(b"").get())
    assert json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not json_equal(True, 1)
    assert not json_equal("1", 1)
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})


def test_invalid_matchers_name_their_field() -> None:
    with pytest.raises(MatcherError) as caught:
        QueryMatcher({"deviceIds": "/(unclosed/"})
    assert caught.value.field == "query.deviceIds"
    with pytest.raises(MatcherError) as caught:
        BodyMatcher({"$[": 1})
    assert caught.value.field == "body_matches.$["


def test_expired_responses_are_never_served(monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store()
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)
    short = store.add_response(spec(ttl_s=1)).id
    kept = store.add_response(spec(keep=True, ttl_s=1)).id
    fallback = store.add_response(spec(keep=True)).id
    assert [r.id for r in store.responses("default")] == [short, kept, fallback]
    monkeypatch.setattr(time, "time", lambda: now + 1.5)
    assert [r.id for r in store.responses("default")] == [fallback]
    assert call(store) == fallback
    assert store.get_response(short) is None


def test_accounts_are_separate() -> None:
    # The store sees account ids; parse_response_spec maps the key it is given.
    store = Store()
    a, b = account_id("key-a"), account_id("key-b")
    mine = store.add_response(spec(account="key-a")).id
    assert call(store, account=b) is None
    assert call(store) is None
    assert call(store, account=a) == mine
    assert len(store.journal(a) or []) == 1
    assert len(store.journal(b) or []) == 1


def test_journal_is_bounded_and_counts_what_it_dropped() -> None:
    store = Store(journal_limit=3)
    for index in range(5):
        call(store, f"/v1/p{index % 2}")
    journal = store.journal("default")
    assert journal is not None
    assert len(journal) == 3
    assert journal.dropped == 2
    assert [e[PATH] for e in journal.entries()] == ["/v1/p0", "/v1/p1", "/v1/p0"]
    assert journal.count(JournalQuery(path="/v1/p0")) == 2
    assert journal.count(JournalQuery(path="/v1/p1")) == 1


def test_journal_compacts_and_keeps_order_over_many_drops() -> None:
    store = Store(journal_limit=10)
    for index in range(10_000):
        call(store, f"/v1/{index % 3}")
    journal = store.journal("default")
    assert journal is not None
    ids = [e[0] for e in journal.entries()]
    assert ids == list(range(9_991, 10_001))
    assert journal.dropped == 9_990
    assert journal.entries(since=9_995, limit=2)[0][0] == 9_996
    assert [e[0] for e in journal.entries(last=2)] == [9_999, 10_000]
    assert sum(journal.count(JournalQuery(path=f"/v1/{i}")) for i in range(3)) == 10


def test_journal_queries() -> None:
    store = Store()
    call(store, "/v1/devices", query={"deviceIds": "oob-1"})
    call(store, "/v1/fota-jobs", method="POST", body=b'{"bundleId": "APP*1"}')
    call(store, "/v1/fota-jobs/", method="GET")
    journal = store.journal("default")
    assert journal is not None
    assert len(journal.find(JournalQuery(path="/v1/fota-jobs"))) == 2
    assert len(journal.find(JournalQuery(method="post", path="/v1/fota-jobs"))) == 1
    assert len(journal.find(JournalQuery(path="/^\\/v1\\/fota/"))) == 2
    assert len(journal.find(JournalQuery(query={"deviceIds": "/oob/"}))) == 1
    assert len(journal.find(JournalQuery(body_matches={"$.bundleId": "APP*1"}))) == 1
    assert journal.find(JournalQuery(headers={"x": "y"})) == []
    assert journal.entries(method="GET")[0][STATUS] == 404


def test_journal_entry_json_shape() -> None:
    store = Store()
    store.add_response(spec(method="POST", body={"jobId": "j"}, headers={"X-A": "1"}))
    _, entry = store.serve(
        "key", "POST", "/v1/x", (("a", "1"), ("a", "2")),
        (("Content-Type", "application/json"), ("X-Multi", "1"), ("X-Multi", "2")), b"\xff\x00",
    )  # fmt: skip
    data = entry_dict(entry)
    assert data["query"] == {"a": "1"}
    assert data["headers"] == {"Content-Type": "application/json", "X-Multi": "1, 2"}
    assert data["body"] is None and data["body_base64"] == "/wA="
    assert data["time"].endswith("Z")
    assert data["response"] == {
        "status": 404, "response_id": None, "matched": False, "fault": None,
        "headers": {"Content-Type": "text/plain; charset=utf-8"}, "body": "No responses found",
        "body_base64": None,
    }  # fmt: skip


def test_reset_returns_to_the_loaded_responses() -> None:
    store = Store(baseline=[spec(keep=True)])
    store.add_response(spec(path="/v1/other"))
    call(store)
    store.reset()
    assert [r.path for r in store.responses("default")] == ["/v1/x"]
    assert len(store.journal("default") or []) == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"method": 1}, "method"),
        ({"method": "GET X"}, "method"),
        ({"path": "v1"}, "path"),
        ({"path": "/__admin/health"}, "path"),
        ({"status": "200"}, "status"),
        ({"status": 99}, "status"),
        ({"status": True}, "status"),
        ({"query": {"a": 1}}, "query.a"),
        ({"query": []}, "query"),
        ({"query": {"a": "/(/"}}, "query.a"),
        ({"body_matches": {"$[": 1}}, "body_matches.$["),
        ({"headers": {"X-A": 1}}, "headers.X-A"),
        ({"headers": {"Bad Name": "x"}}, "headers.Bad Name"),
        ({"headers": {"X": "a\r\nb"}}, "headers.X"),
        ({"headers": [["X"]]}, "headers[0]"),
        ({"keep": "yes"}, "keep"),
        ({"keep": True, "times": 2}, "times"),
        ({"times": 0}, "times"),
        ({"ttl_s": 0}, "ttl_s"),
        ({"ttl_s": "1"}, "ttl_s"),
        ({"delay_ms": -1}, "delay_ms"),
        ({"fault": "explode"}, "fault"),
        ({"body_base64": "***"}, "body_base64"),
        ({"body": "x", "body_base64": "eA=="}, "body_base64"),
        ({"account": ""}, "account"),
        ({"account": "a b"}, "account"),
        ({"reason": "a\nb"}, "reason"),
        ({"nope": 1}, "nope"),
    ],
)
def test_bad_response_specs_name_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(Problem) as caught:
        spec(**fields)
    assert caught.value.status == 400
    assert caught.value.field == field


def test_required_fields() -> None:
    with pytest.raises(Problem) as caught:
        parse_response_spec({"path": "/v1/x"})
    assert caught.value.field == "method"
    with pytest.raises(Problem) as caught:
        parse_response_spec({"method": "GET"}, prefix="responses[2].")
    assert caught.value.field == "responses[2].path"


def test_a_path_search_merges_the_methods_in_call_order() -> None:
    store = Store(journal_limit=4)
    for method in ["GET", "POST", "GET", "PUT", "POST", "GET"]:
        call(store, "/v1/j", method=method)
    journal = store.journal("default")
    assert journal is not None
    found = journal.find(JournalQuery(path="/v1/j"))
    assert [(e[0], e[METHOD]) for e in found] == [(3, "GET"), (4, "PUT"), (5, "POST"), (6, "GET")]
    assert journal.count(JournalQuery(method="GET", path="/v1/j/")) == 2
    assert journal.count(JournalQuery(method="DELETE", path="/v1/j")) == 0
    assert [e[0] for e in journal.entries(since=4, path="/v1/j")] == [5, 6]


@pytest.mark.parametrize("limit", [0, 1, 5, 300])
def test_journal_index_agrees_with_a_plain_list_through_drops_and_compaction(
    limit: int,
) -> None:
    # The path index catches up in batches and the list compacts its dead prefix: at
    # any moment every query must answer what a plain list of the kept entries says.
    store = Store(journal_limit=limit)
    rng = random.Random(limit)
    paths = ["/v1/a", "/v1/a/", "/v1/b", "/", "/v1/c"]
    kept: list[tuple[int, str, str]] = []
    for n in range(1, 6001):
        method, path = rng.choice(["GET", "POST", "PUT"]), rng.choice(paths)
        call(store, path, method=method)
        kept = [*kept, (n, method, normalize_path(path))][-limit:] if limit else []
        if n % 397 and n not in (1, 63, 64, 65, 6000):
            continue
        journal = store.journal("default")
        assert journal is not None
        assert len(journal) == len(kept) and journal.dropped == n - len(kept)
        assert journal.count(JournalQuery()) == len(kept)
        assert [e[0] for e in journal.find(JournalQuery())] == [i for i, _, _ in kept]
        for path in ["/v1/a", "/v1/b/", "/", "/v1/c", "/v1/none"]:
            for method in [None, "GET", "POST", "DELETE"]:
                query = JournalQuery(method=method, path=path)
                want = [
                    i for i, m, p in kept
                    if p == normalize_path(path) and method in (None, m)
                ]  # fmt: skip
                assert journal.count(query) == len(want), (n, path, method)
                assert [e[0] for e in journal.find(query)] == want
            since = kept[len(kept) // 2][0] if kept else 0
            assert [e[0] for e in journal.entries(since=since, path=path)] == [
                i for i, _, p in kept if i > since and p == normalize_path(path)
            ]


def test_an_unconditional_kept_response_gives_way_to_one_shots_and_newer_kept() -> None:
    store = Store()
    always = store.add_response(spec(keep=True)).id
    assert call(store) == always
    once = store.add_response(spec()).id
    assert [call(store), call(store)] == [once, always]
    conditional = store.add_response(spec(keep=True, query={"a": "1"})).id
    assert [call(store, query={"a": "1"}), call(store)] == [conditional, always]
    newest = store.add_response(spec(keep=True)).id
    assert call(store) == newest
    assert store.remove_response(newest)
    assert call(store) == always
    store.add_response(spec(keep=True, ttl_s=60))
    assert store.remove_response(always)
    assert call(store, query={"a": "2"}) is not None


@pytest.mark.parametrize("cache_size", [3, 4096])
def test_equal_header_sets_and_bodies_are_kept_once_and_journaled_exactly(
    monkeypatch: pytest.MonkeyPatch, cache_size: int
) -> None:
    import mock_nrfcloud.store as store_module

    monkeypatch.setattr(store_module, "_SHARED_MAX", cache_size)  # 3: it empties often
    store = Store()
    store.add_response(spec(method="POST", keep=True))
    sent = []
    for n in range(10):
        headers = ((b"Host", b"mock"), (b"X-N", str(n % 4).encode()))
        body = b'{"n":%d}' % (n % 2)
        store.serve("default", "POST", "/v1/x", (("q", str(n % 3)),), headers, body)
        sent.append((n % 4, n % 2, n % 3))
    journal = store.journal("default")
    assert journal is not None
    entries = journal.entries()
    assert [
        (int(e["headers"]["X-N"]), json.loads(e["body"])["n"], int(e["query"]["q"]))
        for e in map(entry_dict, entries)
    ] == sent
    assert all(e[PATH] is entries[0][PATH] for e in entries)  # the response's own text
    if cache_size > 100:
        assert all(a[6] is b[6] for a, b in zip(entries, entries[4:], strict=False))
        assert all(a[7] is b[7] for a, b in zip(entries, entries[2:], strict=False))
