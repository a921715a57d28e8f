"""Placeholders and JSONata: `${}`, `"$number{}"`, `<variant.x>`, and nothing-yields errors."""

import json

import pytest

from harness.expressions import (
    ExpressionError,
    find_placeholders,
    replace_angle,
    require,
    substitute,
)


def test_strings_raw_others_compact_json():
    ctx = {"s": "text", "n": 3, "f": 1.5, "b": True, "o": {"a": [1, 2]}, "z": None}
    assert substitute("${s} ${n} ${f} ${b} ${o}", ctx) == 'text 3 1.5 true {"a":[1,2]}'


def test_balanced_braces_and_strings_with_braces():
    assert substitute('${ {"a": 1}.a }', {}) == "1"
    assert substitute('${ "}" & "x" }', {}) == "}x"
    assert find_placeholders("a ${x} b ${y.z}") == [(2, 6, "x"), (9, 15, "y.z")]


def test_unclosed_placeholder_is_an_error():
    with pytest.raises(ExpressionError, match="never closed"):
        substitute("${ x", {"x": 1})


def test_nothing_names_the_missing_value():
    with pytest.raises(ExpressionError) as info:
        substitute("${fingerprint}", {"APIURL": "u"})
    assert "`fingerprint` yielded nothing" in str(info.value)
    assert "it holds: APIURL" in str(info.value)


def test_invalid_expression_is_an_error():
    with pytest.raises(ExpressionError, match="invalid expression"):
        require("a.(", {})


def test_number_placeholder_drops_the_quotes():
    assert substitute('{"n": "$number{ts}", "s": "${ts}"}', {"ts": 17}) == '{"n": 17, "s": "17"}'
    with pytest.raises(ExpressionError, match="not a number"):
        substitute('{"n": "$number{s}"}', {"s": "x"})


def test_json_strings_are_escaped_inside_json_string_literals():
    text = '{"a": "${v}", "b": ${o}}'
    out = substitute(text, {"v": 'say "hi"\n', "o": {"k": "v"}}, json_strings=True)
    assert json.loads(out) == {"a": 'say "hi"\n', "b": {"k": "v"}}


def test_angle_placeholders_first_and_html_left_alone():
    values = {"variant": {"nw": "ltem"}, "x": "1"}
    assert (
        replace_angle("<variant.nw> <x> <html> <variant.none>", values)
        == "ltem 1 <html> <variant.none>"
    )
    ctx = {"tracker": {"ltem": {"id": "dev"}}}
    assert substitute(replace_angle("${tracker.<variant.nw>.id}", values), ctx) == "dev"


def test_jsonata_functions_and_integral_floats():
    assert isinstance(require("$millis()", {}), int)
    assert require("$.jobs[0]", {"jobs": [{"id": 1}]}) == {"id": 1}
    assert require("2.0", {}) == 2


def test_dollar_without_placeholder_is_kept():
    assert substitute("costs $5 and $.x", {}) == "costs $5 and $.x"


def test_plain_names_and_jsonata_agree():
    from harness.expressions import _plain, _run, evaluate

    ctx = {"a": {"b": [1, {"c": 2}]}, "s": "x", "n": None, "t": True, "o": {"k": "v"}}
    for expr in (
        "s",
        "a.b",
        "t",
        "true",
        "false",
        "null",
        "a.b.c",
        "n",
        "missing",
        "a.missing",
        "o",
        "o.k",
        " s ",
    ):
        assert evaluate(expr, ctx) == _plain(_run(expr, ctx)), expr


def test_millis_advances_between_evaluations_after_other_expressions_compiled():
    # jsonata-python reads the timestamp of the expression compiled last: a Soon step's
    # `$millis() - t0` froze as soon as any other expression was compiled after it.
    import time

    from harness.expressions import evaluate

    t0 = evaluate("$millis()", {})
    first = evaluate("$millis() - t0", {"t0": t0})
    evaluate("$string(41 + 1)", {})  # compiled after, as the other steps of a run do
    time.sleep(0.05)
    later = evaluate("$millis() - t0", {"t0": t0})
    assert later > first
    assert evaluate("$now()", {}) > "2000"


def test_endless_recursion_is_an_expression_error():
    with pytest.raises(ExpressionError, match="nests deeper than"):
        require("($f := function($n){ 1 + $f($n+1) }; $f(0))", {})


def test_endless_tail_call_loop_stops_at_the_time_limit():
    from harness.expressions import TIME_LIMIT

    token = TIME_LIMIT.set(0.2)
    try:
        with pytest.raises(ExpressionError, match=r"ran for more than 0.2 s"):
            require("($f := function($n){ $f($n+1) }; $f(0))", {})
    finally:
        TIME_LIMIT.reset(token)
    assert require("($f := function($n){ $n < 50 ? $f($n+1) : $n }; $f(0))", {}) == 50


def test_what_jsonata_chokes_on_is_an_expression_error():
    with pytest.raises(ExpressionError, match="invalid expression `/`"):
        require("/", {})


def test_a_json_block_that_is_not_json_names_its_line():
    from harness.expressions import check_json

    check_json('{"a": 1}', "x.feature.md", 7)
    with pytest.raises(ExpressionError, match=r"^x.feature.md:9:10: the code block is not valid"):
        check_json('{\n  "a": 1,,\n}', "x.feature.md", 7)
    with pytest.raises(ExpressionError, match="nests too deeply"):
        check_json("[" * 100_000 + "]" * 100_000, "x.feature.md", 7)


def test_number_placeholder_takes_a_numeric_string():
    # bdd-markdown inserts an Examples cell's text: `"v": "$number{v}"` with v = 3.40141
    assert substitute('{"v": "$number{v}"}', {"v": "3.40141"}) == '{"v": 3.40141}'
    assert substitute('{"v": "$number{v}"}', {"v": " -2e3 "}) == '{"v": -2000.0}'
    with pytest.raises(ExpressionError, match="not a number"):
        substitute('{"v": "$number{v}"}', {"v": "3.4.1"})
