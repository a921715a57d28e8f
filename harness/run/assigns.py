r"""Which context names a step sets, so `check` knows them before anything runs.

A step sentence that captures a group named `name` sets the context value of that name
(`I store ... into \`<name>\``, `I have a random ... in \`<name>\``, `I have a JWT in
\`<name>\` ...`): the library's convention, and all most steps need. A step that sets
more says so with an `assigns` attribute on its function, templates of the sentence's
named groups (`("{name}", "{name}_deviceId")`); the library's own such steps are listed
in EXTRA below by sentence, so the step modules carry no harness-only markup.
"""

from __future__ import annotations

from typing import Any

# Sentence start -> further names set, as templates of the sentence's named groups.
EXTRA: dict[str, tuple[str, ...]] = {
    "^I have the fingerprint for": ("{name}_deviceId",),  # steps/devices.py
}


def assigned_names(pattern: str, func: Any, kwargs: dict[str, Any]) -> list[str]:
    """The context names a matched step sets; [] when it declares none."""
    declared = getattr(func, "assigns", None)
    if declared is not None:
        templates = tuple(declared)
    else:
        templates = ("{name}",) if "name" in kwargs else ()
        for start, more in EXTRA.items():
            if pattern.startswith(start) or pattern.startswith(start.lstrip("^")):
                templates += more
    names = []
    for template in templates:
        try:
            names.append(template.format(**{k: v for k, v in kwargs.items() if v is not None}))
        except (KeyError, IndexError, ValueError):
            continue  # a template naming a group this sentence did not capture
    return names
