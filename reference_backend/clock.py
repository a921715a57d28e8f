"""Time on the wire: `YYYY-MM-DDTHH:MM:SS.sssZ` (JavaScript's toISOString), and ULIDs."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso(datetime.now(UTC))


def iso_seconds(text: str) -> float:
    """Seconds since the epoch of an ISO timestamp (`Z` or an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def ulid(ms: int | None = None) -> str:
    """A ULID: 48 bits of milliseconds and 80 random bits, in Crockford's base32 (26
    characters); IDs made later sort later (to the millisecond)."""
    value = ((ms if ms is not None else int(time.time() * 1000)) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))
