"""Parallel feature runs never see each other: websocket messages and the mock's journal."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGISTERED = re.compile(r"registered \S+ device (\S+) \((\S+)\)")


def test_twenty_fota_runs_in_parallel_stay_isolated(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    for i in range(20):
        shutil.copy(ROOT / "specs" / "FOTA.feature.md", specs / f"FOTA-{i:02d}.feature.md")
    reports = tmp_path / "reports"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "run",
            str(specs),
            "--jobs",
            "20",
            "--reports",
            str(reports),
            "--quiet",
        ],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    events = [json.loads(line) for line in (reports / "events.ndjson").read_text().splitlines()]
    device = {}  # run_id -> (device id, fingerprint)
    for e in events:
        if e["type"] == "log" and (m := REGISTERED.search(e["message"])):
            device[e["run_id"]] = m.groups()
    assert len(device) == 20 and len({d for d, _ in device.values()}) == 20
    ws = journal = 0
    for e in events:
        if e["type"] != "attachment":
            continue
        _, own_fp = device[e["run_id"]]
        others = [d for r, (d, _) in device.items() if r != e["run_id"]]
        text = json.dumps(e["data"])
        if e["kind"] == "ws-in":
            ws += 1
            assert e["data"]["fingerprint"] == own_fp
        if e["kind"] == "journal":
            journal += len(e["data"]["entries"])
        assert not any(other in text for other in others), f"{e['run_id']} saw another device"
    assert ws >= 40 and journal >= 60  # identity + shadow + job messages; polls and FOTA calls
