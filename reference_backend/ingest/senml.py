"""SenML (RFC 8428) as devices send it: JSON records, or CBOR with the integer labels.

Pure functions only. The CBOR labels are those of RFC 8428 §6 (and PMAP
`senml/fromCBOR.ts`): unknown labels are dropped, as PMAP does.
"""

from __future__ import annotations

import base64
from typing import Any

import cbor2

# RFC 8428 §6, Table 4
CBOR_LABELS: dict[int, str] = {
    -1: "bver",
    -2: "bn",
    -3: "bt",
    -4: "bu",
    -5: "bv",
    -6: "bs",
    0: "n",
    1: "u",
    2: "v",
    3: "vs",
    4: "vb",
    5: "s",
    6: "t",
    7: "ut",
    8: "vd",
}
LABELS_BY_NAME: dict[str, int] = {name: label for label, name in CBOR_LABELS.items()}

DECODE_FAILED = "Failed to decode payload as SenML!"

SenMLRecord = dict[str, Any]


class SenMLDecodeError(ValueError):
    pass


def encode_cbor(records: list[SenMLRecord]) -> bytes:
    """SenML records as CBOR with the integer labels; names without a label are dropped
    (a device could not send them either)."""
    return cbor2.dumps(
        [
            {
                LABELS_BY_NAME[name]: value
                for name, value in record.items()
                if name in LABELS_BY_NAME
            }
            for record in records
        ]
    )


def decode_cbor(data: bytes) -> list[SenMLRecord]:
    """The SenML records of a CBOR payload; SenMLDecodeError when it is not a CBOR array of
    maps."""
    try:
        decoded = cbor2.loads(data)
    except Exception as e:  # cbor2 raises several types (CBORDecodeError, ValueError, ...)
        raise SenMLDecodeError(f"{DECODE_FAILED} ({type(e).__name__}: {e})") from e
    if not isinstance(decoded, list) or not all(isinstance(r, dict) for r in decoded):
        raise SenMLDecodeError(f"{DECODE_FAILED} (not an array of records)")
    return [
        {CBOR_LABELS[k]: _plain(v) for k, v in record.items() if k in CBOR_LABELS}
        for record in decoded
    ]


def check_json(payload: Any) -> list[SenMLRecord]:
    """A SenML JSON payload as records; SenMLDecodeError when it is not an array of objects."""
    if not isinstance(payload, list) or not all(isinstance(r, dict) for r in payload):
        raise SenMLDecodeError(f"{DECODE_FAILED} (not an array of records)")
    return payload


def _plain(value: Any) -> Any:
    # The import log is JSON: a CBOR byte string (`vd`) becomes base64url text, the form
    # RFC 8428 §5 gives data values in SenML JSON.
    if isinstance(value, bytes):
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")
    return value
