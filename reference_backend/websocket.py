"""`GET /ws?fingerprint=<fp>` (and `/2024-04-17/ws`): a device's live connection."""

from __future__ import annotations

import logging

from aiohttp import WSMsgType, web

from reference_backend import app_keys
from reference_backend.api import device_identity
from reference_backend.clock import iso_seconds
from reference_backend.devices import device_for_fingerprint
from reference_backend.shadow.lwm2m import newer_than
from reference_backend.shadow.service import shadow_message

log = logging.getLogger(__name__)

HEARTBEAT_S = 30.0
MAX_MESSAGE_BYTES = 64 * 1024


async def connect(request: web.Request, base: str = "") -> web.WebSocketResponse:
    """`base`: the API generation the socket was opened under (see hub.py)."""
    services = request.app[app_keys.SERVICES]
    # refused before the upgrade: a client never gets a socket for a device it can't name
    device = device_for_fingerprint(
        services.store, request.query.get("fingerprint"), refuse_with=403
    )
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    try:
        await ws.send_json(device_identity(device, services.store.last_seen(device.id)))
    except (ConnectionError, RuntimeError):
        return ws  # gone before the first message
    # registered after the identity went out, so it is always the first message; the
    # shadow is read after registering, so no change can fall between the two
    services.hub.add(device.id, ws, base)
    try:
        if device.account is not None:
            services.shadows.poll_now(device.account)  # a first shadow now, not an interval later
        shadow = services.shadows.full(device.id)
        if shadow is not None:
            # the full shadow, without objects from before hideDataBefore
            hidden = device.hide_data_before
            before = iso_seconds(hidden) if hidden is not None else None
            reported, desired = (newer_than(side, before) for side in shadow)
            if reported or desired:
                await ws.send_json(shadow_message(reported, desired))
        async for message in ws:
            # The subset the specs exercise has no messages from the client; they are read
            # (so pings and closes are handled) and otherwise ignored.
            if message.type == WSMsgType.ERROR:
                log.debug("websocket of %s failed: %s", device.id, ws.exception())
    except (ConnectionError, RuntimeError):
        pass  # the client went away while we were sending
    finally:
        services.hub.remove(device.id, ws)
    return ws
