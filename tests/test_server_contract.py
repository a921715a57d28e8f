"""The two servers' command lines share one written shape (reference_backend/server.py
says it): the same answers to `--help`, a bad port, a taken port and SIGTERM, and the
same rules for a JSON body. They share no code, so one table holds both to it."""

from __future__ import annotations

import json
import signal
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import aiohttp
import pytest
from support.processes import BACKEND, MOCK, run_module, server_process

from mock_nrfcloud.server import start_mock
from reference_backend.server import start_backend

SERVERS = [pytest.param(MOCK, id="mock-nrfcloud"), pytest.param(BACKEND, id="hello-backend")]
USAGE, RUNTIME = 2, 1


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize("module", SERVERS)
def test_help_exits_0_naming_the_port_option(module: str) -> None:
    result = run_module(module, "--help")
    assert result.returncode == 0
    assert "--port" in result.stdout


@pytest.mark.parametrize("module", SERVERS)
@pytest.mark.parametrize("port", ["70000", "-1", "eighty"])
def test_a_bad_port_is_a_usage_error(module: str, port: str) -> None:
    result = run_module(module, "--port", port)
    assert result.returncode == USAGE
    assert "--port" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("module", SERVERS)
def test_a_taken_port_is_a_run_time_failure(module: str, taken_port: int) -> None:
    result = run_module(module, "--port", str(taken_port))
    assert result.returncode == RUNTIME
    assert f"cannot listen on 127.0.0.1:{taken_port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("module", SERVERS)
def test_sigterm_stops_it_with_exit_0(module: str) -> None:
    with server_process(module) as server:
        assert server.url.startswith("http://127.0.0.1:")
        code, _, stderr = server.stop(signal.SIGTERM)
    assert code == 0, stderr
    assert "Traceback" not in stderr


# -- the JSON body reader's rules, on a route of each that reads one --------------------

ADMIN_TOKEN = "contract-token"


@pytest.fixture(params=SERVERS)
async def json_route(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, dict, str]]:
    """A URL that reads a JSON object body, the headers it needs, and a body it takes
    (201) with `VALUE` standing for a JSON value (the mock takes any; the backend a model
    name, so a refusal there must not be about the model)."""
    if request.param == MOCK:
        async with await start_mock() as mock:
            body = '{"method": "GET", "path": "/x", "body": {"x": VALUE}}'
            yield f"{mock.url}/__admin/responses", {}, body
    else:
        async with await start_backend(admin_token=ADMIN_TOKEN) as backend:
            headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            yield f"{backend.url}/__admin/devices", headers, '{"model": VALUE}'


async def _post(url: str, headers: dict, body: bytes) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            url, data=body, headers={**headers, "Content-Type": "application/json"}
        ) as response,
    ):
        return response.status, response.content_type, await response.text()


async def test_a_json_body_is_taken(json_route: tuple[str, dict, str]) -> None:
    url, headers, template = json_route
    status, _, text = await _post(url, headers, template.replace("VALUE", '"unsupported"').encode())
    assert status == 201, text


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lambda t: b"", id="empty"),
        pytest.param(lambda t: b"   ", id="blank"),
        pytest.param(lambda t: t.replace("VALUE", "NaN").encode(), id="NaN"),
        pytest.param(lambda t: t.replace("VALUE", "Infinity").encode(), id="Infinity"),
        pytest.param(lambda t: t.replace("VALUE", "-Infinity").encode(), id="-Infinity"),
        pytest.param(lambda t: t.replace("VALUE", "").encode(), id="truncated"),
        pytest.param(lambda t: t.replace("VALUE", '"é"').encode("latin-1"), id="not UTF-8"),
        pytest.param(lambda t: t.replace("VALUE", '"b"').encode("utf-16"), id="UTF-16"),
        pytest.param(
            lambda t: t.replace("VALUE", "[" * 100_000 + "]" * 100_000).encode(),
            id="nested too deeply",
        ),
    ],
)
async def test_a_body_that_is_not_json_is_a_400_problem(
    json_route: tuple[str, dict, str], body: Callable[[str], bytes]
) -> None:
    url, headers, template = json_route
    status, content_type, text = await _post(url, headers, body(template))
    assert status == 400, text
    assert content_type == "application/problem+json"
    assert "model" not in json.loads(text)["detail"]  # the reader refused it, not a field check
