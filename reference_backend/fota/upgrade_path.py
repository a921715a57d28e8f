"""Validation of a FOTA request and the device's eligibility for it. Pure functions only.

The rules are BACKEND.md's: the body is `{"upgradePath": {key: bundleId, ...}}` with at
least one entry; the device must list the target in 14401 and report the version that
the keys are matched against (14204).
"""

from __future__ import annotations

import re
from typing import Any

from reference_backend.fota.versions import is_valid_key
from reference_backend.lwm2m_types import LwM2MObject
from reference_backend.shadow.lwm2m import DEVICE_INFORMATION, FOTA, resource

# bundle IDs look like `APP*1e29dfa3*v2.0.1`: type, 8 alphanumerics, anything
BUNDLE_TYPES = ("APP", "MODEM", "BOOT", "SOFTDEVICE", "BOOTLOADER", "MDM_FULL")
BUNDLE_PATTERN = re.compile(r"^(" + "|".join(BUNDLE_TYPES) + r")\*[0-9A-Za-z]{8}\*.*$", re.DOTALL)

# which bundle types a target takes, and which 14401 entries make a device eligible
TARGET_BUNDLE_TYPES = {"app": ("APP",), "modem": ("MODEM", "MDM_FULL")}
TARGET_FOTA_TYPES = {"app": ("APP",), "modem": ("MODEM", "MDM_FULL")}

MAX_ENTRIES = 100
MAX_LENGTH = 256


class InvalidRequest(ValueError):
    """The request cannot be served as asked (a 400); the message says why."""


def validate_body(body: Any, target: str) -> dict[str, str]:
    """The upgrade path of a `POST /device/{id}/fota/{target}` body, or InvalidRequest."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object with an `upgradePath`.")
    path = body.get("upgradePath")
    if path is None:
        raise InvalidRequest("`upgradePath` is missing.")
    if not isinstance(path, dict):
        raise InvalidRequest("`upgradePath` must be an object of version -> bundle ID.")
    if not path:
        raise InvalidRequest("`upgradePath` must have at least one entry.")
    if len(path) > MAX_ENTRIES:
        raise InvalidRequest(f"`upgradePath` may have at most {MAX_ENTRIES} entries.")
    for key, bundle in path.items():
        if len(key) > MAX_LENGTH or not is_valid_key(key):
            raise InvalidRequest(
                f"`upgradePath` key {_quote(key)} is not a version (`1.2.3`) or a range"
                " (`<1.2.3`, `<=1.2.3`, `>1.2.3`, `>=1.2.3`)."
            )
        if (
            not isinstance(bundle, str)
            or len(bundle) > MAX_LENGTH
            or not BUNDLE_PATTERN.fullmatch(bundle)
        ):
            raise InvalidRequest(
                f"`upgradePath[{_quote(key)}]` must be a bundle ID like `APP*1e29dfa3*v2.0.1`"
                f" (type {'|'.join(BUNDLE_TYPES)}, `*`, 8 alphanumerics, `*`, the rest)."
            )
        bundle_type = bundle.split("*", 1)[0]
        if bundle_type not in TARGET_BUNDLE_TYPES[target]:
            raise InvalidRequest(
                f"Bundle {_quote(bundle)} is of type {bundle_type}, which does not fit a {target}"
                f" update (expected {' or '.join(TARGET_BUNDLE_TYPES[target])})."
            )
    return dict(path)


def reported_version(objects: dict[int, LwM2MObject], target: str) -> str | None:
    """The version the device reports for `target`: appVersion for app, and for modem the
    part of modemFirmware after its last `_` (`mfw_nrf91x1_2.0.1` -> `2.0.1`)."""
    if target == "app":
        value = resource(objects, DEVICE_INFORMATION, "3")
    else:
        value = resource(objects, DEVICE_INFORMATION, "2")
        if isinstance(value, str):
            value = value.rsplit("_", 1)[-1]
    return value if isinstance(value, str) and value.strip() else None


def eligible_version(objects: dict[int, LwM2MObject] | None, target: str) -> str:
    """The reported version to match against, or InvalidRequest when the device cannot take
    a `target` update."""
    if not objects:
        raise InvalidRequest("The device has not reported its state yet, so it cannot be updated.")
    fota_types = resource(objects, FOTA, "0")
    wanted = TARGET_FOTA_TYPES[target]
    if not isinstance(fota_types, list) or not any(t in fota_types for t in wanted):
        raise InvalidRequest(
            f"The device does not support {target} updates: it does not list"
            f" {' or '.join(wanted)} in its supported FOTA types (14401)."
        )
    version = reported_version(objects, target)
    if version is None:
        which = "appVersion" if target == "app" else "modemFirmware"
        raise InvalidRequest(
            f"The device has not reported its {which} (14204), so no bundle can be chosen."
        )
    return version


def _quote(text: str) -> str:
    shown = text if len(text) <= 40 else text[:37] + "..."
    return "`" + shown + "`"
