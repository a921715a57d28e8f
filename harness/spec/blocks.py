"""Block structure of a spec: headings, paragraphs, code, quotes, tables, comments.

markdown-it-py decides what Markdown means. Because it spends most of a parse on rules
that specs rarely need, well-formed specs take a fast path first: a line scanner for the
plain subset specs are written in, which gives up (returns None) at the first line it
does not fully understand, so markdown-it-py parses that file instead. A differential
test holds the two to the same blocks on every file the fast path accepts.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token


@dataclass(slots=True)
class Block:
    kind: str  # heading | paragraph | fence | code | blockquote | table | html | other
    start: int  # 0-based first line
    end: int  # 0-based line after the block
    text: str = ""  # heading; paragraph lines joined by single spaces; code; HTML
    level: int = 0  # heading level
    info: str = ""  # fence info string
    rows: list[list[str]] = field(default_factory=list)  # table rows, header first
    what: str = ""  # for "other": what it is, for the error

    @property
    def line(self) -> int:
        return self.start + 1


@cache
def _markdown() -> MarkdownIt:
    """Built on first use: most runs never need it, and importing it costs 0.1 s."""
    from markdown_it import MarkdownIt

    # Only the block rules a spec can hold (plus lists, rules and indented code, to refuse
    # them): link reference definitions and setext headings cost time and mean nothing here.
    md = MarkdownIt("zero", {"html": True}).enable(
        ["heading", "paragraph", "fence", "code", "blockquote", "table", "html_block", "list", "hr"]
    )
    md.core.ruler.disable(["inline", "text_join"])
    return md


_OTHER = {"bullet_list_open": "a list", "ordered_list_open": "a list", "hr": "a horizontal rule"}


def split_blocks(text: str, lines: list[str]) -> list[Block]:
    """The blocks of `text` (whose lines are `lines`), fast path first."""
    fast = fast_blocks(lines)
    return fast if fast is not None else markdown_blocks(text)


def markdown_blocks(text: str) -> list[Block]:
    tokens = _markdown().parse(text)
    out: list[Block] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        end = _close_index(tokens, i)
        start, stop = tok.map if tok.map else (0, 1)
        kind = tok.type
        if kind == "heading_open":
            out.append(Block("heading", start, stop, tokens[i + 1].content, level=int(tok.tag[1])))
        elif kind == "paragraph_open":
            content = tokens[i + 1].content.split("\n")
            out.append(
                Block("paragraph", start, stop, " ".join(p.strip() for p in content if p.strip()))
            )
        elif kind in ("fence", "code_block"):
            out.append(
                Block(
                    "fence" if kind == "fence" else "code",
                    start,
                    stop,
                    tok.content,
                    info=tok.info.strip() if kind == "fence" else "",
                )
            )
        elif kind == "blockquote_open":
            out.append(Block("blockquote", start, stop))
        elif kind == "table_open":
            out.append(Block("table", start, stop, rows=_table_rows(tokens[i : end + 1])))
        elif kind == "html_block":
            out.append(Block("html", start, stop, tok.content.rstrip("\n")))
        else:
            out.append(Block("other", start, stop, what=_OTHER.get(kind, kind)))
        i = end + 1
    return out


def _table_rows(tokens: list[Token]) -> list[list[str]]:
    rows: list[list[str]] = []
    for tok in tokens:
        if tok.type == "tr_open":
            rows.append([])
        elif tok.type == "inline":
            rows[-1].append(tok.content.strip())
    return rows


def _close_index(tokens: list[Token], i: int) -> int:
    """Index of the token closing the block opened at tokens[i] (itself if not nested)."""
    if tokens[i].nesting != 1:
        return i
    depth = 0
    for j in range(i, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j
    return len(tokens) - 1


# -- the fast path -----------------------------------------------------------------------
# A line may start a paragraph, or continue one, only when its first character cannot
# start any other block; anything else sends the file to markdown-it-py.
# (A set and a range rather than the regex class `[A-Za-z\u00c0-\uffff"'(\[!@$%&/\\,.;:?{}]`:
# compiling that class took ~10 ms of every start.)
_PLAIN_ASCII = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\"'([!@$%&/\\,.;:?{}")


def _plain_start(char: str) -> bool:
    """Whether a line starting with `char` may start or continue a paragraph."""
    return char in _PLAIN_ASCII or "\u00c0" <= char <= "\uffff"


_HEADING = re.compile(r"(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_FENCE = re.compile(r"(`{3,}|~{3,})(.*)$")
_DELIMITER = re.compile(r"\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def fast_blocks(lines: list[str]) -> list[Block] | None:
    """Blocks of the plain subset, or None as soon as a line falls outside it."""
    out: list[Block] = []
    n = len(lines)
    # Lines that may close a fence; an indented one sends the file to markdown-it.
    fence_lines = [k for k, line in enumerate(lines) if line[:1] in ("`", "~")]
    if any(line[:1] == " " and line.lstrip()[:3] in ("```", "~~~") for line in lines):
        return None
    i = 0
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        first = line[0]
        if first == "#":
            m = _HEADING.match(line)
            if not m or (m.group(2) or "").endswith("#"):
                return None
            out.append(Block("heading", i, i + 1, m.group(2) or "", level=len(m.group(1))))
            i += 1
        elif first in "`~":
            i = _fast_fence(lines, i, out, fence_lines)
        elif first == ">":
            i = _fast_quote(lines, i, out)
        elif first == "|":
            i = _fast_table(lines, i, out)
        elif line.startswith("<!--"):
            i = _fast_comment(lines, i, out)
        elif _plain_start(first):
            i = _fast_paragraph(lines, i, out)
        else:
            return None
        if i < 0:
            return None
    return out


def _fast_fence(lines: list[str], i: int, out: list[Block], fence_lines: list[int]) -> int:
    m = _FENCE.match(lines[i])
    if not m or (m.group(1)[0] == "`" and "`" in m.group(2)):
        return -1
    marker = m.group(1)
    char = marker[0]
    for j in fence_lines[bisect.bisect_right(fence_lines, i) :]:
        close = lines[j].rstrip()
        if close.startswith(marker) and not close.strip(char):
            body = "\n".join(lines[i + 1 : j]) + "\n" if j > i + 1 else ""
            out.append(Block("fence", i, j + 1, body, info=m.group(2).strip()))
            return j + 1
    return -1  # never closed


def _fast_quote(lines: list[str], i: int, out: list[Block]) -> int:
    j = i
    while j < len(lines) and lines[j].startswith(">"):
        j += 1
    if j < len(lines) and lines[j].strip():
        return -1  # a lazy continuation line
    out.append(Block("blockquote", i, j))
    return j


def _fast_table(lines: list[str], i: int, out: list[Block]) -> int:
    if i + 1 >= len(lines) or not _DELIMITER.match(lines[i + 1]):
        return -1
    j = i
    while j < len(lines) and lines[j].startswith("|"):
        if "\\" in lines[j]:
            return -1  # escaped pipes: left to markdown-it (code spans do not protect pipes)
        j += 1
    if j < len(lines) and lines[j].strip():
        return -1
    rows = [_cells(lines[k]) for k in range(i, j) if k != i + 1]
    width = len(rows[0])
    if len(_cells(lines[i + 1])) != width:
        return -1
    rows = [rows[0]] + [(r + [""] * width)[:width] for r in rows[1:]]
    out.append(Block("table", i, j, rows=rows))
    return j


def _cells(line: str) -> list[str]:
    text = line.strip()
    text = text[1:] if text.startswith("|") else text
    text = text[:-1] if text.endswith("|") else text
    return [c.strip() for c in text.split("|")]


def _fast_comment(lines: list[str], i: int, out: list[Block]) -> int:
    for j in range(i, len(lines)):
        if "-->" in lines[j]:
            out.append(Block("html", i, j + 1, "\n".join(lines[i : j + 1]).rstrip("\n")))
            return j + 1
    return -1


def _fast_paragraph(lines: list[str], i: int, out: list[Block]) -> int:
    j = i + 1
    while j < len(lines) and lines[j].strip():
        line = lines[j]
        if not (_plain_start(line[0]) or (line[0] in "`~" and line[:3] != line[0] * 3)):
            return -1  # might interrupt the paragraph (a fence, quote, list, heading...)
        j += 1
    out.append(Block("paragraph", i, j, " ".join(line.strip() for line in lines[i:j])))
    return j
