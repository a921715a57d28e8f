"""`spec-harness steps`: the step sentences as a spec writes them, for people and editors.

A definition's regular expression (or `parse` pattern) becomes the sentence a spec
author types, e.g.

    ^I `(?P<method>GET|POST)` (?:to )?`(?P<url>[^`]+)`(?P<has_body> with)?$
    I `<method: GET|POST>` [to ]`<url>`[ with]

`<name>` is a value to fill in (`<name: A|B>` when it is one of a few words), `[...]`
an optional part, `(a|b)` a choice of words. The text output adds the whole docstring
and where the definition is; `--format json` gives the same as a catalogue (sentence,
parameters, docstring, file and line) for editors and tools.
"""

from __future__ import annotations

import inspect
import json
import re

# The regex parser behind `re` (Python 3.11+): its tree tells literals, groups,
# optional parts and alternatives apart far better than a regex over the regex.
import re._parser as _sre  # type: ignore[import-not-found]
from dataclasses import asdict, dataclass, field
from re._constants import (  # type: ignore[import-not-found]
    AT,
    BRANCH,
    LITERAL,
    MAX_REPEAT,
    MIN_REPEAT,
    SUBPATTERN,
)
from typing import Any

from harness.run.registry import StepRegistry

KEYWORDS = {"given": "Given", "when": "When", "then": "Then (and Soon)", "step": "any keyword"}


@dataclass
class Parameter:
    name: str
    choices: list[str] | None = None  # one of these words
    pattern: str | None = None  # what it accepts, as a regular expression
    optional: bool = False


@dataclass
class StepDoc:
    keyword: str  # given | when | then | step (any)
    sentence: str
    pattern: str  # the definition's regex or parse pattern, as written
    parameters: list[Parameter] = field(default_factory=list)
    docstring: str = ""
    file: str = ""
    line: int = 0
    function: str = ""


def catalogue(registry: StepRegistry) -> list[StepDoc]:
    """Every loaded step definition, in the order behave registered them per keyword."""
    out = []
    for keyword in ("given", "when", "then", "step"):
        for matcher in registry.behave.steps[keyword]:
            func = getattr(matcher.func, "coro_func", matcher.func)
            pattern = str(matcher.pattern)
            if _is_regex(matcher):
                sentence, parameters = from_regex(pattern)
            else:
                sentence, parameters = from_parse(pattern)
            location = matcher.location
            out.append(
                StepDoc(
                    keyword=keyword,
                    sentence=sentence,
                    pattern=pattern,
                    parameters=parameters,
                    docstring=inspect.getdoc(func) or "",
                    file=str(getattr(location, "filename", location)),
                    line=int(getattr(location, "line", 0) or 0),
                    function=getattr(func, "__name__", ""),
                )
            )
    return out


def _is_regex(matcher: Any) -> bool:
    return "regex" in type(matcher).__name__.lower() or str(matcher.pattern).startswith("^")


# -- parse patterns: `{name}` / `{name:d}` ----------------------------------------------

_FIELD = re.compile(r"\{(\w*)(?::([^}]*))?\}")


def from_parse(pattern: str) -> tuple[str, list[Parameter]]:
    parameters = [
        Parameter(name=m[1] or f"arg{i + 1}", pattern=m[2] or None)
        for i, m in enumerate(_FIELD.finditer(pattern))
    ]
    names = iter(p.name for p in parameters)
    sentence = _FIELD.sub(lambda m: f"<{next(names)}>", pattern)
    return sentence.replace("{{", "{").replace("}}", "}"), parameters


# -- regular expressions ----------------------------------------------------------------


def from_regex(pattern: str) -> tuple[str, list[Parameter]]:
    """The sentence and parameters of a step regex (see the module docstring)."""
    try:
        parsed = _sre.parse(pattern)
    except re.error:
        return pattern, []
    names = {index: name for name, index in parsed.state.groupdict.items()}
    parameters: list[Parameter] = []
    text = _render(list(parsed), names, parameters, optional=False, pattern=pattern)
    return text, parameters


def _render(
    items: list, names: dict[int, str], parameters: list[Parameter], *, optional: bool, pattern: str
) -> str:
    out = []
    for op, arg in items:
        if op is LITERAL:
            out.append(chr(arg))
        elif op is AT:
            continue  # ^ and $
        elif op is SUBPATTERN:
            group, body = arg[0], list(arg[-1])
            name = names.get(group) if group else None
            if name is None:
                out.append(_render(body, names, parameters, optional=optional, pattern=pattern))
                continue
            words = _words(body)
            if words is not None and len(words) == 1:
                # `(?P<kept> and kept)`: a flag, its words are the sentence
                parameters.append(Parameter(name=name, choices=words, optional=optional))
                out.append(words[0])
            elif words is not None:
                parameters.append(Parameter(name=name, choices=words, optional=optional))
                out.append(f"<{name}: {'|'.join(words)}>")
            else:
                parameters.append(
                    Parameter(name=name, pattern=_group_source(pattern, name), optional=optional)
                )
                out.append(f"<{name}>")
        elif op in (MAX_REPEAT, MIN_REPEAT):
            low, high, body = arg
            inner = _render(
                list(body), names, parameters, optional=optional or low == 0, pattern=pattern
            )
            if low == 0 and high == 1:
                out.append(f"[{inner}]")
            elif _words(list(body)) is not None:
                out.append(inner)  # a literal repeated: rare, shown once
            else:
                out.append("<…>")
        elif op is BRANCH:
            alternatives = [
                _render(list(b), names, parameters, optional=optional, pattern=pattern)
                for b in arg[1]
            ]
            out.append(f"({'|'.join(alternatives)})")
        else:  # a character class, `.`, `\\d`: something to fill in, unnamed
            out.append("<…>")
    return "".join(out)


def _words(body: list) -> list[str] | None:
    """The literal alternatives of a group (`GET|POST`), or None when it takes more."""
    if all(op is LITERAL for op, _ in body):
        return ["".join(chr(c) for _, c in body)]
    if len(body) == 1 and body[0][0] is BRANCH:
        words = []
        for branch in body[0][1][1]:
            if not all(op is LITERAL for op, _ in branch):
                return None
            words.append("".join(chr(c) for _, c in branch))
        return words
    return None


def _group_source(pattern: str, name: str) -> str | None:
    """The regex text inside `(?P<name>...)`, e.g. `[^`]+`."""
    start = pattern.find(f"(?P<{name}>")
    if start < 0:
        return None
    at = start + len(name) + 5
    depth, in_class, escaped = 1, False, False
    for index in range(at, len(pattern)):
        char = pattern[index]
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return pattern[at:index]
    return None


# -- output -----------------------------------------------------------------------------


def render_text(docs: list[StepDoc]) -> str:
    blocks = []
    for doc in docs:
        lines = [
            doc.sentence,
            f"    {KEYWORDS.get(doc.keyword, doc.keyword)} · {doc.file}:{doc.line}",
        ]
        lines += [f"    {line}".rstrip() for line in doc.docstring.splitlines()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def render_json(docs: list[StepDoc]) -> str:
    return (
        json.dumps(
            {"format": "spec-harness/steps/1", "steps": [asdict(d) for d in docs]},
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
