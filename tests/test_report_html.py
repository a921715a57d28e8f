"""index.html's fast paths for plain steps and scenarios, held to the template macros
they stand for, byte for byte."""

from __future__ import annotations

import pytest
from support.reports import SPECS, play

from harness.report import html
from harness.report.results import FeatureResult, ScenarioResult, StepResult


def module(anchor, is_open=True):
    return (
        html._environment()
        .get_template("report.html.j2")
        .make_module(
            vars={"anchor": anchor, "icon": html._ICON, "scenario_open": lambda f, s: is_open}
        )
    )


def macro(feature, scenario, step, anchor) -> str:
    return str(module(anchor).step_block(feature, scenario, step))


def anchor(_item) -> str:
    return "f1-s2-3"


def test_every_plain_step_of_a_run_renders_as_the_macro_does():
    run = play(SPECS / "reports").result
    plain = other = 0
    for feature in run.feature_runs:
        for scenario in feature.scenarios:
            for step in scenario.steps:
                fast = html.plain_step(feature, scenario, step, anchor)
                if fast is None:
                    other += 1
                    continue
                plain += 1
                assert str(fast) == macro(feature, scenario, step, anchor)
    assert plain > 5 and other > 5  # both paths were exercised


@pytest.mark.parametrize(
    "step",
    [
        StepResult(
            id="s",
            keyword="Given",
            kind="given",
            text='a `<x>` & "q" ` odd',
            line=5,
            status="passed",
            ran=True,
            duration=0.0012,
            resolved='a `<x>` & "q" ` odd',
        ),
        StepResult(
            id="s",
            keyword="And",
            kind="given",
            text="b",
            line=7,
            status="skipped",
            reason="step on line 5 failed",
        ),
        StepResult(
            id="s",
            keyword="Then",
            kind="then",
            text="c",
            line=9,
            status="skipped",
            ran=True,
            reason="same as the scenario's",
        ),
        StepResult(
            id="s",
            keyword="Soon",
            kind="soon",
            text="d",
            line=9,
            status="failed",
            ran=True,
            duration=float("nan"),
        ),
    ],
)
def test_odd_plain_steps_render_as_the_macro_does(step):
    feature = FeatureResult(id="f", path="a <b>.feature.md", title="T", name="T")
    scenario = ScenarioResult(
        id="f/1", title="S", name="S", line=3, kind="scenario", reason="same as the scenario's"
    )
    fast = html.plain_step(feature, scenario, step, anchor)
    assert fast is not None and str(fast) == macro(feature, scenario, step, anchor)


def plain(line: int) -> StepResult:
    return StepResult(
        id=f"s{line}",
        keyword="Given",
        kind="given",
        text=f"a `{line}` & <b>",
        line=line,
        status="passed",
        ran=True,
        duration=0.001,
    )


@pytest.mark.parametrize("is_open", [True, False])
@pytest.mark.parametrize(
    "scenario",
    [
        ScenarioResult(
            id="f/1",
            title='A <title> & "more"',
            name="n",
            line=3,
            kind="scenario",
            keyword="Scenario",
            status="passed",
            ran=True,
            duration=0.01,
            steps=[plain(5), plain(7)],
        ),
        ScenarioResult(
            id="f/1",
            title="Background",
            name="Background",
            line=3,
            kind="background",
            status="passed",
            ran=True,
            duration=0.0,
            steps=[plain(5)],
        ),
        ScenarioResult(
            id="f/1",
            title="No keyword",
            name="n",
            line=3,
            kind="scenario",
            status="passed",
            ran=True,
            steps=[],
        ),
    ],
)
def test_plain_scenarios_render_as_the_macro_does(scenario, is_open):
    feature = FeatureResult(id="f", path="p.feature.md", title="T", name="T", tags=["a", "<b>"])
    fast = html.plain_scenario(feature, scenario, anchor, is_open)
    assert fast is not None
    assert str(fast) == str(module(anchor, is_open).scenario_block(feature, scenario))


def test_every_plain_scenario_of_a_run_renders_as_the_macro_does():
    run = play(SPECS / "reports").result
    plain_count = 0
    for feature in run.feature_runs:
        for scenario in feature.scenarios:
            fast = html.plain_scenario(feature, scenario, anchor, True)
            if fast is not None:
                plain_count += 1
                assert str(fast) == str(module(anchor).scenario_block(feature, scenario))
    assert plain_count >= 2  # the Backgrounds of the passing runs
