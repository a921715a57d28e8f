"""The spec model: plain dataclasses, produced by the parser and read by everything else.

Nothing here does I/O or knows about running; a reporter can render a feature from
this model alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any


@dataclass
class CodeBlock:
    text: str
    language: str | None  # first word of the info string
    info: str  # the whole info string
    line: int  # line of the opening fence


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    line: int

    def as_dicts(self) -> list[dict[str, str | None]]:
        """Rows by header; a blank cell is null, as in bdd-markdown (an Examples value
        `${x = null ? ... : x}` tests for it), not an empty string."""
        return [
            {k: (v if v.strip() else None) for k, v in zip(self.header, row, strict=False)}
            for row in self.rows
        ]


@dataclass
class Step:
    keyword: str  # as written: Given, When, Then, And, But, Soon
    kind: str  # effective kind: given, when, then or soon (`And`/`But` take the one before)
    text: str  # wrapped lines joined by single spaces
    line: int
    code: CodeBlock | None = None
    table: Table | None = None
    description: str | None = None
    comments: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    # Checked retry settings of its `@retry:` tags and `after N retries` (tries = N + 1).
    retry: dict[str, Any] = field(default_factory=dict)


@dataclass
class Examples:
    title: str
    line: int
    table: Table | None
    tags: list[str] = field(default_factory=list)
    description: str | None = None


@dataclass
class Scenario:
    kind: str  # "scenario" | "outline" | "background"
    title: str
    line: int
    keyword: str | None = None  # the heading's keyword, if written
    description: str | None = None
    steps: list[Step] = field(default_factory=list)
    examples: list[Examples] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    rule: str | None = None  # title of the enclosing Rule
    retry: dict[str, Any] = field(default_factory=dict)  # its rule's and its `@retry:` tags


@dataclass
class Rule:
    title: str
    line: int
    description: str | None = None
    scenarios: list[Scenario] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    retry: dict[str, Any] = field(default_factory=dict)  # its `@retry:` tags


@dataclass
class Feature:
    path: str
    title: str
    line: int
    front_matter: dict[str, Any] = field(default_factory=dict)
    front_matter_lines: dict[str, int] = field(default_factory=dict)  # key -> line
    description: str | None = None
    background: Scenario | None = None
    children: list[Scenario | Rule] = field(default_factory=list)  # document order
    tags: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    comment_retry: dict[str, Any] = field(default_factory=dict)  # `@retry:` above the `#`

    def scenarios(self) -> Iterator[Scenario]:
        """Every scenario in document order, those inside rules included."""
        for child in self.children:
            if isinstance(child, Rule):
                yield from child.scenarios
            else:
                yield child

    @property
    def needs(self) -> list[str]:
        return list(self.front_matter.get("needs") or [])

    @property
    def variants(self) -> list[dict[str, Any]]:
        return list(self.front_matter.get("variants") or [])

    @property
    def run(self) -> str | None:
        return self.front_matter.get("run")

    @property
    def order(self) -> str | None:
        return self.front_matter.get("order")

    @property
    def retry(self) -> dict[str, Any]:
        """Front matter `retry:`, then a `@retry:` comment on the feature heading."""
        return {**(self.front_matter.get("retry") or {}), **self.comment_retry}

    @property
    def example_context(self) -> dict[str, Any]:
        return dict(self.front_matter.get("exampleContext") or {})

    @property
    def all_tags(self) -> list[str]:
        """Front matter `tags` plus `@tags` from comments, without the `@`."""
        return [str(t) for t in self.front_matter.get("tags") or []] + self.tags


_FIELDS: dict[type, tuple[str, ...]] = {}


def to_dict(value: Any) -> Any:
    """The model as plain JSON data (like dataclasses.asdict, without its deep copies, which
    cost more than the run of a large feature's steps)."""
    kind = type(value)
    if kind in (str, int, float, bool) or value is None:
        return value
    names = _FIELDS.get(kind)
    if names is None and is_dataclass(kind):
        names = _FIELDS[kind] = tuple(f.name for f in fields(kind))
    if names is not None:
        return {name: to_dict(getattr(value, name)) for name in names}
    if kind is list or kind is tuple:
        return [to_dict(v) for v in value]
    if kind is dict:
        return {k: to_dict(v) for k, v in value.items()}
    return value
