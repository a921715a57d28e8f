"""`--load FILE`: devices to register at start-up, from the top-level `devices:` list of a
YAML or JSON file (the mock nRF Cloud's example file has one), so that the mock and this
backend started with the same file are a working local stack."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from reference_backend.devices import DEVICE_ID_PATTERN, MODEL_PATTERN, UNSUPPORTED, is_fingerprint


class LoadError(ValueError):
    pass


@dataclass(frozen=True)
class DeviceEntry:
    id: str
    fingerprint: str
    model: str
    account: str | None  # None: the default account (none at all for `unsupported`)


def read_devices(path: str | Path) -> list[DeviceEntry]:
    """The `devices:` of the file; LoadError naming the file and entry for anything wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LoadError(f"{path}: cannot be read: {e}") from e
    try:
        document = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as e:
        raise LoadError(f"{path}: is not YAML or JSON: {e}") from e
    if document is None:
        return []
    if not isinstance(document, dict):
        raise LoadError(f"{path}: the top level must be a mapping with a `devices` list")
    entries = document.get("devices")
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise LoadError(f"{path}: `devices` must be a list")
    devices: list[DeviceEntry] = []
    seen_ids: set[str] = set()
    seen_fingerprints: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"{path}: devices[{index}]"
        if not isinstance(entry, dict):
            raise LoadError(f"{where}: must be a mapping with id, fingerprint and model")
        device_id, fingerprint, model = (
            entry.get("id"),
            entry.get("fingerprint"),
            entry.get("model"),
        )
        account = entry.get("account")
        if not isinstance(device_id, str) or not DEVICE_ID_PATTERN.fullmatch(device_id):
            raise LoadError(f"{where}: `id` must be a device ID like oob-352656108602296")
        if not is_fingerprint(fingerprint):
            raise LoadError(f"{where}: `fingerprint` must be a fingerprint like 92b.y7i24q")
        if not isinstance(model, str) or not MODEL_PATTERN.fullmatch(model):
            raise LoadError(f"{where}: `model` must be a model name like PCA20065")
        if account is not None and (not isinstance(account, str) or not account.strip()):
            raise LoadError(f"{where}: `account` must be an account name")
        assert isinstance(fingerprint, str)
        if device_id in seen_ids or fingerprint.lower() in seen_fingerprints:
            raise LoadError(f"{where}: the id or fingerprint is used twice")
        seen_ids.add(device_id)
        seen_fingerprints.add(fingerprint.lower())
        devices.append(
            DeviceEntry(device_id, fingerprint, model, None if model == UNSUPPORTED else account)
        )
    return devices
