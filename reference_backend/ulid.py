"""ULIDs (https://github.com/ulid/spec), the IDs of 2024-04-17 FOTA jobs and SenML
imports: 48 bits of milliseconds and 80 random bits, in Crockford's base32, 26
characters. They sort by creation time, as the real backend's IDs do."""

from __future__ import annotations

import secrets
import time

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 26


def new_ulid(now_ms: int | None = None, randomness: int | None = None) -> str:
    """A new ULID; the arguments are for tests (time in ms, the 80 random bits)."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    if not 0 <= ms < 1 << 48:
        raise ValueError(f"a ULID's time must fit 48 bits of milliseconds, got {ms}")
    bits = secrets.randbits(80) if randomness is None else randomness
    value = (ms << 80) | (bits & ((1 << 80) - 1))
    chars = []
    for _ in range(LENGTH):
        chars.append(CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_ulid(text: object) -> bool:
    """The real backend's check (REAL-SUITE.md §2.7): 26 characters of the alphabet."""
    return isinstance(text, str) and len(text) == LENGTH and all(c in CROCKFORD for c in text)
