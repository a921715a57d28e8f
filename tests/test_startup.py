"""What `spec-harness run` does at start-up: the modules it leaves for later, the head start
it gives aiohttp's import, and the collector held off until the run begins (entry.py)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from harness import entry

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_a_run_imports_no_jwt_library_until_a_jwt_step_or_query_needs_it():
    done = run_python("""
        import sys
        import harness.cli, harness.report, harness.targets.embedded
        from harness.cli import DEFAULT_STEP_MODULES
        from harness.run.registry import StepRegistry
        StepRegistry().load(list(DEFAULT_STEP_MODULES))
        print(sorted({m.split(".")[0] for m in sys.modules} & {"jwt", "cryptography"}))
        import steps.jwt
        try:
            steps.jwt.load_private_key("no key here", "k")
        except ValueError:
            pass
        try:
            steps.jwt.sign_device_jwt(None, "k", {})
        except Exception:
            pass
        print(sorted({m.split(".")[0] for m in sys.modules} & {"jwt", "cryptography"}))
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "['cryptography', 'jwt']"], done.stdout


def test_preload_imports_on_a_thread_and_leaves_failures_to_the_next_import():
    done = run_python("""
        import sys
        from harness.entry import preload
        preload(("colorsys", "no_such_module_for_preload")).join()
        print("colorsys" in sys.modules, "no_such_module_for_preload" in sys.modules)
        try:
            import no_such_module_for_preload
        except ImportError as exc:
            print("ImportError", exc.name)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["True False", "ImportError no_such_module_for_preload"]


def test_the_entry_point_holds_the_collector_until_the_run_starts(tmp_path):
    # the run's own process: collector off from the start, on (and start-up frozen) once
    # the reporters are up; the hook below sees it from the first step
    steps = tmp_path / "gc_steps.py"
    steps.write_text(
        textwrap.dedent("""
        import gc
        from behave import step

        @step("the collector is on and start-up is frozen")
        def collector_on(ctx):
            assert gc.isenabled() and gc.get_freeze_count() > 1000, gc.get_freeze_count()
    """)
    )
    spec = tmp_path / "gc.feature.md"
    spec.write_text("# Collector\n\n## On\n\nGiven the collector is on and start-up is frozen\n")
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", str(spec), "--steps", str(steps), "--no-reports"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_started_leaves_a_process_that_did_not_start_through_the_entry_point_alone():
    # cli.main() called in this (test) process: nothing is frozen, the collector stays on
    frozen = gc.get_freeze_count()
    entry.started()
    assert gc.isenabled() and gc.get_freeze_count() == frozen
