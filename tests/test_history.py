"""The resource history's pure parts: what an instance stores, the store's order and
bounds, time spans, bins and aggregates."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from reference_backend.history import routes
from reference_backend.history.definitions import numeric_resources
from reference_backend.history.query import (
    TIME_SPANS,
    bin_rows,
    json_number,
    window_start_ms,
)
from reference_backend.history.routes import hide_data_before_ms
from reference_backend.history.store import (
    Rejected,
    ResourceHistory,
    Row,
    instance_measures,
)
from reference_backend.store import Device

NOW = 1_730_000_000.0  # s
BATTERY = (14202, "1.0", 0)


def test_numeric_resources_of_the_corpus_objects() -> None:
    assert numeric_resources(14202) == ["0", "1", "2", "3", "4", "5"]
    assert numeric_resources(14203) == ["1", "2", "3", "4", "5", "11"]
    assert numeric_resources(14240) == ["0", "1", "2"]
    assert numeric_resources(14250) == ["0"]
    assert numeric_resources(14220) == []  # button presses: a time only
    assert numeric_resources(14301) == ["0"]  # the boolean 1 is left out
    assert numeric_resources(99999) == []


def test_an_instance_keeps_its_numbers_at_its_own_time() -> None:
    time_ms, values = instance_measures(
        14202, {"0": 93, "1": "3.40141", "2": None, "99": 1_729_999_000}, NOW
    )
    assert time_ms == 1_729_999_000_000
    assert values == {"0": 93.0, "1": 3.40141}  # text is parsed, null skipped


def test_strings_and_times_are_not_kept() -> None:
    _, values = instance_measures(
        14203, {"0": "LTE-M", "2": -102, "6": "10.0.0.1", "99": 1_729_999_000}, NOW
    )
    assert values == {"2": -102.0}


@pytest.mark.parametrize(
    ("resources", "why"),
    [
        ({"1": 3.4}, "no timestamp"),
        ({"1": 3.4, "99": "1729999000"}, "not a Unix time"),  # a string is no number
        ({"1": 3.4, "99": 1_699_999_999}, "not a Unix time"),  # before 1700000000
        ({"1": 3.4, "99": NOW + 1}, "not a Unix time"),  # in the future
        ({"1": 3.4, "99": True}, "not a Unix time"),
        ({"1": 3.4, "7": 1, "99": 1_729_999_000}, "no definition for 14202/7"),
        ({"1": "high", "99": 1_729_999_000}, "not a number"),
        ({"1": "1_000", "99": 1_729_999_000}, "not a number"),
        ({"1": "nan", "99": 1_729_999_000}, "not a number"),
        ({"1": False, "99": 1_729_999_000}, "not a number"),
    ],
)
def test_instances_the_history_rejects(resources: dict, why: str) -> None:
    with pytest.raises(Rejected, match=why):
        instance_measures(14202, resources, NOW)


async def test_record_keeps_every_object_but_geolocation() -> None:
    history = ResourceHistory(clock=lambda: NOW)
    await history.record(
        "d",
        {
            "14202:1.0": {"0": {"1": 3.4, "99": 1_729_999_000}},
            "14201:1.0": {"0": {"0": 63.4, "1": 10.4, "99": 1_729_999_000}},
            "14240:1.0": {"1": {"0": 255, "99": 1_729_999_001}, "2": {"0": 1}},  # 2: no time
            "not-an-id:1.0": {"0": {"0": 1}},
            "14205:1.0": "not instances",
            "14210:1.0": {"0": ["not resources"], "x": {"0": 1, "99": 1_729_999_000}},
        },
    )
    assert [r.values for r in history.rows("d", BATTERY, 0)] == [{"1": 3.4}]
    assert history.rows("d", (14201, "1.0", 0), 0) == []
    assert [r.values for r in history.rows("d", (14240, "1.0", 1), 0)] == [{"0": 255.0}]
    assert history.rows("d", (14240, "1.0", 2), 0) == []
    assert history.rows("other", BATTERY, 0) == []


async def test_rows_come_oldest_first_whatever_the_order_of_arrival() -> None:
    history = ResourceHistory(clock=lambda: NOW)
    for ts, v in ((1_729_999_300, 3), (1_729_999_100, 1), (1_729_999_200, 2)):
        await history.record("d", {"14202:1.0": {"0": {"1": v, "99": ts}}})
    assert [r.values["1"] for r in history.rows("d", BATTERY, 0)] == [1, 2, 3]
    # only rows after the given time
    assert [r.values["1"] for r in history.rows("d", BATTERY, 1_729_999_100_000)] == [2, 3]
    # a second write at the same time adds to the row
    await history.record("d", {"14202:1.0": {"0": {"0": 80, "99": 1_729_999_100}}})
    assert history.rows("d", BATTERY, 0)[0].values == {"1": 1.0, "0": 80.0}


async def test_the_history_is_bounded_in_age_and_rows() -> None:
    now = [NOW]
    history = ResourceHistory(clock=lambda: now[0], retention_seconds=1000, max_rows_per_device=3)
    for i in range(5):
        history.add("d", BATTERY, {"1": i, "99": NOW - 500 + i})
    assert [r.values["1"] for r in history.rows("d", BATTERY, 0)] == [2, 3, 4]
    history.add("d", (14202, "1.0", 1), {"1": 9, "99": NOW - 100})
    assert [r.values["1"] for r in history.rows("d", BATTERY, 0)] == [3, 4]
    now[0] = NOW + 600  # the first rows are now older than 1000 s
    history.add("d", BATTERY, {"1": 10, "99": NOW + 1})
    assert [r.values["1"] for r in history.rows("d", BATTERY, 0)] == [10]
    assert len(history.rows("d", (14202, "1.0", 1), 0)) == 1


def test_time_spans() -> None:
    assert {k: (s.bin_minutes, s.duration_hours) for k, s in TIME_SPANS.items()} == {
        "lastHour": (1, 1),
        "lastDay": (15, 24),
        "lastWeek": (60, 168),
        "lastMonth": (60, 720),
    }
    day = TIME_SPANS["lastDay"]
    assert window_start_ms(NOW, day, None) == (NOW - 24 * 3600) * 1000
    assert window_start_ms(NOW, day, NOW * 1000 - 5) == NOW * 1000 - 5  # hidden data
    assert window_start_ms(NOW, day, 1_000) == (NOW - 24 * 3600) * 1000


def rows(*items: tuple[int, dict[str, float]]) -> list[Row]:
    return [Row(t * 1000, v) for t, v in items]


# 1_729_998_000 is a multiple of 15 min (900 s): a bin starts there
BIN = 1_729_998_000


def test_bins_are_epoch_aligned_and_newest_first() -> None:
    data = rows(
        (BIN - 1, {"1": 1.0}),
        (BIN, {"1": 2.0, "0": 50.0}),
        (BIN + 899, {"1": 4.0}),
        (BIN + 900, {"1": 8.0}),
    )
    assert bin_rows(data, ["0", "1"], 15, "avg") == [
        {"1": 8, "99": BIN + 900},
        {"0": 50, "1": 3, "99": BIN},  # 0 only where it has values
        {"1": 1, "99": BIN - 900},
    ]


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [("avg", 2.5), ("min", 1), ("max", 4), ("sum", 10), ("count", 4)],
)
def test_aggregates(aggregate: str, expected: float) -> None:
    data = rows(*((BIN + i, {"2": float(v)}) for i, v in enumerate((3, 1, 4, 2))))
    assert bin_rows(data, ["2"], 1, aggregate) == [{"2": expected, "99": BIN}]


def test_aggregates_of_fractions() -> None:
    values = (3.40141, 3.75718, 3.73368, 3.58041, 3.24925)
    data = rows(*((BIN + 30 * i, {"1": v}) for i, v in enumerate(values)))
    (instance,) = bin_rows(data, ["1"], 15, "avg")
    assert instance["1"] == pytest.approx(sum(values) / 5)
    assert bin_rows(data, ["1"], 15, "sum")[0]["1"] == pytest.approx(17.72193)


def test_no_rows_no_bins_and_unknown_aggregates() -> None:
    assert bin_rows([], ["1"], 15, "avg") == []
    with pytest.raises(ValueError, match="median"):
        bin_rows([], ["1"], 15, "median")


def test_numbers_are_written_as_javascript_writes_them() -> None:
    assert json_number(3.0) == 3 and isinstance(json_number(3.0), int)
    assert json_number(3.5) == 3.5
    assert isinstance(json_number(2.0**60), float)


def test_hide_data_before_in_ms() -> None:
    device = Device("d", "92b.aaaaaa", "PCA20065", "nordic")
    assert hide_data_before_ms(device) is None
    device.hide_data_before = "2024-10-27T03:33:20.123Z"  # type: ignore[attr-defined]
    assert hide_data_before_ms(device) == 1_730_000_000_123


@pytest.mark.parametrize("theirs_first", [True, False])
async def test_the_location_and_reboot_routes_win_whatever_the_order(theirs_first: bool) -> None:
    async def theirs(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()

    def add_theirs() -> None:
        for base in ("", "/2024-04-17"):
            app.router.add_get(base + "/device/{id}/history/14201/0", theirs)
            app.router.add_get(base + "/device/{id}/history/14250/0", theirs)

    if theirs_first:
        add_theirs()
    for base in ("", "/2024-04-17"):
        routes.add_routes(app, base)
    if not theirs_first:
        add_theirs()
    for base in ("", "/2024-04-17"):
        for path, handler in (
            ("14201/0", theirs),
            ("14250/0", theirs),
            ("14201/1", routes.get_history),
            ("14202/0", routes.get_history),
            ("14250/00", routes.get_history),
        ):
            request = make_mocked_request("GET", f"{base}/device/oob-1/history/{path}")
            match = await app.router.resolve(request)
            assert match.handler is handler, (base, path)
