"""Planner: needs, order, run only/never, selection, variants."""

import pytest

from harness.plan import Selection, make_plan
from harness.spec.errors import SpecErrors
from harness.spec.parser import parse_text
from harness.tags import TagExpressionError, parse_tag_expression


def feature(path, title, front="", scenarios=("S",)):
    body = "".join(f"## {s}\n\nGiven x\n\n" for s in scenarios)
    head = f"---\n{front}---\n\n" if front else ""
    return parse_text(f"{head}# {title}\n\n{body}", path)


def ids(plan):
    return [r.run_id for r in plan.runs]


def test_needs_come_first_and_pass_as_deps():
    a = feature("a.md", "A", "needs:\n  - B\n")
    b = feature("b.md", "B")
    plan = make_plan([a, b])
    assert ids(plan) == ["b.md", "a.md"]
    assert plan.runs[1].deps == ["b.md"]


def test_unknown_need_and_cycle_are_named():
    with pytest.raises(SpecErrors, match="needs 'Bee', but no feature has that title"):
        make_plan([feature("a.md", "A", "needs:\n  - Bee\n"), feature("b.md", "B")])
    with pytest.raises(SpecErrors, match=r"cycle: 'A' -> 'B' -> 'A'|cycle: 'B' -> 'A' -> 'B'"):
        make_plan(
            [feature("a.md", "A", "needs:\n  - B\n"), feature("b.md", "B", "needs:\n  - A\n")]
        )


def test_order_first_and_last():
    plan = make_plan(
        [
            feature("a.md", "A", "order: last\n"),
            feature("b.md", "B"),
            feature("z.md", "Z", "order: first\n"),
        ]
    )
    assert ids(plan) == ["z.md", "b.md", "a.md"]
    first, middle, last = plan.runs
    assert middle.after == ["z.md"] and set(last.after) == {"z.md", "b.md"}
    assert first.after == []


def test_run_never_skips_dependents_transitively():
    plan = make_plan(
        [
            feature("a.md", "A", "run: never\n"),
            feature("b.md", "B", "needs:\n  - A\n"),
            feature("c.md", "C", "needs:\n  - B\n"),
            feature("d.md", "D"),
        ]
    )
    reasons = {r.run_id: r.skip_reason for r in plan.runs}
    assert reasons["a.md"] == "marked `run: never`"
    assert "which is marked `run: never`" in reasons["b.md"]
    assert "which is marked `run: never`" in reasons["c.md"]
    assert reasons["d.md"] is None


def test_run_only_keeps_what_it_needs():
    plan = make_plan(
        [
            feature("a.md", "A", "run: only\nneeds:\n  - B\n"),
            feature("b.md", "B"),
            feature("c.md", "C"),
        ]
    )
    assert ids(plan) == ["b.md", "a.md"]


def test_variants_give_one_run_each():
    plan = make_plan(
        [
            feature("v.md", "V", "variants:\n  - nw: ltem\n  - nw: nbiot\n"),
            feature("w.md", "W", "needs:\n  - V\n"),
        ]
    )
    assert ids(plan) == ["v.md#1", "v.md#2", "w.md"]
    assert plan.runs[0].name == "V [nw=ltem]"
    assert plan.runs[2].deps == ["v.md#1", "v.md#2"]


def test_selection_by_name_tags_and_line():
    a = feature("a.md", "Alpha", "tags: [fast]\n", scenarios=("One", "Two", "Three"))
    b = feature("b.md", "Beta", "needs:\n  - Alpha\n")
    assert ids(make_plan([a, b], Selection(names=["beta"]))) == ["a.md", "b.md"]
    assert ids(make_plan([a, b], Selection(names=["alpha"]))) == ["a.md"]
    tagged = make_plan([a, b], Selection(tags=parse_tag_expression("fast and not slow")))
    assert ids(tagged) == ["a.md"]
    two = next(s for s in a.scenarios() if s.title == "Two")
    by_line = make_plan([a, b], Selection(lines={"a.md": {two.line + 2}}))
    assert [s.title for s in by_line.runs[0].scenarios] == ["One", "Two"]


def test_tag_expressions():
    p = parse_tag_expression("@a and (b or not c)")
    assert p({"a", "b"}) and p({"a"}) and not p({"a", "c"}) and not p({"b"})
    for bad in ("", "a and", "(a", "a b", "and"):
        with pytest.raises(TagExpressionError):
            parse_tag_expression(bad)
