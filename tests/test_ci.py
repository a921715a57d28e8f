"""CI-native output (issue 14): GitHub annotations and job summary, junit.xml places."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from support.processes import HARNESS, run_module

from harness.report import github

ROOT = Path(__file__).resolve().parents[1]
CI_SPECS = "tests/specs/ci"


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess:
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_WORKSPACE")
    }
    return run_module(HARNESS, *args, timeout=timeout, cwd=cwd, env={**environ, **(env or {})})


def test_a_failure_under_github_actions_is_an_annotation_and_fills_the_summary(tmp_path):
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    done = cli(
        "run",
        CI_SPECS,
        "--reports",
        str(tmp_path / "r"),
        env={
            "GITHUB_ACTIONS": "true",
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_WORKSPACE": str(ROOT),
        },
    )
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    assert errors == [
        "::error file=tests/specs/ci/Fails.feature.md,line=18,"
        "title=A feature that fails › Then fails::Then `two` should equal%0A"
        "`two` does not equal the expected JSON: at $: expected 3, got 2"
    ]
    text = summary.read_text()
    assert text.startswith("earlier step\n## ❌ Spec run failed")  # appended, not replaced
    assert "A feature that fails › Then fails" in text


def test_no_annotations_outside_github_actions(tmp_path):
    done = cli("run", CI_SPECS, "--reports", str(tmp_path))
    assert done.returncode == 1
    assert "::error" not in done.stdout
    assert (
        f"run the failures again: spec-harness run --last-failed --reports {tmp_path}\n"
        in done.stdout
    )


def test_spec_errors_are_annotations_with_file_and_line(tmp_path):
    bad = tmp_path / "Bad.feature.md"
    bad.write_text("# Bad\n\n## One\n\nGiven a step nobody wrote\n")
    done = cli(
        "run",
        str(bad),
        "--reports",
        str(tmp_path / "r"),
        env={"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(tmp_path)},
    )
    assert done.returncode == 2
    assert done.stdout.startswith(
        "::error file=Bad.feature.md,line=5,title=spec error::undefined step: Given a step "
        "nobody wrote%0A"
    ), done.stdout


def test_annotation_escapes_the_workflow_command_syntax():
    line = github.annotation(
        "specs/a,b:c.feature.md",
        3,
        "T: 1, 2",
        "50% done\nnext",
        environ={"GITHUB_WORKSPACE": os.getcwd()},
    )
    assert line == (
        "::error file=specs/a%2Cb%3Ac.feature.md,line=3,title=T%3A 1%2C 2::50%25 done%0Anext"
    )


def test_junit_testcases_have_file_line_stable_names_and_the_html_link(tmp_path):
    names = []
    for n in range(2):
        done = cli("run", CI_SPECS, "--reports", str(tmp_path / str(n)))
        assert done.returncode == 1
        root = ET.parse(tmp_path / str(n) / "junit.xml").getroot()
        cases = list(root.iter("testcase"))
        names.append(
            [(c.get("classname"), c.get("name"), c.get("file"), c.get("line")) for c in cases]
        )
    assert names[0] == names[1]
    assert ("A feature that fails", "Then fails", "tests/specs/ci/Fails.feature.md", "16") in names[
        0
    ]
    root = ET.parse(tmp_path / "0" / "junit.xml").getroot()
    failed = next(c for c in root.iter("testcase") if c.find("failure") is not None)
    out = failed.find("system-out").text
    anchor = out.splitlines()[0].removeprefix("HTML report: index.html#")
    assert f'id="{anchor}"' in (tmp_path / "0" / "index.html").read_text()


def test_html_has_a_timeline_the_environment_and_the_rerun_command(tmp_path):
    done = cli(
        "run",
        CI_SPECS,
        "--reports",
        str(tmp_path / "r"),
        "--jobs",
        "2",
        env={
            "GITHUB_ACTIONS": "true",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "org/repo",
            "GITHUB_RUN_ID": "42",
            "GITHUB_RUN_NUMBER": "7",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md"),
            "GITHUB_SHA": "0123456789abcdef",
            "GITHUB_REF_NAME": "main",
        },
    )
    assert done.returncode == 1
    page = (tmp_path / "r" / "index.html").read_text()
    # Three feature runs ran (the dependent was skipped): three bars, with their names.
    assert page.count('<a class="bar ') == 3
    assert 'class="bar st-failed"' in page and 'title="A feature that fails · failed' in page
    assert '<a href="https://github.com/org/repo/actions/runs/42">' in page
    assert "GitHub Actions #7" in page
    assert f"spec-harness run {CI_SPECS} --reports" in page  # the command that ran
    assert (
        f"<code>spec-harness run --last-failed --reports {tmp_path / 'r'}</code> or "
        "<code>spec-harness run tests/specs/ci/Fails.feature.md</code>"
    ) in page
    summary = (tmp_path / "r" / "summary.md").read_text()
    assert "Run them again: `spec-harness run --last-failed --reports" in summary
    messages = (tmp_path / "r" / "messages.ndjson").read_text().splitlines()
    meta = json.loads(messages[0])["meta"]
    assert meta["ci"] == {
        "name": "GitHub Actions",
        "url": "https://github.com/org/repo/actions/runs/42",
        "buildNumber": "7",
        "git": {
            "remote": "https://github.com/org/repo",
            "revision": "0123456789abcdef",
            "branch": "main",
        },
    }


def test_timeline_lanes_hold_runs_that_overlap():
    from harness.report.html import timeline
    from harness.report.results import FeatureResult, RunResult

    def feature(name: str, start: float, took: float) -> FeatureResult:
        return FeatureResult(
            id=name,
            path=f"{name}.feature.md",
            title=name,
            name=name,
            status="passed",
            started=start,
            duration=took,
        )

    runs = [feature("a", 0, 4), feature("b", 1, 1), feature("c", 2.5, 1), feature("d", 4, 2)]
    lanes = timeline(RunResult(started=0, duration=6, feature_runs=runs), {})
    assert [[bar.name for bar in lane] for lane in lanes] == [["a", "d"], ["b", "c"]]
    assert lanes[0][1].left == 100 * 4 / 6 and lanes[0][1].width == 100 * 2 / 6


def test_ci_build_links_from_the_ci_variables():
    from harness.environment import ci_build, rerun_command

    assert ci_build(
        {
            "GITLAB_CI": "true",
            "CI_JOB_URL": "https://gitlab.example/j/5",
            "CI_PIPELINE_IID": "12",
            "CI_COMMIT_SHA": "abc",
        }
    ) == {
        "name": "GitLab CI",
        "url": "https://gitlab.example/j/5",
        "buildNumber": "12",
        "revision": "abc",
    }
    assert ci_build({"BUILD_URL": "https://jenkins.example/job/x/3/", "BUILD_NUMBER": "3"}) == {
        "name": "Jenkins",
        "url": "https://jenkins.example/job/x/3/",
        "buildNumber": "3",
    }
    assert ci_build({}) is None
    assert rerun_command("reports", ["specs/a b.feature.md"]) == [
        "spec-harness run --last-failed",
        "spec-harness run 'specs/a b.feature.md'",
    ]
    assert rerun_command(None, ["specs/a.feature.md"]) == ["spec-harness run specs/a.feature.md"]
    assert rerun_command("out", []) == []
