"""The pure parts of the 2024-04-17 FOTA flow: ULIDs, the request, the target,
eligibility from the LwM2M shadow, the next bundle with used versions, and
`apiVersion` front matter."""

from __future__ import annotations

import datetime

import pytest

from harness.api_version import feature_api_version, parse_api_version
from harness.spec.model import Feature
from harness.targets.base import Target
from reference_backend.fota.flow import (
    FlowProblem,
    eligible_version,
    firmware,
    job_target,
    next_bundle,
    reported_raw_version,
    validate_request,
)
from reference_backend.ulid import CROCKFORD, is_ulid, new_ulid

APP = "APP*1e29dfa3*v2.0.1"
MODEM = "MODEM*ad48df2a*mfw_nrf91x1_2.0.2"


def shadow(
    app: str | None = "2.0.0",
    modem: str | None = "mfw_nrf91x1_2.0.1",
    fota: list[str] | None = None,
) -> dict:
    side: dict = {}
    info = {k: v for k, v in (("3", app), ("2", modem)) if v is not None}
    if info:
        side["14204:1.0"] = {"0": info}
    if fota is not None:
        side["14401:1.0"] = {"0": {"0": fota}}
    return side


def test_ulids_are_26_crockford_characters_in_time_order() -> None:
    ids = [new_ulid(now_ms=ms) for ms in (1, 2, 1_700_000_000_000, 2**48 - 1)]
    assert all(len(i) == 26 and set(i) <= set(CROCKFORD) and is_ulid(i) for i in ids)
    assert ids == sorted(ids)
    assert new_ulid(now_ms=0, randomness=0) == "0" * 26
    assert new_ulid(now_ms=2**48 - 1, randomness=2**80 - 1) == "7" + "Z" * 25
    assert new_ulid() != new_ulid()
    with pytest.raises(ValueError, match="48 bits"):
        new_ulid(now_ms=2**48)


def test_is_ulid_refuses_other_shapes() -> None:
    for text in (
        "",
        "01J861VKYH5QVD6QQ5YXXF20E",
        "01J861VKYH5QVD6QQ5YXXF20EI",
        None,
        "bc631093-7f7c-4c1b-aa63-a68c759bcd5c",
        "01j861vkyh5qvd6qq5yxxf20ef",
    ):
        assert not is_ulid(text)
    assert is_ulid("01J861VKYH5QVD6QQ5YXXF20EF")


def test_the_request_has_an_upgrade_path_and_nothing_else() -> None:
    assert validate_request({"upgradePath": {"2.0.0": APP}}) == {"2.0.0": APP}
    for body in (
        {},
        [],
        {"upgradePath": {}},
        {"upgradePath": {"two": APP}},
        {"upgradePath": {"2.0.0": "v2.0.1"}},
        {"upgradePath": {"2.0.0": APP}, "x": 1},
        {"upgradePath": {"2.0.0": 1}},
        {"upgradePath": {"=2.0.0": APP}},
    ):
        with pytest.raises(FlowProblem) as info:
            validate_request(body)
        assert info.value.title == "Validation failed"


def test_the_bundle_types_decide_the_target() -> None:
    assert job_target({"1.0.0": APP, "2.0.0": "APP*cd5412d9*v2.0.2"}) == "app"
    assert job_target({"1.0.0": MODEM, "2.0.0": "MDM_FULL*bdd24c80*mfw_full"}) == "modem"
    with pytest.raises(FlowProblem, match="A job must have a single target!") as info:
        job_target({"1.0.0": APP, "2.0.0": MODEM})
    assert info.value.title == "Invalid upgrade path defined"
    assert job_target({"1.0.0": "BOOT*12345678*b"}) == "BOOT"  # no device supports it


def test_eligibility_from_the_shadow_with_the_real_backends_words() -> None:
    both = shadow(fota=["BOOT", "MODEM", "APP"])
    assert eligible_version(both, "app") == "2.0.0"
    assert eligible_version(both, "modem") == "2.0.1"
    cases = [
        (
            shadow(fota=["BOOT"]),
            "app",
            "Device is not eligible for FOTA",
            "This device does not support FOTA!",
        ),
        ({}, "app", "Device is not eligible for FOTA", "This device does not support FOTA!"),
        (
            shadow(app="unknown", modem=None, fota=["APP"]),
            "app",
            "Device is not eligible for FOTA",
            "This device has not reported any firmware versions!",
        ),
        (
            shadow(fota=["APP"]),
            "modem",
            "Invalid upgrade path defined",
            "The device does not support FOTA for target modem!",
        ),
        (
            shadow(app=None, fota=["APP", "MODEM"]),
            "app",
            "Invalid upgrade path defined",
            "The device has not reported an application firmware version!",
        ),
        (
            shadow(fota=["APP"]),
            "BOOT",
            "Invalid upgrade path defined",
            "The device does not support FOTA for target BOOT!",
        ),
    ]
    for side, target, title, detail in cases:
        with pytest.raises(FlowProblem) as info:
            eligible_version(side, target)
        assert (info.value.title, info.value.detail) == (title, detail)


