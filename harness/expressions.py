"""JSONata expressions and the placeholders specs write: `${expr}`, `"$number{expr}"`, `<name>`.

Order matters: `<variant.x>`/`<row>` placeholders are replaced first (they may build an
expression, e.g. `${tracker.<variant.nw>.id}`), then `"$number{...}"`, then `${...}`.
"""

from __future__ import annotations

import bisect
import contextvars
import json
import re
import threading
import time
from functools import lru_cache
from typing import Any

import jsonata


class ExpressionError(Exception):
    """An expression that is invalid or yields nothing; the message names it, `expr`
    holds it (None when the problem is not one expression's)."""

    def __init__(self, message: str, expr: str | None = None) -> None:
        super().__init__(message)
        self.expr = expr


_ANGLE = re.compile(r"<([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)>")


# Every evaluation is bounded: a spec's `($f := function($n){ $f($n+1) }; $f(0))` must fail
# its step, not hang the run (jsonata-python turns that tail call into a loop) or end in a
# RecursionError deep inside the library. jsonata-python's own bounds (`timeout=`/`stack=`)
# start the clock when the expression is compiled, so a cached expression would time out
# for good after that many ms: these are per evaluation instead.
MAX_DEPTH = 1000  # nested evaluations; jsonata-python raises the recursion limit to 10000,
#                   and its RecursionError comes at about 2500
TIME_LIMIT = contextvars.ContextVar("expression_time_limit", default=5.0)
"""Seconds one evaluation may take; the runner lowers it to the step timeout."""


@lru_cache(maxsize=4096)
def _compiled(expr: str, thread: int) -> jsonata.Jsonata:
    # Per thread: an evaluation writes its input, environment and timestamp into the object.
    return jsonata.Jsonata(expr)


class _Bounds:
    """The entry/exit callbacks jsonata-python calls around every node it evaluates."""

    __slots__ = ("deadline", "depth", "entries", "limit")

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.deadline = time.monotonic() + limit
        self.depth = 0
        self.entries = 0

    def enter(self, _expr: Any, _input: Any, env: Any) -> None:
        if env.is_parallel_call:  # as jsonata's Timebox: siblings are not nested
            return
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Runaway(f"nests deeper than {MAX_DEPTH} evaluations (endless recursion?)")
        self.entries += 1
        if self.entries % 64 == 0 and time.monotonic() > self.deadline:
            raise _Runaway(f"ran for more than {self.limit:g} s (an endless loop?)")

    def exit(self, _expr: Any, _input: Any, env: Any, _result: Any) -> None:
        if not env.is_parallel_call:
            self.depth -= 1


class _Runaway(Exception):
    pass


def _run(expr: str, data: Any) -> Any:
    compiled = _compiled(expr, threading.get_ident())
    # jsonata-python's $millis()/$now() read the timestamp of the thread's "current"
    # instance, which is the one constructed last, not the one evaluating: without this,
    # a Soon step's `$millis() - t0` stops advancing once any other expression is
    # compiled. evaluate() stamps its own instance, so make that instance the current one.
    jsonata.Jsonata.CURRENT.jsonata = compiled
    bounds = _Bounds(TIME_LIMIT.get())
    # Passed as bindings, the callbacks live in a frame of this evaluation only.
    return compiled.evaluate(
        data, {"__evaluate_entry": bounds.enter, "__evaluate_exit": bounds.exit}
    )


_PLAIN_PATH = re.compile(r"\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*")
_MISSING = object()


def _plain_path(expr: str, data: Any) -> Any:
    """`a.b.c` over objects, looked up directly; _MISSING when JSONata must decide.

    Most placeholders are names (`${fingerprint_deviceId}`), and JSONata spends more time
    checking its whole input than looking one up.
    """
    m = _PLAIN_PATH.fullmatch(expr)
    if m is None or m.group(1) in ("true", "false", "null"):
        return _MISSING
    value = data
    for part in m.group(1).split("."):
        if not isinstance(value, dict):
            return _MISSING  # arrays map over paths in JSONata: leave those to it
        value = value.get(part)
        if value is None:
            return None
    return value if isinstance(value, str | int | float | bool | dict) else _MISSING


