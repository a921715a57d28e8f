"""SenML (JSON and CBOR) -> LwM2M and GNSS -> 14201, as pure functions (REAL-SUITE.md §2.1)."""

from __future__ import annotations

import cbor2
import pytest

from reference_backend.ingest.lwm2m import NO_OBJECTS, gnss_to_lwm2m, senml_to_lwm2m
from reference_backend.ingest.senml import SenMLDecodeError, decode_cbor, encode_cbor

LOCATION = [
    {"bn": "14201/0/", "bt": 1700000001, "n": "0", "v": 62.469414},
    {"n": "1", "v": 6.151946},
    {"n": "3", "v": 1},
    {"n": "6", "vs": "Fixed"},
]


def test_cbor_uses_the_rfc_8428_integer_labels() -> None:
    encoded = cbor2.loads(encode_cbor([{"bn": "14201/0/", "bt": 5, "n": "0", "v": 1.5}]))
    assert encoded == [{-2: "14201/0/", -3: 5, 0: "0", 2: 1.5}]


def test_cbor_round_trip_keeps_the_records() -> None:
    assert decode_cbor(encode_cbor(LOCATION)) == LOCATION


def test_unknown_cbor_labels_are_dropped_and_bytes_become_base64url() -> None:
    data = cbor2.dumps([{-2: "14201/0/", 99: "x", 0: "0", 8: b"\xff\x00"}])
    assert decode_cbor(data) == [{"bn": "14201/0/", "n": "0", "vd": "_wA"}]


@pytest.mark.parametrize("data", [b"\xff\xff", cbor2.dumps({"a": 1}), cbor2.dumps([1, 2]), b""])
def test_a_payload_that_is_no_senml_cbor_is_refused(data: bytes) -> None:
    with pytest.raises(SenMLDecodeError, match="Failed to decode payload as SenML!"):
        decode_cbor(data)


def test_records_become_one_object_with_the_base_time_in_99() -> None:
    result = senml_to_lwm2m(LOCATION)
    assert result.error is None
    assert result.objects == [
        {
            "ObjectID": 14201,
            "Resources": {"99": 1700000001, "0": 62.469414, "1": 6.151946, "3": 1, "6": "Fixed"},
        }
    ]


def test_a_lone_base_name_and_time_keeps_the_instance_even_if_0() -> None:
    assert senml_to_lwm2m([{"bn": "14220/1/", "bt": 7}]).objects == [
        {"ObjectID": 14220, "ObjectInstanceID": 1, "Resources": {"99": 7}}
    ]
    assert senml_to_lwm2m([{"bn": "14220/0/", "bt": 7}]).objects == [
        {"ObjectID": 14220, "ObjectInstanceID": 0, "Resources": {"99": 7}}
    ]


def test_a_new_instance_or_base_time_starts_a_new_object() -> None:
    records = [
        {"bn": "14202/0/", "bt": 10, "n": "0", "v": 99},
        {"bn": "14202/1/", "n": "0", "v": 50},
        {"bt": 11, "n": "0", "v": 49},
        {"bn": "14203/0/", "n": "1", "v": 20, "blv": "1.1"},
    ]
    assert senml_to_lwm2m(records).objects == [
        {"ObjectID": 14202, "Resources": {"99": 10, "0": 99}},
        {"ObjectID": 14202, "ObjectInstanceID": 1, "Resources": {"99": 10, "0": 50}},
        {"ObjectID": 14202, "ObjectInstanceID": 1, "Resources": {"99": 11, "0": 49}},
        {"ObjectID": 14203, "ObjectVersion": "1.1", "Resources": {"99": 11, "1": 20}},
    ]


def test_values_are_not_type_checked_and_base_values_add_up() -> None:
    records = [{"bn": "14205/0/", "bt": 1, "n": "0", "v": "3.40141"}, {"n": "1", "bv": 2, "v": 3}]
    assert senml_to_lwm2m(records).objects[0]["Resources"] == {"99": 1, "0": "3.40141", "1": 5}


def test_records_without_name_or_value_are_skipped() -> None:
    records = [{"bn": "14201/0/", "bt": 1}, {"n": "0"}, {"v": 1}, {"n": "1", "vb": True}]
    assert senml_to_lwm2m(records).objects == [
        {"ObjectID": 14201, "Resources": {"99": 1, "1": True}}
    ]


@pytest.mark.parametrize(
    ("records", "error"),
    [
        (
            [{"bn": "99999/0/", "bt": 1, "n": "0", "v": 1}],
            "No timestamp resource defined for object: 99999",
        ),
        ([{"bn": "14201/0/", "n": "0", "v": 1}], "No base time defined for object: 14201!"),
        ([{"bn": "14201/", "bt": 1, "n": "0", "v": 1}], "Invalid resource ID: 14201/0/0"),
        ([{"bn": "14201/0/", "bt": 1}, {"n": "0"}], NO_OBJECTS),
        ([], NO_OBJECTS),
    ],
)
def test_errors(records: list, error: str) -> None:
    result = senml_to_lwm2m(records)
    assert result.error == error
    assert result.objects == []


def test_gnss_becomes_14201_without_absent_members() -> None:
    message = {
        "messageType": "DATA",
        "appId": "GNSS",
        "data": {"lat": 61.5, "lng": 6.2, "acc": 18.4, "alt": 311.5},
        "ts": 1700000001999,
    }
    assert gnss_to_lwm2m(message) == {
        "ObjectID": 14201,
        "ObjectVersion": "1.0",
        "Resources": {"0": 61.5, "1": 6.2, "2": 311.5, "3": 18.4, "6": "GNSS", "99": 1700000001},
    }


@pytest.mark.parametrize(
    "message",
    [
        {"messageType": "DATA", "appId": "TEMP", "data": {"lat": 1, "lng": 2, "acc": 3}},
        {"messageType": "DATA", "appId": "GNSS", "data": {"lat": 1, "lng": 2}},
        {"messageType": "DATA", "appId": "GNSS", "data": "x"},
        [1],
    ],
)
def test_other_library_messages_are_not_gnss(message: object) -> None:
    assert gnss_to_lwm2m(message) is None
