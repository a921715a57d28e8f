"""junit.xml: counts equal the run's, names carry variants and rows, and the document
fits the junit-4 schema (Jenkins/Ant) and the xunit-plugin junit-10 one.

Rather than depend on a schema validator, the parts of both XSDs this writer can touch
are restated below (elements, allowed and required attributes, child order and
multiplicity); the output was also checked once with xmlschema against the real XSDs.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from harness.report import junit
from harness.report.demo import Outcome, Script, demo_events, demo_script
from harness.report.results import ResultBuilder
from harness.spec.parser import parse_text

# element: (allowed attributes, required attributes, [(child, min, max)] in sequence order)
UNBOUNDED = None
JUNIT4 = {
    "testsuites": ({"name", "time", "tests", "failures", "disabled", "errors"}, set(),
                   [("testsuite", 0, UNBOUNDED)]),
    "testsuite": ({"name", "tests", "failures", "errors", "time", "disabled", "skipped",
                   "timestamp", "hostname", "id", "package"}, {"name", "tests"},
                  [("properties", 0, 1), ("testcase", 0, UNBOUNDED), ("system-out", 0, 1),
                   ("system-err", 0, 1)]),
    "properties": (set(), set(), [("property", 1, UNBOUNDED)]),
    "property": ({"name", "value"}, {"name", "value"}, []),
    "testcase": ({"name", "assertions", "time", "classname", "status"}, {"name"},
                 [("skipped", 0, 1), ("error", 0, UNBOUNDED), ("failure", 0, UNBOUNDED),
                  ("system-out", 0, UNBOUNDED), ("system-err", 0, UNBOUNDED)]),
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


def render(events) -> tuple[str, ET.Element]:
    builder = ResultBuilder()
    for event in events:
        builder.add(event.to_dict())
    text = junit.render(builder.result())
    return text, ET.fromstring(text.encode("utf-8"))


def test_document_fits_the_junit_schemas():
    text, root = render(demo_events())
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')
    check_schema(root)
    assert set(root.attrib) <= JUNIT10_TESTSUITES
    assert SUREFIRE_TIME.fullmatch(root.get("time"))
    for suite in root.iter("testsuite"):
        assert set(suite.attrib) >= JUNIT10_SUITE_REQUIRED
        assert SUREFIRE_TIME.fullmatch(suite.get("time"))
        assert TIMESTAMP.fullmatch(suite.get("timestamp"))


def test_counts_equal_the_run():
    script = demo_script()
    _, root = render(script.events)
    counts = script.scenario_counts
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


def test_one_suite_per_feature_run_named_with_variant_and_rows():
    _, root = render(demo_events())
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == ["Device FOTA [nw=ltem]", "Device FOTA [nw=nbiot]",
                            'Arithmetic <html> & "quotes"', "Device map"]
    outline = suites['Arithmetic <html> & "quotes"']
    assert [c.get("name") for c in outline.iter("testcase")] == [
        "Add 1 and 2 [a=1, b=2, sum=3]", "Add 2 and 2 [a=2, b=2, sum=4]",
        "Add 5 and 5 [a=5, b=5, sum=11]"]
    assert {c.get("classname") for c in outline.iter("testcase")} == {outline.get("name")}
    fota = [c.get("name") for c in suites["Device FOTA [nw=ltem]"].iter("testcase")]
    assert fota == ["Schedule the FOTA job", "Check the status", "Receive a notification"]


def test_failure_has_message_type_and_detail():
    _, root = render(demo_events())
    suite = next(s for s in root.iter("testsuite") if s.get("name") == "Device FOTA [nw=nbiot]")
    case = next(c for c in suite.iter("testcase") if c.find("failure") is not None)
    failure = case.find("failure")
    assert failure.get("message") == 'at $.jobs[0].status: expected "COMPLETED", got "IN_PROGRESS"'
    assert failure.get("type") == "assertion"
    assert "at specs/FOTA.feature.md:" in failure.text
    assert "after 4 attempts" in failure.text
    assert '+  "status": "IN_PROGRESS"' in failure.text


def test_skipped_carries_the_reason():
    _, root = render(demo_events())
    suite = next(s for s in root.iter("testsuite") if s.get("name") == "Device map")
    (case,) = suite.iter("testcase")
    assert case.find("skipped").text == "needs 'Device FOTA [nw=nbiot]', which failed"


TWICE = """\
# Twice

## Check the status

Given a step

## Check the status

Then a failing step
"""


def test_duplicate_titles_get_a_number_and_control_characters_are_replaced():
    def decide(scenario, step, row):
        if step.text == "a failing step":  # an error message with terminal colours in it
            return Outcome(status="failed", error={"message": "\x1b[31mred\x1b[0m", "kind": "error",
                                                   "detail": None})
        return None

    script = Script()
    script.play(parse_text(TWICE, "specs/Twice.feature.md"), "specs/Twice.feature.md", decide)
    text, root = render(script.events)
    check_schema(root)
    assert [c.get("name") for c in root.iter("testcase")] == ["Check the status",
                                                              "Check the status (2)"]
    assert "\x1b" not in text and root.find(".//failure").get("message") == "\ufffd[31mred\ufffd[0m"


def test_interrupted_stream_still_gives_valid_xml():
    _, root = render(demo_events(interrupt_after=6))
    check_schema(root)
    assert int(root.get("tests")) == 6
