"""Tag expressions for `--tags`: `slow and not wip`, `@a or (@b and @c)`.

`@` is optional; words compare case-sensitively, as cucumber's tag expressions do.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Predicate = Callable[[set[str]], bool]
_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")


class TagExpressionError(ValueError):
    pass


def parse_tag_expression(text: str) -> Predicate:
    tokens = _TOKEN.findall(text)
    if not tokens:
        raise TagExpressionError("empty tag expression")
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise TagExpressionError(f"tag expression {text!r} ends too early")
        pos += 1
        return tokens[pos - 1]

    def expr() -> Predicate:
        left = term()
        while peek() == "or":
            take()
            right = term()
            left = (lambda a, b: lambda tags: a(tags) or b(tags))(left, right)
        return left

    def term() -> Predicate:
        left = factor()
        while peek() == "and":
            take()
            right = factor()
            left = (lambda a, b: lambda tags: a(tags) and b(tags))(left, right)
        return left

    def factor() -> Predicate:
        token = take()
        if token == "not":
            inner = factor()
            return lambda tags: not inner(tags)
        if token == "(":
            inner = expr()
            if take() != ")":
                raise TagExpressionError(f"missing `)` in tag expression {text!r}")
            return inner
        if token in ("and", "or", ")"):
            raise TagExpressionError(f"unexpected `{token}` in tag expression {text!r}")
        name = token.removeprefix("@")
        return lambda tags: name in tags

    result = expr()
    if pos != len(tokens):
        raise TagExpressionError(f"unexpected `{tokens[pos]}` in tag expression {text!r}")
    return result
