"""The file reporter: events.ndjson as events arrive, the other reports at the end, and
`rebuild` giving the same bytes from the saved stream."""

from __future__ import annotations

import asyncio
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support.reports import SPECS, play

from harness.report import make_reporters, rebuild
from harness.report.console import ConsoleReporter
from harness.report.results import ResultBuilder
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
def played(tmp_path_factory):
    return play(SPECS / "reports", tmp_path_factory.mktemp("reports"))


@pytest.fixture(scope="module")
def played_reports(played) -> Path:
    return played.reporters[-1].reports_dir


def cut_after_first_feature_run(events):
    return events[: next(i for i, e in enumerate(events) if e.type == "feature_finished") + 1]


def test_make_reporters_gives_console_then_files(tmp_path):
    reporters = make_reporters(tmp_path, stream=io.StringIO())
    # The read model first: it folds each event once, before the reporters read it.
    assert [type(r) for r in reporters] == [ResultBuilder, ConsoleReporter, FileReporter]
    assert reporters[1].builder is reporters[0] and reporters[2].model is reporters[0]
    assert [type(r) for r in make_reporters(None, stream=io.StringIO())] == [
        ResultBuilder,
        ConsoleReporter,
    ]


def test_all_files_are_written(played_reports):
    for name in (*REPORTS, "events.ndjson"):
        assert (played_reports / name).stat().st_size > 0
    assert not list(played_reports.glob(".*.tmp"))


def test_events_ndjson_holds_every_event_in_order(played, played_reports):
    events = played.events
    lines = (played_reports / "events.ndjson").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(events)
    assert [json.loads(line)["type"] for line in lines] == [e.type for e in events]
    assert json.loads(lines[-1]) == events[-1].to_dict()
    plan = json.loads(lines[0])["plan"]
    assert [r["name"] for r in plan][1] == "Device FOTA [nw=ltem]"
    assert plan[1]["executions"][1]["steps"][0]["id"] == plan[1]["run_id"] + "/2/1"


def test_events_are_on_disk_after_each_feature_run(played, tmp_path):
    events = played.events
    writer = FileReporter(tmp_path)
    end = next(i for i, e in enumerate(events) if e.type == "feature_finished") + 1
    for event in events[:end]:
        writer(event)
    # Not closed, as when the process is killed: what happened is already there.
    assert len((tmp_path / "events.ndjson").read_text().splitlines()) == end
    assert not (tmp_path / "index.html").exists()
    writer.close()


async def test_events_reach_the_disk_soon_on_the_runners_loop(played, tmp_path):
    writer = FileReporter(tmp_path)
    for event in played.events[:10]:  # a hung step after these: no more events come
        writer(event)
    await asyncio.sleep(FLUSH_EVERY * 3)
    assert len((tmp_path / "events.ndjson").read_text().splitlines()) == 10
    writer.close()


def test_rebuild_gives_identical_files(played_reports, tmp_path):
    rebuild(played_reports / "events.ndjson", tmp_path)
    for name in REPORTS:
        assert (tmp_path / name).read_bytes() == (played_reports / name).read_bytes(), name


def test_rebuild_of_a_cut_stream_marks_what_was_interrupted(played, tmp_path):
    live = tmp_path / "live"
    # No RunFinished: the reports are written at close.
    run_reporters(cut_after_first_feature_run(played.events), live)
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
    spec = tmp_path / "Dated.feature.md"
    # A YAML timestamp in a variant stays a datetime in the model (front matter keeps
    # timestamps as text only in exampleContext).
    spec.write_text(
        "---\nvariants:\n  - day: 2023-09-12 00:00:00+00:00\n---\n# Dated\n\n"
        "## S\n\nGiven I store `1` into `x`\n",
        encoding="utf-8",
    )
    play(spec, tmp_path / "a")
    rebuild(tmp_path / "a" / "events.ndjson", tmp_path / "b")
    for name in REPORTS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert "2023-09-12" in (tmp_path / "a" / "results.json").read_text()


def test_no_events_writes_nothing(tmp_path):
    writer = FileReporter(tmp_path / "r")
    writer.close()
    assert not (tmp_path / "r").exists()


