"""The fault test in its bounded form (``make fault-test`` runs the long one): a steady load
of journey moves and employer contacts through the cluster topology while one worker is
killed, one NATS node is killed and brought back, the Temporal dev server and the
reporting service crash and restart. Afterwards every acknowledged move is in its
journey's timeline and in reporting exactly once, every committed employer contact is in
reporting once, and the audit chains verify.

The heal times are printed, never asserted: they depend on the machine's load."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.faults import FAULTS, FaultConfig, run_faults
from polku.devstack import PG_BIN

# Short, but every fault happens under load: 8 clients moved every 2 s, contacts every 0.5 s.
BOUNDED = FaultConfig(lanes=8, interval_s=2.0, warmup_s=5.0, settle_s=3.0, nats_down_s=3.0)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: as root PostgreSQL runs as the postgres user, who must reach it.
    path = Path(tempfile.mkdtemp(prefix="polku-faults-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.timeout(420)
def test_nothing_acknowledged_is_lost_or_counted_twice_under_faults(data_dir: Path) -> None:
    if not (PG_BIN / "postgres").exists():
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN}")
    report = asyncio.run(run_faults(BOUNDED, data_dir))
    print("\n".join(report.lines()))

    # Every fault happened, under load, and the system healed from it.
    assert [f.fault for f in report.faults] == list(FAULTS)
    for fault in report.faults:
        assert fault.service_s is not None, report.lines()
        assert fault.healed_s is not None, report.lines()
    assert report.moves_acked > BOUNDED.lanes * len(FAULTS), report.lines()
    assert report.contacts_acked > len(FAULTS), report.lines()

    # Nothing acknowledged lost, nothing counted twice.
    assert report.lost_detail == [] and report.lost == 0, report.lines()
    assert report.duplicate_detail == [] and report.duplicates == 0, report.lines()
    assert report.moves_found == report.moves_acked, report.lines()
    assert report.moves_rejected == 0, report.lines()
    assert report.contacts_found == report.contacts_acked, report.lines()
    assert report.contacts_lost == 0 and report.contacts_duplicates == 0, report.lines()
    assert report.contacts_committed >= report.contacts_acked, report.lines()
    assert report.audit_ok, report.audit_output
    assert report.ok
