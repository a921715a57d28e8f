"""`spec-harness report --merge A B ...`: one run's events from several event files.

The shards of one CI run, or a run and its `--last-failed` re-run, each wrote an
events.ndjson. Merged, they are one event stream as if one run had run them all: one
RunStarted whose plan is every file's feature runs (a feature run in several files is
taken from the last of them: the re-run replaces the failure), the events of each
feature run from the file that owns it, in time order, and one RunFinished. The reports
are then built from that stream by the same read model and renderers as any run, and
the merged events.ndjson is written next to them (so `--last-failed` works on it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from harness.report.writer import EVENTS, build, read_events, write_reports


def merge_events(streams: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One event stream from several (see the module docstring)."""
    owner: dict[str, int] = {}
    planned: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    starts = [next((e for e in s if e.get("type") == "run_started"), None) for s in streams]
    for index, start in enumerate(starts):
        for run in (start or {}).get("plan") or []:
            run_id = run.get("run_id")
            if run_id not in planned:
                order.append(run_id)
            owner[run_id] = index
            planned[run_id] = run
    present = [s for s in starts if s]
    if not present:
        return []
    times = [e["time"] for s in streams for e in s if isinstance(e.get("time"), int | float)]
    begin = min(times) if times else None
    end = max(times) if times else None
    started = {
        **present[0],
        "time": begin,
        "plan": [planned[i] for i in order],
        "paths": list(dict.fromkeys(p for s in present for p in s.get("paths") or [])),
        "jobs": max((s.get("jobs") or 0) for s in present),
    }
    started["environment"] = {
        **(present[0].get("environment") or {}),
        "merged": f"{len(streams)} event files",
    }
    body = [
        e
        for index, stream in enumerate(streams)
        for e in stream
        if e.get("type") not in ("run_started", "run_finished")
        and owner.get(e.get("run_id")) == index
    ]  # type: ignore[arg-type]
    body.sort(key=lambda e: e.get("time") or 0.0)  # stable: each file's order holds
    finishes = [next((e for e in s if e.get("type") == "run_finished"), None) for s in streams]
    events = [started, *body]
    if all(finishes):
        # Failed when a feature run failed in the file that owns it (a re-run that
        # passed makes the merged run pass, whatever the first file said).
        failed = any(
            e.get("type") == "feature_finished" and e.get("status") == "failed" for e in body
        )
        interrupted = any(f.get("interrupted") for f in finishes)  # type: ignore[union-attr]
        counts: dict[str, int] = {}
        for f in finishes:
            for key, n in ((f or {}).get("counts") or {}).items():
                counts[key] = counts.get(key, 0) + n
        events.append(
            {
                "type": "run_finished",
                "time": end,
                "status": "interrupted" if interrupted else "failed" if failed else "passed",
                "duration": (end - begin) if begin is not None and end is not None else 0.0,
                "counts": counts,
                "interrupted": interrupted,
                "exit_code": 130 if interrupted else 1 if failed else 0,
            }
        )
    return events


def merge_files(paths: list[Path], reports_dir: Path) -> list[Path]:
    """Merge event files into `reports_dir`: events.ndjson and every report."""
    events = merge_events([read_events(p) for p in paths])
    reports_dir.mkdir(parents=True, exist_ok=True)
    target = reports_dir / EVENTS
    temporary = target.with_name(f".{EVENTS}.tmp")
    with open(temporary, "wb") as out:
        for event in events:
            out.write(orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS) + b"\n")
    temporary.replace(target)
    return [target, *write_reports(build(target), reports_dir)]
