"""Device JWTs of the hello.nrfcloud.com/map backend: its public keys (fetched from the
map API's JWKS) and the verification of a token against them (REAL-SUITE.md §2.6)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

# PyJWT and cryptography (~45 ms to import) are imported where a key is read or a token
# checked, so that a backend serving no `jwt=` request never pays for them.

log = logging.getLogger(__name__)

DEFAULT_MAP_API_URL = "https://api.nordicsemi.world/"
JWKS_PATH = "2024-04-15/.well-known/jwks.json"
AUDIENCE = "hello.nrfcloud.com"
DEVICE_JWT_CONTEXT = "https://github.com/hello-nrfcloud/proto-map/device-jwt"
# PMAP api/DeviceId.ts and models/
PUBLIC_DEVICE_ID = re.compile(r"^[a-z]{8}-[a-z]{8}-[a-z]{8}$")
DEVICE_ID = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")
MODELS = frozenset({"thingy91x", "kartverket-vasstandsdata"})
JWKS_TIMEOUT = 10.0


class InvalidJWT(ValueError):
    """The token is not a valid device JWT; the message says why."""


@dataclass(frozen=True)
class DeviceClaims:
    """What a valid device JWT attests: the device `device_id` (of `model`) is shared
    publicly under `public_id`."""

    public_id: str
    device_id: str
    model: str


def jwks_url(map_api_url: str | None) -> str:
    """The JWKS location relative to the map API endpoint, as BE resolves it."""
    return (map_api_url or DEFAULT_MAP_API_URL).rstrip("/") + "/" + JWKS_PATH


def parse_jwks(document: Any) -> dict[str, ec.EllipticCurvePublicKey]:
    """Key ID -> public key. The map backend publishes `{"alg", "kid", "use", "key": <SPKI
    PEM>}` (not standard JWK members); standard EC JWKs are read too. Keys that are not
    ES512 (P-521) or do not parse are skipped, with a warning."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from jwt.algorithms import ECAlgorithm

    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise InvalidJWT("the JWKS document has no `keys` list")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("alg", "ES512") != "ES512":
            continue
        try:
            if isinstance(entry.get("key"), str):
                key = load_pem_public_key(entry["key"].encode())
            else:
                key = ECAlgorithm.from_jwk(entry)
        except (ValueError, TypeError, jwt.InvalidKeyError) as exc:
            log.warning("JWKS key %s does not parse: %s", entry["kid"], exc)
            continue
        if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp521r1":
            keys[entry["kid"]] = key
        else:
            log.warning("JWKS key %s is not a P-521 EC public key", entry["kid"])
    return keys


def verify_device_jwt(
    token: str, keys: dict[str, ec.EllipticCurvePublicKey], now: float
) -> DeviceClaims:
    """The claims of a device JWT signed (ES512) by one of `keys`, for the audience
    hello.nrfcloud.com, not expired at `now` (s), with a PMAP DeviceJWTPayload; InvalidJWT
    otherwise."""
    import jwt

    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidJWT(f"the token does not decode: {exc}") from None
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise InvalidJWT("No key ID found in JWT header")
    key = keys.get(kid)
    if key is None:
        raise InvalidJWT(f"No public key found for key ID {kid}")
    try:
        # expiry is checked below against the injected clock, not PyJWT's
        claims = jwt.decode(
            token,
            key,
            algorithms=["ES512"],
            audience=AUDIENCE,
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "require": ["exp", "aud"],
            },
        )
    except jwt.PyJWTError as exc:
        raise InvalidJWT(str(exc)) from None
    exp = claims["exp"]
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise InvalidJWT("the `exp` claim is not a number")
    if now >= exp:  # jsonwebtoken's rule: expired at exp itself
        raise InvalidJWT("jwt expired")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and not isinstance(nbf, bool) and nbf > now:
        raise InvalidJWT("jwt not active")
    return device_claims(claims)


def device_claims(claims: dict[str, Any]) -> DeviceClaims:
    """The PMAP DeviceJWTPayload checks (api/DeviceJWT.ts)."""
    problems = []
    if claims.get("@context") != DEVICE_JWT_CONTEXT:
        problems.append(f"`@context` must be {DEVICE_JWT_CONTEXT}")
    public_id, device_id, model = claims.get("id"), claims.get("deviceId"), claims.get("model")
    if not (isinstance(public_id, str) and PUBLIC_DEVICE_ID.match(public_id)):
        problems.append("`id` must match ^[a-z]{8}-[a-z]{8}-[a-z]{8}$")
    if not (isinstance(device_id, str) and DEVICE_ID.match(device_id)):
        problems.append("`deviceId` must match ^[a-zA-Z0-9:_-]{1,128}$")
    if model not in MODELS:
        problems.append(f"`model` must be one of {', '.join(sorted(MODELS))}")
    if problems:
        raise InvalidJWT("the payload is not a device JWT payload: " + "; ".join(problems))
    assert isinstance(public_id, str) and isinstance(device_id, str) and isinstance(model, str)
    return DeviceClaims(public_id, device_id, model)


class MapKeys:
    """The map backend's public keys, fetched on first use and again whenever a token names
    a key ID not known yet (keys rotate; BE fetches once per container instead)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        map_api_url: str | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self.url = jwks_url(map_api_url)
        self._clock = clock
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self._fetching: asyncio.Future[None] | None = None

    async def verify(self, token: str) -> DeviceClaims:
        """The claims of a valid device JWT; InvalidJWT otherwise."""
        import jwt

        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise InvalidJWT(f"the token does not decode: {exc}") from None
        if isinstance(kid, str) and kid not in self._keys:
            await self.refresh()
        return verify_device_jwt(token, self._keys, self._clock())

    async def refresh(self) -> None:
        """Fetch the JWKS again; requests arriving meanwhile share this one fetch. A failed
        fetch keeps the keys known so far (and is logged)."""
        if self._fetching is not None:
            await asyncio.shield(self._fetching)
            return
        self._fetching = asyncio.get_running_loop().create_future()
        try:
            self._keys = await self._fetch()  # replaced: a key taken out is no longer valid
        except InvalidJWT as exc:
            log.warning("fetching the map API's keys from %s failed: %s", self.url, exc)
        finally:
            self._fetching.set_result(None)
            self._fetching = None

    async def _fetch(self) -> dict[str, ec.EllipticCurvePublicKey]:
        try:
            async with self._session.get(
                self.url, timeout=aiohttp.ClientTimeout(total=JWKS_TIMEOUT)
            ) as response:
                status, reason, text = response.status, response.reason, await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise InvalidJWT(f"{type(exc).__name__}: {exc}") from None
        if status != 200:
            raise InvalidJWT(f"{status} {reason} ({text[:200]})")
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise InvalidJWT(f"the JWKS is not JSON: {exc}") from None
        return parse_jwks(document)
