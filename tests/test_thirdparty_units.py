"""The pure parts of the third parties: trail clustering, the feedback MessageCard,
location history items, Memfault answers, and mapping URLs to the mock's hosts."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from mock_nrfcloud.hosts import route
from reference_backend.feedback import Feedback, message_card, parse_feedback
from reference_backend.location.items import InvalidPage, item_problem, parse_page, to_geolocation
from reference_backend.location.service import LocationService
from reference_backend.location.trail import Point, distance_km, trail
from reference_backend.memfault import (
    InvalidReboots,
    MemfaultSettings,
    parse_reboots,
    to_reboot,
)
from reference_backend.nrfcloud import NrfCloudError
from reference_backend.timeline import TIME_SPANS, TimedLog, window_start_ms
from steps.http_api_mock import mock_path

NOW = 1_700_000_000
# DeviceLocationTrail.feature.md: (lat, lon, seconds before now)
TRAIL = [
    (63.42254450323275, 10.630926224360818, 1),  # Leistadkrysset
    (63.42215444775618, 10.535387671151794, 2),  # Ranheim Papirfabrikk
    (63.42237916512731, 10.431970701200813, 4),  # Tyholtårnet
    (63.43076160883743, 10.487144544169565, 3),  # E6 to the east
    (63.42394407014264, 10.440180476283883, 5),  # roundabout north east
    (63.419843636135205, 10.436831426327439, 6),  # roundabout south west
    (63.42198706744704, 10.437808861037931, 7),  # Nordic Office
]


def points(rows=TRAIL, source="GNSS"):
    return [Point(lat, lng, NOW - ago, source) for lat, lng, ago in rows]


# -- trail ----------------------------------------------------------------------------


def test_one_degree_of_latitude_is_the_earth_radius_times_pi_over_180() -> None:
    d = distance_km(Point(0, 0, 0, "GNSS"), Point(1, 0, 0, "GNSS"))
    assert math.isclose(d, 6371 * math.pi / 180, rel_tol=1e-12)


def test_distance_is_the_same_both_ways_and_zero_to_itself() -> None:
    a, b = points()[0], points()[6]
    assert distance_km(a, b) == pytest.approx(distance_km(b, a), rel=1e-15)
    assert distance_km(a, a) == 0


def test_the_spec_trail_gives_four_clusters_with_the_exact_radius() -> None:
    result = trail(1, points())
    assert [(c["0"], c["1"], c["99"]) for c in result] == [
        (63.42198706744704, 10.437808861037931, NOW - 7),
        (63.43076160883743, 10.487144544169565, NOW - 3),
        (63.42215444775618, 10.535387671151794, NOW - 2),
        (63.42254450323275, 10.630926224360818, NOW - 1),
    ]
    # compared to the last digit by the spec (what V8 computes; math.atan2 is an ulp off)
    assert result[0]["3"] == 293.7028058347316
    assert [c["3"] for c in result[1:]] == [0, 0, 0]
    assert {c["6"] for c in result} == {"GNSS"}


def test_points_within_the_distance_of_the_first_fold_in_and_mixed_sources_say_so() -> None:
    office = points()[6]
    near = Point(office.lat + 0.001, office.lng, office.ts + 1, "WIFI")  # about 111 m north
    result = trail(1, [near, office])  # sorted by time: the office comes first
    assert len(result) == 1
    assert result[0]["0"] == office.lat and result[0]["6"] == "mixed"
    assert result[0]["3"] == pytest.approx(111.19, abs=0.01)


def test_a_larger_trail_distance_folds_everything_into_one() -> None:
    assert len(trail(20, points())) == 1
    assert trail(1, []) == []


# -- feedback -------------------------------------------------------------------------


def test_message_card_renders_the_rating_as_stars() -> None:
    card = message_card(Feedback("a@b.c", 4, "None!", "Firefox"))
    assert card == {
        "summary": "New feedback",
        "themeColor": "00a9ce",
        "title": "New feedback received",
        "sections": [
            {
                "facts": [
                    {"name": "Rating", "value": "★★★★☆"},
                    {"name": "Email", "value": "a@b.c"},
                    {"name": "Browser", "value": "Firefox"},
                ],
                "text": "None!",
            }
        ],
    }
    assert (
        message_card(Feedback("a@b.c", 1, "", "x"))["sections"][0]["facts"][0]["value"] == "★☆☆☆☆"
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ([], "object"),
        ({"email": "nobody", "stars": 3, "suggestion": "", "browser": "x"}, "email"),
        ({"email": "a@b", "stars": 0, "suggestion": "", "browser": "x"}, "stars"),
        ({"email": "a@b", "stars": 6, "suggestion": "", "browser": "x"}, "stars"),
        ({"email": "a@b", "stars": True, "suggestion": "", "browser": "x"}, "stars"),
        ({"email": "a@b", "stars": 3.5, "suggestion": "", "browser": "x"}, "stars"),
        ({"email": "a@b", "stars": 3, "browser": "x"}, "suggestion"),
        ({"email": "a@b", "stars": 3, "suggestion": "", "browser": ""}, "browser"),
    ],
)
def test_feedback_validation_names_the_field(body, field) -> None:
    with pytest.raises(ValueError, match=field):
        parse_feedback(body)


# -- location history items -----------------------------------------------------------


def item(**overrides):
    base = {
        "id": "42115b99",
        "deviceId": "oob-1",
        "serviceType": "WIFI",
        "insertedAt": "2023-09-12T00:00:01.523Z",
        "lat": "63.4213475",
        "lon": "10.4377896",
        "meta": {},
        "uncertainty": "14.042",
    }
    return {**base, **overrides}


def test_an_item_becomes_14201_with_the_instance_of_its_service() -> None:
    assert to_geolocation(item()) == {
        "ObjectID": 14201,
        "ObjectVersion": "1.0",
        "ObjectInstanceID": 1,
        "Resources": {"0": 63.4213475, "1": 10.4377896, "3": 14.042, "6": "WIFI", "99": 1694476801},
    }
    instances = {
        s: to_geolocation(item(serviceType=s))["ObjectInstanceID"]
        for s in ("GNSS", "MCELL", "WIFI", "SCELL", "ANCHOR", "GPS", "WIFI_EVAL")
    }
    assert instances == {
        "GNSS": 0,
        "MCELL": 1,
        "WIFI": 1,
        "SCELL": 2,
        "ANCHOR": 9,
        "GPS": 9,
        "WIFI_EVAL": 9,
    }


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"serviceType": "GROUND_FIX"}, "serviceType"),
        ({"lat": ""}, "lat"),
        ({"lon": 10.4}, "lon"),
        ({"lat": "north"}, "lat"),
        ({"uncertainty": "-3"}, "uncertainty"),
        ({"uncertainty": 14}, "uncertainty"),
        ({"meta": None}, "meta"),
        ({"insertedAt": "yesterday"}, "insertedAt"),
        ({"id": ""}, "id"),
        ({"anchors": {}}, "anchors"),
    ],
)
def test_invalid_items_are_named(overrides, field) -> None:
    assert field in item_problem(item(**overrides))


def test_pages_need_items_and_a_non_empty_token() -> None:
    page = parse_page({"items": [item()], "total": 1, "pageNextToken": "a"})
    assert page.next_token == "a" and len(page.items) == 1
    assert parse_page({"items": []}).next_token is None
    for body in (
        {"items": [item()], "pageNextToken": ""},
        {"total": 0},
        [],
        {"items": [item(lat="")]},
    ):
        with pytest.raises(InvalidPage):
            parse_page(body)


# -- Memfault -------------------------------------------------------------------------


def test_memfault_url_and_basic_auth() -> None:
    settings = MemfaultSettings("http://mock/api.memfault.com/", "tok", "org-1", "proj")
    assert settings.reboots_url("oob-352656108602296") == (
        "http://mock/api.memfault.com/api/v0/organizations/org-1/projects/proj/devices/"
        "352656108602296/reboots"
    )
    assert settings.authorization() == "Basic OnRvaw=="  # base64(":tok")


def test_memfault_answers_are_validated_and_converted() -> None:
    reboot = {
        "type": "memfault",
        "time": "2024-10-23T08:00:00.999Z",
        "reason": 8,
        "mcu_reason_register": 65536,
    }
    assert parse_reboots({"data": [reboot], "paging": {}}) == [reboot]
    assert to_reboot(reboot) == {
        "ObjectID": 14250,
        "ObjectVersion": "1.0",
        "ObjectInstanceID": 0,
        "Resources": {"0": 8, "99": 1729670400},
    }
    for bad in (
        {},
        {"data": {}},
        {"data": [{**reboot, "reason": -1}]},
        {"data": [{**reboot, "reason": "8"}]},
        {"data": [{**reboot, "type": "x"}]},
        {"data": [{**reboot, "time": "soon"}]},
    ):
        with pytest.raises(InvalidReboots):
            parse_reboots(bad)


# -- windows and the log --------------------------------------------------------------


def test_the_window_starts_at_the_span_or_at_hide_data_before() -> None:
    hour = TIME_SPANS["lastHour"]
    assert window_start_ms(hour, NOW, None) == (NOW - 3600) * 1000
    assert window_start_ms(hour, NOW, "2023-11-14T22:13:00.000Z") == 1699999980000
    assert window_start_ms(hour, NOW, "2000-01-01T00:00:00.000Z") == (NOW - 3600) * 1000


def test_the_log_lists_later_records_oldest_first_and_forgets_old_ones() -> None:
    now = [1000.0]
    log = TimedLog(lambda: now[0], retention_s=100, limit=3)
    for t in (5, 1, 3, 4):
        log.add("d", t, {"t": t})
    assert [r.data["t"] for r in log.after("d", 0)] == [3, 4, 5]  # limit 3: the oldest went
    assert [r.data["t"] for r in log.after("d", 3)] == [4, 5]
    now[0] += 101
    assert log.after("d", 0) == []


# -- hosts ----------------------------------------------------------------------------


def test_a_first_segment_with_a_dot_is_a_host() -> None:
    assert route("/api.memfault.com/api/v0/x") == ("api.memfault.com", "/api.memfault.com/api/v0/x")
    assert route("/Webhook.Office.com/") == ("webhook.office.com", "/Webhook.Office.com/")
    assert route("/api.nrfcloud.com/v1/devices") == (None, "/v1/devices")
    assert route("/api.nrfcloud.com") == (None, "/")
    assert route("/v1/devices") == (None, "/v1/devices")
    assert route("/") == (None, "/")


def test_urls_under_the_mock_become_mock_paths() -> None:
    mock = "http://127.0.0.1:8001"
    assert mock_path(f"{mock}/webhook.office.com/", mock) == "/webhook.office.com/"
    assert (
        mock_path("https://127.0.0.1:8001/api.memfault.com/a?b=1", mock)
        == "/api.memfault.com/a?b=1"
    )
    assert mock_path("https://api.memfault.com/api/v0", mock) == "/api.memfault.com/api/v0"
    assert mock_path("/webhook.office.com/", mock) == "/webhook.office.com/"
    assert mock_path("http://127.0.0.1:80011/x", mock) == "/127.0.0.1:80011/x"
    with pytest.raises(ValueError):
        mock_path("webhook.office.com", mock)


# -- the location poller's pages and windows, with a fake nRF Cloud and clock ----------


class FakeNrfCloud:
    def __init__(self, pages):
        self.pages = pages  # token (None first) -> page body, or an exception to raise
        self.calls = []

    async def location_history(self, account, device_id, start, end, token):
        self.calls.append((start, end, token))
        page = self.pages.get(token)
        if isinstance(page, Exception):
            raise page
        return page


def poller(nrfcloud, clock):
    device = SimpleNamespace(id="oob-1", account="acc")
    store = SimpleNamespace(device=lambda _: device, account=lambda _: SimpleNamespace())
    return LocationService(store, nrfcloud, None, None, None, 60, clock=clock)


async def test_pages_are_followed_until_the_token_runs_out_or_a_page_fails() -> None:
    now = [1_700_000_000.0]
    nrf = FakeNrfCloud(
        {
            None: {"items": [item(deviceId="oob-1")], "pageNextToken": "a"},
            "a": {
                "items": [item(deviceId="oob-1", serviceType="SCELL"), item(deviceId="oob-2")],
                "pageNextToken": "b",
            },
            "b": NrfCloudError("nRF Cloud answered with status 404."),
        }
    )
    service = poller(nrf, lambda: now[0])
    latest, fixes = await service._fetch("oob-1")
    assert [t for _, _, t in nrf.calls] == [None, "a", "b"]
    assert latest["ObjectInstanceID"] == 1  # the first of the first page: WIFI
    # the other device's fix is left out; the failing page ends the poll with what came
    assert [(o["ObjectInstanceID"], ms) for o, ms in fixes] == [
        (1, 1694476801523),
        (2, 1694476801523),
    ]
    assert nrf.calls[0][:2] == ("2023-11-13T22:13:20.000Z", "2023-11-14T22:13:20.000Z")
    now[0] += 60
    nrf.calls.clear()
    await service._fetch("oob-1")
    # the next window starts where the last one ended
    assert nrf.calls[0][:2] == ("2023-11-14T22:13:20.000Z", "2023-11-14T22:14:20.000Z")


async def test_an_invalid_page_ends_the_poll_and_loses_its_items() -> None:
    nrf = FakeNrfCloud(
        {
            None: {"items": [item(deviceId="oob-1")], "pageNextToken": "a"},
            "a": {"items": [item(deviceId="oob-1", lat="63")], "pageNextToken": ""},
        }
    )
    _, fixes = await poller(nrf, lambda: 1_700_000_000.0)._fetch("oob-1")
    assert len(fixes) == 1 and len(nrf.calls) == 2
