"""Conversion of an nRF Cloud device shadow into the LwM2M objects the web app shows.

Pure functions only. The mapping is BACKEND.md's: 14401 (FOTA), 14204 (device
information) and 14203 (connection information); an object whose source is
missing in the shadow is left out.
"""

from __future__ import annotations

from typing import Any

from reference_backend.lwm2m_types import LwM2MObject, ShadowSide

FOTA = 14401
DEVICE_INFORMATION = 14204
CONNECTION_INFORMATION = 14203


# nRF Cloud reports metadata timestamps in seconds; anything this large can only be
# milliseconds, so it is scaled down rather than reported as a date 50,000 years ahead.
_MILLISECONDS_FROM = 100_000_000_000

# (resource ID, key in deviceInfo)
_DEVICE_INFO_RESOURCES = (
    ("0", "imei"),
    ("2", "modemFirmware"),
    ("3", "appVersion"),
    ("4", "board"),
)
# (resource ID, key in networkInfo); 5 (mccmnc) is converted separately
_NETWORK_INFO_RESOURCES = (
    ("0", "networkMode"),
    ("1", "currentBand"),
    ("2", "rsrp"),
    ("3", "areaCode"),
    ("4", "cellID"),
    ("6", "ipAddress"),
    ("11", "eest"),
)


def shadow_to_objects(state: Any) -> list[LwM2MObject]:
    """The LwM2M objects for the `state` of an nRF Cloud shadow item, in ObjectID order
    14401, 14204, 14203. Anything that is not shaped as expected is treated as missing."""
    reported = _dict(_get(state, "reported", "device"))
    meta = _dict(_get(state, "metadata", "reported", "device"))
    objects: list[LwM2MObject] = []

    service_info = _dict(reported.get("serviceInfo"))
    if "fota_v2" in service_info:
        resources: dict[str, Any] = {"0": service_info["fota_v2"]}
        _add_ts(resources, _get(meta, "serviceInfo", "fota_v2"))
        objects.append(_object(FOTA, resources))

    device_info = reported.get("deviceInfo")
    if isinstance(device_info, dict):
        resources = {}
        for resource, key in _DEVICE_INFO_RESOURCES:
            if device_info.get(key) is not None:
                resources[resource] = device_info[key]
        timestamps = [_get(meta, "deviceInfo")]
        iccid = _get(reported, "simInfo", "iccid")
        if iccid is not None:
            resources["1"] = iccid
            timestamps.append(_get(meta, "simInfo", "iccid"))
        _add_ts(resources, timestamps)
        objects.append(_object(DEVICE_INFORMATION, dict(sorted(resources.items(), key=_by_id))))

    network_info = reported.get("networkInfo")
    if isinstance(network_info, dict):
        resources = {}
        for resource, key in _NETWORK_INFO_RESOURCES:
            if network_info.get(key) is not None:
                resources[resource] = network_info[key]
        mccmnc = _as_int(network_info.get("mccmnc"))
        if mccmnc is not None:
            resources["5"] = mccmnc
        _add_ts(resources, _get(meta, "networkInfo"))
        objects.append(_object(CONNECTION_INFORMATION, dict(sorted(resources.items(), key=_by_id))))

    return objects


def largest_timestamp(metadata: Any) -> int | None:
    """The largest integer `timestamp` anywhere under `metadata`, in seconds."""
    best: int | None = None
    stack = [metadata]
    while stack:  # iterative: a hostile shadow must not be able to exhaust the recursion limit
        node = stack.pop()
        if isinstance(node, dict):
            ts = node.get("timestamp")
            if isinstance(ts, int) and not isinstance(ts, bool):
                seconds = ts // 1000 if ts >= _MILLISECONDS_FROM else ts
                best = seconds if best is None else max(best, seconds)
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    return best


def objects_by_id(objects: list[LwM2MObject]) -> dict[int, LwM2MObject]:
    return {o["ObjectID"]: o for o in objects}


def resource(objects: dict[int, LwM2MObject], object_id: int, resource_id: str) -> Any:
    """A resource value, or None when the object or the resource is missing."""
    obj = objects.get(object_id)
    if obj is None:
        return None
    return obj["Resources"].get(resource_id)


def _object(object_id: int, resources: dict[str, Any]) -> LwM2MObject:
    return {"ObjectID": object_id, "ObjectVersion": "1.0", "Resources": resources}


def _add_ts(resources: dict[str, Any], metadata: Any) -> None:
    ts = largest_timestamp(metadata)
    if ts is not None:
        resources["99"] = ts


def _get(node: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _dict(node: Any) -> dict[str, Any]:
    return node if isinstance(node, dict) else {}


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def _by_id(item: tuple[str, Any]) -> int:
    return int(item[0])


def side_to_objects(side: ShadowSide) -> list[LwM2MObject]:
    """The LwM2M objects of a shadow side: ObjectVersion from the key, ObjectInstanceID
    only when above 0 (PMAP `lwm2m/aws/shadowToObjects.ts`)."""
    objects: list[LwM2MObject] = []
    for key, instances in side.items():
        object_id, _, version = key.partition(":")
        if not object_id.isdigit() or not isinstance(instances, dict):
            continue  # lenient: what cannot be an object is not shown
        for instance, resources in instances.items():
            if not isinstance(resources, dict):
                continue
            o: LwM2MObject = {"ObjectID": int(object_id), "ObjectVersion": version or "1.0"}
            if str(instance).isdigit() and int(instance) > 0:
                o["ObjectInstanceID"] = int(instance)
            o["Resources"] = dict(resources)
            objects.append(o)
    return objects


def merged(side: ShadowSide, update: ShadowSide) -> ShadowSide:
    """`side` with `update` written over it, resource by resource (a shadow update)."""
    result = {key: {i: dict(r) for i, r in instances.items()} for key, instances in side.items()}
    for key, instances in update.items():
        target = result.setdefault(key, {})
        for instance, resources in instances.items():
            target.setdefault(instance, {}).update(resources)
    return result


def side_diff(current: ShadowSide, update: ShadowSide) -> ShadowSide:
    """What of `update` is new against `current` (REAL-SUITE.md §2.2): a new key or instance
    whole; else the changed resources plus the timestamp (99). An instance whose only change
    is the timestamp is left out, and the timestamp never goes down."""
    diff: ShadowSide = {}
    for key, instances in update.items():
        if not isinstance(instances, dict):
            continue
        known = current.get(key)
        for instance, resources in instances.items():
            if not isinstance(resources, dict):
                continue
            old = known.get(instance) if known is not None else None
            if old is None:
                diff.setdefault(key, {})[instance] = dict(resources)
                continue
            changed = {
                r: v for r, v in resources.items() if r != "99" and old.get(r, _MISSING) != v
            }
            if not changed:
                continue
            if "99" in resources:
                changed["99"] = _later(old.get("99"), resources["99"])
            diff.setdefault(key, {})[instance] = changed
    return diff


def newer_than(objects: list[LwM2MObject], seconds: float | None) -> list[LwM2MObject]:
    """The objects whose timestamp (99) is after `seconds` (all when None); objects
    without a numeric timestamp are kept."""
    if seconds is None:
        return objects
    return [o for o in objects if not _is_number(ts := o["Resources"].get("99")) or ts > seconds]


_MISSING = object()


def _later(old: Any, new: Any) -> Any:
    if _is_number(old) and _is_number(new) and old > new:
        return old
    return new


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
