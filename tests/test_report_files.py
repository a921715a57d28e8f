"""The file reporter: events.ndjson as events arrive, the other reports at the end, and
`rebuild` giving the same bytes from the saved stream."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.events import from_dict
from harness.report import make_reporters, rebuild
from harness.report.console import ConsoleReporter
from harness.report.demo import Script, demo_events, demo_script, fota_feature
from harness.report.writer import FLUSH_EVERY, FileReporter

REPORTS = ("index.html", "junit.xml", "results.json", "summary.md")


def run_reporters(events, reports: Path, *, close: bool = True) -> str:
    out = io.StringIO()
    reporters = make_reporters(reports, stream=out, color=False)
    for event in events:
        for reporter in reporters:
            reporter(event)
    if close:
        for reporter in reporters:
            reporter.close()
    return out.getvalue()


@pytest.fixture(scope="module")
def demo_reports(tmp_path_factory) -> Path:
    reports = tmp_path_factory.mktemp("reports")
    run_reporters(demo_events(), reports)
    return reports


def test_make_reporters_gives_console_then_files(tmp_path):
    reporters = make_reporters(tmp_path, stream=io.StringIO())
    assert [type(r) for r in reporters] == [ConsoleReporter, FileReporter]
    assert [type(r) for r in make_reporters(None, stream=io.StringIO())] == [ConsoleReporter]


def test_all_files_are_written(demo_reports):
    for name in (*REPORTS, "events.ndjson"):
        assert (demo_reports / name).stat().st_size > 0
    assert not list(demo_reports.glob(".*.tmp"))


def test_events_ndjson_holds_every_event_in_order(demo_reports):
    events = demo_events()
    lines = (demo_reports / "events.ndjson").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(events)
    assert [json.loads(line)["type"] for line in lines] == [e.type for e in events]
    assert from_dict(json.loads(lines[0])).to_dict() == events[0].to_dict()


def test_events_are_on_disk_after_each_feature_run(tmp_path):
    events = demo_events()
    writer = FileReporter(tmp_path)
    end = next(i for i, e in enumerate(events) if e.type == "feature_finished") + 1
    for event in events[:end]:
        writer(event)
    # Not closed, as when the process is killed: what happened is already there.
    assert len((tmp_path / "events.ndjson").read_text().splitlines()) == end
    assert not (tmp_path / "index.html").exists()
    writer.close()


async def test_events_reach_the_disk_soon_on_the_runners_loop(tmp_path):
    writer = FileReporter(tmp_path)
    for event in demo_events()[:10]:  # a hung step after these: no more events come
        writer(event)
    await asyncio.sleep(FLUSH_EVERY * 3)
    assert len((tmp_path / "events.ndjson").read_text().splitlines()) == 10
    writer.close()


def test_rebuild_gives_identical_files(demo_reports, tmp_path):
    rebuild(demo_reports / "events.ndjson", tmp_path)
    for name in REPORTS:
        assert (tmp_path / name).read_bytes() == (demo_reports / name).read_bytes(), name


def test_rebuild_of_a_cut_stream_marks_what_was_interrupted(tmp_path):
    live = tmp_path / "live"
    run_reporters(demo_events(interrupt_after=6), live)  # no RunFinished: written at close
    ndjson = (live / "events.ndjson").read_text(encoding="utf-8")
    # A kill can also tear the last line in half.
    (tmp_path / "torn.ndjson").write_text(ndjson + '{"type": "step_att', encoding="utf-8")
    rebuilt = tmp_path / "rebuilt"
    rebuild(tmp_path / "torn.ndjson", rebuilt)
    for name in REPORTS:
        assert (rebuilt / name).read_bytes() == (live / name).read_bytes(), name
    results = json.loads((rebuilt / "results.json").read_text())
    assert results["interrupted"] is True and results["complete"] is False
    assert "interrupted" in (rebuilt / "index.html").read_text()
    assert "interrupted" in (rebuilt / "summary.md").read_text()


def test_front_matter_datetime_does_not_break_the_stream(tmp_path):
    fota = fota_feature()
    fota.front_matter["exampleContext"] = {"tsISO": dt.datetime(2023, 9, 12, tzinfo=dt.UTC)}
    script = Script()
    script.run_started([])
    script.play(fota, "specs/FOTA.feature.md")
    script.run_finished()
    run_reporters(script.events, tmp_path / "a")
    rebuild(tmp_path / "a" / "events.ndjson", tmp_path / "b")
    for name in REPORTS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert "2023-09-12 00:00:00+00:00" in (tmp_path / "a" / "results.json").read_text()


def test_no_events_writes_nothing(tmp_path):
    writer = FileReporter(tmp_path / "r")
    writer.close()
    assert not (tmp_path / "r").exists()


def test_an_unwritable_folder_never_raises(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    errors = io.StringIO()
    writer = FileReporter(blocker / "reports", errors=errors)
    for event in demo_events()[:5]:
        writer(event)
    writer.close()
    assert errors.getvalue().count("spec-harness: reports:") == 1


def test_results_json_is_the_whole_tree(demo_reports):
    data = json.loads((demo_reports / "results.json").read_text(encoding="utf-8"))
    assert data["format"] == "spec-harness/results/1"
    assert data["counts"] == {"passed": 6, "failed": 2, "skipped": 2}
    assert data["runner_counts"] == data["counts"]
    assert data["status"] == "failed" and data["exit_code"] == 1 and data["flaky"] == 3
    runs = data["feature_runs"]
    assert [r["id"] for r in runs] == ["specs/FOTA.feature.md", "specs/FOTA.feature.md#2",
                                       "specs/Arithmetic.feature.md", "specs/Map.feature.md"]
    nbiot = runs[1]
    assert nbiot["variant"] == {"nw": "nbiot"} and nbiot["spec"]["title"] == "Device FOTA"
    step = nbiot["scenarios"][2]["steps"][1]
    assert step["status"] == "failed" and len(step["attempts"]) == 4
    assert set(step["attempts"][0]) == {"attempt", "time", "duration", "error", "next_delay"}
    assert step["error"]["kind"] == "assertion"
    soon = runs[0]["scenarios"][1]["steps"][2]
    assert [log["level"] for log in soon["logs"]] == ["progress", "debug"]
    assert runs[0]["scenarios"][1]["steps"][0]["attachments"][0]["kind"] == "http"
    assert runs[0]["scenarios"][1]["journal"][0]["method"] == "POST"


def test_summary_md(demo_reports):
    text = (demo_reports / "summary.md").read_text(encoding="utf-8")
    assert text.startswith("## ❌ Spec run failed\n")
    assert "| 6 | 2 | 2 | 3 |" in text
    assert "**Device FOTA \\[nw=nbiot\\] › Check the status**" in text
    assert "Soon `$.jobs[0]` of the last response should match" in text
    assert "at `specs/FOTA.feature.md:62` after 4 attempts" in text
    assert 'at $.jobs[0].status: expected "COMPLETED", got "IN_PROGRESS"' in text
    # A title with HTML stays text in a GitHub job summary.
    assert "Arithmetic \\<html\\> &amp; \"quotes\"" in text
    assert "<html>" not in text
    assert "Device map (needs 'Device FOTA \\[nw=nbiot\\]', which failed)" in text


def test_summary_md_of_a_passing_run(tmp_path):
    run_reporters(demo_events(fail=False), tmp_path)
    text = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert text.startswith("## ✅ Spec run passed\n") and "### Failures" not in text


class _Assets(HTMLParser):
    """Collects what a page would fetch: src and href of resources, and inline links."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[str] = []
        self.links: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "a":
            self.links.append(values.get("href") or "")
        elif tag == "script":
            self.scripts += 1
            self.fetched.append(values.get("src") or "")
        elif tag in ("link", "img", "iframe", "source", "video", "audio", "embed", "object"):
            source = values.get("href") or values.get("src") or values.get("data")
            self.fetched.append(source or "?")


