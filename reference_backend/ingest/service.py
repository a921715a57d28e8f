"""One ingest path for everything nRF Cloud's message bridge delivers (REAL-SUITE.md §2.1),
dispatching by topic like BE's IoT rules:

- `m/d/<id>/d2c/raw` (`{"data": <base64 SenML CBOR>}`, CoAP) and `m/d/<id>/d2c/senml`
  (SenML JSON, MQTT): SenML -> LwM2M -> import log -> one `lwm2m/object/update` per
  object to the device's connections -> a `reported` write -> lastSeen (receive time).
- `m/d/<id>/d2c` with an nRF Cloud library GNSS message: 14201 -> a `reported` write and
  an update. BE writes only the shadow; GNSS.md expects the update too (a documented
  deviation). GNSS messages do not count for lastSeen.

A message for a device that is not in the delivering account is dropped: accounts never
see each other's devices.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from typing import Any

from reference_backend.contexts import OBJECT_UPDATE
from reference_backend.hub import Hub
from reference_backend.ingest.imports import ImportLog
from reference_backend.ingest.lwm2m import gnss_to_lwm2m, senml_to_lwm2m
from reference_backend.ingest.senml import DECODE_FAILED, SenMLDecodeError, check_json, decode_cbor
from reference_backend.lwm2m_types import LwM2MObject
from reference_backend.shadow.service import ShadowService
from reference_backend.store import Store

log = logging.getLogger(__name__)

_DEVICE_TOPIC = re.compile(r"^m/d/(?P<id>[^/]+)/d2c(?P<rest>(/.*)?)$")


def object_update(o: LwM2MObject) -> dict[str, Any]:
    """The `lwm2m/object/update` message of an object, without absent members."""
    message: dict[str, Any] = {"@context": OBJECT_UPDATE, "ObjectID": o["ObjectID"]}
    for member in ("ObjectInstanceID", "ObjectVersion"):
        if o.get(member) is not None:
            message[member] = o[member]
    message["Resources"] = o["Resources"]
    return message


class IngestService:
    def __init__(self, store: Store, hub: Hub, shadows: ShadowService, imports: ImportLog):
        self._store = store
        self._hub = hub
        self._shadows = shadows
        self.imports = imports

    async def ingest(self, account: str, topic: str, payload: Any, received_at: str) -> None:
        """Handle one bridge message of `account`; `topic` without the team prefix."""
        match = _DEVICE_TOPIC.fullmatch(topic)
        if match is None:
            log.debug("account %s: no rule for the topic %s", account, topic)
            return
        device_id, rest = match["id"], match["rest"]
        device = self._store.device(device_id)
        if device is None or device.account != account:
            log.debug("account %s: dropping a message of the unknown device %s", account, device_id)
            return
        if rest == "/raw":
            await self._senml(device_id, _cbor_records(payload), received_at)
        elif rest == "/senml":
            await self._senml(device_id, _json_records(payload), received_at)
        elif rest == "":
            gnss = gnss_to_lwm2m(payload)
            if gnss is not None:
                await self._publish(device_id, [gnss])
        else:
            log.debug("account %s: no rule for the topic %s", account, topic)

    async def _senml(self, device_id: str, records: tuple[Any, str | None], at: str) -> None:
        senml, error = records
        self._store.put_last_seen(device_id, at)
        if error is not None:
            self.imports.add(device_id, senml, errors=[error])
            return
        conversion = senml_to_lwm2m(senml)
        if conversion.error is not None:
            self.imports.add(device_id, senml, errors=[conversion.error])
            return
        self.imports.add(device_id, senml, conversion.objects)
        await self._publish(device_id, conversion.objects)

    async def _publish(self, device_id: str, objects: list[LwM2MObject]) -> None:
        for o in objects:
            await self._hub.send(device_id, object_update(o))
        await self._shadows.write_reported(device_id, objects)


def _cbor_records(payload: Any) -> tuple[Any, str | None]:
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, str):
        return None, DECODE_FAILED
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None, DECODE_FAILED
    try:
        return decode_cbor(raw), None
    except SenMLDecodeError as e:
        log.debug("%s", e)
        return None, DECODE_FAILED


def _json_records(payload: Any) -> tuple[Any, str | None]:
    try:
        return check_json(payload), None
    except SenMLDecodeError:
        return payload, DECODE_FAILED
