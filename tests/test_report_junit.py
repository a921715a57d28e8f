"""junit.xml: counts equal the run's, names carry variants and rows, and the document
fits the junit-4 schema (Jenkins/Ant) and the xunit-plugin junit-10 one.

Rather than depend on a schema validator, the parts of both XSDs this writer can touch
are restated below (elements, allowed and required attributes, child order and
multiplicity); the output was also checked once with xmlschema against the real XSDs.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from support.reports import SPECS, play

from harness.report import junit
from harness.report.results import ResultBuilder

# element: (allowed attributes, required attributes, [(child, min, max)] in sequence order)
UNBOUNDED = None
JUNIT4 = {
    "testsuites": (
        {"name", "time", "tests", "failures", "disabled", "errors"},
        set(),
        [("testsuite", 0, UNBOUNDED)],
    ),
    "testsuite": (
        {
            "name",
            "tests",
            "failures",
            "errors",
            "time",
            "disabled",
            "skipped",
            "timestamp",
            "hostname",
            "id",
            "package",
        },
        {"name", "tests"},
        [
            ("properties", 0, 1),
            ("testcase", 0, UNBOUNDED),
            ("system-out", 0, 1),
            ("system-err", 0, 1),
        ],
    ),
    "properties": (set(), set(), [("property", 1, UNBOUNDED)]),
    "property": ({"name", "value"}, {"name", "value"}, []),
    # `file` and `line` are beyond junit-4 (GitLab and Jenkins read them; the strict XSD
    # does not list them): the one extension, asked for by issue 14.
    "testcase": (
        {"name", "assertions", "time", "classname", "status", "file", "line"},
        {"name", "file", "line"},
        [
            ("skipped", 0, 1),
            ("error", 0, UNBOUNDED),
            ("failure", 0, UNBOUNDED),
            ("system-out", 0, UNBOUNDED),
            ("system-err", 0, UNBOUNDED),
        ],
    ),
    "skipped": (set(), set(), []),  # xs:string: text only, no attributes
    "failure": ({"type", "message"}, set(), []),
    "error": ({"type", "message"}, set(), []),
    "system-out": (set(), set(), []),
    "system-err": (set(), set(), []),
}
# junit-10 is looser except for these.
JUNIT10_TESTSUITES = {"name", "time", "tests", "failures", "errors"}
JUNIT10_SUITE_REQUIRED = {"name", "tests", "failures", "errors"}
SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def check_schema(element: ET.Element) -> None:
    allowed, required, sequence = JUNIT4[element.tag]
    attributes = set(element.attrib)
    assert attributes <= allowed, (element.tag, attributes - allowed)
    assert required <= attributes, (element.tag, required - attributes)
    children = list(element)
    position = 0
    for name, low, high in sequence:
        count = 0
        while position < len(children) and children[position].tag == name:
            count += 1
            position += 1
        assert count >= low, (element.tag, name, "too few")
        assert high is None or count <= high, (element.tag, name, "too many")
    assert position == len(children), (element.tag, "unexpected", children[position].tag)
    if not sequence:
        assert not children
    for child in children:
        check_schema(child)


def render(result) -> tuple[str, ET.Element]:
    text = junit.render(result)
    return text, ET.fromstring(text.encode("utf-8"))


@pytest.fixture(scope="module")
def played():
    return play(SPECS / "reports")


def test_document_fits_the_junit_schemas(played):
    text, root = render(played.result)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')
    check_schema(root)
    assert set(root.attrib) <= JUNIT10_TESTSUITES
    assert SUREFIRE_TIME.fullmatch(root.get("time"))
    for suite in root.iter("testsuite"):
        assert set(suite.attrib) >= JUNIT10_SUITE_REQUIRED
        assert SUREFIRE_TIME.fullmatch(suite.get("time"))
        if suite.get("name") != "Device map":  # skipped before it started: no timestamp
            assert TIMESTAMP.fullmatch(suite.get("timestamp"))


def test_counts_equal_the_run(played):
    _, root = render(played.result)
    counts = played.outcome.counts
    cases = list(root.iter("testcase"))
    assert int(root.get("tests")) == len(cases) == sum(counts.values())
    assert int(root.get("failures")) == counts["failed"] == len(list(root.iter("failure")))
    assert root.get("errors") == "0"
    assert len([c for c in cases if c.find("skipped") is not None]) == counts["skipped"]
    for suite in root.iter("testsuite"):
        own = list(suite.iter("testcase"))
        assert int(suite.get("tests")) == len(own)
        assert int(suite.get("failures")) == len([c for c in own if c.find("failure") is not None])
        assert int(suite.get("skipped")) == len([c for c in own if c.find("skipped") is not None])


def test_one_suite_per_feature_run_named_with_variant_and_rows(played):
    _, root = render(played.result)
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == [
        'Arithmetic <html> & "quotes"',
        "Device FOTA [nw=ltem]",
        "Device FOTA [nw=nbiot]",
        "Device map",
    ]
    outline = suites['Arithmetic <html> & "quotes"']
    assert [c.get("name") for c in outline.iter("testcase")] == [
        "Add 1 and 2 [a=1, b=2, sum=3]",
        "Add 2 and 2 [a=2, b=2, sum=4]",
        "Add 5 and 5 [a=5, b=5, sum=11]",
    ]
    assert {c.get("classname") for c in outline.iter("testcase")} == {outline.get("name")}
    fota = [c.get("name") for c in suites["Device FOTA [nw=ltem]"].iter("testcase")]
    assert fota == ["Schedule the FOTA job", "Check the status", "Receive a notification"]


def test_failure_has_message_type_distinct_errors_and_detail(played):
    _, root = render(played.result)
    suite = next(s for s in root.iter("testsuite") if s.get("name") == "Device FOTA [nw=nbiot]")
    case = next(c for c in suite.iter("testcase") if c.find("failure") is not None)
    failure = case.find("failure")
    assert failure.get("message") == 'at $.status: expected "COMPLETED", got "IN_PROGRESS"'
    assert failure.get("type") == "assertion"
    assert "FOTA.feature.md:" in failure.text
    assert "failed after 4 attempts" in failure.text
    assert "  1x no job yet\n  3x at $.status" in failure.text
    assert '+  "status": "IN_PROGRESS"' in failure.text
    transcript = case.find("system-out").text
    assert "(failed after 4 attempts)" in transcript


def test_retried_steps_that_passed_say_so(played):
    _, root = render(played.result)
    suite = next(s for s in root.iter("testsuite") if s.get("name") == "Device FOTA [nw=ltem]")
    out = "".join(c.find("system-out").text for c in suite.iter("testcase"))
    assert "+ Soon the nRF Cloud API has been called `3` times (passed after 3 attempts)" in out
    assert "flaky" not in out


def test_skipped_carries_the_reason(played):
    _, root = render(played.result)
    suite = next(s for s in root.iter("testsuite") if s.get("name") == "Device map")
    (case,) = suite.iter("testcase")
    assert case.find("skipped").text == "needs 'Device FOTA [nw=nbiot]', which failed"


def test_a_crash_is_an_error_not_a_failure(tmp_path):
    _, root = render(play(SPECS / "crash").result)
    check_schema(root)
    (case,) = root.iter("testcase")
    assert case.find("failure") is None
    error = case.find("error")
    assert error.get("type") == "error" and error.get("message") == "RuntimeError: boom"
    assert root.get("errors") == "1" and root.get("failures") == "0"


TWICE = """\
# Twice

