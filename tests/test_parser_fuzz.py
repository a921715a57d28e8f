"""Malformed specs never raise anything but SpecErrors with `path:line:col` errors.

A seeded sweep of 10,000 mutations of real specs, plus hypothesis for shrinking.
"""

import random
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.spec.errors import SpecErrors
from harness.spec.parser import parse_bytes

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p.read_bytes() for p in sorted(ROOT.glob("specs/**/*.feature.md"))]
SOURCES += [
    p.read_bytes() for p in sorted((ROOT.parent / "shared" / "corpus").rglob("*.feature.md"))
][:40]
SNIPPETS = [
    b"# ",
    b"## ",
    b"### ",
    b"#### ",
    b"Given ",
    b"And ",
    b"Soon ",
    b"Gven ",
    b"```",
    b"~~~",
    b"> ",
    b"| a | b |",
    b"| - |",
    b"<!-- ",
    b"-->",
    b"---",
    b"- ",
    b"1. ",
    b"${",
    b"}",
    b"<variant.x>",
    b"\r\n",
    b"\r",
    b"\t",
    b"    ",
    b"\xff",
    b"\xe2\x82",
    b"\x00",
    b"Scenario Outline:",
    b"### Examples",
    b"## Background",
    b"## Rule: r",
    b"needs:\n  - X\n",
    b"variants: 3\n",
    b"retry:\n  tries: x\n",
    b"\xef\xbb\xbf",
    b"<div>",
    b"`",
    b"\\|",
    b"Feature:",
    b":",
    b"@tag",
]
PLACE = re.compile(r"^(.+):(\d+):(\d+): \S")


def mutate(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        i = rng.randrange(len(lines) + 1)
        if op == 0 and lines:
            del lines[min(i, len(lines) - 1)]
        elif op == 1:
            lines.insert(i, rng.choice(SNIPPETS) + rng.choice(SNIPPETS))
        elif op == 2 and lines:
            j = min(i, len(lines) - 1)
            lines[j] = rng.choice(SNIPPETS) + lines[j]
        elif op == 3 and len(lines) > 1:
            a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[a], lines[b] = lines[b], lines[a]
        elif op == 4:
            lines = lines[:i]
        elif op == 5 and lines:
            j = min(i, len(lines) - 1)
            cut = rng.randrange(len(lines[j]) + 1)
            lines[j] = lines[j][:cut] + rng.choice(SNIPPETS) + lines[j][cut:]
        else:
            lines.insert(i, lines[rng.randrange(len(lines))] if lines else b"")
    return b"\n".join(lines)


def check(data: bytes) -> None:
    try:
        parse_bytes(data, "m.feature.md")
    except SpecErrors as exc:
        assert exc.errors
        for error in exc.errors:
            text = str(error)
            assert PLACE.match(text), text
            assert error.line >= 1 and error.col >= 1


def test_ten_thousand_mutations():
    rng = random.Random(20261127)
    for n in range(10_000):
        check(mutate(SOURCES[n % len(SOURCES)], rng))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(SOURCES) - 1), st.binary(max_size=40), st.integers(0, 10_000))
def test_hypothesis_insertions(index, junk, at):
    data = SOURCES[index]
    at %= len(data) + 1
    check(data[:at] + junk + data[at:])