def test_html_is_self_contained(demo_reports):
    page = (demo_reports / "index.html").read_text(encoding="utf-8")
    parser = _Assets()
    parser.feed(page)
    assert parser.fetched == [""]  # the one inline script, nothing to fetch
    assert "@import" not in page and "url(" not in page
    assert not re.search(r"""(src|href)=["']?//""", page)
    # Links written in descriptions stay links.
    assert "https://docs.nordicsemi.com/bundle/nrf-cloud/page/Devices/FirmwareUpdate/" \
           "FOTAOverview.html" in parser.links


def test_html_escapes_spec_text(demo_reports):
    page = (demo_reports / "index.html").read_text(encoding="utf-8")
    assert "<html>" not in page.split("<head>", 1)[1]
    assert "Arithmetic &lt;html&gt; &amp; &#34;quotes&#34;" in page
    assert "<code>&lt;b&gt;</code>" in page  # a description's code span
    assert "<strong>Markdown</strong>" in page


def test_html_shows_the_run(demo_reports):
    page = (demo_reports / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<b>6</b> passed.*<b>2</b> failed.*<b>2</b> skipped.*<b>3</b> flaky', page,
                     re.S)
    assert "Jump to first failure" in page
    # Failed feature runs come first and open; passed ones are folded.
    features = re.findall(r'<details class="feature st-(\w+)"[^>]*?( open)?>', page)
    assert features == [("failed", " open"), ("failed", " open"), ("passed", ""),
                        ("skipped", "")]
    first = re.search(r'href="#(f\d+-s\d+-\d+)">Jump', page).group(1)
    assert f'<li class="step st-failed" id="{first}">' in page
    assert '<span class="d-add">+  &#34;status&#34;: &#34;IN_PROGRESS&#34;' in page
    # Placeholders show resolved, with the written form beside them.
    assert "http://127.0.0.1:8000/device/oob-352656108602296/fota/jobs" in page
    assert "${APIURL}/device/${fingerprint_deviceId}" in page
    # Every attempt of the failed Soon step, and the folded exchanges and journal.
    assert page.count("at $.jobs[0].status: expected &#34;COMPLETED&#34;") >= 5
    assert '<details class="att http">' in page and '<details class="att ws">' in page
    assert "nRF Cloud mock journal" in page
    assert "Not run: needs &#39;Device FOTA [nw=nbiot]&#39;, which failed" in page
    assert 'id="failed-only"' in page and 'id="tag-filter"' in page and 'id="text-filter"' in page
    assert '<option value="fota">@fota</option>' in page