def evaluate(expr: str, data: Any) -> Any:
    """Evaluate a JSONata expression; None when it yields nothing."""
    direct = _plain_path(expr, data)
    if direct is not _MISSING:  # context values are plain JSON already, floats aside
        return _plain(direct) if isinstance(direct, float) else direct
    try:
        result = _run(expr, data)
    except jsonata.JException as exc:
        raise ExpressionError(f"invalid expression `{expr}`: {exc}", expr) from None
    except _Runaway as exc:
        raise ExpressionError(f"expression `{expr}` stopped: it {exc}", expr) from None
    except ValueError as exc:  # input that is not JSON (jsonata checks its input)
        raise ExpressionError(f"cannot evaluate `{expr}`: {exc}", expr) from None
    except RecursionError:
        raise ExpressionError(f"expression `{expr}` recursed too deeply", expr) from None
    except TimeoutError:  # the step's own timer (run/blocking.py), not the expression's
        raise
    except Exception as exc:  # jsonata-python fails on some input, e.g. `${/}` (IndexError)
        raise ExpressionError(
            f"invalid expression `{expr}`: {type(exc).__name__}: {exc}", expr
        ) from None
    return _plain(result)


def require(expr: str, data: Any) -> Any:
    """Evaluate; an expression that yields nothing is an error naming what was missing."""
    result = evaluate(expr, data)
    if result is None:
        raise ExpressionError(_nothing_message(expr, data), expr)
    return result


def _nothing_message(expr: str, data: Any) -> str:
    msg = f"`{expr}` yielded nothing"
    missing = [n for n in root_names(expr) if isinstance(data, dict) and n not in data]
    if missing:
        known = ", ".join(sorted(str(k) for k in data)[:20]) or "nothing"
        names = ", ".join(f"`{n}`" for n in missing)
        msg += (
            f": {names} {'is' if len(missing) == 1 else 'are'} not in the context "
            f"(it holds: {known})"
        )
    return msg


_STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_NAME = re.compile(r"(?<![\w$.`])(`[^`]+`|[A-Za-z_]\w*)")
_NOT_NAMES = {"true", "false", "null", "and", "or", "in", "function", "λ"}


def root_names(expr: str) -> list[str]:
    """Context names an expression reads: `$floor(pastTs/1000)` reads `pastTs`,
    `variant.account` reads `variant`. Names after `.`, `$` and in strings are not
    roots; a name inside a filter (`a[b=1]`) is counted too (good enough for a hint)."""
    text = _STRING_LITERAL.sub('""', expr)
    names = []
    for m in _NAME.finditer(text):
        name = m.group(1).strip("`")
        if name not in _NOT_NAMES and not text[m.end() :].lstrip().startswith("("):
            names.append(name)
    return list(dict.fromkeys(names))


def _plain(value: Any) -> Any:
    """JSONata results as plain JSON values (sequences as lists, 2.0 as 2)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def check_json(text: str, where: str, first_line: int) -> None:
    """Raise ExpressionError if a resolved `json` code block is not JSON.

    `where` is the spec's path, `first_line` the line of the block's opening fence; the
    message gives the line the problem is on, as a `path:line` a person can jump to.
    """
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExpressionError(
            f"{where}:{first_line + exc.lineno}:{exc.colno}: the code block "
            f"is not valid JSON once resolved: {exc.msg}"
        ) from None
    except RecursionError:
        raise ExpressionError(
            f"{where}:{first_line + 1}:1: the code block nests too deeply to be read as JSON"
        ) from None


def as_text(value: Any) -> str:
    """A value as it is inserted into text: strings raw, the rest as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def find_placeholders(text: str, opener: str = "${") -> list[tuple[int, int, str]]:
    """(start, end, expression) of each placeholder, braces balanced, strings skipped."""
    found = []
    i = text.find(opener)
    while i != -1:
        end = _matching_brace(text, i + len(opener) - 1)
        if end is None:
            raise ExpressionError(f"placeholder `{text[i : i + 30]}…` is never closed with `}}`")
        found.append((i, end + 1, text[i + len(opener) : end].strip()))
        i = text.find(opener, end + 1)
    return found


