"""Device IDs and fingerprints: their shapes, generating them, and finding a device for a
request (404 for an unknown device, 403 for a fingerprint that is not the device's)."""

from __future__ import annotations

import re
import secrets

from aiohttp import web

from reference_backend.problems import Problem, forbidden, not_found
from reference_backend.store import Device, Store

# PROTO `fingerprint/generateCode.ts` draws from these (no l, no o); `isFingerprint.ts`
# accepts them case-insensitively, `i` included (REAL-SUITE.md §2.9 H0.3).
FINGERPRINT_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
FINGERPRINT_PATTERN = re.compile(r"^[A-F0-9]+\.[ABCDEFGHIJKMNPQRSTUVWXYZ2-9]{6}$", re.IGNORECASE)
# Device IDs end up comma-separated in nRF Cloud's `deviceIds` query and in URL paths, so
# commas, slashes and whitespace are kept out.
DEVICE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
MODEL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._+-]{0,63}$")
UNSUPPORTED = "unsupported"
DEFAULT_ACCOUNT = "nordic"


def is_fingerprint(text: object) -> bool:
    return isinstance(text, str) and len(text) <= 64 and FINGERPRINT_PATTERN.match(text) is not None


def new_fingerprint() -> str:
    """`92b.` and 6 characters of the fingerprint alphabet, as the production QR codes have."""
    return "92b." + "".join(secrets.choice(FINGERPRINT_ALPHABET) for _ in range(6))


def new_device_id() -> str:
    """`oob-` and a random IMEI (15 digits starting `35`), like the out-of-box devices."""
    return "oob-35" + "".join(secrets.choice("0123456789") for _ in range(13))


def device_for_request(store: Store, request: web.Request) -> Device:
    """The device of a `/device/{id}/...` request whose `fingerprint` query parameter is the
    device's; a 404 or 403 problem otherwise."""
    device_id = request.match_info["id"]
    device = store.device(device_id)
    if device is None:
        raise not_found(f"There is no device with the ID {device_id!r}.")
    fingerprint = request.query.get("fingerprint")
    if not fingerprint:
        raise forbidden("The `fingerprint` query parameter is missing.")
    if fingerprint.lower() != device.fingerprint.lower():
        raise forbidden("The `fingerprint` query parameter is not this device's fingerprint.")
    return device


def device_for_fingerprint(
    store: Store, fingerprint: str | None, *, refuse_with: int | None = None
) -> Device:
    """The device with that fingerprint. Otherwise a problem: 400 when the parameter is
    missing or malformed, 404 when no device has it; or `refuse_with` for all three (the
    websocket refuses every one of them with 403)."""
    if not fingerprint:
        raise Problem(refuse_with or 400, "The `fingerprint` query parameter is missing.")
    if not is_fingerprint(fingerprint):
        raise Problem(
            refuse_with or 400,
            "The `fingerprint` query parameter is not a fingerprint (like `92b.y7i24q`).",
        )
    device = store.device_by_fingerprint(fingerprint)
    if device is None:
        raise Problem(refuse_with or 404, "No device has this fingerprint.")
    return device
