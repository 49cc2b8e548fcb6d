"""A batch PostgreSQL aborts as a deadlock victim or a serialisation failure runs again,
with counts from its last attempt only; any other database error is not retried."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError

from services.reporting import projection
from services.reporting.projection import BatchResult, PreparedBatch, apply_prepared, is_transient


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def _error(sqlstate: str) -> DBAPIError:
    return DBAPIError("INSERT ...", {}, _DriverError(sqlstate))


def test_deadlock_and_serialisation_failure_are_transient_others_not() -> None:
    assert is_transient(_error("40P01")) and is_transient(_error("40001"))
    assert not is_transient(_error("23505"))  # unique violation
    assert not is_transient(ValueError("no driver error"))


@pytest.mark.parametrize(("failures", "sqlstate", "calls", "succeeds"), [(2, "40P01", 3, True), (1, "23505", 1, False)])
async def test_a_batch_runs_again_only_after_a_transient_abort(
    monkeypatch: pytest.MonkeyPatch, failures: int, sqlstate: str, calls: int, succeeds: bool
) -> None:
    attempts: list[int] = []

    async def once(db: Any, prepared: PreparedBatch) -> BatchResult:
        attempts.append(1)
        if len(attempts) <= failures:
            raise _error(sqlstate)
        return BatchResult(applied=3)

    monkeypatch.setattr(projection, "_apply_prepared_once", once)
    monkeypatch.setattr(projection.asyncio, "sleep", _no_sleep)
    if succeeds:
        assert (await apply_prepared(None, PreparedBatch())).applied == 3  # type: ignore[arg-type]
    else:
        with pytest.raises(DBAPIError):
            await apply_prepared(None, PreparedBatch())  # type: ignore[arg-type]
    assert len(attempts) == calls


def test_gives_up_after_the_last_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    attempts: list[int] = []

    async def once(db: Any, prepared: PreparedBatch) -> BatchResult:
        attempts.append(1)
        raise _error("40P01")

    monkeypatch.setattr(projection, "_apply_prepared_once", once)
    monkeypatch.setattr(projection.asyncio, "sleep", _no_sleep)
    with pytest.raises(DBAPIError):
        asyncio.run(apply_prepared(None, PreparedBatch()))  # type: ignore[arg-type]
    assert len(attempts) == projection.TRANSIENT_ATTEMPTS


async def _no_sleep(_seconds: float) -> None:
    return None
