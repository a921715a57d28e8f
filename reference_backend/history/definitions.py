"""The LwM2M objects of hello.nrfcloud.com (PMAP lwm2m/142xx.xml, 14301, 14401): their
version and resource types, which decide what the history keeps."""

from __future__ import annotations

OBJECT_VERSION = "1.0"  # every PMAP object is at 1.0
TIMESTAMP_RESOURCE = "99"  # every PMAP object keeps its time (Unix seconds) there
GEOLOCATION = 14201  # kept by the location history instead (BE storeObjectsInTimestream.ts)

_F, _I, _S, _B, _T = "Float", "Integer", "String", "Boolean", "Time"
# ObjectID -> resource ID -> type
RESOURCE_TYPES: dict[int, dict[str, str]] = {
    14201: {"0": _F, "1": _F, "2": _F, "3": _F, "4": _F, "5": _F, "6": _S, "99": _T},
    14202: {"0": _I, "1": _F, "2": _F, "3": _F, "4": _I, "5": _I, "99": _T},
    14203: {"0": _S, "1": _I, "2": _I, "3": _I, "4": _I, "5": _I, "6": _S, "11": _I, "99": _T},
    14204: {"0": _S, "1": _S, "2": _S, "3": _S, "4": _S, "5": _S, "99": _T},
    14205: {"0": _F, "1": _F, "2": _F, "10": _I, "99": _T},
    14210: {"0": _F, "1": _F, "99": _T},
    14220: {"99": _T},
    14230: {"0": _F, "1": _S, "99": _T},
    14240: {"0": _I, "1": _I, "2": _I, "99": _T},
    14250: {"0": _I, "99": _T},
    14301: {"0": _I, "1": _B, "99": _T},
    14401: {"0": _S, "99": _T},
}


def is_object_id(object_id: int) -> bool:
    return object_id in RESOURCE_TYPES


def numeric_resources(object_id: int) -> list[str]:
    """The Integer and Float resources of an object, in ID order: what the history keeps
    (BE lwm2m/isNumeric.ts: no statistics over strings, booleans or times)."""
    return sorted(
        (r for r, t in RESOURCE_TYPES.get(object_id, {}).items() if t in (_I, _F)), key=int
    )
