"""SenML records as CBOR with the RFC 8428 §6 integer labels, as a device sends them over
CoAP. The steps and the hand-sending tools encode with this; the mock itself only wraps
what it receives."""

from __future__ import annotations

from typing import Any

import cbor2

# RFC 8428 §6, Table 4
LABELS: dict[str, int] = {
    "bver": -1,
    "bn": -2,
    "bt": -3,
    "bu": -4,
    "bv": -5,
    "bs": -6,
    "n": 0,
    "u": 1,
    "v": 2,
    "vs": 3,
    "vb": 4,
    "s": 5,
    "t": 6,
    "ut": 7,
    "vd": 8,
}


def encode(records: Any) -> bytes:
    """CBOR of SenML records (a JSON array of objects). Names without a label are left out,
    since a device could not send them; ValueError when `records` is not SenML-shaped."""
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError("SenML must be a JSON array of objects (records)")
    return cbor2.dumps(
        [{LABELS[name]: value for name, value in r.items() if name in LABELS} for r in records]
    )
