"""`spec-harness check`: names set by earlier steps are known, run-time-only placeholders
are no error, the missing name is named; the real suite's specs pass it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_STEPS = ROOT / "tests" / "fixtures" / "missing_sentences.py"
# The real suite, beside the checkout (main) or beside the worktrees' folder.
CORPUS = next(
    (
        p
        for p in (ROOT.parent / "shared" / "corpus", ROOT.parents[1] / "shared" / "corpus")
        if p.is_dir()
    ),
    None,
)


def check(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness", "check", *args],
        cwd=cwd,
        text=True,
        capture_output=True,
        timeout=120,
    )


def spec(tmp_path: Path, text: str, name: str = "S.feature.md") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_names_set_by_earlier_steps_are_known(tmp_path):
    path = spec(
        tmp_path,
        """---
exampleContext:
  ts: 1694503339523
---
# Names

## Background

Given I have the fingerprint for a `PCA20065` device in `fingerprint`

## Stored and random

Given I store `ts - 1000` into `pastTs`

And I have a random UUIDv4 in `id`

When I `GET` `${APIURL}/device?fingerprint=${fingerprint}&id=${id}`

Then I store `id` of the last response into `answer`

Then `${answer}` should equal

```json
{ "id": "${fingerprint_deviceId}", "t": "$number{$floor(pastTs/1000)}" }
```
""",
    )
    done = check(str(path))
    assert done.returncode == 0, done.stderr


def test_a_name_nobody_sets_is_named(tmp_path):
    path = spec(
        tmp_path,
        "# Missing\n\n## S\n\nThen `${$floor(pastTs/1000)}` should equal\n\n```json\n1\n```\n",
    )
    done = check(str(path))
    assert done.returncode == 2
    assert "`pastTs` is not in the context" in done.stderr
    assert "`floor`" not in done.stderr


def test_a_name_set_later_is_not_known_earlier(tmp_path):
    path = spec(
        tmp_path,
        "# Order\n\n## S\n\nThen `${later}` should equal\n\n```json\n1\n```\n\n"
        "Given I store `1` into `later`\n",
    )
    done = check(str(path))
    assert done.returncode == 2 and "`later` is not in the context" in done.stderr


def test_variants_are_in_the_context_for_check(tmp_path):
    path = spec(
        tmp_path,
        """---
variants:
  - account: nordic
  - account: elite
---
# Variants

## S

Given I have the fingerprint for a `PCA20065` device in the `${variant.account}`
account in `fingerprint`
""",
    )
    assert check(str(path)).returncode == 0


def test_names_from_a_needed_feature_are_known(tmp_path):
    spec(tmp_path, "# First\n\n## S\n\nGiven I store `1` into `shared`\n", "A.feature.md")
    spec(
        tmp_path,
        "---\nneeds:\n  - First\n---\n# Second\n\n## S\n\n"
        "Then `${shared}` should equal\n\n```json\n1\n```\n",
        "B.feature.md",
    )
    done = check(str(tmp_path))
    assert done.returncode == 0, done.stderr


def test_needs_outside_the_selection_are_added_from_beside_it(tmp_path):
    spec(tmp_path, "# First\n\n## S\n\nGiven I store `1` into `shared`\n", "A.feature.md")
    needing = spec(
        tmp_path,
        "---\nneeds:\n  - First\n---\n# Second\n\n## S\n\n"
        "Then `${shared}` should equal\n\n```json\n1\n```\n",
        "B.feature.md",
    )
    done = check(str(needing))
    assert done.returncode == 0, done.stderr
    assert f"needs: added {tmp_path / 'A.feature.md'} ('First')" in done.stderr
    run = subprocess.run(
        [sys.executable, "-m", "harness", "run", f"{needing}:9", "--no-reports"],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout


def test_the_real_suite_passes_check(tmp_path):
    assert CORPUS is not None, "the shared corpus is beside the checkout or its folder"
    suite = tmp_path / "suite"
    shutil.copytree(CORPUS / "hello-nrfcloud-backend", suite)
    done = check(str(suite), "--steps", str(FIXTURE_STEPS))
    assert done.returncode == 0, done.stderr
    # one at a time too: each finds what it needs beside it
    for path in sorted(suite.glob("*.feature.md")):
        done = check(str(path), "--steps", str(FIXTURE_STEPS))
        assert done.returncode == 0, (path.name, done.stderr)
