"""Spec errors: every problem names file, line and column, and shows the line with a caret."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SpecError:
    path: str
    line: int  # 1-based
    col: int  # 1-based
    message: str
    source: str = ""  # the offending line, for the caret display

    def __str__(self) -> str:
        head = f"{self.path}:{self.line}:{self.col}: {self.message}"
        if not self.source:
            return head
        shown = self.source.expandtabs(4).rstrip()
        caret = " " * (max(self.col, 1) - 1) + "^"
        return f"{head}\n    {shown}\n    {caret}"

    def to_dict(self) -> dict:
        return {"path": self.path, "line": self.line, "col": self.col, "message": self.message}


class SpecErrors(Exception):
    """Raised with all the problems of one or more files at once."""

    def __init__(self, errors: list[SpecError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