_BRACE_SPECIAL = re.compile(r"[{}\"'\\]")


def _matching_brace(text: str, open_at: int) -> int | None:
    """Index of the `}` closing the `{` at open_at; braces in string literals skipped."""
    depth, quote, escaped_at = 0, None, -2
    for m in _BRACE_SPECIAL.finditer(text, open_at):
        ch, i = m.group(), m.start()
        if i == escaped_at + 1:
            continue  # the character after a backslash in a string
        if quote:
            if ch == "\\":
                escaped_at = i
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def replace_angle(text: str, values: dict[str, Any]) -> str:
    """Replace `<name>`/`<a.b>` that resolve in `values`; leave other `<...>` (e.g. HTML)."""

    def sub(m: re.Match) -> str:
        value: Any = values
        for part in m.group(1).split("."):
            if not isinstance(value, dict) or part not in value:
                return m.group(0)
            value = value[part]
        return as_text(value)

    return _ANGLE.sub(sub, text) if "<" in text else text


def substitute(text: str, data: dict[str, Any], *, json_strings: bool = False) -> str:
    """Resolve every placeholder in `text` against `data`.

    With `json_strings`, a `${...}` standing inside a JSON string literal is escaped
    for JSON, so a value with quotes or newlines cannot break the document.
    """
    if "$" not in text:
        return text
    text = _substitute_numbers(text, data)
    spots = find_placeholders(text)
    if not spots:
        return text
    in_string = _string_positions(text, spots) if json_strings else set()
    out, last = [], 0
    for start, end, expr in spots:
        value = require(expr, data)
        rendered = as_text(value)
        if start in in_string:
            rendered = json.dumps(rendered, ensure_ascii=False)[1:-1]
        out.append(text[last:start])
        out.append(rendered)
        last = end
    out.append(text[last:])
    return "".join(out)


def _substitute_numbers(text: str, data: dict[str, Any]) -> str:
    if '"$number{' not in text:
        return text
    out, last = [], 0
    for start, end, expr in find_placeholders(text, '"$number{'):
        if text[end : end + 1] != '"':
            raise ExpressionError(f'`"$number{{{expr}}}"` must be closed by a quote')
        value = require(expr, data)
        if isinstance(value, str) and _JSON_NUMBER.fullmatch(value.strip()):
            # An Examples cell is text: `"v": "$number{v}"` with v = 3.40141 is the number
            # (bdd-markdown inserts the cell's text as it is).
            value = json.loads(value.strip())
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ExpressionError(
                f'`"$number{{{expr}}}"` yielded {as_text(value)!r}, not a number', expr
            )
        out += [text[last:start], as_text(value)]
        last = end + 1
    out.append(text[last:])
    return "".join(out)


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def _string_positions(text: str, spots: list[tuple[int, int, str]]) -> set[int]:
    """Starts of placeholders that stand inside a JSON string literal."""
    # Blank out the placeholders first: quotes inside an expression are not JSON's.
    pieces, last = [], 0
    for start, end, _ in spots:
        pieces += [text[last:start], "x" * (end - start)]
        last = end
    pieces.append(text[last:])
    blank = "".join(pieces)
    literals = [(m.start(), m.end()) for m in _JSON_STRING.finditer(blank)]
    inside = set()
    for start, _, _ in spots:
        i = bisect.bisect_right(literals, (start, len(text) + 1)) - 1
        if i >= 0 and literals[i][0] < start < literals[i][1]:
            inside.add(start)
    return inside
