"""The FOTA spec end to end (whole process, embedded target), and 50 copies at once.

    python benchmarks/bench_fota.py [--runs 5] [--copies 50] [--no-reports]

Times `spec-harness run` as a user runs it (process start-up included, the file
reports written to a scratch folder as a default run writes them) on
specs/FOTA.feature.md, then on N copies of it in a scratch folder with `--jobs N`;
each copy registers its own device and nRF Cloud account, so they run isolated.
Prints medians and the ratio of N copies to one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "FOTA.feature.md"


# As installed, Python keeps compiled modules (pip compiles on install, and an editable
# install writes __pycache__ on first import). A session that sets PYTHONDONTWRITEBYTECODE
# would time compiling the project's ~90 modules on every start (0.1-0.15 s) instead.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed_run(paths: list[str], jobs: int, reports: str | None) -> float:
    where = ["--reports", reports] if reports else ["--no-reports"]
    cmd = [sys.executable, "-m", "harness", "run", *paths, "--jobs", str(jobs), *where, "--quiet"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=ENV)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"run failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--no-reports", action="store_true", help="write no report files")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp()
    reports = None if args.no_reports else str(Path(scratch) / "reports")
    print("file reports " + ("off" if args.no_reports else "on"))
    timed_run([str(SPEC)], 1, reports)  # warm-up: compiled modules and template cached
    one = [timed_run([str(SPEC)], 1, reports) for _ in range(args.runs)]
    print(
        f"FOTA spec, one copy:   median {statistics.median(one):.2f} s "
        f"(min {min(one):.2f}, max {max(one):.2f}, {args.runs} runs)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.copies):
            shutil.copy(SPEC, Path(tmp) / f"FOTA-{i:03d}.feature.md")
        many = [timed_run([tmp], args.copies, reports) for _ in range(args.runs)]
    print(
        f"{args.copies} copies, --jobs {args.copies}: median {statistics.median(many):.2f} s "
        f"(min {min(many):.2f}, max {max(many):.2f})"
    )
    print(f"ratio: {statistics.median(many) / statistics.median(one):.2f}x one copy")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
