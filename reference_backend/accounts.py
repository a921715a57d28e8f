"""nRF Cloud accounts: the shape of their fields (shared by the admin API, the CLI and
`--load`)."""

from __future__ import annotations

import re

from yarl import URL

ACCOUNT_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$")
# The key goes into an HTTP header: printable ASCII, no spaces.
API_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,2000}$")


def endpoint_problem(endpoint: object) -> str | None:
    """Why `endpoint` cannot be an nRF Cloud API endpoint, or None when it can."""
    if not isinstance(endpoint, str) or not endpoint.isascii() or len(endpoint) > 2000:
        return "must be an http(s) URL"
    try:
        url = URL(endpoint)
    except ValueError:
        return "must be an http(s) URL"
    if url.scheme not in ("http", "https") or not url.host:
        return "must be an http(s) URL like https://api.nrfcloud.com"
    if url.query_string or url.fragment:
        return "must not have a query or fragment"
    return None


def normalize_endpoint(endpoint: str) -> str:
    return endpoint.rstrip("/")
