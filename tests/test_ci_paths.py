"""The paths a CI job takes, tried as one would: a subprocess, signals, old reports, a
`steps/` folder in the working directory, broken step modules, a looping expression."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from support.processes import HARNESS, run_module, spawn_module

ROOT = Path(__file__).resolve().parents[1]

SLOW_STEPS = """
import os
import time
from behave import given

@given("a synchronous step that sleeps {n:d} seconds")
def sleepy(ctx, n):
    if os.environ.get("STEP_MARKER"):
        open(os.environ["STEP_MARKER"], "w").close()
    time.sleep(n)

@given("a synchronous step that spins")
def spin(ctx):
    while True:
        pass
"""


def harness(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_module(HARNESS, *args, timeout=timeout, cwd=cwd)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_version():
    done = harness("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("spec-harness ") and done.stdout.strip() != "spec-harness"


def test_one_version_everywhere():
    import importlib.metadata

    import harness
    import reference_backend

    installed = importlib.metadata.version("hello-spec-harness")
    assert harness.__version__ == reference_backend.__version__ == installed


def wait_for(marker: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)


def sleeping_run(tmp_path: Path, reports: Path) -> subprocess.Popen:
    """`harness run` of a spec whose one step sleeps in synchronous code, once that step
    has started."""
    steps = write(tmp_path / "slow_steps.py", SLOW_STEPS)
    spec = write(
        tmp_path / "Sleep.feature.md",
        "# Sleep\n\n## S\n\nGiven a synchronous step that sleeps 300 seconds\n",
    )
    marker = tmp_path / "started"
    proc = spawn_module(
        HARNESS,
        "run",
        str(spec),
        "--steps",
        str(steps),
        "--reports",
        str(reports),
        env={**os.environ, "STEP_MARKER": str(marker)},
    )
    wait_for(marker, proc)
    return proc


def test_sigterm_stops_a_blocked_sync_step_and_writes_reports(tmp_path):
    reports = tmp_path / "reports"
    proc = sleeping_run(tmp_path, reports)
    time.sleep(0.2)  # inside time.sleep now, holding the loop
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, out + err
    assert "Traceback" not in err
    results = json.loads((reports / "results.json").read_text())
    assert results["interrupted"] is True
    assert "interrupted" in (reports / "summary.md").read_text()


def test_sync_steps_cannot_outlast_the_step_timeout(tmp_path):
    steps = write(tmp_path / "slow_steps.py", SLOW_STEPS)
    write(
        tmp_path / "specs" / "Sleep.feature.md",
        "# Sleep\n\n## Sleeps\n\nGiven a synchronous step that sleeps 300 seconds\n",
    )
    write(
        tmp_path / "specs" / "Spin.feature.md",
        "# Spin\n\n## Spins\n\nGiven a synchronous step that spins\n",
    )
    done = harness(
        "run",
        str(tmp_path / "specs"),
        "--steps",
        str(steps),
        "--step-timeout",
        "0.5",
        "--no-reports",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.count("step timed out") == 2
    assert "0 passed, 2 failed" in done.stdout


def test_run_timeout_reads_timed_out(tmp_path):
    spec = write(
        tmp_path / "Hang.feature.md", "# Hang\n\n## S\n\nSoon `1` should equal\n\n```json\n2\n```\n"
    )
    done = harness("run", str(spec), "--timeout", "0.5", "--reports", str(tmp_path / "r"))
    assert done.returncode == 1
    assert "Timed out: the summary" in done.stdout and "Interrupted" not in done.stdout
    assert "timed out" in (tmp_path / "r" / "summary.md").read_text().splitlines()[0]


def test_a_run_that_cannot_start_leaves_no_old_reports(tmp_path):
    reports = tmp_path / "reports"
    assert harness("run", "specs/FOTA.feature.md", "--reports", str(reports), "-q").returncode == 0
    assert (reports / "junit.xml").exists()
    bad = write(tmp_path / "Bad.feature.md", "# Bad\n\n## S\n\nGiven a sentence nobody wrote\n")
    done = harness("run", str(bad), "--reports", str(reports))
    assert done.returncode == 2
    assert "removed the previous run's reports" in done.stderr
    assert not list(reports.iterdir())
    # exit 3: the target refuses; nothing (console or files) claims a run
    assert harness("run", "specs/FOTA.feature.md", "--reports", str(reports), "-q").returncode == 0
    done = harness(
        "run",
        "specs/FOTA.feature.md",
        "--reports",
        str(reports),
        "--target",
        "remote",
        "--api-url",
        "http://127.0.0.1:9",
        "--mock-url",
        "http://127.0.0.1:9",
    )
    assert done.returncode == 3
    assert "report:" not in done.stdout and "passed" not in done.stdout
    assert not (reports / "junit.xml").exists()


def test_invalid_json_at_run_time_fails_the_step_with_its_line(tmp_path):
    spec = write(
        tmp_path / "Json.feature.md",
        "# Json\n\n## S\n\nGiven I store `1` into `x`\n\nThen `x` should equal\n\n"
        '```json\n{ "a": ${x},, }\n```\n',
    )
    done = harness("run", str(spec), "--no-reports")
    assert done.returncode == 1
    assert f"{spec}:10:10: the code block is not valid JSON once resolved" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_a_looping_expression_fails_its_step_in_run_and_in_check(tmp_path):
    spec = write(
        tmp_path / "Loop.feature.md",
        "# Loop\n\n## S\n\n"
        "Then `($f := function($n){ $f($n+1) }; $f(0))` should equal\n\n"
        "```json\n1\n```\n",
    )
    done = harness("run", str(spec), "--step-timeout", "1", "--no-reports")
    assert done.returncode == 1
    assert "ran for more than 0.8 s (an endless loop?)" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    deep = write(
        tmp_path / "Deep.feature.md",
        "# Deep\n\n## S\n\nThen `${($f := function($n){ 1 + $f($n+1) }; $f(0))}` "
        "should equal\n\n```json\n1\n```\n\n## R\n\nThen `1` should equal\n\n"
        "```json\n" + "[" * 50_000 + "]" * 50_000 + "\n```\n\n"
        "## T\n\nThen `${/}` should equal\n\n```json\n1\n```\n",
    )
    done = harness("check", str(deep))
    assert done.returncode == 2
    assert "nests deeper than" in done.stderr and "invalid expression `/`" in done.stderr
    assert "the code block nests too deeply" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_steps_folder_in_the_working_directory_is_not_the_library(tmp_path):
    write(
        tmp_path / "steps" / "__init__.py",
        "from behave import given\n\n@given('a project step')\ndef p(ctx):\n    pass\n",
    )
    write(
        tmp_path / "P.feature.md",
        "# P\n\n## S\n\nGiven a project step\n\nAnd I store `1` into `x`\n",
    )
    done = harness("run", "P.feature.md", "--no-reports", cwd=tmp_path)
    assert done.returncode == 2 and "undefined step: Given a project step" in done.stderr
    assert "And I store" not in done.stderr  # the library's steps are there
    done = harness("run", "P.feature.md", "--no-reports", "--steps", "steps", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_steps_accepts_a_file_a_folder_and_a_module(tmp_path):
    write(
        tmp_path / "lib" / "mine.py",
        "from behave import given\n\n@given('my step')\ndef p(ctx):\n    pass\n",
    )
    write(tmp_path / "pkg" / "__init__.py", "")
    write(
        tmp_path / "pkg" / "more.py",
        "from behave import given\n\n@given('my other step')\ndef p(ctx):\n    pass\n",
    )
    write(tmp_path / "M.feature.md", "# M\n\n## S\n\nGiven my step\n\nGiven my other step\n")
    for steps in (["lib/mine.py", "pkg"], ["lib", "pkg.more"]):
        args = [a for s in steps for a in ("--steps", s)]
        done = harness("run", "M.feature.md", "--no-reports", *args, cwd=tmp_path)
        assert done.returncode == 0, steps


def test_a_broken_step_module_exits_2_with_file_and_line(tmp_path):
    broken = write(tmp_path / "broken.py", "from behave import given\n\ndef broken(:\n")
    done = harness("steps", "--steps", str(broken))
    assert done.returncode == 2
    assert f"{broken}:3: syntax error in a step module" in done.stderr
    raising = write(tmp_path / "raising.py", "x = 1\nraise RuntimeError('no')\n")
    done = harness("steps", "--steps", str(raising))
    assert done.returncode == 2 and f"{raising}:2:" in done.stderr
    assert "Traceback" not in done.stderr
    done = harness("steps", "--steps", "no_such_module_here")
    assert done.returncode == 2 and "no such file, folder or module" in done.stderr


def test_target_options_are_checked(tmp_path):
    config = write(tmp_path / "t.yaml", "api_url: http://127.0.0.1:9\nbogus: 1\n")
    done = harness("run", "specs/FOTA.feature.md", "--target-config", str(config), "--no-reports")
    assert done.returncode == 2 and "only for --target remote" in done.stderr
    done = harness(
        "run",
        "specs/FOTA.feature.md",
        "--target",
        "remote",
        "--target-config",
        str(config),
        "--no-reports",
    )
    assert done.returncode == 2 and "unknown key 'bogus'" in done.stderr


def test_millis_advances_between_attempts_of_a_soon_step(tmp_path):
    spec = write(
        tmp_path / "Millis.feature.md",
        "# Millis\n\n## S\n\nGiven I store `$millis()` into `t0`\n\n"
        "And I store `$string(41 + 1)` into `other`\n\n"
        "Soon `$millis() - t0 > 300` should equal\n\n```json\ntrue\n```\n",
    )
    done = harness("run", str(spec), "--no-reports", "--retry-timeout", "10000")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_blocked_sync_step_cannot_outlast_the_run_timeout(tmp_path):
    steps = write(tmp_path / "slow_steps.py", SLOW_STEPS)
    spec = write(
        tmp_path / "Sleep.feature.md",
        "# Sleep\n\n## S\n\nGiven a synchronous step that sleeps 300 seconds\n",
    )
    done = harness(
        "run",
        str(spec),
        "--steps",
        str(steps),
        "--timeout",
        "1",
        "--reports",
        str(tmp_path / "r"),
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "0 passed, 1 failed" in done.stdout  # stopped at the deadline, as a timeout


def test_ctrl_c_stops_a_blocked_sync_step(tmp_path):
    proc = sleeping_run(tmp_path, tmp_path / "r")
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "Interrupted" in out and (tmp_path / "r" / "junit.xml").exists()


def test_sigterm_while_starting_exits_143_and_leaves_no_old_reports(tmp_path):
    import socket

    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "junit.xml").write_text("<testsuite/>")  # a previous run's
    with socket.socket() as silent:  # accepts connections, never answers: start() waits
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        proc = spawn_module(
            HARNESS,
            "run",
            "specs/FOTA.feature.md",
            "--target",
            "remote",
            "--api-url",
            url,
            "--mock-url",
            url,
            "--reports",
            str(reports),
        )
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, out + err
    assert "Traceback" not in err
    assert not (reports / "junit.xml").exists()
