"""Parser: the dialect's structures, and errors with path:line:col."""

from pathlib import Path

import pytest

from harness.spec.errors import SpecErrors
from harness.spec.model import Rule
from harness.spec.parser import parse_bytes, parse_text

# Beside the checkout (main), or beside the folder of the worktrees.
CORPUS = next(
    (
        p
        for p in (Path(__file__).resolve().parents[i] / "shared" / "corpus" for i in (2, 3))
        if p.is_dir()
    ),
    Path(__file__).resolve().parents[2] / "shared" / "corpus",
)


def errors_of(text: str) -> list[str]:
    with pytest.raises(SpecErrors) as info:
        parse_text(text, "x.feature.md")
    return [str(e) for e in info.value.errors]


FULL = """---
exampleContext:
  ts: 2023-09-12T00:00:00.000Z
variants:
  - nw: ltem
needs:
  - Other
retry:
  tries: 3
tags: [fota]
custom: kept
---

<!-- @slow -->

# Feature: Example

> Feature description
> second line

## Background

Given I have a `device`

## Scenario: Steps

<!-- @retry:tries=5,initialDelay=100 a comment -->

Given a step that is
wrapped over lines

> step description

```json title=x
{"a": 1}
```

When something

And another

Soon it works

But not this

| a | b |
| - | - |
| 1 | 2 |

## Scenario Outline: Eat

Given `<start>` cucumbers

### Examples

| start |
| ----- |
| 12    |
| 20    |

## Rule: Only one

### Example: one

Then it is one
"""


def test_full_structure():
    f = parse_text(FULL, "x.feature.md")
    assert f.title == "Example"
    assert f.description == "Feature description\nsecond line"
    assert f.tags == ["slow"]
    assert f.front_matter["custom"] == "kept"
    assert f.front_matter["exampleContext"]["ts"] == "2023-09-12T00:00:00.000Z"  # not datetime
    assert f.needs == ["Other"] and f.retry == {"tries": 3} and f.all_tags == ["fota", "slow"]
    assert f.background is not None and f.background.steps[0].text == "I have a `device`"
    steps = f.children[0].steps
    assert steps[0].text == "a step that is wrapped over lines"
    assert steps[0].description == "step description"
    assert steps[0].code.language == "json" and steps[0].code.info == "json title=x"
    assert steps[0].code.text == '{"a": 1}'
    # A comment between the heading and the first step belongs to the scenario.
    assert f.children[0].tags == ["retry:tries=5,initialDelay=100"] and steps[0].tags == []
    assert f.children[0].retry == {"tries": 5, "initialDelay": 100.0} and steps[0].retry == {}
    assert [s.kind for s in steps] == ["given", "when", "when", "soon", "soon"]
    assert steps[4].table.header == ["a", "b"] and steps[4].table.rows == [["1", "2"]]
    outline = f.children[1]
    assert outline.kind == "outline"
    assert outline.examples[0].table.as_dicts() == [{"start": "12"}, {"start": "20"}]
    rule = f.children[2]
    assert isinstance(rule, Rule) and rule.title == "Only one"
    assert rule.scenarios[0].title == "one" and rule.scenarios[0].rule == "Only one"
    assert [s.title for s in f.scenarios()] == ["Steps", "Eat", "one"]


def test_crlf_and_lf_parse_the_same():
    lf = parse_text(FULL, "x")
    crlf = parse_text(FULL.replace("\n", "\r\n"), "x")
    assert crlf == lf


def test_tilde_fence_and_language():
    f = parse_text("# F\n\n## S\n\nGiven x\n\n~~~~yaml\na: 1\n~~~~\n", "x")
    step = f.children[0].steps[0]
    assert step.code.language == "yaml" and step.code.text == "a: 1"


def test_heading_keywords():
    f = parse_text("# Example feature\n\n## Scenario: a\n\nGiven x\n\n## b: c\n\nGiven y\n", "x")
    assert f.title == "Example feature"
    assert [s.title for s in f.scenarios()] == ["a", "b: c"]


def test_misspelled_keyword_is_an_error_with_a_hint():
    errs = errors_of("# F\n\n## S\n\nGivn a thing\n")
    assert errs[0].startswith("x.feature.md:5:1: expected a step")
    assert "did you mean `Given`" in errs[0]
    assert "    Givn a thing\n    ^" in errs[0]


