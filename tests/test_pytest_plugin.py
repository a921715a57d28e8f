"""The pytest plugin (harness/pytest_plugin.py), run by pytest's own `pytester`.

The plugin comes in through the package's `pytest11` entry point, as for a user who
installed the package: nothing here loads it by hand.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

STORY = """# A story

## One

Given I store `1` into `n`

## Two

Then `n` should equal

```json
1
```

## Three

Given I store `n + 1` into `n`

Then `n` should equal

```json
2
```
"""

FAILING = """# Failing

## Right

Given I store `{"a": 1}` into `obj`

## Wrong

Then `obj` should equal

```json
{ "a": 2 }
```

## After the failure

Then `obj` should equal

```json
{ "a": 1 }
```
"""

OUTLINE = """---
variants:
  - nw: ltem
  - nw: nbiot
---

# Rows

## Add <a> and <b>

Given I store `<a> + <b>` into `sum`

Then `sum` should equal

```json
<sum>
```

### Examples

| a | b | sum |
| - | - | --- |
| 1 | 2 | 3   |
| 2 | 2 | 4   |
"""

BASE = """# Base

## Store

Given I store `42` into `answer`
"""

DEPENDENT = """---
needs:
  - Base
---

# Dependent

## Read

Then `answer` should equal

```json
42
```
"""


def _run(
    pytester: pytest.Pytester, *args: str, subprocess: bool = False, **kwargs: tuple[str, ...]
) -> pytest.RunResult:
    """pytest in pytester's folder, without pytest-asyncio (these tests have no async
    test functions, and its warning about an unset loop scope would be noise)."""
    args = (*args, *kwargs.get("args", ()), "-p", "no:asyncio")
    return pytester.runpytest_subprocess(*args) if subprocess else pytester.runpytest(*args)


def _specs(pytester: pytest.Pytester, **files: str) -> None:
    folder = pytester.mkdir("specs")
    for name, text in files.items():
        (folder / f"{name}.feature.md").write_text(text)


def test_one_item_per_scenario_and_a_story_in_order(pytester: pytest.Pytester) -> None:
    _specs(pytester, Story=STORY, Rows=OUTLINE)
    result = _run(pytester, "specs", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)
    # outline rows and variants as parametrised ids, labelled by harness.naming
    result.stdout.fnmatch_lines(
        [
            "*specs/Rows.feature.md::Add 1 and 2[[]nw=ltem, a=1, b=2, sum=3[]] PASSED*",
            "*specs/Rows.feature.md::Add 2 and 2[[]nw=nbiot, a=2, b=2, sum=4[]] PASSED*",
            "*specs/Story.feature.md::Three PASSED*",
        ]
    )


def test_k_runs_the_story_before_the_selected_scenario(pytester: pytest.Pytester) -> None:
    _specs(pytester, Story=STORY)
    # `Three` reads what `One` stored: it passes only if `One` ran, unreported
    result = _run(pytester, "specs", "-k", "Three", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, deselected=2)


def test_a_failure_shows_step_place_message_and_diff(pytester: pytest.Pytester) -> None:
    _specs(pytester, Failing=FAILING)
    junit = pytester.path / "junit.xml"
    result = _run(pytester, "specs", "-p", "no:cacheprovider", "-rs", f"--junitxml={junit}")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*specs/Failing.feature.md:9: `obj` does not equal the expected JSON*",
            "Failing › Wrong",
            "*✗ Then `obj` should equal",
            '*-  "a": 2*',
            '*+  "a": 1*',
            "SKIPPED * specs/Failing.feature.md:15: an earlier scenario failed: 'Wrong'",
        ]
    )
    # the harness's message, not a traceback of the runner
    result.stdout.no_fnmatch_line("*runner.py*")
    result.stdout.no_fnmatch_line("*Traceback*")
    xml = junit.read_text()
    assert 'name="Wrong"' in xml and "<failure" in xml


def test_x_and_last_failed(pytester: pytest.Pytester) -> None:
    _specs(pytester, Failing=FAILING)
    _run(pytester, "specs", "-x").assert_outcomes(passed=1, failed=1)
    result = _run(pytester, "specs", "--lf", "-v")
    # only the failed one reported; `Right` ran before it (it stores what `Wrong` reads)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Failing.feature.md::Wrong FAILED*", "*expected 2, got 1*"])


def test_a_feature_runs_after_what_it_needs(pytester: pytest.Pytester) -> None:
    # Dependent sorts before Base by path: the plugin orders by `needs`
    _specs(pytester, Base=BASE, A_Dependent=DEPENDENT)
    result = _run(pytester, "specs", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*Base.feature.md::Store PASSED*", "*A_Dependent.feature.md::Read PASSED*"]
    )
    # picked alone, the dependent still gets its need's context
    alone = _run(pytester, "specs/A_Dependent.feature.md", "-p", "no:cacheprovider")
    alone.assert_outcomes(passed=1)


def test_soon_attempts_and_http_exchanges_go_to_report_sections(pytester: pytest.Pytester) -> None:
    _specs(
        pytester,
        Http="""---
