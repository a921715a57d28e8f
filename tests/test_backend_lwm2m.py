"""The conversion of nRF Cloud shadows to LwM2M objects (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reference_backend.shadow.lwm2m import largest_timestamp, objects_by_id, shadow_to_objects

FOTA_SPEC_STATE = {
    "reported": {
        "device": {
            "deviceInfo": {"appVersion": "2.0.0"},
            "serviceInfo": {"fota_v2": ["BOOT", "MODEM", "APP"]},
        }
    },
    "metadata": {
        "reported": {
            "device": {
                "deviceInfo": {"appVersion": {"timestamp": 1716801888}},
                "serviceInfo": {"fota_v2": [{"timestamp": 1717409966}] * 3},
            }
        }
    },
    "version": 8835,
}


def test_fota_spec_shadow_gives_14401_and_14204() -> None:
    objects = objects_by_id(shadow_to_objects(FOTA_SPEC_STATE))
    assert objects[14401] == {
        "ObjectID": 14401,
        "ObjectVersion": "1.0",
        "Resources": {"0": ["BOOT", "MODEM", "APP"], "99": 1717409966},
    }
    assert objects[14204]["Resources"] == {"3": "2.0.0", "99": 1716801888}
    assert 14203 not in objects  # no networkInfo: left out


def test_device_information_with_sim_and_all_fields() -> None:
    state = {
        "reported": {
            "device": {
                "deviceInfo": {
                    "imei": "355025930003908",
                    "modemFirmware": "mfw_nrf91x1_2.0.1",
                    "appVersion": "2.0.0",
                    "board": "thingy91x",
                    "hwVer": "nRF9151 LACA ADA",
                },
                "simInfo": {"iccid": "89450421180216216095"},
            }
        },
        "metadata": {
            "reported": {
                "device": {
                    "deviceInfo": {"imei": {"timestamp": 10}, "board": {"timestamp": 30}},
                    "simInfo": {"iccid": {"timestamp": 40}},
                }
            }
        },
    }
    (info,) = shadow_to_objects(state)
    assert info["ObjectID"] == 14204
    assert info["Resources"] == {
        "0": "355025930003908",
        "1": "89450421180216216095",
        "2": "mfw_nrf91x1_2.0.1",
        "3": "2.0.0",
        "4": "thingy91x",
        "99": 40,
    }


def test_connection_information() -> None:
    state = {
        "reported": {
            "device": {
                "networkInfo": {
                    "networkMode": "LTE-M",
                    "currentBand": 20,
                    "rsrp": -102,
                    "areaCode": 2305,
                    "cellID": 34237196,
                    "mccmnc": "24202",
                    "ipAddress": "10.108.72.99",
                    "eest": 7,
                    "supportedBands": "(2,1,2,3,4)",
                }
            }
        },
        "metadata": {
            "reported": {"device": {"networkInfo": {"rsrp": {"timestamp": 1700000000123}}}}
        },
    }
    (conn,) = shadow_to_objects(state)
    assert conn == {
        "ObjectID": 14203,
        "ObjectVersion": "1.0",
        "Resources": {
            "0": "LTE-M",
            "1": 20,
            "2": -102,
            "3": 2305,
            "4": 34237196,
            "5": 24202,
            "6": "10.108.72.99",
            "11": 7,
            "99": 1700000000,  # milliseconds become seconds
        },
    }


def test_mccmnc_that_is_no_number_is_left_out() -> None:
    state = {"reported": {"device": {"networkInfo": {"mccmnc": "24x02", "rsrp": -90}}}}
    (conn,) = shadow_to_objects(state)
    assert conn["Resources"] == {"2": -90}


def test_largest_timestamp_ignores_non_integers() -> None:
    meta = {
        "a": {"timestamp": 5},
        "b": [{"timestamp": 9}, {"timestamp": "99"}],
        "c": {"timestamp": True},
    }
    assert largest_timestamp(meta) == 9
    assert largest_timestamp({"timestamp": 1.5}) is None
    assert largest_timestamp(None) is None


def test_empty_or_odd_shadows_give_no_objects() -> None:
    for state in (None, {}, {"reported": None}, {"reported": {"device": "x"}}, [], "text"):
        assert shadow_to_objects(state) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
device_keys = st.sampled_from(["deviceInfo", "serviceInfo", "networkInfo", "simInfo", "x"])


@given(
    st.fixed_dictionaries(
        {
            "reported": st.fixed_dictionaries(
                {"device": st.dictionaries(device_keys, json_values)}
            ),
            "metadata": json_values,
            "version": json_values,
        }
    )
)
def test_any_shadow_converts_without_error(state: dict) -> None:
    for obj in shadow_to_objects(state):
        assert obj["ObjectID"] in (14401, 14204, 14203)
        assert obj["ObjectVersion"] == "1.0"
        assert all(isinstance(k, str) for k in obj["Resources"])
