"""Parsing speed: MB/s and files/s over the hello.nrfcloud.com backend's specs.

    python benchmarks/bench_parse.py [--rounds 20] [--peer]

With --peer, the TypeScript parser (@bifravst/bdd-markdown) is installed with npm into
.bench/ (a scratch folder, ignored by git) and measured on the same files in the same
run. Medians of several rounds are printed, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "hello-nrfcloud-backend"
SCRATCH = ROOT / ".bench" / "bdd-markdown"

NODE_BENCH = r"""
// The package's index also loads its reporters (and their peer dependencies), so the
// parser is imported on its own: what `parseFeaturesInFolder` runs for each file.
import fs from "fs";
import { feature } from "@bifravst/bdd-markdown/parser/feature.js";
import { tokenStream } from "@bifravst/bdd-markdown/parser/tokenStream.js";
const files = JSON.parse(process.argv[2]);
const texts = files.map((f) => fs.readFileSync(f, "utf-8"));
const rounds = Number(process.argv[3]);
const results = [];
const warm = 30;  // V8 reaches its steady state after some rounds; measure that
for (let r = 0; r < rounds + warm; r++) {
  const t0 = process.hrtime.bigint();
  for (const t of texts) { try { feature(tokenStream(t)); } catch (e) {} }
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r >= warm) results.push(dt);
}
console.log(JSON.stringify(results));
"""


def spec_files() -> list[Path]:
    files = sorted(p for p in CORPUS.glob("*.feature.md"))
    if not files:
        sys.exit(f"no specs found in {CORPUS}: run from a checkout with ../shared beside it")
    return files


def ours(files: list[Path], rounds: int) -> list[float]:
    from harness.spec.parser import parse_bytes

    data = [(f.read_bytes(), str(f)) for f in files]
    times = []
    for r in range(rounds + 2):
        t0 = time.perf_counter()
        for raw, name in data:
            parse_bytes(raw, name)
        if r >= 2:
            times.append(time.perf_counter() - t0)
    return times


def peer(files: list[Path], rounds: int) -> list[float]:
    if not (SCRATCH / "node_modules" / "@bifravst" / "bdd-markdown").exists():
        SCRATCH.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "init", "-y"], cwd=SCRATCH, check=True, capture_output=True)
        subprocess.run(
            ["npm", "install", "--silent", "@bifravst/bdd-markdown"], cwd=SCRATCH, check=True
        )
    script = SCRATCH / "bench.mjs"
    script.write_text(NODE_BENCH)
    out = subprocess.run(
        ["node", str(script), json.dumps([str(f) for f in files]), str(rounds)],
        cwd=SCRATCH,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def report(name: str, times: list[float], size: int, count: int) -> float:
    median = statistics.median(times)
    mbs = size / median / 1e6
    print(
        f"{name:>14}: {mbs:6.2f} MB/s, {count / median:8.0f} files/s, "
        f"{median / count * 1e6:6.0f} µs per file (median of {len(times)})"
    )
    return mbs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--peer", action="store_true", help="also measure bdd-markdown")
    args = parser.parse_args()
    files = spec_files()
    size = sum(f.stat().st_size for f in files)
    print(f"{len(files)} files, {size / 1000:.1f} KB")
    mine = report("spec-harness", ours(files, args.rounds), size, len(files))
    if args.peer:
        theirs = report("bdd-markdown", peer(files, args.rounds), size, len(files))
        print(f"{'ratio':>14}: {mine / theirs:.2f}x bdd-markdown")


if __name__ == "__main__":
    main()