def test_all_errors_of_a_file_at_once():
    errs = errors_of("# F\n\n## S\n\nprose\n\n## T\n\n- a list\n\n## U\n")
    assert [e.split(":")[1] for e in errs] == ["5", "9", "11"]


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("", 1, "file is empty"),
        ("   \n\n", 1, "file is empty"),
        ("# F\n", 1, "has no scenario"),
        ("# F\n\n## S\n", 3, "has no step"),
        ("## S\n\nGiven x\n", 1, "heading before the feature"),
        ("# F\n\n# G\n\n## S\n\nGiven x\n", 3, "a second `#` heading"),
        ("# Scenario: x\n\n## S\n\nGiven x\n", 1, "must be a level 2 heading"),
        ("# F\n\n## Feature: x\n", 3, "must be a level 1 heading"),
        ("# F\n\n## S\n\nAnd x\n", 5, "needs a step before it"),
        ("# F\n\n## S\n\nGiven x\n\n```\na\n```\n\n```\nb\n```\n", 11, "a second code block"),
        ("# F\n\n```\na\n```\n\n## S\n\nGiven x\n", 3, "not attached to a step"),
        ("# F\n\n## S\n\nGiven x\n\n<div>x</div>\n", 7, "HTML is not allowed"),
        ("# F\n\n## S\n\nGiven x\n\n<!-- open\n", 7, "never closed"),
        ("---\na: [\n---\n# F\n\n## S\n\nGiven x\n", 2, "not valid YAML"),
        ("---\nrun: sometimes\n---\n# F\n\n## S\n\nGiven x\n", 2, "expected `only` or `never`"),
        ("---\nvariants: x\n---\n# F\n\n## S\n\nGiven x\n", 2, "non-empty list of mappings"),
        ("---\nretry:\n  tries: many\n---\n# F\n\n## S\n\nGiven x\n", 2, "non-negative number"),
        ("---\nneeds: A\n---\n# F\n\n## S\n\nGiven x\n", 2, "list of feature titles"),
        ("---\na: 1\n", 1, "never closed"),
        ("# F\n\n## Scenario Outline: o\n\nGiven `<a>`\n", 3, "has no `### Examples`"),
        ("# F\n\n## S\n\nGiven x\n\n#### deep\n", 7, "unexpected `####` heading"),
        ("# F\n\n## S\n\nGiven x\n\n| a |   |\n| - | - |\n", 7, "header cell 2 is blank"),
    ],
)
def test_refusals_name_the_line(text, line, fragment):
    errs = errors_of(text)
    assert any(e.startswith(f"x.feature.md:{line}:") and fragment in e for e in errs), errs


def test_invalid_utf8_names_the_place():
    with pytest.raises(SpecErrors) as info:
        parse_bytes(b"# F\n\n## S\n\nGiven \xff\n", "x.feature.md")
    assert str(info.value.errors[0]).startswith("x.feature.md:5:7: file is not valid UTF-8")


def test_background_only_feature_parses():
    f = parse_text("# F\n\n## Background\n\nGiven x\n", "x")
    assert f.background and not list(f.scenarios())


def test_comments_attach_to_the_next_heading():
    f = parse_text("# F\n\n## S1\n\nGiven x\n\n<!-- @wip for S2 -->\n\n## S2\n\nGiven y\n", "x")
    assert f.children[1].tags == ["wip"] and f.children[0].steps[0].comments == []


def _corpus(name: str) -> list[str]:
    return (CORPUS / name).read_text().split()


@pytest.mark.skipif(not CORPUS.exists(), reason="../shared/corpus is not beside the checkout")
@pytest.mark.parametrize("rel", _corpus("MUST-PARSE.txt") if CORPUS.exists() else [])
def test_corpus_must_parse(rel):
    from harness.spec.parser import parse_file

    parse_file(CORPUS / rel)


@pytest.mark.skipif(not CORPUS.exists(), reason="../shared/corpus is not beside the checkout")
@pytest.mark.parametrize("rel", _corpus("MUST-REFUSE.txt") if CORPUS.exists() else [])
def test_corpus_must_refuse(rel):
    from harness.spec.parser import parse_file

    with pytest.raises(SpecErrors) as info:
        parse_file(CORPUS / rel)
    for e in info.value.errors:
        assert str(e).startswith(f"{CORPUS / rel}:{e.line}:{e.col}: ")


def test_a_blank_examples_cell_is_null():
    f = parse_text(
        "# F\n\n## Scenario Outline: O\n\nGiven `<a>` x\n\n### Examples\n\n"
        "| a | b |\n| - | - |\n| 1 |   |\n",
        "x",
    )
    assert f.children[0].examples[0].table.as_dicts() == [{"a": "1", "b": None}]


def test_a_yaml_alias_bomb_is_refused_with_its_line():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    text = "---\nexampleContext:\n" + "\n".join("  " + x for x in lines) + "\n---\n# F\n"
    with pytest.raises(SpecErrors) as info:
        parse_text(text, "bomb.feature.md")
    message = str(info.value)
    assert "aliases" in message and "bomb.feature.md:" in message
