"""Third-party hosts under the mock's URL: `<mock>/<host>/<path>`.

The backend's real suite reaches every third party through one mock, with the host as the
first path segment (`<mock>/api.memfault.com/api/v0/...`, `<mock>/webhook.office.com/`).
A first segment containing a dot names a host; `api.nrfcloud.com` is nRF Cloud itself and
aliases the root. Calls to any other host belong to the mock account named after the host
(the host name is its key: the account is shown by the host name's id, accounts.py; these
calls carry no per-run API key; see README.md on how parallel runs stay apart).
"""

from __future__ import annotations

NRFCLOUD_HOST = "api.nrfcloud.com"


def route(path: str) -> tuple[str | None, str]:
    """(the host's account, or None for nRF Cloud; the path to queue and journal under).

    A third-party call keeps its whole path, host included, so the journal shows what was
    called (`POST /webhook.office.com/`); an `api.nrfcloud.com` call loses the prefix.
    """
    end = path.find("/", 1)
    segment = path[1:] if end == -1 else path[1:end]
    if "." not in segment:
        return None, path
    host = segment.lower()
    if host == NRFCLOUD_HOST:
        return None, "/" if end == -1 else path[end:]
    return host, path
