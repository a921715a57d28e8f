"""Markdown spec parser: text in, `Feature` out, or every problem of the file at once.

Block structure comes from markdown-it-py with inline parsing switched off: step text,
titles and table cells stay exactly as written (backticks and placeholders included),
and the parser is faster for it.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from harness.spec.blocks import Block, split_blocks
from harness.spec.errors import SpecError, SpecErrors
from harness.spec.frontmatter import parse_front_matter
from harness.spec.model import CodeBlock, Examples, Feature, Rule, Scenario, Step, Table
from harness.spec.retry import TAG as RETRY_TAG
from harness.spec.retry import parse_retry_tag, split_after_retries

STEP_KEYWORDS = {
    "Given": "given",
    "When": "when",
    "Then": "then",
    "Soon": "soon",
    "And": None,
    "But": None,
}
HEADING_KEYWORDS = {
    "feature": "feature",
    "background": "background",
    "rule": "rule",
    "scenario": "scenario",
    "example": "scenario",
    "scenario outline": "outline",
    "scenario template": "outline",
    "examples": "examples",
    "scenarios": "examples",
}
_COMMENT = re.compile(r"<!--(.*?)-->", re.S)


def parse_file(path: str | Path) -> Feature:
    """Parse one spec file; raise SpecErrors with every problem found."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SpecErrors([SpecError(name, 1, 1, f"cannot read file: {exc.strerror}")]) from None
    return parse_bytes(data, name)


def parse_bytes(data: bytes, path: str) -> Feature:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecErrors(
            [SpecError(path, line, col, f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x})")]
        ) from None
    return parse_text(text, path)


