"""The store (memory and SQLite), the `--load` file reader, IDs and fingerprints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reference_backend.devices import (
    DEVICE_ID_PATTERN,
    FINGERPRINT_PATTERN,
    is_fingerprint,
    new_device_id,
    new_fingerprint,
)
from reference_backend.loader import LoadError, read_devices
from reference_backend.store import Account, Device, FingerprintTaken, Job, KnownShadow, Store


def _job(job_id: str, device_id: str = "d1", status: str = "IN_PROGRESS", seq: int = 1) -> Job:
    return Job(
        id=job_id,
        device_id=device_id,
        target="app",
        bundle_id="APP*1e29dfa3*v2.0.1",
        status=status,
        status_detail="Job auto applied",
        last_updated_at="2024-01-01T00:00:00.000Z",
        version="v2.0.1",
        upgrade_path={"2.0.0": "APP*1e29dfa3*v2.0.1"},
        reported_version="2.0.0",
        chain_bundles=["APP*1e29dfa3*v2.0.1"],
        seq=seq,
    )


def test_generated_ids_and_fingerprints_have_their_shapes() -> None:
    for _ in range(200):
        device_id, fingerprint = new_device_id(), new_fingerprint()
        assert len(device_id) == 19 and device_id.startswith("oob-35") and device_id[4:].isdigit()
        assert DEVICE_ID_PATTERN.match(device_id)
        assert FINGERPRINT_PATTERN.match(fingerprint) and fingerprint.startswith("92b.")
        # PROTO generateCode.ts's alphabet: lower case, no l and no o
        assert all(c in "abcdefghijkmnpqrstuvwxyz23456789" for c in fingerprint[4:])


def test_fingerprint_shapes() -> None:
    assert is_fingerprint("92b.y7i24q") is True  # `i` is allowed, as PROTO isFingerprint.ts
    assert is_fingerprint("92b.y7l24q") is False  # `l` and `o` are not
    assert is_fingerprint("92b.y7o24q") is False
    assert is_fingerprint("92b.y7k24q") is True  # case-insensitive
    assert is_fingerprint("92B.Y7K24Q") is True
    for bad in ("", "92b", "92b.", "92b.y7k24", "92b.y7k24qq", "g2b.y7k24q", ".y7k24q", None, 7):
        assert is_fingerprint(bad) is False


def test_memory_store_devices_and_fingerprints() -> None:
    store = Store()
    store.put_device(Device("d1", "92b.AAAAAA", "PCA20065", "nordic"))
    assert store.device_by_fingerprint("92b.aaaaaa") == store.device("d1")
    with pytest.raises(FingerprintTaken):
        store.put_device(Device("d2", "92B.AAAAAA", "PCA20065", "nordic"))
    store.put_device(Device("d1", "92b.BBBBBB", "PCA20065", "nordic"))  # same ID: replaced
    assert store.device_by_fingerprint("92b.AAAAAA") is None
    assert store.device_by_fingerprint("92b.BBBBBB").id == "d1"


def test_jobs_newest_first_and_unfinished_index() -> None:
    store = Store()
    first, second = _job("j1", seq=store.next_seq()), _job("j2", seq=store.next_seq())
    store.save_jobs(first, second)
    assert [j.id for j in store.jobs_of("d1")] == ["j2", "j1"]
    assert {j.id for j in store.unfinished_jobs()} == {"j1", "j2"}
    first.status = "COMPLETED"
    first.awaiting_next = True
    store.save_jobs(first)
    assert [j.id for j in store.unfinished_jobs()] == ["j2"]
    assert [j.id for j in store.awaiting_jobs()] == ["j1"]


def test_sqlite_store_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "state" / "backend.sqlite"
    store = Store(path)
    store.put_account(Account("nordic", "http://127.0.0.1:1", "key"))
    store.put_device(Device("d1", "92b.AAAAAA", "PCA20065", "nordic"))
    store.put_device(Device("d2", "92b.BBBBBB", "unsupported", None))
    shadow = KnownShadow(7, {"14401:1.0": {"0": {"0": ["APP"]}}}, {"14240:1.0": {"0": {"0": 1}}})
    store.put_shadow("d1", shadow)
    store.put_last_seen("d1", "2024-01-01T00:00:00.000Z")
    store.put_bridge_seq("nordic", 42)
    job = _job("j1", seq=store.next_seq())
    store.save_jobs(job)
    job.status = "COMPLETED"
    job.awaiting_next = True
    store.save_jobs(job)
    store.save_jobs(_job("j2", seq=store.next_seq()))
    store.close()

    again = Store(path)
    assert again.account("nordic") == Account("nordic", "http://127.0.0.1:1", "key")
    assert again.device_by_fingerprint("92b.aaaaaa").model == "PCA20065"
    assert again.device("d2").account is None
    assert again.shadow("d1") == shadow
    assert again.last_seen("d1") == "2024-01-01T00:00:00.000Z"
    assert again.bridge_seq("nordic") == 42 and again.bridge_seq("other") == 0
    assert [j.id for j in again.jobs_of("d1")] == ["j2", "j1"]
    assert again.job("d1", "j1").status == "COMPLETED" and again.job("d1", "j1").awaiting_next
    assert [j.id for j in again.unfinished_jobs()] == ["j2"]
    assert again.next_seq() == 3
    again.close()


def test_read_devices(tmp_path: Path) -> None:
    path = tmp_path / "devices.yaml"
    path.write_text(
        "responses: []\n"
        "devices:\n"
        "  - {id: oob-352656108602296, fingerprint: 92b.y7k24q, model: PCA20065}\n"
        "  - {id: oob-352656108602297, fingerprint: 92b.y7k24r, model: PCA20065, account: elite}\n"
        "  - {id: oob-352656108602298, fingerprint: 92b.y7k24s, model: unsupported, account: x}\n"
    )
    devices = read_devices(path)
    assert [(d.id, d.account) for d in devices] == [
        ("oob-352656108602296", None),
        ("oob-352656108602297", "elite"),
        ("oob-352656108602298", None),  # unsupported devices have no account
    ]
    json_path = tmp_path / "devices.json"
    json_path.write_text('{"devices": [{"id": "d-1", "fingerprint": "92b.AAAAAA", "model": "M"}]}')
    assert read_devices(json_path)[0].id == "d-1"
    empty = tmp_path / "empty.yaml"
    empty.write_text("responses: []\n")
    assert read_devices(empty) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("devices: {}", "must be a list"),
        ("- a", "top level"),
        ("devices: [1]", "devices[0]"),
        ("devices: [{id: 'a,b', fingerprint: 92b.AAAAAA, model: M}]", "`id`"),
        ("devices: [{id: a, fingerprint: nope, model: M}]", "`fingerprint`"),
        ("devices: [{id: a, fingerprint: 92b.AAAAAA}]", "`model`"),
        ("devices: [{id: a, fingerprint: 92b.AAAAAA, model: M, account: 5}]", "`account`"),
        (
            "devices: [{id: a, fingerprint: 92b.AAAAAA, model: M},"
            " {id: a, fingerprint: 92b.BBBBBB, model: M}]",
            "twice",
        ),
        ("devices: [", "not YAML"),
    ],
)
def test_read_devices_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(LoadError, match=re.escape(message)) as e:
        read_devices(path)
    assert str(path) in str(e.value)


def test_read_devices_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="cannot be read"):
        read_devices(tmp_path / "nope.yaml")
