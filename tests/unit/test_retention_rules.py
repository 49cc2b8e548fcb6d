"""The retention rules: when a closed journey's personal data is due for erasure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.retention import (
    DEFAULT_RETENTION_YEARS,
    ClosedJourney,
    add_years,
    due_journeys,
    is_due,
    retention_ends,
)

CLOSED = datetime(2016, 3, 15, 12, 0, tzinfo=UTC)


def test_ten_years_by_default_to_the_day() -> None:
    assert DEFAULT_RETENTION_YEARS == 10
    assert retention_ends(CLOSED, 10) == datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def test_due_only_after_the_period_has_fully_passed() -> None:
    end = retention_ends(CLOSED, 10)
    assert not is_due(CLOSED, end - timedelta(seconds=1), 10, held=False)
    assert not is_due(CLOSED, end, 10, held=False)
    assert is_due(CLOSED, end + timedelta(seconds=1), 10, held=False)


def test_a_legal_hold_stops_it() -> None:
    assert not is_due(CLOSED, datetime(2040, 1, 1, tzinfo=UTC), 10, held=True)


def test_per_organisation_years() -> None:
    now = datetime(2022, 1, 1, tzinfo=UTC)
    assert is_due(CLOSED, now, 5, held=False)
    assert not is_due(CLOSED, now, 10, held=False)


def test_leap_day_closes_into_first_of_march() -> None:
    leap = datetime(2024, 2, 29, 8, 0, tzinfo=UTC)
    assert add_years(leap, 10) == datetime(2034, 3, 1, 8, 0, tzinfo=UTC)
    assert add_years(leap, 4) == datetime(2028, 2, 29, 8, 0, tzinfo=UTC)


def test_a_year_of_seconds_for_tests_keeps_the_organisations_years() -> None:
    assert retention_ends(CLOSED, 10, year_s=5) == CLOSED + timedelta(seconds=50)
    assert retention_ends(CLOSED, 1, year_s=5) == CLOSED + timedelta(seconds=5)
    assert is_due(CLOSED, CLOSED + timedelta(seconds=6), 1, held=False, year_s=5)
    assert not is_due(CLOSED, CLOSED + timedelta(seconds=6), 2, held=False, year_s=5)


def test_invalid_inputs_raise() -> None:
    with pytest.raises(ValueError):
        retention_ends(CLOSED, 0)
    with pytest.raises(ValueError):
        retention_ends(CLOSED, 101)
    with pytest.raises(ValueError):
        retention_ends(CLOSED.replace(tzinfo=None), 10)
    with pytest.raises(ValueError):
        retention_ends(CLOSED, 10, year_s=0)


def test_due_journeys_picks_past_unheld_oldest_first() -> None:
    org_a, org_b = uuid.uuid4(), uuid.uuid4()
    now = datetime(2027, 1, 1, tzinfo=UTC)
    old = ClosedJourney(org_a, uuid.uuid4(), datetime(2015, 6, 1, tzinfo=UTC))
    older = ClosedJourney(org_a, uuid.uuid4(), datetime(2014, 6, 1, tzinfo=UTC))
    held = ClosedJourney(org_a, uuid.uuid4(), datetime(2014, 1, 1, tzinfo=UTC))
    recent = ClosedJourney(org_a, uuid.uuid4(), datetime(2020, 1, 1, tzinfo=UTC))
    # org_b keeps 3 years: its 2020 close is due; org_a's is not.
    short = ClosedJourney(org_b, uuid.uuid4(), datetime(2020, 1, 1, tzinfo=UTC))
    # The same client id held in another organisation does not hold this one.
    same_id_other_org = ClosedJourney(org_b, held.client_id, datetime(2014, 1, 1, tzinfo=UTC))
    due = due_journeys(
        [old, older, held, recent, short, same_id_other_org],
        now,
        {org_b: 3},
        {(org_a, held.client_id)},
    )
    assert due == [same_id_other_org, older, old, short]


def test_due_journeys_with_short_years() -> None:
    short, long = uuid.uuid4(), uuid.uuid4()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    a = ClosedJourney(short, uuid.uuid4(), now - timedelta(seconds=10))
    b = ClosedJourney(long, uuid.uuid4(), now - timedelta(seconds=10))
    assert due_journeys([a, b], now, {short: 1, long: 3}, set(), year_s=5) == [a]
    assert set(due_journeys([a, b], now, {short: 1, long: 3}, set(), year_s=3)) == {a, b}
