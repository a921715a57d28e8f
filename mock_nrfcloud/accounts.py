"""Account ids: how the mock names an account without showing its API key.

An nRF Cloud call selects its account with ``Authorization: Bearer <key>``. The key is a
secret, and the mock's views (the journal, ``/__admin/accounts``, the live stream, the
dashboard, ``--state``, Redis) are read by anyone on the laptop or in CI logs, so the mock
keeps and shows only the account's id: ``acct-`` and the first 16 hex digits of the key's
SHA-256. The id is the same in every process and after a restart, so a state file and Redis
replicas agree on it. Calls without a key (and ``Bearer default``, the reference backend's
placeholder) belong to the account ``default``; a third-party host's account is the id of
the host name.

The keys are mapped at the boundaries only (the serving path, the admin API's
``account``, the bridge feed); the stores see ids. The admin API takes either: a value of
the id form is the id, any other value is a key. So a bearer key of the id form could not
be addressed by its key, and serving refuses it (``bearer_refusal``).
"""

from __future__ import annotations

import hashlib
import re

DEFAULT_ACCOUNT = "default"
ID_PREFIX = "acct-"
_ID = re.compile(r"acct-[0-9a-f]{16}")
# What can follow `Bearer ` in a header and be given as the admin API's `account`.
KEY = re.compile(r"[\x21-\x7e]{1,1024}")


def account_id(key: str | None) -> str:
    """The account id of an API key (``default`` for none, or the key ``default``)."""
    if not key or key == DEFAULT_ACCOUNT:
        return DEFAULT_ACCOUNT
    return ID_PREFIX + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def is_account_id(value: str) -> bool:
    """Whether ``value`` has the form of an account id (``default`` or ``acct-<16 hex>``)."""
    return value == DEFAULT_ACCOUNT or _ID.fullmatch(value) is not None


def bearer_refusal(key: str) -> str | None:
    """Why serving refuses a bearer key (or a host name) as an account, or None.

    Refused: what the admin API cannot address by the key, that is a key with a space or a
    control character, or longer than 1024 characters, and a key of the id form (the admin
    API would take it for that id, another account).
    """
    if KEY.fullmatch(key) is None:
        return "the API key has spaces or control characters, or is longer than 1024"
    if _ID.fullmatch(key) is not None:
        return (
            "the API key has the form of a mock account id (acct-<16 hex digits>), which"
            " the admin API would take for the id, not the key: use another key"
        )
    return None


def address(value: str) -> str:
    """The account an admin call names: an id as it is, a key as its id."""
    return value if is_account_id(value) else account_id(value)


__all__ = [
    "DEFAULT_ACCOUNT",
    "ID_PREFIX",
    "KEY",
    "account_id",
    "address",
    "bearer_refusal",
    "is_account_id",
]
