"""The load model's employers: each needs a business id that is valid and its own."""

from __future__ import annotations

from bench.load import ytunnukset
from services.employer import domain


def test_business_ids_are_valid_and_distinct_from_any_start() -> None:
    for start in range(0, 20_000, 7):
        ids = ytunnukset(start, 3)
        assert len(set(ids)) == 3, (start, ids)
        assert [domain.parse_ytunnus(i) for i in ids] == ids


def test_a_number_without_a_check_digit_is_skipped_not_reused() -> None:
    # The first number whose weighted digit sum leaves 1: it has no valid check digit.
    weights = (7, 9, 10, 5, 8, 4, 2)
    start = next(n for n in range(1000) if sum(int(d) * w for d, w in zip(f"{n:07d}", weights, strict=True)) % 11 == 1)
    first, second = ytunnukset(start, 2)
    assert first == ytunnukset(start + 1, 1)[0] and second != first
