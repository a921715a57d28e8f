"""`spec-harness steps`: sentences as a spec writes them, and a catalogue for editors."""

from __future__ import annotations

import json

from test_ci import cli

from harness.stepdocs import from_parse, from_regex


def test_a_regex_reads_as_the_sentence_a_spec_writes():
    sentence, params = from_regex(
        r"^I `(?P<method>GET|POST|PUT)` (?:to )?`(?P<url>[^`]+)`"
        r"(?: retrying (?P<retries>\d+) times)?(?P<has_body> with)?$"
    )
    assert sentence == "I `<method: GET|POST|PUT>` [to ]`<url>`[ retrying <retries> times][ with]"
    assert [(p.name, p.choices, p.pattern, p.optional) for p in params] == [
        ("method", ["GET", "POST", "PUT"], None, False),
        ("url", None, "[^`]+", False),
        ("retries", None, r"\d+", True),
        ("has_body", [" with"], None, True),
    ]


def test_choices_and_unnamed_parts():
    assert (
        from_regex(r"^`(?P<expr>[^`]+)` should (?P<mode>equal|match)$")[0]
        == "`<expr>` should <mode: equal|match>"
    )
    assert from_regex(r"^wait (\d+) (?:seconds|minutes)$")[0] == "wait <…> (seconds|minutes)"


def test_parse_patterns_name_their_fields():
    sentence, params = from_parse("I store `{expr}` into `{name}` after {n:d} tries")
    assert sentence == "I store `<expr>` into `<name>` after <n> tries"
    assert [(p.name, p.pattern) for p in params] == [("expr", None), ("name", None), ("n", "d")]


def test_steps_prints_sentences_with_whole_docstrings():
    done = cli("steps")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "\nI store `<expr>` into `<name>`\n    any keyword · steps/" in out
    assert "(?P<" not in out and "^" not in out.split("\n")[0]
    # The whole docstring, not its first line only.
    assert (
        "    The backend asks for the shadows of an account's devices in one request, and the\n"
    ) in out


def test_steps_json_is_a_catalogue_for_editors():
    done = cli("steps", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["format"] == "spec-harness/steps/1"
    store = next(s for s in data["steps"] if s["sentence"] == "I store `<expr>` into `<name>`")
    assert store["file"].endswith(".py") and store["line"] > 0
    assert [p["name"] for p in store["parameters"]] == ["expr", "name"]
    assert store["docstring"] and store["pattern"].startswith("^I store")
