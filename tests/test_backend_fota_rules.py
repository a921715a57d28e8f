"""Upgrade-path validation, version matching and eligibility (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference_backend.fota.upgrade_path import (
    InvalidRequest,
    eligible_version,
    reported_version,
    validate_body,
)
from reference_backend.fota.versions import key_matches, parse_version, select_bundle
from reference_backend.shadow.lwm2m import objects_by_id, shadow_to_objects

APP = "APP*1e29dfa3*v2.0.1"
MODEM = "MODEM*ad48df2a*mfw_nrf91x1_2.0.2"


@pytest.mark.parametrize(
    ("key", "version", "expected"),
    [
        ("2.0.0", "2.0.0", True),
        ("2.0.0", "2.0.1", False),
        ("2.0.0", "v2.0.0", True),
        ("<2.0.0", "1.9.9", True),
        ("<2.0.0", "2.0.0", False),
        ("<2.0.0", "2.0.0-rc.1", True),
        ("<=2.0.0", "2.0.0", True),
        ("<=2.0.0", "2.0.1", False),
        (">2.0.0", "2.0.1", True),
        (">2.0.0", "2.0.0", False),
        (">2.0.0", "10.0.0", True),  # numeric, not lexical
        (">=0.0.0", "2.0.0", True),
        (">=2.0.0", "1.99.99", False),
        (">=1.0.0", "not-a-version", False),
        ("1.0.0", "1.0.0+build7", True),
    ],
)
def test_key_matches(key: str, version: str, expected: bool) -> None:
    assert key_matches(key, version) is expected


def test_prerelease_ordering() -> None:
    a, b, c, d = (parse_version(v) for v in ("1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta", "1.0.0"))
    assert a and b and c and d
    assert a.compare(b) == -1 and b.compare(c) == -1 and c.compare(d) == -1 and d.compare(a) == 1
    assert parse_version("1.0") is None and parse_version("") is None


def test_select_bundle_prefers_exact_then_first_range() -> None:
    path = {">=1.0.0": "APP*aaaaaaaa*x", "2.0.0": "APP*bbbbbbbb*y", ">=2.0.0": "APP*cccccccc*z"}
    assert select_bundle(path, "2.0.0") == "APP*bbbbbbbb*y"
    assert select_bundle(path, "2.1.0") == "APP*aaaaaaaa*x"
    assert select_bundle(path, "0.9.0") is None


def test_valid_body() -> None:
    assert validate_body({"upgradePath": {"2.0.0": APP, ">=2.0.1": APP}}, "app") == {
        "2.0.0": APP,
        ">=2.0.1": APP,
    }
    assert validate_body({"upgradePath": {"<2.0.2": MODEM}}, "modem") == {"<2.0.2": MODEM}
    assert validate_body({"upgradePath": {"1.0.0": "MDM_FULL*ad48df2a*x"}}, "modem")


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "x",
        {},
        {"upgradePath": None},
        {"upgradePath": []},
        {"upgradePath": {}},
        {"upgradePath": "2.0.0"},
        {"upgradePath": {"2.0": APP}},
        {"upgradePath": {"=2.0.0": APP}},
        {"upgradePath": {"~2.0.0": APP}},
        {"upgradePath": {"2.0.0 ": APP}},
        {"upgradePath": {"v2.0.0": APP}},
        {"upgradePath": {"2.0.0": 1}},
        {"upgradePath": {"2.0.0": None}},
        {"upgradePath": {"2.0.0": "APP*1e29dfa*v2.0.1"}},  # 7 characters
        {"upgradePath": {"2.0.0": "FOO*1e29dfa3*v2.0.1"}},
        {"upgradePath": {"2.0.0": "APP-1e29dfa3-v2.0.1"}},
        {"upgradePath": {"2.0.0": MODEM}},  # a modem bundle for the app
        {"upgradePath": {"2.0.0": "BOOT*1e29dfa3*v2.0.1"}},
        {"upgradePath": {f"{i}.0.0": APP for i in range(101)}},
    ],
)
def test_invalid_bodies(body: object) -> None:
    with pytest.raises(InvalidRequest):
        validate_body(body, "app")


def test_app_bundle_for_modem_is_invalid() -> None:
    with pytest.raises(InvalidRequest, match="does not fit"):
        validate_body({"upgradePath": {"2.0.0": APP}}, "modem")


@given(
    st.recursive(
        st.none() | st.integers() | st.text(max_size=20),
        lambda x: st.lists(x) | st.dictionaries(st.text(max_size=20), x),
        max_leaves=15,
    )
)
def test_any_body_validates_or_is_refused(body: object) -> None:
    for target in ("app", "modem"):
        try:
            result = validate_body({"upgradePath": body}, target)
        except InvalidRequest as e:
            assert str(e)
        else:
            assert isinstance(result, dict) and result


def _objects(app: str | None = "2.0.0", modem: str | None = None, fota: list | None = None) -> dict:
    info = {k: v for k, v in (("appVersion", app), ("modemFirmware", modem)) if v is not None}
    device: dict = {"deviceInfo": info}
    if fota is not None:
        device["serviceInfo"] = {"fota_v2": fota}
    return objects_by_id(shadow_to_objects({"reported": {"device": device}}))


def test_eligibility() -> None:
    assert eligible_version(_objects(fota=["APP"]), "app") == "2.0.0"
    assert eligible_version(_objects(modem="mfw_nrf91x1_2.0.1", fota=["MODEM"]), "modem") == "2.0.1"
    assert (
        eligible_version(_objects(modem="mfw_nrf91x1_2.0.1", fota=["MDM_FULL"]), "modem") == "2.0.1"
    )
    refusals = [
        (None, "app"),
        ({}, "app"),
        (_objects(fota=None), "app"),
        (_objects(fota=["BOOT", "MODEM"]), "app"),
        (_objects(fota="APP"), "app"),  # not a list
        (_objects(modem="mfw_nrf91x1_2.0.1", fota=["APP", "BOOT"]), "modem"),
        (_objects(app=None, fota=["APP"]), "app"),
        (_objects(fota=["MODEM"]), "modem"),  # no modemFirmware
    ]
    for objects, target in refusals:
        with pytest.raises(InvalidRequest):
            eligible_version(objects, target)


def test_modem_version_is_after_last_underscore() -> None:
    assert reported_version(_objects(modem="mfw_nrf9160_1.3.5"), "modem") == "1.3.5"
    assert reported_version(_objects(modem="1.3.5"), "modem") == "1.3.5"
    assert reported_version(_objects(modem="mfw_"), "modem") is None
