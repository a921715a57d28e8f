"""`spec-harness check` of 500 specs, whole process (start-up included).

    python benchmarks/bench_check.py [--count 500] [--runs 5]

The specs are this project's own, copied in a scratch folder until there are COUNT of
them; each copy group renames its titles (and the `needs` that name them), so the plan
is the same shape as the original, many times over.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_corpus(folder: Path, count: int) -> int:
    sources = sorted((ROOT / "specs").rglob("*.feature.md"))
    texts = [p.read_text(encoding="utf-8") for p in sources]
    titles = [re.search(r"^# (.+)$", t, re.M).group(1) for t in texts]
    written = 0
    group = 0
    while written < count:
        for source, text in zip(sources, texts, strict=True):
            if written == count:
                break
            for title in titles:
                text = text.replace(f"# {title}\n", f"# {title} {group}\n")
                text = text.replace(f"  - {title}\n", f"  - {title} {group}\n")
            (folder / f"{group:03d}-{source.name}").write_text(text, encoding="utf-8")
            written += 1
        group += 1
    return sum(p.stat().st_size for p in folder.iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        size = make_corpus(Path(tmp), args.count)
        cmd = [sys.executable, "-m", "harness", "check", tmp]
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            if done.returncode != 0:
                sys.exit(f"check failed:\n{done.stderr[-3000:]}")
        print(
            f"spec-harness check of {args.count} specs ({size / 1e6:.1f} MB): "
            f"median {statistics.median(times):.2f} s (min {min(times):.2f}, "
            f"{args.runs} runs)"
        )
        start = [0.0] * 0
        for _ in range(args.runs):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "harness", "steps"],
                cwd=ROOT,
                capture_output=True,
                check=True,
            )
            start.append(time.perf_counter() - t0)
        print(f"of which start-up (`spec-harness steps`): median {statistics.median(start):.2f} s")


if __name__ == "__main__":
    main()
