"""Device JWTs: what the steps sign (with the corpus's key) and what the backend accepts."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from reference_backend.jwt import (
    DEVICE_JWT_CONTEXT,
    InvalidJWT,
    MapKeys,
    jwks_url,
    parse_jwks,
    verify_device_jwt,
)
from steps.jwt import load_private_key, random_public_device_id, sign_device_jwt

KID = "48edc40e-0d5a-4f3b-a8f2-e3e157f79867"
# exactly as in ResourceHistoryJWT.feature.md: an EC PARAMETERS block, then the key
CORPUS_PEM = """-----BEGIN EC PARAMETERS-----
BgUrgQQAIw==
-----END EC PARAMETERS-----
-----BEGIN EC PRIVATE KEY-----
MIHcAgEBBEIAOrlZ3ie+Xjsi0EsPLAONxDvYSfuOWZQnTzMifvsilRiLze4Zq3I+
6YJt95T9O5BM5+BRWO7QU10VPOtHDcGnDeSgBwYFK4EEACOhgYkDgYYABAHBRbay
lOo5Og2vCbDHKaNrQMGkw35RZNkeiLdnuHyUL4x6X7NW/e3LX219MiiR3bYjJDwr
KVRvYGFTBGzjZqy8nwAsBc+r4aaIFpVjkHPWaWYej4NUjn8WKSuuTtS3VUZEhORj
d0jqKe99Cb5R20zBr5X1RvgOADQg4H41M97t3kWQ6w==
-----END EC PRIVATE KEY-----
"""
# the spec's JWKS key: the public half of CORPUS_PEM
CORPUS_PUBLIC_PEM = (
    "-----BEGIN PUBLIC KEY-----\nMIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQBwUW2spTqOToNrwmwxymja0DBpMN+\n"
    "UWTZHoi3Z7h8lC+Mel+zVv3ty19tfTIokd22IyQ8KylUb2BhUwRs42asvJ8ALAXP\n"
    "q+GmiBaVY5Bz1mlmHo+DVI5/Fikrrk7Ut1VGRITkY3dI6invfQm+UdtMwa+V9Ub4\n"
    "DgA0IOB+NTPe7d5FkOs=\n-----END PUBLIC KEY-----\n"
)
NOW = 1_730_000_000


def payload(device_id: str = "map-d952c1bb", **more: Any) -> dict[str, Any]:
    return {
        "@context": DEVICE_JWT_CONTEXT,
        "id": "eugubian-deignous-texthand",
        "deviceId": device_id,
        "model": "thingy91x",
        **more,
    }


def part(token: str, index: int) -> Any:
    text = token.split(".")[index]
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwks(*entries: tuple[str, ec.EllipticCurvePrivateKey]) -> dict[str, Any]:
    return {
        "@context": "https://datatracker.ietf.org/doc/html/rfc7517",
        "keys": [
            {"alg": "ES512", "kid": kid, "use": "sig", "key": public_pem(key)}
            for kid, key in entries
        ],
    }


def public_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def corpus_key() -> ec.EllipticCurvePrivateKey:
    return load_private_key(CORPUS_PEM, KID)


def test_the_corpus_key_loads_and_its_public_half_is_the_specs(corpus_key: Any) -> None:
    assert corpus_key.curve.name == "secp521r1"
    assert public_pem(corpus_key) == CORPUS_PUBLIC_PEM


def test_keys_that_are_not_ec_private_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="no PEM `PRIVATE KEY` block"):
        load_private_key(CORPUS_PUBLIC_PEM, "k")
    with pytest.raises(ValueError, match="not a private key"):
        load_private_key(
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", "k"
        )


def test_the_signed_token_is_what_jsonwebtoken_gives(corpus_key: Any) -> None:
    token = sign_device_jwt(corpus_key, KID, payload(aud="hello.nrfcloud.com"), now=NOW)
    assert json.loads(part(token, 0)) == {"alg": "ES512", "typ": "JWT", "kid": KID}
    claims = json.loads(part(token, 1))
    assert list(claims) == ["@context", "id", "deviceId", "model", "iat", "exp", "aud"]
    assert claims["iat"] == NOW and claims["exp"] == NOW + 3600
    assert claims["aud"] == "hello.nrfcloud.com"
    assert len(part(token, 2)) == 132  # r||s, 66 bytes each (RFC 7518 §3.4), not DER
    assert verify_device_jwt(token, {KID: corpus_key.public_key()}, NOW).device_id == (
        "map-d952c1bb"
    )


def test_the_audience_defaults_and_can_be_given(corpus_key: Any) -> None:
    assert json.loads(part(sign_device_jwt(corpus_key, KID, payload(), NOW), 1))["aud"] == (
        "hello.nrfcloud.com"
    )
    other = sign_device_jwt(corpus_key, KID, payload(aud="elsewhere"), NOW)
    assert json.loads(part(other, 1))["aud"] == "elsewhere"


def test_random_public_device_ids() -> None:
    ids = {random_public_device_id() for _ in range(20)}
    assert len(ids) == 20
    assert all(re.fullmatch(r"[a-z]{8}-[a-z]{8}-[a-z]{8}", i) for i in ids)


def test_the_map_backends_key_form_is_read(corpus_key: Any) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    keys = parse_jwks(
        {
            "keys": [
                {"alg": "ES512", "kid": KID, "use": "sig", "key": CORPUS_PUBLIC_PEM},
                {"alg": "ES256", "kid": "p256", "key": public_pem(other)},  # not ES512
                {"alg": "ES512", "kid": "broken", "key": "not a PEM"},
                {"kid": 5},
            ]
        }
    )
    assert list(keys) == [KID]
    with pytest.raises(InvalidJWT, match="no `keys` list"):
        parse_jwks({"keys": {}})


def test_the_jwks_url_is_relative_to_the_map_api() -> None:
    assert jwks_url("http://127.0.0.1:1/api.nordicsemi.world") == (
        "http://127.0.0.1:1/api.nordicsemi.world/2024-04-15/.well-known/jwks.json"
    )
    assert jwks_url("https://x.example/") == "https://x.example/2024-04-15/.well-known/jwks.json"
    assert jwks_url(None) == "https://api.nordicsemi.world/2024-04-15/.well-known/jwks.json"


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda k, o: sign_device_jwt(o, KID, payload(), NOW), "Signature verification failed"),
        (lambda k, o: sign_device_jwt(k, KID, payload(), NOW - 3600), "expired"),
        (lambda k, o: sign_device_jwt(k, KID, payload(), NOW - 3599), ""),  # still valid
        (lambda k, o: sign_device_jwt(k, KID, payload(aud="elsewhere"), NOW), "(?i)audience"),
        (lambda k, o: sign_device_jwt(k, "unknown", payload(), NOW), "No public key found"),
        (lambda k, o: sign_device_jwt(k, KID, payload(model="PCA20065"), NOW), "`model`"),
        (lambda k, o: sign_device_jwt(k, KID, payload(id="Not-Public"), NOW), "`id`"),
        (lambda k, o: sign_device_jwt(k, KID, payload("a/b"), NOW), "`deviceId`"),
        (lambda k, o: sign_device_jwt(k, KID, {**payload(), "@context": "x"}, NOW), "@context"),
        (lambda k, o: "e30.e30.e30" + "A" * 30, "does not decode|No key ID"),
        (lambda k, o: "not a token at all, not at all, no", "does not decode"),
    ],
)
def test_verification_refuses(corpus_key: Any, make: Any, why: str) -> None:
    other = ec.generate_private_key(ec.SECP521R1())
    token = make(corpus_key, other)
    keys = {KID: corpus_key.public_key()}
    if not why:
        assert verify_device_jwt(token, keys, NOW).model == "thingy91x"
        return
    with pytest.raises(InvalidJWT, match=why):
        verify_device_jwt(token, keys, NOW)


def test_a_token_signed_with_another_algorithm_is_refused(corpus_key: Any) -> None:
    import jwt

    token = jwt.encode(
        payload(aud="hello.nrfcloud.com", exp=NOW + 60),
        "secret" * 11,
        algorithm="HS512",
        headers={"kid": KID},
    )
    with pytest.raises(InvalidJWT, match="alg"):
        verify_device_jwt(token, {KID: corpus_key.public_key()}, NOW)


@pytest.fixture
async def map_api() -> AsyncIterator[dict[str, Any]]:
    """A map API on a loopback port serving `state["jwks"]` and counting the calls."""
    state: dict[str, Any] = {"jwks": {"keys": []}, "calls": 0, "status": 200}

    async def serve(request: web.Request) -> web.Response:
        state["calls"] += 1
        return web.json_response(state["jwks"], status=state["status"])

    app = web.Application()
    app.router.add_get("/api.nordicsemi.world/2024-04-15/.well-known/jwks.json", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}/api.nordicsemi.world"
    try:
        yield state
    finally:
        await runner.cleanup()


async def test_keys_are_fetched_again_for_an_unknown_key_id(
    map_api: dict[str, Any], corpus_key: Any
) -> None:
    second = ec.generate_private_key(ec.SECP521R1())
    async with aiohttp.ClientSession() as session:
        keys = MapKeys(session, map_api["url"], clock=lambda: NOW)
        with pytest.raises(InvalidJWT, match="No public key found"):
            await asyncio.wait_for(keys.verify(sign_device_jwt(corpus_key, KID, payload(), NOW)), 5)
        assert map_api["calls"] == 1
        map_api["jwks"] = jwks((KID, corpus_key))
        claims = await keys.verify(sign_device_jwt(corpus_key, KID, payload(), NOW))
        assert claims.device_id == "map-d952c1bb" and map_api["calls"] == 2
        await keys.verify(sign_device_jwt(corpus_key, KID, payload(), NOW))
        assert map_api["calls"] == 2  # known now
        # a rotated key: fetched again; the key taken out is no longer accepted
        map_api["jwks"] = jwks(("second", second))
        await keys.verify(sign_device_jwt(second, "second", payload(), NOW))
        with pytest.raises(InvalidJWT, match="No public key found"):
            await keys.verify(sign_device_jwt(corpus_key, KID, payload(), NOW))


async def test_a_failing_map_api_keeps_the_known_keys(
    map_api: dict[str, Any], corpus_key: Any
) -> None:
    map_api["jwks"] = jwks((KID, corpus_key))
    async with aiohttp.ClientSession() as session:
        keys = MapKeys(session, map_api["url"], clock=time.time)
        await keys.verify(sign_device_jwt(corpus_key, KID, payload()))
        map_api["status"] = 500
        with pytest.raises(InvalidJWT, match="No public key found for key ID x"):
            await keys.verify(sign_device_jwt(corpus_key, "x", payload()))
        await keys.verify(sign_device_jwt(corpus_key, KID, payload()))
