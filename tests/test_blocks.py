"""The fast block scanner agrees with markdown-it-py wherever it does not step aside."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.spec.blocks import fast_blocks, markdown_blocks
from harness.spec.frontmatter import split_front_matter

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
FILES = sorted(ROOT.glob("specs/**/*.feature.md")) + sorted(CORPUS.rglob("*.feature.md"))


def body_lines(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").split("\n")
    span = split_front_matter(lines)
    skip = span[1] + 1 if span and span[1] > 0 else 0
    return [""] * skip + lines[skip:]


def same_blocks(lines: list[str]) -> bool | None:
    """None when the fast path steps aside; else whether both give the same blocks."""
    fast = fast_blocks(lines)
    if fast is None:
        return None
    assert fast == markdown_blocks("\n".join(lines))
    return True


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_real_specs_agree(path):
    same = same_blocks(body_lines(path.read_text(encoding="utf-8")))
    if CORPUS / "hello-nrfcloud-backend" in path.parents:
        assert same is True, "the backend's own specs should take the fast path"


PIECES = [
    "# Feature",
    "## Scenario: x",
    "### Examples",
    "Given a `x` step",
    "wrapped `line`",
    "And more",
    "> quote",
    "> more quote",
    "```json",
    "```",
    "~~~",
    '{"a": 1}',
    "",
    "",
    "| a | b |",
    "| - | - |",
    "| 1 | 2 |",
    "<!-- @tag -->",
    "<!-- open",
    "-->",
    "- item",
    "1. item",
    "    indented",
    "text",
    "Soon it works",
    "---",
    "#nospace",
    "## trailing ##",
    "| x |",
    "  > spaced",
    "<div>",
    "`code` start",
    "***",
    "=== ",
    "\tTab",
    " lead",
    "|",
    "> ```",
    "Then `|` pipe",
    "| `a|b` | c |",
    "| \\| |",
]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30))
def test_generated_documents_agree(pieces):
    same_blocks(pieces)
