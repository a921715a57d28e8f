"""Who may talk to the mock: the ``Host`` check, admin CORS, and redaction.

The mock runs on developers' laptops, where any web page the developer visits can send
requests to ``127.0.0.1``. Three rules keep such pages out:

- **Host**: a request whose ``Host`` is not a loopback name (``localhost``,
  ``127.0.0.0/8``, ``[::1]``), the address the mock was told to bind, or one given
  with ``--allowed-host`` is refused with 403. This defeats DNS rebinding, where a
  page's own host name is made to resolve to 127.0.0.1 (the browser then sends
  ``Host: attacker.example``).
- **Admin origins**: the admin API (``/__admin/...``) and the bridge feed
  (``/__bridge/...``) send no CORS headers, and refuse (403) any request a browser
  marks as coming from another origin (an ``Origin`` that is not the mock's own, or
  ``Sec-Fetch-Site: cross-site``/``same-site``), unless its origin is in
  ``--admin-origin``. Refusing, not only leaving CORS out, matters: a page can send a
  "simple" POST (``text/plain``) without a preflight, and the mock would act on it.
- **Redaction**: ``Authorization`` values never leave the mock in a journal view
  (``Bearer <redacted>``; the entry's ``account`` names the account by its id, never by
  the key: accounts.py).

Mocked paths keep CORS open to any origin, without credentials: that is what
frontend developers run the mock for.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

from mock_nrfcloud.problems import Problem

# Header names (lower case) whose values are secrets.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization"})
REDACTED = "<redacted>"

_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})
_WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "*"})
# Accepted Host values are remembered (the hot path checks a set); bounded.
_CACHE_MAX = 256


def redact(name: str, value: str) -> str:
    """The header value to show: a secret keeps its scheme only (``Bearer <redacted>``)."""
    if name.lower() not in SECRET_HEADERS:
        return value
    scheme, space, _ = value.strip().partition(" ")
    return f"{scheme} {REDACTED}" if space else REDACTED


def _host_name(host: str) -> str:
    """``host[:port]`` or ``[v6]:port`` -> the name or address, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


def is_loopback(name: str) -> bool:
    """``localhost``, ``*.localhost`` (RFC 6761), or a loopback address."""
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Guard:
    """The ``Host`` and admin-origin rules of one mock (see the module docstring)."""

    def __init__(
        self,
        *,
        allowed_hosts: Iterable[str] = (),
        admin_origins: Iterable[str] = (),
        bind_host: str | None = None,
    ) -> None:
        hosts = {_host_name(h) for h in allowed_hosts}
        self.any_host = "*" in hosts
        if bind_host is not None and bind_host.lower() not in _WILDCARD_BINDS:
            hosts.add(_host_name(bind_host if ":" not in bind_host else f"[{bind_host}]"))
        self.allowed_hosts = frozenset(hosts)
        self.admin_origins = frozenset(o.rstrip("/").lower() for o in admin_origins)
        self._accepted: set[str] = set()

    def host_allowed(self, host: str | None) -> bool:
        """Whether a request with this ``Host`` header may be served (None: no header)."""
        if host is None or self.any_host or host in self._accepted:
            return True
        name = _host_name(host)
        if not (is_loopback(name) or name in self.allowed_hosts):
            return False
        if len(self._accepted) >= _CACHE_MAX:
            self._accepted.clear()
        self._accepted.add(host)
        return True

    def check_host(self, request: web.Request) -> None:
        """Raise a 403 problem for a foreign ``Host``."""
        host = request.headers.get("Host")
        if not self.host_allowed(host):
            raise foreign_host(host)

    def admin_origin(self, request: web.Request) -> str | None:
        """The origin to grant CORS on an admin route, or None; 403 for a foreign page.

        Same-origin requests (the dashboard) pass without CORS headers; a request
        without ``Origin`` (curl, the Python client) passes too.
        """
        self.check_host(request)
        headers = request.headers
        origin = headers.get("Origin")
        if origin is not None:
            lowered = origin.rstrip("/").lower()
            if lowered in self.admin_origins:
                return origin
            own = f"{request.scheme}://{headers.get('Host', '')}".lower()
            if lowered != own:
                raise cross_origin(origin)
            return None
        site = headers.get("Sec-Fetch-Site")
        if site is not None and site.lower() in ("cross-site", "same-site"):
            raise cross_origin(None)
        return None


def foreign_host(host: str | None) -> Problem:
    return Problem(
        403,
        "Forbidden host",
        f"the Host {host!r} is not a loopback name; start the mock with"
        " --allowed-host NAME to serve it (a guard against DNS rebinding)",
        field="Host",
        kind="forbidden-host",
    )


def cross_origin(origin: str | None) -> Problem:
    shown = repr(origin) if origin else "another site"
    return Problem(
        403,
        "Cross-origin admin call",
        f"the admin API does not answer pages of {shown}; start the mock with"
        " --admin-origin ORIGIN to allow one",
        field="Origin",
        kind="cross-origin",
    )


GUARD_KEY = web.AppKey("mock_nrfcloud.guard", Guard)

__all__ = ["GUARD_KEY", "REDACTED", "SECRET_HEADERS", "Guard", "is_loopback", "redact"]