def test_html_of_a_single_feature_run_is_open(tmp_path):
    script = Script()
    script.run_started([])
    script.play(fota_feature(), "specs/FOTA.feature.md")
    script.run_finished()
    run_reporters(script.events, tmp_path)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    opening = '<details class="feature st-passed" id="f1" data-status="passed" data-tags="fota"'
    assert opening + " open>" in page


def test_reports_written_on_run_finished_before_close(tmp_path):
    out = io.StringIO()
    reporters = make_reporters(tmp_path, stream=out, color=False)
    for event in demo_script().events:
        for reporter in reporters:
            reporter(event)
    assert (tmp_path / "index.html").exists()
    for reporter in reporters:
        reporter.close()


def test_odd_event_data_never_costs_the_reports(tmp_path):
    """Attachments and errors are whatever steps produced: every report still renders."""
    from harness.events import Attachment, Log, StepFinished

    script = demo_script()
    events = script.events[:-1]
    step = next(e for e in events if e.type == "step_finished")
    odd = [
        Attachment(run_id=step.run_id, step_id=step.step_id, kind="http", data={}),
        Attachment(run_id=step.run_id, step_id=step.step_id, kind="http",
                   data={"request": None, "response": {"status": None, "body": b"\x00bytes"},
                         "duration": "slow"}),
        Attachment(run_id=step.run_id, step_id=step.step_id, kind="ws-in", data={"message": None}),
        Attachment(run_id=step.run_id, step_id=step.step_id, kind="text", data={"text": 42}),
        Attachment(run_id=step.run_id, step_id=None, kind="journal",
                   data={"scenario_id": step.scenario_id, "entries": "not a list"}),
        Attachment(run_id=step.run_id, step_id=step.step_id, kind="mystery", data=None),
        Log(run_id=step.run_id, step_id=step.step_id, level="weird", message=None),
        StepFinished(run_id=step.run_id, scenario_id=step.scenario_id, step_id="x/y/z",
                     status="failed", duration=float("nan"), text="<script>alert(1)</script>",
                     error={"message": None}),
    ]
    run_reporters([*events, *odd, script.events[-1]], tmp_path)
    for name in REPORTS:
        assert (tmp_path / name).stat().st_size > 0
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page
