"""Runner overhead: trivial steps per second, start-up excluded, against behave.

    python benchmarks/bench_runner.py [--scenarios 500] [--steps 10] [--runs 5] [--peer]

The same suite (N scenarios of M trivial steps, one `parse` argument each) is written as
a Markdown spec for spec-harness and as Gherkin for behave. spec-harness is timed from
parsing the spec to the reporters' close, in-process, its event bus feeding the read
model, the console and the file reporters as `spec-harness run` has them by default
(the reports written to a scratch folder; `--no-reports` leaves the files out).
behave (its default `null` formatter, no files) is timed as a subprocess minus the
start-up of the same process on an empty feature, measured right before each run, so
a busy machine shifts both alike. behave is installed with pip into
.bench/behave-venv (scratch, ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / ".bench" / "behave-venv"
STEP_MODULE = """
from behave import given

@given("a trivial step number {n:d}")
def trivial(ctx, n):
    pass
"""


def markdown_spec(scenarios: int, steps: int) -> str:
    body = "".join(
        f"## Scenario {s}\n\n"
        + "".join(
            f"{'Given' if i == 0 else 'And'} a trivial step number {i}\n\n" for i in range(steps)
        )
        for s in range(scenarios)
    )
    return f"# Trivial\n\n{body}"


def gherkin(scenarios: int, steps: int) -> str:
    body = "".join(
        f"  Scenario: Scenario {s}\n"
        + "".join(
            f"    {'Given' if i == 0 else 'And'} a trivial step number {i}\n" for i in range(steps)
        )
        for s in range(scenarios)
    )
    return f"Feature: Trivial\n{body}"


def ours(folder: Path, scenarios: int, steps: int, reports: bool) -> float:
    from harness.events import EventBus
    from harness.loader import discover, parse_all
    from harness.plan import make_plan
    from harness.report import make_reporters
    from harness.run.registry import StepRegistry
    from harness.run.runner import Runner

    spec = folder / "Trivial.feature.md"
    spec.write_text(markdown_spec(scenarios, steps))
    (folder / "trivial_steps.py").write_text(STEP_MODULE)
    sys.path.insert(0, str(folder))
    registry = StepRegistry()  # behave's global registry: only the trivial step is loaded
    registry.load(["trivial_steps"])
    # From the parse on: behave's figure includes reading its feature file too.
    t0 = time.perf_counter()
    plan = make_plan(parse_all(discover([str(spec)])[0]))
    bus = EventBus()
    reporters = make_reporters(
        folder / "reports" if reports else None, stream=io.StringIO(), color=False
    )
    for r in reporters:
        bus.subscribe(r)
    result = asyncio.run(Runner(plan, registry, None, bus).run())
    for r in reporters:  # closing writes what is left: part of the run's cost
        r.close()
    elapsed = time.perf_counter() - t0
    if result.counts["passed"] != scenarios:
        sys.exit(f"the trivial suite did not pass: {result.counts}")
    return elapsed


def behave_time(folder: Path, scenarios: int, steps: int) -> float:
    python = SCRATCH / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(SCRATCH)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "behave==1.3.3"], check=True)
    (folder / "features" / "steps").mkdir(parents=True, exist_ok=True)
    (folder / "features" / "steps" / "trivial.py").write_text(STEP_MODULE)

    def run(text: str) -> float:
        (folder / "features" / "t.feature").write_text(text)
        t0 = time.perf_counter()
        subprocess.run(
            [str(python), "-m", "behave", "--format", "null", "--no-summary", "--no-capture", "-q"],
            cwd=folder,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - t0

    startup = run("Feature: Empty\n")
    return run(gherkin(scenarios, steps)) - startup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", type=int, default=500)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--peer", action="store_true", help="also measure behave")
    parser.add_argument(
        "--no-reports", action="store_true", help="measure the runner without the file reporters"
    )
    args = parser.parse_args()
    total = args.scenarios * args.steps
    times: list[float] = []
    peer_times: list[float] = []
    # Interleaved, one of each per round: a shared machine's load drifts, and both
    # sides should see the same drift.
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as peer_tmp:
        for _ in range(args.runs):
            times.append(ours(Path(tmp), args.scenarios, args.steps, not args.no_reports))
            if args.peer:
                peer_times.append(behave_time(Path(peer_tmp), args.scenarios, args.steps))
    mine = total / statistics.median(times)
    mode = "console only" if args.no_reports else "console + file reports"
    print(f"spec-harness: {mine:8.0f} steps/s ({total} steps, median of {args.runs}, {mode})")
    if args.peer:
        theirs = total / statistics.median(peer_times)
        print(f"behave 1.3.3: {theirs:8.0f} steps/s (start-up subtracted)")
        print(f"ratio: {mine / theirs:.2f}x behave")
        rounds = sorted(p / m for m, p in zip(times, peer_times, strict=True))
        print(
            f"per round: {rounds[0]:.2f}x to {rounds[-1]:.2f}x, median "
            f"{statistics.median(rounds):.2f}x"
        )


if __name__ == "__main__":
    main()
