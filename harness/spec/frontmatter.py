"""Front matter: YAML between a first line `---` and the next `---`, with checked known keys."""

from __future__ import annotations

from typing import Any

import yaml

from harness.spec.errors import SpecError

# libyaml's loader when the platform has it: several times faster than pure Python.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _JsonLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """YAML without timestamps: `2023-09-12T00:00:00.000Z` stays the string it looks like,
    because context values must be JSON for JSONata and for the reports."""


_JsonLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


MAX_NODES = 100_000  # values in a YAML document once its aliases are expanded


class BoundedYamlError(yaml.YAMLError):
    """YAML that would expand beyond MAX_NODES values; `line` is 1-based in the text."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.problem = message
        self.line = line


def _load(text: str) -> tuple[yaml.Node | None, object]:
    """Compose once, construct from the node: the tree gives key lines, the data values.

    Aliases share nodes, so composing a "billion laughs" document is cheap, but
    everything that walks the data later (the reports' JSON, the context) expands it:
    444 bytes of nested aliases would cost gigabytes. Refused before constructing."""
    loader = _JsonLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node)
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node) -> None:
    sizes: dict[int, int] = {}  # id(node) -> values under it, aliases expanded

    def size(node: yaml.Node, depth: int) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if depth > 1000:
            raise BoundedYamlError("YAML nests deeper than 1000 levels", node.start_mark.line + 1)
        sizes[id(node)] = 1  # a recursive alias counts once; JSON cannot hold it anyway
        total = 1
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_NODES:
                raise BoundedYamlError(
                    f"YAML expands to more than {MAX_NODES:,} values through its aliases "
                    "(an alias bomb?)",
                    child.start_mark.line + 1,
                )
        sizes[id(node)] = total
        return total

    size(root, 0)


def load_yaml(text: str) -> object:
    """YAML as JSON-like data, bounded as front matter is (BoundedYamlError with a line)."""
    try:
        return _load(text)[1]
    except BoundedYamlError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise BoundedYamlError(f"not valid YAML: {problem}", mark.line + 1 if mark else 1) from None


RETRY_KEYS = {
    "tries": int,
    "initialDelay": float,
    "factor": float,
    "maxDelay": float,
    "timeout": float,
}


def split_front_matter(lines: list[str]) -> tuple[int, int] | None:
    """Return (start, end) line indexes of the YAML between the fences, if any."""
    if not lines or lines[0].rstrip() != "---":
        return None
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            return 1, i
    return (1, -1)  # opened, never closed


def parse_front_matter(
    path: str, lines: list[str], errors: list[SpecError], key_lines: dict[str, int] | None = None
) -> tuple[dict, int]:
    """Parse and check the front matter; return (mapping, number of lines it spans).

    `key_lines`, when given, receives the line of each top-level key.
    """
    span = split_front_matter(lines)
    if span is None:
        return {}, 0
    start, end = span
    if end == -1:
        errors.append(
            SpecError(
                path,
                1,
                1,
                "front matter opened with `---` is never closed by a second `---` line",
                lines[0],
            )
        )
        return {}, 0
    text = "\n".join(lines[start:end])
    try:
        node, data = _load(text)
    except BoundedYamlError as exc:
        line = start + exc.line
        errors.append(SpecError(path, line, 1, f"front matter: {exc.problem}", _line(lines, line)))
        return {}, end + 1
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = min(start + 1 + (mark.line if mark else 0), max(end, start + 1))
        col = (mark.column + 1) if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        errors.append(
            SpecError(
                path, line, col, f"front matter is not valid YAML: {problem}", _line(lines, line)
            )
        )
        return {}, end + 1
    if data is None:
        return {}, end + 1
    if not isinstance(data, dict):
        errors.append(
            SpecError(
                path,
                start + 1,
                1,
                "front matter must be a mapping of keys to values",
                _line(lines, start + 1),
            )
        )
        return {}, end + 1
    lines_of = _key_lines(node, start)
    if key_lines is not None:
        key_lines.update({str(k): v for k, v in lines_of.items()})
    for key, value in data.items():
        line = lines_of.get(key, start + 1)
        problem = _check_key(str(key), value)
        if problem:
            errors.append(
                SpecError(path, line, 1, f"front matter `{key}`: {problem}", _line(lines, line))
            )
    return data, end + 1


def _line(lines: list[str], line: int) -> str:
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _key_lines(node: Any, offset: int) -> dict[Any, int]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: offset + 1 + k.start_mark.line for k, _ in node.value}


def _check_key(key: str, value: Any) -> str | None:
    """Return a message when a known key has a wrong value; other keys are metadata."""
    checks = {
        "exampleContext": _check_mapping,
        "variants": _check_variants,
        "needs": _check_needs,
        "run": lambda v: (
            None if v in ("only", "never") else f"expected `only` or `never`, got {v!r}"
        ),
        "order": lambda v: (
            None if v in ("first", "last") else f"expected `first` or `last`, got {v!r}"
        ),
        "retry": check_retry,
        "tags": _check_tags,
    }
    check = checks.get(key)
    return check(value) if check else None


def _check_mapping(value: Any) -> str | None:
    return None if isinstance(value, dict) else f"expected a mapping, got {_kind(value)}"


def _check_variants(value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return f"expected a non-empty list of mappings, got {_kind(value)}"
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            return f"entry {i + 1} must be a mapping, got {_kind(item)}"
    return None


def _check_needs(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return "expected a list of feature titles (the `#` heading text)"
    return None


def _check_tags(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        return "expected a list of words"
    return None


def check_retry(value: Any) -> str | None:
    """Check retry settings, from front matter or a parsed `@retry:` tag."""
    if not isinstance(value, dict):
        return f"expected a mapping with {', '.join(RETRY_KEYS)}, got {_kind(value)}"
    for k, v in value.items():
        if k not in RETRY_KEYS:
            return f"unknown retry setting `{k}`; expected one of {', '.join(RETRY_KEYS)}"
        if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0 or v == float("inf"):
            return f"retry setting `{k}` must be a non-negative number, got {v!r}"
        if k == "tries" and (not float(v).is_integer() or v < 1):
            return f"retry setting `tries` must be a whole number of at least 1, got {v!r}"
        if k == "factor" and v < 1:
            # Below 1 the delays shrink towards zero and a failing step spins.
            return f"retry setting `factor` must be at least 1, got {v!r}"
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)
