"""index.html's fast path for plain steps, held to the template macro it stands for."""

from __future__ import annotations

import pytest
from support.reports import SPECS, play

from harness.report import html
from harness.report.results import FeatureResult, ScenarioResult, StepResult


def macro(feature, scenario, step, anchor) -> str:
    module = html._environment().get_template("report.html.j2").make_module(
        vars={"anchor": anchor, "icon": html._ICON})
    return str(module.step_block(feature, scenario, step))


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


@pytest.mark.parametrize("step", [
    StepResult(id="s", keyword="Given", kind="given", text="a `<x>` & \"q\" ` odd", line=5,
               status="passed", ran=True, duration=0.0012, resolved="a `<x>` & \"q\" ` odd"),
    StepResult(id="s", keyword="And", kind="given", text="b", line=7, status="skipped",
               reason="step on line 5 failed"),
    StepResult(id="s", keyword="Then", kind="then", text="c", line=9, status="skipped",
               ran=True, reason="same as the scenario's"),
    StepResult(id="s", keyword="Soon", kind="soon", text="d", line=9, status="failed", ran=True,
               duration=float("nan")),
])
def test_odd_plain_steps_render_as_the_macro_does(step):
    feature = FeatureResult(id="f", path="a <b>.feature.md", title="T", name="T")
    scenario = ScenarioResult(id="f/1", title="S", name="S", line=3, kind="scenario",
                              reason="same as the scenario's")
    fast = html.plain_step(feature, scenario, step, anchor)
    assert fast is not None and str(fast) == macro(feature, scenario, step, anchor)
