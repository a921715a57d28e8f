"""JWTs as the hello.nrfcloud.com/map backend issues them for publicly shared devices:
private keys by key ID, signed device tokens, and random public device IDs."""

from __future__ import annotations

import secrets
import string
import time
from typing import TYPE_CHECKING, Any

from behave import step, use_step_matcher

from harness.run.context import StepContext
from steps.common import code_block, json_block

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

# PyJWT and cryptography are imported where a key is read or a token signed: together
# they take ~45 ms to import, which every run would pay at start-up for steps most
# specs never use.

use_step_matcher("re")

# The audience the backend checks (BE jwt/validateDeviceJWT.ts); the payload's `aud` wins.
DEFAULT_AUDIENCE = "hello.nrfcloud.com"
LIFETIME_SECONDS = 3600  # jsonwebtoken's `expiresIn: '1h'` in BE feature-runner/steps/jwt.ts
_KEYS = "jwt_private_keys"  # ctx.state: key ID -> private key, for this feature run


def load_private_key(pem: str, kid: str) -> ec.EllipticCurvePrivateKey:
    """The EC private key of a PEM block. OpenSSL's `ecparam -genkey` output starts with an
    `EC PARAMETERS` block; only the `PRIVATE KEY` block is read."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    start = pem.find("-----BEGIN ")
    while start != -1 and "PRIVATE KEY-----" not in pem[start : pem.find("\n", start)]:
        start = pem.find("-----BEGIN ", start + 1)
    if start == -1:
        raise ValueError(f"the code block for the key `{kid}` holds no PEM `PRIVATE KEY` block")
    try:
        key = load_pem_private_key(pem[start:].encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the PEM block for the key `{kid}` is not a private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"the key `{kid}` is not an EC key (ES512 needs one on P-521)")
    return key


def sign_device_jwt(
    key: ec.EllipticCurvePrivateKey, kid: str, payload: dict[str, Any], now: float | None = None
) -> str:
    """ES512 with the header {alg, typ, kid}; the claims are the payload without `aud`, then
    `iat`, `exp` (an hour later) and `aud` (the payload's, else hello.nrfcloud.com), in the
    order jsonwebtoken writes them. The signature is r||s (JWS), not DER."""
    import jwt

    claims = {k: v for k, v in payload.items() if k != "aud"}
    iat = int(time.time() if now is None else now)
    claims.update(iat=iat, exp=iat + LIFETIME_SECONDS, aud=payload.get("aud", DEFAULT_AUDIENCE))
    return jwt.encode(
        claims,
        key,
        algorithm="ES512",
        headers={"alg": "ES512", "typ": "JWT", "kid": kid},
        sort_headers=False,
    )


def random_public_device_id() -> str:
    """The map's public device ID form, `^[a-z]{8}-[a-z]{8}-[a-z]{8}$`."""
    return "-".join(
        "".join(secrets.choice(string.ascii_lowercase) for _ in range(8)) for _ in range(3)
    )


@step(r"this is the JWT private key for the key `(?P<kid>[^`]+)`")
def private_key(ctx: StepContext, kid: str) -> None:
    """Keep the PEM private key of the code block under its key ID, for this feature run."""
    ctx.state.setdefault(_KEYS, {})[kid] = load_private_key(code_block(ctx), kid)


@step(
    r"I have a JWT in `(?P<name>[^`]+)` signed with the key `(?P<kid>[^`]+)` and with this "
    r"payload"
)
def device_jwt(ctx: StepContext, name: str, kid: str) -> None:
    """Sign the JSON payload with the key of that ID (ES512, valid one hour) into `<name>`."""
    key = ctx.state.get(_KEYS, {}).get(kid)
    if key is None:
        raise ValueError(
            f"no private key for the key ID `{kid}`: give it first with "
            f"'this is the JWT private key for the key `{kid}`'"
        )
    payload = json_block(ctx)
    if not isinstance(payload, dict):
        raise ValueError(f"the JWT payload must be a JSON object, not {type(payload).__name__}")
    ctx.vars[name] = sign_device_jwt(key, kid, payload)
    ctx.log.progress(ctx.vars[name])


@step(r"I have a random map public device id in `(?P<name>[^`]+)`")
def public_device_id(ctx: StepContext, name: str) -> None:
    """Three random 8-letter lowercase words joined by `-`, as the map backend's public IDs."""
    ctx.vars[name] = random_public_device_id()


use_step_matcher("parse")
