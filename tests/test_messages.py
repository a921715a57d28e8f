"""messages.ndjson (issue 14): every line validates against Cucumber's own JSON schema.

The schema ships in the npm package @cucumber/messages (the PyPI package
cucumber-messages has the classes but not the schema); the test fetches it with npm
into a scratch folder, as a user would, and never keeps a copy in the repository.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[1]
MESSAGES_PACKAGE = "@cucumber/messages@34"


@pytest.fixture(scope="module")
def validator(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("cucumber-messages")
    packed = subprocess.run(
        ["npm", "pack", MESSAGES_PACKAGE, "--silent"],
        cwd=scratch,
        text=True,
        capture_output=True,
        timeout=180,
    )
    assert packed.returncode == 0, packed.stderr
    with tarfile.open(scratch / packed.stdout.strip().splitlines()[-1]) as tar:
        schema = json.load(tar.extractfile("package/messages.schema.json"))
    return jsonschema.validators.validator_for(schema)(schema)


@pytest.fixture(scope="module")
def messages(tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "run",
            "tests/specs/ci",
            "tests/specs/failing",
            "specs/dialect",
            "--reports",
            str(reports),
            "--retry-timeout",
            "1500",
        ],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=180,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    lines = (reports / "messages.ndjson").read_text().splitlines()
    return [json.loads(line) for line in lines], reports


def test_every_line_validates_against_the_official_schema(validator, messages):
    envelopes, _ = messages
    problems = [
        (n, next(iter(env)), e.message)
        for n, env in enumerate(envelopes, 1)
        for e in validator.iter_errors(env)
    ]
    assert problems == []
    assert all(len(env) == 1 for env in envelopes)


def of(envelopes: list[dict], kind: str) -> list[dict]:
    return [env[kind] for env in envelopes if kind in env]


def test_the_run_reads_as_cucumber_would_write_it(messages):
    envelopes, reports = messages
    kinds = [next(iter(env)) for env in envelopes]
    assert kinds[0] == "meta" and kinds[-1] == "testRunFinished"
    assert kinds.index("testRunStarted") > max(i for i, k in enumerate(kinds) if k == "pickle")
    assert of(envelopes, "testRunFinished")[0]["success"] is False
    # Pickles carry the plan's ids: the same the events use.
    events = [json.loads(line) for line in (reports / "events.ndjson").read_text().splitlines()]
    plan = events[0]["plan"]
    assert {p["id"] for p in of(envelopes, "pickle")} == {
        e["id"] for r in plan for e in r["executions"]
    }
    # Every pickle's AST nodes are in a gherkinDocument, every test case's steps in its pickle.
    ast = json.dumps(of(envelopes, "gherkinDocument"))
    for pickle in of(envelopes, "pickle"):
        assert all(f'"{node}"' in ast for node in pickle["astNodeIds"])
    pickle_steps = {s["id"] for p in of(envelopes, "pickle") for s in p["steps"]}
    assert {
        s["pickleStepId"] for c in of(envelopes, "testCase") for s in c["testSteps"]
    } == pickle_steps
    started = {s["id"] for s in of(envelopes, "testCaseStarted")}
    assert started == {f["testCaseStartedId"] for f in of(envelopes, "testCaseFinished")}
    results = {f["testStepResult"]["status"] for f in of(envelopes, "testStepFinished")}
    assert {"PASSED", "FAILED", "SKIPPED"} <= results
    failed = next(
        f["testStepResult"]
        for f in of(envelopes, "testStepFinished")
        if f["testStepResult"]["status"] == "FAILED"
    )
    assert failed["message"]


def test_attachments_hold_http_exchanges_and_soon_attempts(messages):
    envelopes, _ = messages
    attachments = of(envelopes, "attachment")
    names = {a.get("fileName") for a in attachments}
    assert {"HTTP exchange", "Soon attempts"} <= names
    http = next(a for a in attachments if a.get("fileName") == "HTTP exchange")
    assert json.loads(http["body"])["response"]["status"] == 200
    soon = next(a for a in attachments if a.get("fileName") == "Soon attempts")
    assert "attempt 1" in soon["body"]
    steps = {s["id"] for c in of(envelopes, "testCase") for s in c["testSteps"]}
    assert all(a["testStepId"] in steps for a in attachments)


def test_sources_and_documents_name_each_spec_once(messages):
    envelopes, _ = messages
    uris = [s["uri"] for s in of(envelopes, "source")]
    assert len(uris) == len(set(uris)) and "tests/specs/ci/Fails.feature.md" in uris
    assert [d["uri"] for d in of(envelopes, "gherkinDocument")] == uris


def test_step_definitions_are_named_and_each_test_step_points_at_its_own(messages):
    envelopes, _ = messages
    definitions = {d["id"]: d for d in of(envelopes, "stepDefinition")}
    assert definitions
    assert all(d["sourceReference"]["uri"].startswith("steps/") for d in definitions.values())
    store = next(d for d in definitions.values() if "I store" in d["pattern"]["source"])
    assert store["pattern"]["type"] == "REGULAR_EXPRESSION"
    used = [
        i for c in of(envelopes, "testCase") for s in c["testSteps"] for i in s["stepDefinitionIds"]
    ]
    assert set(used) == set(definitions)
    assert all(
        len(s["stepDefinitionIds"]) == len(s["stepMatchArgumentsLists"])
        for c in of(envelopes, "testCase")
        for s in c["testSteps"]
    )


def test_every_pickle_has_a_scenario_lineage_as_the_html_formatter_needs(messages):
    # Cucumber's HTML formatter looks each pickle's first AST node up among the
    # documents' scenarios (in or outside a rule); a Background node there would make
    # it stop with "No Lineage found for Pickle".
    envelopes, _ = messages
    scenarios = set()
    for document in of(envelopes, "gherkinDocument"):
        for child in document["feature"]["children"]:
            nested = child["rule"]["children"] if "rule" in child else [child]
            scenarios |= {c["scenario"]["id"] for c in nested if "scenario" in c}
    assert all(p["astNodeIds"][0] in scenarios for p in of(envelopes, "pickle"))