## Check the status

Given I store `1` into `x`

## Check the status

Given I store `"\x1b[31mred\x1b[0m"` into `y`

Then `${y}` equals `plain`
"""


def test_duplicate_titles_get_a_number_and_control_characters_are_replaced(tmp_path):
    spec = tmp_path / "Twice.feature.md"
    spec.write_text(TWICE, encoding="utf-8")
    text, root = render(play(spec).result)
    check_schema(root)
    assert [c.get("name") for c in root.iter("testcase")] == [
        "Check the status",
        "Check the status (2)",
    ]
    assert "\x1b" not in text
    assert root.find(".//failure").get("message") == "expected plain, got \ufffd[31mred\ufffd[0m"


def test_interrupted_run_still_gives_valid_xml(played):
    # The stream cut after the first feature run finished, as a kill leaves it.
    events = played.events
    cut = next(i for i, e in enumerate(events) if e.type == "feature_finished") + 1
    model = ResultBuilder()
    for event in events[:cut]:
        model(event)
    _, root = render(model.result())
    check_schema(root)
    # Every planned scenario is a test case; what never ran is skipped as interrupted.
    assert int(root.get("tests")) == 10
    skipped = [c.find("skipped") for c in root.iter("testcase") if c.find("skipped") is not None]
    assert len(skipped) == 7 and {s.text for s in skipped} == {"interrupted"}
