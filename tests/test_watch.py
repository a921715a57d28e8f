"""`spec-harness run --watch`: a user edits a spec, then a step module, under the watcher."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

WAIT = 60.0  # seconds: generous, the machine may be busy; no timing is asserted

SPEC = """# Watched

## Answer

Then the answer is `42`
"""

STEP = """from behave import then


@then("the answer is `{{value}}`")
def answer(ctx, value):
    assert value == "{expected}", f"expected {expected}, got {{value}}"
"""


class Lines:
    """The watcher's stdout, line by line, read on a thread so waits stay bounded."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        stdout = process.stdout

        def read() -> None:
            for line in stdout:
                self.lines.put(line.rstrip("\n"))

        threading.Thread(target=read, daemon=True).start()

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return
        raise AssertionError(
            f"no line with {text!r} within {WAIT} s; saw:\n" + "\n".join(self.seen)
        )


def test_editing_a_spec_and_a_step_module_reruns(tmp_path: Path) -> None:
    specs, steps = tmp_path / "specs", tmp_path / "watchsteps"
    specs.mkdir()
    steps.mkdir()
    spec = specs / "Watched.feature.md"
    spec.write_text(SPEC)
    (specs / "Other.feature.md").write_text("# Other\n\n## Stays\n\nThen the answer is `42`\n")
    step = steps / "answer.py"
    step.write_text(STEP.format(expected="42"))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "run",
            "--watch",
            str(specs),
            "--steps",
            str(steps),
            "--no-color",
            "-q",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    try:
        out = Lines(process)
        out.wait_for("2 passed, 0 failed, 0 skipped")
        out.wait_for("watching")
        # a spec edited: that feature (only) runs again
        spec.write_text(SPEC.replace("`42`", "`41`"))
        out.wait_for("Watched.feature.md changed")
        out.wait_for("0 passed, 1 failed, 0 skipped")
        # a step module edited: the steps are reloaded and everything runs
        step.write_text(STEP.format(expected="41"))
        out.wait_for("answer.py changed")
        out.wait_for("1 passed, 1 failed, 0 skipped")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0