retry:
  tries: 3
  initialDelay: 10
---

# Http

## Health

When I `GET` `${APIURL}/health`

Soon `1` should equal

```json
2
```
""",
    )
    result = _run(
        pytester,
        "specs",
        "-p",
        "no:cacheprovider",
        "-o",
        "spec_paths=specs",
        "--spec-api-version=2024-04-17",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*Captured spec attempts call*",
            "Soon `1` should equal: failed after 3 attempts",
            "*Captured spec http call*",
            "*GET http://127.0.0.1:*/2024-04-17/health → 200*",
        ]
    )


def test_collects_only_specs_asked_for(pytester: pytest.Pytester) -> None:
    _specs(pytester, Story=STORY)
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    # the ini's testpaths are no request for specs
    pytester.makeini("[pytest]\ntestpaths = specs test_plain.py\n")
    _run(pytester, "-p", "no:cacheprovider").assert_outcomes(passed=1)
    # spec_paths names the folders that hold specs
    pytester.makeini("[pytest]\ntestpaths = specs test_plain.py\nspec_paths = specs\n")
    _run(pytester, "-p", "no:cacheprovider").assert_outcomes(passed=4)
    # and the plugin switches off like any other
    off = _run(pytester, "specs", "-p", "no:spec-harness", "-p", "no:cacheprovider")
    off.assert_outcomes()


def test_a_spec_error_is_a_collection_error(pytester: pytest.Pytester) -> None:
    _specs(pytester, Broken="---\nneeds: [\n---\n# Broken\n")
    result = _run(pytester, "specs", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*specs/Broken.feature.md:*"])


def test_xdist_keeps_needs_together_and_counts_as_a_plain_run(pytester: pytest.Pytester) -> None:
    _specs(
        pytester,
        Base=BASE,
        A_Dependent=DEPENDENT,
        Story=STORY,
        Failing=FAILING,
        Rows=OUTLINE,
        Never="---\nrun: never\n---\n# Never\n\n## Not now\n\nGiven I store `1` into `n`\n",
    )
    cli = subprocess.run(
        [sys.executable, "-m", "harness", "run", "specs", "--no-reports"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.stdout.splitlines()[-1] == "10 passed, 1 failed, 2 skipped", cli.stdout
    plain = _run(pytester, "specs", "-p", "no:cacheprovider")
    plain.assert_outcomes(passed=10, failed=1, skipped=2)
    result = _run(
        pytester, subprocess=True, args=("specs", "-n", "3", "-v", "-p", "no:cacheprovider")
    )
    result.assert_outcomes(passed=10, failed=1, skipped=2)
    workers = {}
    for line in result.outlines:
        for name in ("Base.feature.md", "A_Dependent.feature.md"):
            if name in line and line.startswith("[gw"):
                workers[name] = line.split()[0]
    assert len(workers) == 2 and len(set(workers.values())) == 1, workers


def test_a_failing_background_shows_on_the_first_scenario(pytester: pytest.Pytester) -> None:
    _specs(
        pytester,
        Bg="""# Bg

## Background

Then `1` should equal

```json
2
```

## First

Given I store `1` into `n`

## Second

Given I store `2` into `n`
""",
    )
    result = _run(pytester, "specs", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*specs/Bg.feature.md:5: `1` does not equal*"])
