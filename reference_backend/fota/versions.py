"""Semantic versions and the upgrade-path keys that select a bundle for a reported version.

A key is `1.2.3` (that exact version) or a range `<1.2.3`, `<=1.2.3`, `>1.2.3`, `>=1.2.3`.
Pure functions only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KEY_PATTERN = re.compile(r"^(<=|>=|<|>)?(\d+\.\d+\.\d+)$")
_VERSION = re.compile(
    r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$"
)


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    def compare(self, other: Version) -> int:
        """-1, 0 or 1, by semver precedence (a pre-release sorts before its release)."""
        a = (self.major, self.minor, self.patch)
        b = (other.major, other.minor, other.patch)
        if a != b:
            return -1 if a < b else 1
        return _compare_prerelease(self.prerelease, other.prerelease)


def parse_version(text: str) -> Version | None:
    """`1.2.3`, `v1.2.3`, `1.2.3-rc.1`, `1.2.3+build`; None for anything else.
    (Devices report e.g. `2.0.1`; modem firmware `mfw_nrf91x1_2.0.1` is cut before this.)"""
    match = _VERSION.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    return Version(int(major), int(minor), int(patch), tuple(pre.split(".")) if pre else ())


def is_valid_key(key: str) -> bool:
    return KEY_PATTERN.fullmatch(key) is not None


def key_matches(key: str, version: str) -> bool:
    """Whether the upgrade-path `key` selects the reported `version`."""
    match = KEY_PATTERN.fullmatch(key)
    if match is None:
        return False
    operator, bound_text = match.groups()
    reported = parse_version(version)
    bound = parse_version(bound_text)
    assert bound is not None  # KEY_PATTERN only lets valid versions through
    if reported is None:
        # Not a version we can order: only an exact key written the same way selects it.
        return operator is None and version.strip() == bound_text
    order = reported.compare(bound)
    if operator is None:
        return order == 0
    return {"<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0}[operator]


def select_bundle(upgrade_path: dict[str, str], version: str) -> str | None:
    """The bundle for `version`: the exact key wins; otherwise the first matching range in
    the order the client wrote them (JSON objects keep their order)."""
    for key, bundle in upgrade_path.items():
        if key[:1] not in ("<", ">") and key_matches(key, version):
            return bundle
    for key, bundle in upgrade_path.items():
        if key[:1] in ("<", ">") and key_matches(key, version):
            return bundle
    return None


def _compare_prerelease(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    if a == b:
        return 0
    if not a:
        return 1  # 1.0.0 > 1.0.0-rc.1
    if not b:
        return -1
    for x, y in zip(a, b, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit() != y.isdigit():
            return -1 if x.isdigit() else 1  # numeric identifiers sort first
        return -1 if x < y else 1
    return -1 if len(a) < len(b) else 1
