"""Replay every recorded ClientJourney history with today's workflow code.

A failure here means a workflow change is not replay-safe: guard it with
``workflow.patched`` (see workflows/VERSIONING.md) instead of re-recording over it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from shared.settings import Settings
from workflows.client import data_converter
from workflows.journey import ClientJourney

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_histories() -> None:
    assert HISTORIES, "record some with: python -m tests.replay.record"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_replay(path: Path, tmp_path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    # The workers' own data converter (payload encryption): the histories are stored
    # decrypted (tests/replay/record.py), and the codec passes plain payloads through.
    replayer = Replayer(workflows=[ClientJourney], data_converter=data_converter(Settings(data_dir=tmp_path)))
    # Raises on any nondeterminism (and on a workflow task failure in the history).
    await replayer.replay_workflow(history)
