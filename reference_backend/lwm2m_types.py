"""The two forms LwM2M data takes in the backend, and the one conversion between them.

A module of its own so that the store (which saves shadows) and the shadow conversion
(which makes them from nRF Cloud's) both import it, and neither the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# `{"ObjectID": int, "ObjectVersion"?: str, "ObjectInstanceID"?: int, "Resources": {...}}`
LwM2MObject = dict[str, Any]
# The LwM2M shadow form (REAL-SUITE.md §2.2): {"<ObjectID>:<ObjectVersion>": {"<instance>":
# {"<resource>": value}}}, as in nRF Cloud's `state.*.lwm2m` and the backend's own shadow.
ShadowSide = dict[str, dict[str, dict[str, Any]]]


def objects_to_shadow(objects: Iterable[LwM2MObject]) -> ShadowSide:
    """LwM2M objects in the shadow form; ObjectVersion defaults to 1.0, instance to 0."""
    side: ShadowSide = {}
    for o in objects:
        key = f"{o['ObjectID']}:{o.get('ObjectVersion') or '1.0'}"
        instance = str(o.get("ObjectInstanceID") or 0)
        side.setdefault(key, {})[instance] = dict(o["Resources"])
    return side
