"""Retry settings as written in a spec, parsed and checked once, by the parser.

Three places set them: `retry:` front matter, a `<!-- @retry:k=v,... -->` comment (on
the feature, a scenario or a step) and a step text ending in `after N retries`. The
parser turns each into a checked mapping on the model (an unknown key or a bad value
is a `path:line:col` error from `check`); `harness.run.retry.RetryPolicy` merges them.
"""

from __future__ import annotations

import re
from typing import Any

from harness.spec.frontmatter import RETRY_KEYS, check_retry

_AFTER_RETRIES = re.compile(r"\s+after (\d+) retries$")
TAG = "retry:"


def parse_retry_tag(tag: str) -> tuple[dict[str, Any], str | None]:
    """`retry:tries=5,initialDelay=100` -> ({"tries": 5, "initialDelay": 100.0}, None), or
    ({}, what is wrong). The tag is the comment word without its `@`."""
    settings: dict[str, Any] = {}
    for part in tag[len(TAG) :].split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep:
            return {}, f"`@{tag}`: expected key=value, got {part.strip()!r}"
        if key not in RETRY_KEYS:
            return {}, (
                f"`@{tag}`: unknown retry setting `{key}`; expected one of {', '.join(RETRY_KEYS)}"
            )
        try:
            number = float(value)
        except ValueError:
            return {}, f"`@{tag}`: `{key}` must be a number, got {value.strip()!r}"
        settings[key] = int(number) if key == "tries" and number.is_integer() else number
    if not settings:
        return {}, f"`@{tag}`: no setting given; expected e.g. `@retry:tries=5`"
    problem = check_retry(settings)
    return ({}, f"`@{tag}`: {problem}") if problem else (settings, None)


def split_after_retries(text: str) -> tuple[str, int | None]:
    """`... after 20 retries` -> (`...`, 20)."""
    m = _AFTER_RETRIES.search(text)
    if not m:
        return text, None
    return text[: m.start()], int(m.group(1))
