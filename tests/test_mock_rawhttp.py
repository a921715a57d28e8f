"""Raw HTTP blocks as specs write them (mock_nrfcloud.rawhttp)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_nrfcloud.rawhttp import (
    RawHttpError,
    RawRequest,
    RawResponse,
    parse_raw_request,
    parse_raw_response,
)


def test_response_block_from_the_fota_spec() -> None:
    block = 'HTTP/1.1 200 OK\nContent-Type: application/json\n\n{"jobId": "abc"}\n'
    response = parse_raw_response(block)
    assert response == RawResponse(
        200, "OK", [("Content-Type", "application/json")], '{"jobId": "abc"}'
    )
    assert response.header("content-type") == "application/json"
    assert response.json() == {"jobId": "abc"}


def test_reason_is_optional_and_defaults_to_the_standard_phrase() -> None:
    assert parse_raw_response("HTTP/1.1 404").reason == "Not Found"
    assert parse_raw_response("HTTP/1.1 599").reason == ""
    assert parse_raw_response("HTTP/1.1 418 Short and stout").reason == "Short and stout"
    assert parse_raw_response("HTTP/2 204").status == 204


def test_body_is_kept_byte_for_byte() -> None:
    body = '{\n    "a": 1,\r\n  "b":  [1, 2]\n}\n\n  trailing spaces  '
    response = parse_raw_response("HTTP/1.1 200 OK\nX: y\n\n" + body + "\n")
    assert response.body == body


def test_only_the_blocks_own_trailing_newline_is_stripped() -> None:
    assert parse_raw_response("HTTP/1.1 200 OK\n\nabc\n\n").body == "abc\n"
    assert parse_raw_response("HTTP/1.1 200 OK\r\n\r\nabc\r\n").body == "abc"
    assert parse_raw_response("HTTP/1.1 200 OK\n\nabc").body == "abc"


def test_crlf_head_and_no_body() -> None:
    response = parse_raw_response("HTTP/1.1 204 No Content\r\nX-A: 1\r\nX-B: 2\r\n")
    assert response.headers == [("X-A", "1"), ("X-B", "2")]
    assert response.body == ""
    assert response.json() is None


def test_header_values_may_contain_colons_and_names_repeat() -> None:
    response = parse_raw_response(
        "HTTP/1.1 200 OK\nLocation: https://api.nrfcloud.com:443/v1/x\nSet-Cookie: a=1\n"
        "Set-Cookie: b=2\n\n"
    )
    assert response.header("location") == "https://api.nrfcloud.com:443/v1/x"
    assert [v for k, v in response.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert response.header("missing") is None


def test_request_block_from_the_fota_spec() -> None:
    block = (
        "POST /v1/fota-jobs HTTP/1.1\nContent-Type: application/json\n\n"
        '{"bundleId":"APP*1e29dfa3*v2.0.1","autoApply":true,"deviceIdentifiers":["oob-1"]}\n'
    )
    request = parse_raw_request(block)
    assert isinstance(request, RawRequest)
    assert (request.method, request.path, request.query) == ("POST", "/v1/fota-jobs", {})
    assert request.json() == {
        "bundleId": "APP*1e29dfa3*v2.0.1",
        "autoApply": True,
        "deviceIdentifiers": ["oob-1"],
    }


def test_request_query_version_optional_absolute_url_and_decoding() -> None:
    request = parse_raw_request("GET /v1/devices?deviceIds=a%2Cb&includeState=true")
    assert request.path == "/v1/devices"
    assert request.query == {"deviceIds": "a,b", "includeState": "true"}
    assert parse_raw_request("GET https://api.nrfcloud.com/v1/x?y=1 HTTP/1.1").path == "/v1/x"
    assert parse_raw_request("GET /v1/firmwares/APP%2Aabc HTTP/1.1").path == "/v1/firmwares/APP*abc"


def test_leading_blank_lines_are_tolerated_and_counted() -> None:
    assert parse_raw_response("\n\nHTTP/1.1 200 OK\n").status == 200
    with pytest.raises(RawHttpError) as caught:
        parse_raw_response("\nHTTP/1.1 200 OK\nbroken header\n")
    assert caught.value.line == 3


@pytest.mark.parametrize(
    ("block", "line", "words"),
    [
        ("", 1, "empty"),
        ("   \n\n", 1, "empty"),
        ("HTTP/1.1 OK", 1, "status line"),
        ("200 OK", 1, "status line"),
        ("HTTP/1.1 99 Low", 1, "100 to 599"),
        ("HTTP/1.1 200 OK\nContent-Type application/json\n\n{}", 2, "Name: value"),
        ("HTTP/1.1 200 OK\nA: 1\nBad Name: x\n", 3, "header name"),
        ("HTTP/1.1 200 OK\n folded: x\n", 2, "header name"),
    ],
)
def test_response_errors_name_the_line(block: str, line: int, words: str) -> None:
    with pytest.raises(RawHttpError) as caught:
        parse_raw_response(block)
    assert caught.value.line == line
    assert words in caught.value.message
    assert str(caught.value).startswith(f"line {line}: ")


@pytest.mark.parametrize(
    ("block", "line", "words"),
    [
        ("HTTP/1.1 200 OK", 1, "request line"),
        ("post /v1/x HTTP/1.1", 1, "upper-case"),
        ("GET v1/x HTTP/1.1", 1, "start with `/`"),
        ("GET /v1/x HTTP/1.1\nNoColon\n", 2, "Name: value"),
    ],
)
def test_request_errors_name_the_line(block: str, line: int, words: str) -> None:
    with pytest.raises(RawHttpError) as caught:
        parse_raw_request(block)
    assert caught.value.line == line
    assert words in caught.value.message


def test_declared_json_that_does_not_parse_points_at_the_body_line() -> None:
    response = parse_raw_response(
        'HTTP/1.1 200 OK\nContent-Type: application/json\n\n{\n  "a": ,\n}'
    )
    with pytest.raises(RawHttpError) as caught:
        response.json()
    assert caught.value.line == 5
    assert "declared JSON" in caught.value.message


def test_undeclared_non_json_body_is_not_json() -> None:
    assert parse_raw_response("HTTP/1.1 200 OK\n\nhello").json() is None
    assert parse_raw_response("HTTP/1.1 200 OK\n\n[1, 2]").json() == [1, 2]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_gives_a_located_error(text: str) -> None:
    for parse in (parse_raw_response, parse_raw_request):
        try:
            message = parse(text)
        except RawHttpError as error:
            assert error.line >= 1
        else:
            assert isinstance(message.body, str)
