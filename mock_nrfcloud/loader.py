"""``--load FILE``: kept responses to serve from the start.

The file (YAML or JSON) has a top-level ``responses:`` list, each item with the same
fields as ``POST /__admin/responses`` (loaded as kept responses, account ``default``
unless given, as a key or an id). Other top-level keys, such as the ``devices:`` list
that the reference backend registers from the same file, are left to their readers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from mock_nrfcloud.problems import Problem
from mock_nrfcloud.validation import parse_response_spec


class LoadError(Exception):
    """A load file that cannot be used; the message names the file and the field."""

    def __init__(self, path: str | Path, message: str, field: str | None = None) -> None:
        where = f"{path}: {field}: " if field else f"{path}: "
        super().__init__(where + message)
        self.path = str(path)
        self.field = field
        self.message = message


def read_document(path: str | Path) -> Any:
    """The parsed file: JSON for ``*.json``, YAML otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise LoadError(path, f"cannot read the file: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise LoadError(path, "the file is not UTF-8 text") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as error:
        raise LoadError(path, f"line {error.lineno} column {error.colno}: {error.msg}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise LoadError(path, f"{where}{problem}") from None


def load_responses(path: str | Path) -> list[dict[str, Any]]:
    """The checked, canonical specs of the file's responses, all kept."""
    document = read_document(path)
    if document is None:
        return []
    if not isinstance(document, dict):
        raise LoadError(path, "expected a mapping with a `responses:` list at the top level")
    items = document.get("responses", [])
    if not isinstance(items, list):
        raise LoadError(path, "expected a list of responses", "responses")
    specs = []
    for index, item in enumerate(items):
        prefix = f"responses[{index}]."
        if isinstance(item, dict) and "keep" not in item and "times" not in item:
            item = {**item, "keep": True}
        try:
            specs.append(parse_response_spec(item, prefix))
        except Problem as problem:
            raise LoadError(path, problem.detail, problem.field or f"responses[{index}]") from None
    return specs
