"""SenML records -> LwM2M objects, by PMAP's rules (REAL-SUITE.md §2.1), and nRF Cloud
library GNSS messages -> 14201. Pure functions only.

The first error ends the conversion, as in PMAP `senml/senMLtoLwM2M.ts`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from reference_backend.lwm2m_types import LwM2MObject

# The objects PMAP defines (lwm2m/timestampResources.ts); each keeps its time in 99.
TIMESTAMP_RESOURCES: dict[int, int] = {
    object_id: 99
    for object_id in (14201, 14202, 14203, 14204, 14205, 14210, 14220, 14230, 14240, 14250,
                      14301, 14401)
}  # fmt: skip
LOCATION = 14201
NO_OBJECTS = "No LwM2M objects found."

_RESOURCE_ID = re.compile(r"^(\d+)/(\d+)/(\d+)/(\d+)$")
_VALUE_KEYS = ("v", "vs", "vb", "vd")


class ConversionError(ValueError):
    pass


@dataclass
class Conversion:
    objects: list[LwM2MObject] = field(default_factory=list)
    error: str | None = None


def senml_to_lwm2m(records: list[dict[str, Any]]) -> Conversion:
    """The LwM2M objects of SenML records, or the error that stopped the conversion."""
    try:
        objects = _convert(records)
    except ConversionError as e:
        return Conversion(error=str(e))
    if not objects:
        return Conversion(error=NO_OBJECTS)
    return Conversion(objects=objects)


def _convert(records: list[dict[str, Any]]) -> list[LwM2MObject]:
    timestamp_only = _timestamp_only(records)
    if timestamp_only is not None:
        return [timestamp_only]
    base_name = ""
    base_time: Any = None
    current: LwM2MObject | None = None
    objects: list[LwM2MObject] = []
    for record in records:
        if record.get("bn") is not None:
            base_name = str(record["bn"])
        if record.get("bt") is not None:
            base_time = record["bt"]
        if not _has_value(record) or "n" not in record:
            continue
        path = f"{base_name}{record['n']}/0"
        match = _RESOURCE_ID.fullmatch(path)
        if match is None:
            raise ConversionError(f"Invalid resource ID: {path}")
        object_id, instance = int(match[1]), int(match[2])
        ts_resource = TIMESTAMP_RESOURCES.get(object_id)
        if ts_resource is None:
            raise ConversionError(f"No timestamp resource defined for object: {object_id}")
        if current is None or (
            base_time is not None
            and (
                current["ObjectID"] != object_id
                or current.get("ObjectInstanceID", 0) != instance
                or current["Resources"].get(str(ts_resource)) != base_time
            )
        ):
            if current is not None:
                objects.append(current)
            if base_time is None:
                raise ConversionError(f"No base time defined for object: {object_id}!")
            current = {"ObjectID": object_id, "Resources": {str(ts_resource): base_time}}
            if instance != 0:
                current["ObjectInstanceID"] = instance
            if "blv" in record:
                current["ObjectVersion"] = record["blv"]
        value = _value(record)
        if value is not None:
            current["Resources"][str(record["n"])] = value
    if current is not None:
        objects.append(current)
    return objects


def _timestamp_only(records: list[dict[str, Any]]) -> LwM2MObject | None:
    """A lone `{bn, bt}` record: an object with only its time (e.g. a button press, whose
    instance is the button)."""
    if len(records) != 1 or set(records[0]) != {"bn", "bt"}:
        return None
    match = _RESOURCE_ID.fullmatch(f"{records[0]['bn']}0/0")
    if match is None:
        return None
    object_id = int(match[1])
    ts_resource = TIMESTAMP_RESOURCES.get(object_id)
    if ts_resource is None:
        return None
    return {
        "ObjectID": object_id,
        "ObjectInstanceID": int(match[2]),
        "Resources": {str(ts_resource): records[0]["bt"]},
    }


def _has_value(record: dict[str, Any]) -> bool:
    return any(key in record for key in (*_VALUE_KEYS, "bv"))


def _value(record: dict[str, Any]) -> Any:
    if "bv" in record and "v" not in record:
        return record["bv"]
    if "bv" in record:
        try:
            return record["bv"] + record["v"]
        except TypeError:
            return None  # a device sent text where numbers belong: nothing to add up
    for key in _VALUE_KEYS:
        if key in record:
            return record[key]
    return None


def gnss_to_lwm2m(message: Any) -> LwM2MObject | None:
    """14201 v1.0 for an nRF Cloud library GNSS message (BE `nrfCloud/converter.ts`); None
    when it is not one (another appId, or lat, lng or acc missing)."""
    if not isinstance(message, dict):
        return None
    if message.get("messageType") != "DATA" or message.get("appId") != "GNSS":
        return None
    data = message.get("data")
    if not isinstance(data, dict) or not all(_number(data.get(k)) for k in ("lat", "lng", "acc")):
        return None
    resources: dict[str, Any] = {}
    for resource, key in (("0", "lat"), ("1", "lng"), ("2", "alt"), ("3", "acc"), ("4", "spd"),
                          ("5", "hdg")):  # fmt: skip
        if _number(data.get(key)):
            resources[resource] = data[key]
    resources["6"] = "GNSS"
    ts = message.get("ts")
    if _number(ts):
        resources["99"] = math.floor(ts / 1000)
    return {"ObjectID": LOCATION, "ObjectVersion": "1.0", "Resources": resources}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