def test_an_unwritable_folder_never_raises(played, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    errors = io.StringIO()
    writer = FileReporter(blocker / "reports", errors=errors)
    for event in played.events[:5]:
        writer(event)
    writer.close()
    assert errors.getvalue().count("spec-harness: reports:") == 1


def test_results_json_is_the_whole_tree(played_reports):
    data = json.loads((played_reports / "results.json").read_text(encoding="utf-8"))
    assert data["format"] == "spec-harness/results/1"
    assert data["counts"] == {"passed": 6, "failed": 2, "skipped": 2}
    assert data["status"] == "failed" and data["exit_code"] == 1
    assert data["passed_after_retries"] == 3
    # Retried steps that passed are not flaky: flaky is for feature runs --rerun-failed
    # ran again (the one key, 0 here).
    assert data["flaky"] == 0 and json.dumps(data).count("flaky") == 1
    runs = data["feature_runs"]
    assert [r["id"].rsplit("/", 1)[1] for r in runs] == [
        "Arithmetic.feature.md",
        "FOTA.feature.md#1",
        "FOTA.feature.md#2",
        "Map.feature.md",
    ]
    nbiot = runs[2]
    assert nbiot["variant"] == {"nw": "nbiot"} and nbiot["title"] == "Device FOTA"
    step = nbiot["scenarios"][2]["steps"][0]
    assert step["status"] == "failed" and len(step["attempts"]) == 4
    assert set(step["attempts"][0]) == {
        "attempt",
        "time",
        "duration",
        "error",
        "next_delay",
        "repeated",
    }
    assert step["error"]["kind"] == "assertion"
    soon = runs[1]["scenarios"][1]["steps"][1]
    assert [log["level"] for log in soon["logs"]][:2] == ["progress", "debug"]
    assert runs[1]["scenarios"][1]["steps"][0]["attachments"][0]["kind"] == "http"


def test_summary_md(played_reports):
    text = (played_reports / "summary.md").read_text(encoding="utf-8")
    assert text.startswith("## ❌ Spec run failed\n")
    assert "| 6 | 2 | 2 | 3 |" in text
    assert "**Device FOTA \\[nw=nbiot\\] › Check the status**" in text
    assert "Soon the job status in `nbiot` should be" in text
    assert "/reports/FOTA.feature.md:37`, failed after 4 attempts" in text
    assert 'at $.status: expected "COMPLETED", got "IN_PROGRESS"' in text
    assert "    1x no job yet\n    3x at $.status" in text  # distinct failures, counted
    # A title with HTML stays text in a GitHub job summary.
    assert 'Arithmetic \\<html\\> &amp; "quotes"' in text
    assert "<html>" not in text
    assert "Device map (needs 'Device FOTA \\[nw=nbiot\\]', which failed)" in text


def test_summary_md_of_a_passing_run(tmp_path):
    spec = tmp_path / "snake_case_name.feature.md"
    spec.write_text("# Pass\n\n## S\n\nGiven I store `1` into `x`\n", encoding="utf-8")
    play(spec, tmp_path)
    text = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert text.startswith("## ✅ Spec run passed\n") and "### Failures" not in text


def test_summary_md_code_spans_are_not_escaped(tmp_path):
    """GitHub shows a backslash inside a code span as it is: `snake\\_case` would read
    wrong, so paths in code spans are written raw."""
    spec = tmp_path / "snake_case_name.feature.md"
    spec.write_text("# Fail\n\n## S\n\nThen `a_b` equals `c_d`\n", encoding="utf-8")
    play(spec, tmp_path)
    text = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "snake_case_name.feature.md:5`" in text and "snake\\_case" not in text
    assert "Then `a_b` equals `c_d`" in text


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


def test_html_is_self_contained(played_reports):
    page = (played_reports / "index.html").read_text(encoding="utf-8")
    parser = _Assets()
    parser.feed(page)
    assert parser.fetched == [""]  # the one inline script, nothing to fetch
    assert "@import" not in page and "url(" not in page
    assert not re.search(r"""(src|href)=["']?//""", page)
    # Links written in descriptions stay links.
    assert (
        "https://docs.nordicsemi.com/bundle/nrf-cloud/page/Devices/FirmwareUpdate/"
        "FOTAOverview.html" in parser.links
    )


def test_html_escapes_spec_text(played_reports):
    page = (played_reports / "index.html").read_text(encoding="utf-8")
    assert "<html>" not in page.split("<head>", 1)[1]
    assert "Arithmetic &lt;html&gt; &amp; &#34;quotes&#34;" in page
    assert "<code>&lt;b&gt;</code>" in page  # a description's code span
    assert "<strong>Markdown</strong>" in page


def test_html_shows_the_run(played_reports):
    page = (played_reports / "index.html").read_text(encoding="utf-8")
    assert re.search(
        r"<b>6</b> passed.*<b>2</b> failed.*<b>2</b> skipped.*<b>3</b> steps passed "
        r"after retries",
        page,
        re.S,
    )
    assert "flaky" not in page.split("<style>")[0] + page.split("</style>")[1]
    assert "passed after 3 attempts" in page
    assert "Jump to first failure" in page
    # Failed feature runs come first and open; passed ones are folded.
    features = re.findall(r'<details class="feature st-(\w+)"[^>]*?( open)?>', page)
    assert features == [("failed", " open"), ("failed", " open"), ("passed", ""), ("skipped", "")]
    first = re.search(r'href="#(f\d+-s\d+-\d+)">Jump', page).group(1)
    assert f'<li class="step st-failed" id="{first}">' in page
    assert '<span class="d-add">+  &#34;status&#34;: &#34;IN_PROGRESS&#34;' in page
    # Placeholders show resolved, with the written form beside them.
    assert "http://127.0.0.1:8000/device/92b.y7i24q/fota/app" in page
    assert "${APIURL}/device/${fingerprint}" in page
    # The distinct failures of the failed Soon step, then every attempt folded away.
    assert "attempts 2–4 (3×)" in page
    assert '<details class="att http">' in page and '<details class="att ws">' in page
    assert "Not run: needs &#39;Device FOTA [nw=nbiot]&#39;, which failed" in page
    assert 'id="failed-only"' in page and 'id="tag-filter"' in page and 'id="text-filter"' in page
    assert '<option value="fota">@fota</option>' in page


def test_html_of_a_single_feature_run_is_open(tmp_path):
    play(SPECS / "reports" / "Arithmetic.feature.md", tmp_path)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    opening = '<details class="feature st-failed" id="f1" data-status="failed" data-tags="math'
    assert opening in page and re.search(re.escape(opening) + '[^>]*" open>', page)


def test_reports_written_on_run_finished_before_close(played, tmp_path):
    out = io.StringIO()
    reporters = make_reporters(tmp_path, stream=out, color=False)
    for event in played.events:
        for reporter in reporters:
            reporter(event)
    assert (tmp_path / "index.html").exists()
    for reporter in reporters:
        reporter.close()


def test_odd_event_data_never_costs_the_reports(played, tmp_path):
    """Attachments and errors are whatever steps produced: every report still renders."""
    from harness.events import Attachment, Log, StepFinished

    events = played.events[:-1]
    step = next(e for e in events if e.type == "step_finished")
    scenario_id = step.step_id.rsplit("/", 1)[0]
    odd = [
        Attachment(run_id=step.run_id, step_id=step.step_id, kind="http", data={}),
        Attachment(
            run_id=step.run_id,
            step_id=step.step_id,
            kind="http",
            data={
                "request": None,
                "response": {"status": None, "body": b"\x00bytes"},
                "duration": "slow",
            },
        ),
        Attachment(run_id=step.run_id, step_id=step.step_id, kind="ws-in", data={"message": None}),
        Attachment(run_id=step.run_id, step_id=step.step_id, kind="text", data={"text": 42}),
        Attachment(
            run_id=step.run_id,
            step_id=None,
            kind="journal",
            data={"scenario_id": scenario_id, "entries": "not a list"},
        ),
        Attachment(run_id=step.run_id, step_id=step.step_id, kind="mystery", data=None),
        Log(run_id=step.run_id, step_id=step.step_id, level="weird", message=None),
        StepFinished(
            run_id=step.run_id,
            step_id=step.step_id,
            status="failed",
            duration=float("nan"),
            text="<script>alert(1)</script>",
            error={"message": None},
        ),
    ]
    run_reporters([*events, *odd, played.events[-1]], tmp_path)
    for name in REPORTS:
        assert (tmp_path / name).stat().st_size > 0
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page


def test_a_variant_is_named_the_same_in_every_report(tmp_path):
    spec = tmp_path / "Fast.feature.md"
    spec.write_text(
        "---\nvariants:\n  - fast: true\n    n: 2\n---\n# Speed\n\n## S\n\n"
        "Then `${variant.fast}` equals `false`\n",
        encoding="utf-8",
    )
    played = play(spec, tmp_path / "r")
    name = "Speed [fast=true, n=2]"
    assert f"✗ {name}  failed" in played.output and f"1) {name} › S" in played.output
    for report in ("junit.xml", "summary.md", "index.html", "results.json"):
        text = (tmp_path / "r" / report).read_text(encoding="utf-8")
        assert "fast=True" not in text, report
    assert f'<testsuite name="{name}"' in (tmp_path / "r" / "junit.xml").read_text()
    assert "Speed \\[fast=true, n=2\\]" in (tmp_path / "r" / "summary.md").read_text()
    assert (
        json.loads((tmp_path / "r" / "results.json").read_text())["feature_runs"][0]["name"] == name
    )