def test_firmware_is_lenient_and_cuts_versions() -> None:
    # appVersion alone suffices (REAL-SUITE.md §3 row 10); pre-releases are cut
    side = {"14204:1.0": {"0": {"3": "v2.1.0-rc1"}}, "14401:1.0": {"0": {"0": ["APP"]}}}
    details = firmware(side)
    assert (details.app, details.modem, details.targets) == ("2.1.0", None, frozenset({"app"}))
    assert firmware(shadow(fota=["MDM_FULL"])).targets == frozenset({"modem"})


def test_a_write_carries_a_new_version_only_when_it_holds_the_resource() -> None:
    assert reported_raw_version(shadow(app="2.0.1"), "app") == "2.0.1"
    assert reported_raw_version({"14204:1.0": {"0": {"99": 1}}}, "app") is None
    assert reported_raw_version({"14203:1.0": {"0": {"3": "x"}}}, "app") is None
    assert reported_raw_version(shadow(modem="mfw_nrf91x1_2.0.2"), "modem") == "2.0.2"


def test_next_bundle_takes_the_first_matching_key_once_per_version() -> None:
    path = {"2.0.0": "A", "2.0.1": "B", ">=1.0.0": "C"}
    assert next_bundle(path, "2.0.0", []) == "A"
    assert next_bundle(path, "2.0.1", ["2.0.0"]) == "B"
    assert next_bundle(path, "3.0.0", ["2.0.0", "2.0.1"]) == "C"  # the range, in order
    assert next_bundle(path, "0.9.0", []) is None
    # a path that leads back to a version it came from ends instead of looping
    assert next_bundle({"2.0.0": "A", "2.0.1": "B"}, "2.0.0", ["2.0.0", "2.0.1"]) is None
    assert next_bundle({">=0.0.0": "A"}, "2.0.0", []) == "A"
    assert next_bundle({">=0.0.0": "A"}, "2.0.0", ["2.0.0"]) is None
    # key order decides, not exactness (semver `satisfies` of the first entry)
    assert next_bundle({">=1.0.0": "R", "2.0.0": "E"}, "2.0.0", []) == "R"


def test_api_version_option_and_front_matter() -> None:
    assert parse_api_version("2024-04-17") == "2024-04-17"
    assert parse_api_version("/2024-04-17/") == "2024-04-17"
    assert parse_api_version("") == ""
    with pytest.raises(ValueError, match="2024-04-17"):
        parse_api_version("v2")
    feature = Feature(path="x.feature.md", title="x", line=1)
    assert feature_api_version(feature) is None
    feature.front_matter = {"apiVersion": datetime.date(2024, 4, 17)}  # YAML's unquoted date
    assert feature_api_version(feature) == "2024-04-17"
    feature.front_matter = {"apiVersion": "2024-04-17"}
    assert feature_api_version(feature) == "2024-04-17"


def test_the_target_puts_apiurl_and_the_websocket_under_the_api_version() -> None:
    root = Target(api_url="http://b:1/", mock_url="http://m:2")
    assert root.values()["APIURL"] == "http://b:1"
    assert root.values()["websocketURL"] == "ws://b:1/ws"
    assert root.values("2024-04-17")["APIURL"] == "http://b:1/2024-04-17"
    dated = Target(api_url="https://b", mock_url="http://m:2", api_version="2024-04-17")
    assert dated.values()["APIURL"] == "https://b/2024-04-17"
    assert dated.values()["websocketURL"] == "wss://b/2024-04-17/ws"
    assert dated.values("")["websocketURL"] == "wss://b/ws"
    given = Target(api_url="https://b", ws_url="wss://w/ws", api_version="2024-04-17")
    assert given.values()["websocketURL"] == "wss://w/ws"