def parse_text(text: str, path: str = "<string>") -> Feature:
    """Parse spec text (LF or CRLF); raise SpecErrors with every problem found."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise SpecErrors(
            [
                SpecError(
                    path,
                    1,
                    1,
                    "file is empty: expected a `# Feature` heading and at least one scenario",
                )
            ]
        )
    return _Parser(text, path).parse()


class _Parser:
    def __init__(self, text: str, path: str):
        self.path = path
        self.lines = text.split("\n")
        self.errors: list[SpecError] = []
        self.feature: Feature | None = None
        self.rule: Rule | None = None
        self.scenario: Scenario | None = None
        self.scenario_level = 0
        self.examples: Examples | None = None
        self.step: Step | None = None  # the step that code, tables and quotes attach to
        self.comments: list[tuple[str, int]] = []
        self.retry: dict = {}  # settings of the `@retry:` tags last taken
        self.flawed: set[int] = set()  # scenarios with an error inside: no "has no step" too

    # -- entry point -------------------------------------------------------------------
    def parse(self) -> Feature:
        self.key_lines: dict[str, int] = {}
        front, skip = parse_front_matter(self.path, self.lines, self.errors, self.key_lines)
        body_lines = [""] * skip + self.lines[skip:]
        for block in split_blocks("\n".join(body_lines), body_lines):
            self._block(block)
        self._finish(front)
        if self.errors:
            raise SpecErrors(sorted(self.errors, key=lambda e: (e.line, e.col)))
        assert self.feature is not None
        return self.feature

    def _block(self, block: Block) -> None:
        kind, line = block.kind, block.line
        if kind == "heading":
            self._heading(block.level, block.text, line)
        elif kind == "paragraph":
            self._paragraph(block.text, line)
        elif kind in ("fence", "code"):
            self._code(block)
        elif kind == "blockquote":
            self._quote(block)
        elif kind == "table":
            self._table(block.rows, line)
        elif kind == "html":
            self._html(block.text, line)
        else:
            if self.scenario is not None:
                self.flawed.add(id(self.scenario))
            self._error(
                line,
                1,
                f"{block.what} is not allowed here: a spec holds headings, "
                "steps, and the code blocks, tables and `>` descriptions attached "
                "to them",
            )

    # -- errors ----------------------------------------------------------------------
    def _error(self, line: int, col: int, message: str) -> None:
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        self.errors.append(SpecError(self.path, line, col, message, source))

    # -- comments ----------------------------------------------------------------------
    def _html(self, text: str, line: int) -> None:
        content = text.strip()
        if not content.startswith("<!--"):
            self._error(line, 1, "HTML is not allowed in a spec; only `<!-- comments -->`")
            return
        rest = _COMMENT.sub("", content).strip()
        if "<!--" in content and "-->" not in content:
            self._error(line, 1, "comment opened with `<!--` is never closed with `-->`")
            return
        if rest:
            self._error(
                line,
                1,
                "only comments may stand in an HTML block; found "
                f"{_short(rest)!r} after the comment",
            )
        for m in _COMMENT.finditer(content):
            self.comments.append((m.group(1).strip(), line))

    def _take_comments(self) -> tuple[list[str], list[str]]:
        self.retry = {}
        if not self.comments:
            return [], []
        taken, self.comments = self.comments, []
        comments = [c for c, _ in taken]
        tags = []
        for comment, line in taken:
            for word in comment.split():
                if word.startswith("@") and len(word) > 1:
                    tags.append(word[1:])
                    if word.startswith("@" + RETRY_TAG):
                        self._retry_tag(word[1:], line)
        return comments, tags

    def _retry_tag(self, tag: str, line: int) -> None:
        """Check a `@retry:` tag now, so a typo is a `check` error, not a run-time one;
        the settings go to `self.retry` for the heading or step taking the comments."""
        settings, problem = parse_retry_tag(tag)
        if problem:
            # The comment may span lines: point at the line holding the tag.
            at = next(
                (n for n in range(line, len(self.lines) + 1) if "@" + tag in self.lines[n - 1]),
                line,
            )
            self._error(at, max(1, self.lines[at - 1].find("@" + tag) + 1), problem)
        self.retry.update(settings)

    # -- headings ----------------------------------------------------------------------
    def _heading(self, level: int, content: str, line: int) -> None:
        keyword, title = split_heading(content.strip())
        kind = HEADING_KEYWORDS[keyword.lower()] if keyword else None
        comments, tags = self._take_comments()
        self.step = None
        if level == 1:
            self._feature_heading(kind, keyword, title, line, comments, tags)
            return
        if self.feature is None:
            self._error(
                line,
                1,
                f"`{'#' * level}` heading before the feature: a spec starts "
                "with one `# Feature` heading",
            )
            return
        if level == 2:
            self._level2(kind, keyword, title, line, comments, tags)
        elif self._is_examples_heading(level, kind, title):
            self._examples_heading(title, line, tags)
        elif level == 3 and self.rule is not None:
            self._scenario_heading(kind, keyword, title, line, comments, tags, level)
        else:
            self._error(
                line,
                1,
                f"unexpected `{'#' * level}` heading: `###` is for Examples "
                "under a Scenario Outline or scenarios under a `## Rule`",
            )

    def _feature_heading(self, kind, keyword, title, line, comments, tags) -> None:
        if self.feature is not None:
            self._error(
                line,
                1,
                "a second `#` heading: a spec holds exactly one feature "
                f"(the first is on line {self.feature.line})",
            )
            return
        if kind not in (None, "feature"):
            self._error(
                line,
                1,
                f"`{keyword}:` must be a level 2 heading (`## {keyword}:`); `#` is the feature",
            )
        self.feature = Feature(
            path=self.path,
            title=title,
            line=line,
            comments=comments,
            tags=tags,
            comment_retry=self.retry,
        )

    def _level2(self, kind, keyword, title, line, comments, tags) -> None:
        self.rule = None
        self.scenario = None
        self.examples = None
        if kind == "feature":
            self._error(line, 1, "`Feature:` must be a level 1 heading (`# Feature: ...`)")
        elif kind == "examples":
            self._error(line, 1, "`Examples` must be a level 3 heading under a Scenario Outline")
        elif kind == "rule":
            self.rule = Rule(title=title, line=line, comments=comments, tags=tags, retry=self.retry)
            self.feature.children.append(self.rule)
        else:
            self._scenario_heading(kind, keyword, title, line, comments, tags, 2)

    def _scenario_heading(self, kind, keyword, title, line, comments, tags, level) -> None:
        if kind == "rule":
            self._error(line, 1, "a Rule must be a level 2 heading (`## Rule: ...`)")
            return
        is_background = kind == "background" or (kind is None and title == "Background")
        scenario = Scenario(
            kind="background" if is_background else kind or "scenario",
            title=title,
            line=line,
            keyword=keyword,
            comments=comments,
            tags=tags,
            rule=self.rule.title if self.rule else None,
            retry=dict(self.rule.retry) if self.rule else {},
        )
        scenario.retry.update(self.retry)
        self.scenario, self.scenario_level, self.examples = scenario, level, None
        if is_background and self.rule is None:
            if self.feature.background is not None:
                self._error(
                    line,
                    1,
                    "a second Background: a feature has at most one "
                    f"(the first is on line {self.feature.background.line})",
                )
            self.feature.background = scenario
        elif self.rule is not None:
            self.rule.scenarios.append(scenario)
        else:
            self.feature.children.append(scenario)

    def _is_examples_heading(self, level: int, kind: str | None, title: str) -> bool:
        named = kind == "examples" or title in ("Examples", "Example", "Scenarios")
        return (
            self.scenario is not None
            and level == self.scenario_level + 1
            and (named or (kind == "scenario" and self.scenario.kind == "outline"))
        )

    def _examples_heading(self, title: str, line: int, tags: list[str]) -> None:
        assert self.scenario is not None
        if self.scenario.kind == "background":
            self._error(line, 1, "a Background cannot have Examples")
            return
        self.scenario.kind = "outline"
        self.examples = Examples(title=title, line=line, table=None, tags=tags)
        self.scenario.examples.append(self.examples)

    # -- steps -------------------------------------------------------------------------
    def _paragraph(self, text: str, line: int) -> None:
        first = text.split(" ", 1)[0]
        if first not in STEP_KEYWORDS:
            self._prose(first, text, line)
            return
        if self.scenario is None or self.examples is not None:
            where = "after Examples" if self.examples is not None else "outside a scenario"
            self._error(line, 1, f"step {where}: steps belong under a `##` scenario heading")
            self.step = None
            return
        kind = STEP_KEYWORDS[first]
        if kind is None:
            previous = self.scenario.steps[-1] if self.scenario.steps else None
            if previous is None:
                self._error(
                    line,
                    1,
                    f"`{first}` needs a step before it in the same scenario "
                    "to take its keyword from",
                )
                kind = "given"
            else:
                kind = previous.kind
        if not self.scenario.steps and self.comments:
            # Comments between a heading and its first step belong to the scenario (a
            # `@retry:` or `@slow` there reads as the scenario's), as they do in Gherkin.
            comments, tags = self._take_comments()
            self.scenario.comments += comments
            self.scenario.tags += tags
            self.scenario.retry.update(self.retry)
        comments, tags = self._take_comments()
        sentence = text[len(first) :].strip()
        _, after = split_after_retries(sentence)
        retry = {**self.retry, "tries": after + 1} if after is not None else dict(self.retry)
        self.step = Step(
            keyword=first,
            kind=kind,
            text=sentence,
            line=line,
            comments=comments,
            tags=tags,
            retry=retry,
        )
        if not self.step.text:
            self._error(line, len(first) + 1, f"`{first}` without a step sentence")
        self.scenario.steps.append(self.step)

    def _prose(self, first: str, text: str, line: int) -> None:
        if self.scenario is not None:
            self.flawed.add(id(self.scenario))
        close = difflib.get_close_matches(first.capitalize(), list(STEP_KEYWORDS), n=1, cutoff=0.6)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        self._error(
            line,
            1,
            f"expected a step starting with Given, When, Then, And, But or "
            f"Soon, found prose {_short(text)!r}{hint}; use a `>` blockquote for "
            "descriptions",
        )

    # -- attachments -------------------------------------------------------------------
    def _code(self, source: Block) -> None:
        line, info = source.line, source.info
        block = CodeBlock(
            text=source.text.removesuffix("\n"),
            language=info.split()[0] if info else None,
            info=info,
            line=line,
        )
        if self.step is None:
            self._error(
                line,
                1,
                "code block not attached to a step: put it right after the step that uses it",
            )
        elif self.step.code is not None:
            self._error(
                line,
                1,
                "a second code block for the step on line "
                f"{self.step.line}: a step has at most one",
            )
        else:
            self.step.code = block

    def _quote(self, block: Block) -> None:
        start, end, line = block.start, block.end, block.line
        text = "\n".join(re.sub(r"^\s{0,3}> ?", "", self.lines[n]) for n in range(start, end))
        text = text.strip("\n")
        target = self.step or self.examples or self.scenario or self.rule or self.feature
        if target is None:
            self._error(
                line,
                1,
                "description before the feature: a spec starts with one `# Feature` heading",
            )
            return
        target.description = f"{target.description}\n\n{text}" if target.description else text

    def _table(self, rows: list[list[str]], line: int) -> None:
        header: list[str] = []
        rows = [[cell.replace("\\|", "|") for cell in row] for row in rows]
        if rows:
            header, rows = rows[0], rows[1:]
        for col, name in enumerate(header):
            if not name:
                self._error(
                    line,
                    _cell_col(self.lines[line - 1], col),
                    f"table header cell {col + 1} is blank: every column needs a name",
                )
        table = Table(header=header, rows=rows, line=line)
        if self.step is not None:
            if self.step.table is not None:
                self._error(line, 1, f"a second table for the step on line {self.step.line}")
            self.step.table = table
        elif self.examples is not None and self.examples.table is None:
            self.examples.table = table
        else:
            self._error(line, 1, "table not attached to a step or an Examples heading")

    # -- whole-file checks -------------------------------------------------------------
    def _finish(self, front: dict) -> None:
        feature = self.feature
        if feature is None:
            self._error(1, 1, "no feature heading: a spec needs one `# Title` heading")
            return
        feature.front_matter = front
        feature.front_matter_lines = self.key_lines
        scenarios = list(feature.scenarios())
        if not scenarios and feature.background is None:
            # A Background alone is a valid feature in the TypeScript dialect's own fixtures.
            self._error(
                feature.line,
                1,
                f"feature {feature.title!r} has no scenario: add a `## Scenario` with steps",
            )
        for rule in (c for c in feature.children if isinstance(c, Rule)):
            if not rule.scenarios:
                self._error(rule.line, 1, f"rule {rule.title!r} has no scenario")
        for scenario in ([feature.background] if feature.background else []) + scenarios:
            self._check_scenario(scenario)

    def _check_scenario(self, scenario: Scenario) -> None:
        if not scenario.steps and id(scenario) not in self.flawed:
            self._error(scenario.line, 1, f"{scenario.kind} {scenario.title!r} has no step")
        if scenario.kind != "outline":
            return
        if not scenario.examples:
            self._error(
                scenario.line,
                1,
                f"Scenario Outline {scenario.title!r} has no `### Examples` with a table",
            )
        for ex in scenario.examples:
            if ex.table is None:
                self._error(ex.line, 1, "Examples without a table")
                continue
            for n, row in enumerate(ex.table.rows):
                if len(row) != len(ex.table.header):
                    self._error(
                        ex.table.line + 2 + n,
                        1,
                        f"Examples row has {len(row)} cells, the header has {len(ex.table.header)}",
                    )


def split_heading(content: str) -> tuple[str | None, str]:
    """`Scenario: x` -> ("Scenario", "x"); text whose prefix is no keyword is all title."""
    if ":" in content:
        head, _, rest = content.partition(":")
        if head.strip().lower() in HEADING_KEYWORDS:
            return head.strip(), rest.strip()
    return None, content


def _cell_col(source: str, index: int) -> int:
    """1-based column of table cell `index` in its source line."""
    pipes = [m.start() for m in re.finditer(r"(?<!\\)\|", source)]
    offset = 1 if source.lstrip().startswith("|") else 0
    pos = index + offset - 1
    return pipes[pos] + 2 if 0 <= pos < len(pipes) else 1


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
