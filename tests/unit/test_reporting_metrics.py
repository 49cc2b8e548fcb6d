"""Reporting's pure computations: fidelity scoring at every band boundary, totals and
bands, economics with the published figures, percentiles, periods and suppression."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.reporting import metrics as m


@pytest.mark.parametrize(
    ("clients_per_fte", "score"),
    [(0, 5), (20, 5), (20.4, 4), (21, 4), (25, 4), (26, 3), (30, 3), (31, 2), (40, 2), (41, 1), (200, 1)],
)
def test_caseload_bands(clients_per_fte: float, score: int) -> None:
    assert m.score_caseload(clients_per_fte) == score
    assert m.score_item("caseload", clients_per_fte) == score


@pytest.mark.parametrize(
    ("days", "score"),
    [(0, 5), (30, 5), (31, 4), (60, 4), (61, 3), (150, 3), (151, 2), (270, 2), (271, 1)],
)
def test_rapid_job_search_bands(days: float, score: int) -> None:
    assert m.score_rapid_search(days) == score


@pytest.mark.parametrize(
    ("per_week", "score"),
    [(10, 5), (6, 5), (5.99, 4), (5, 4), (4.99, 3), (4, 3), (3.99, 2), (2, 2), (1.99, 1), (0, 1)],
)
def test_employer_contact_frequency_bands(per_week: float, score: int) -> None:
    assert m.score_contact_frequency(per_week) == score


@pytest.mark.parametrize(
    ("percent", "score"),
    [(100, 5), (85, 5), (84.9, 4), (70, 4), (69.9, 3), (55, 3), (54.9, 2), (40, 2), (39.9, 1), (0, 1)],
)
def test_diversity_bands(percent: float, score: int) -> None:
    assert m.score_diversity(percent) == score
    assert m.score_item("job_type_diversity", percent) == m.score_item("employer_diversity", percent) == score


@pytest.mark.parametrize(
    ("percent", "score"),
    [(100, 5), (95, 5), (94.9, 4), (85, 4), (84.9, 3), (75, 3), (74.9, 2), (65, 2), (64.9, 1)],
)
def test_competitive_job_bands(percent: float, score: int) -> None:
    assert m.score_competitive(percent) == score


@pytest.mark.parametrize(
    ("percent", "score"),
    [(100, 5), (65, 5), (64.9, 4), (50, 4), (49.9, 3), (30, 3), (29.9, 2), (15, 2), (14.9, 1), (0, 1)],
)
def test_community_based_bands(percent: float, score: int) -> None:
    assert m.score_community(percent) == score


@pytest.mark.parametrize(
    ("percent", "score"),
    [(100, 5), (99.9, 4), (75, 4), (74.9, 3), (50, 3), (49.9, 2), (25, 2), (24.9, 1), (0, 1)],
)
def test_every_time_bands(percent: float, score: int) -> None:
    for key in ("work_incentives", "time_unlimited", "assertive_engagement"):
        assert m.score_item(key, percent) == score


@pytest.mark.parametrize(
    ("mean", "score"), [(5, 5), (4.5, 5), (4.49, 4), (3.5, 4), (2.5, 3), (1.5, 2), (1.49, 1), (1, 1)]
)
def test_mean_levels_round_half_up(mean: float, score: int) -> None:
    assert m.score_mean_level(mean) == score
    assert m.score_item("disclosure", mean) == m.score_item("contact_quality", mean) == score


def test_disclosure_is_one_plus_the_criteria_met() -> None:
    # Every client met a-d: 5; none: 1; one criterion each: 2.
    assert m.score_item("disclosure", 1 + 4) == 5
    assert m.score_item("disclosure", 1 + 0) == 1
    assert m.score_item("disclosure", 1 + 1) == 2


def test_items_without_data_or_measure_have_no_score() -> None:
    assert m.score_item("caseload", None) is None
    assert m.score_item("staff_focus", 3) is None  # a reviewer scores it


def test_the_scale_has_25_items_in_three_sections() -> None:
    assert len(m.ITEMS) == 25
    sections = [i.section for i in m.ITEMS]
    assert (sections.count(m.Section.STAFFING), sections.count(m.Section.ORGANISATION)) == (3, 8)
    assert sections.count(m.Section.SERVICES) == 14
    automatic = {i.key for i in m.ITEMS if i.automatic}
    assert automatic == {
        "caseload",
        "work_incentives",
        "disclosure",
        "rapid_search",
        "contact_frequency",
        "contact_quality",
        "job_type_diversity",
        "employer_diversity",
        "competitive_jobs",
        "time_unlimited",
        "community_based",
        "assertive_engagement",
    }


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (125, "exemplary"),
        (115, "exemplary"),
        (114, "good"),
        (100, "good"),
        (99, "fair"),
        (74, "fair"),
        (73, "not_ips"),
        (25, "not_ips"),
    ],
)
def test_bands(total: int, band: str) -> None:
    assert m.band(total) == band


def test_total_of_a_complete_and_an_incomplete_scorecard() -> None:
    full = m.fidelity_total([3] * 24 + [2])
    assert (full.total, full.scored, full.complete, full.band, full.meets_threshold) == (74, 25, True, "fair", True)
    low = m.fidelity_total([3] * 23 + [2, 2])
    assert (low.total, low.band, low.meets_threshold) == (73, "not_ips", False)
    partial = m.fidelity_total([5] * 20 + [None] * 5)
    assert (partial.total, partial.scored, partial.complete, partial.band) == (100, 20, False, None)
    with pytest.raises(ValueError):
        m.fidelity_total([6])


def test_economics_with_the_published_figures() -> None:
    e = m.economics(m.EconomicsParams())
    assert (e.effect, e.params.coaching_cost, e.net) == (243_000, 94_000, 149_000)
    assert (e.effect_with_pensions, e.net_with_pensions) == (375_000, 281_000)
    # "about 4,000 € per participant" and "6,150 € per participant"
    assert e.effect_per_participant == 3_984
    assert e.effect_with_pensions_per_participant == 6_148
    assert e.return_per_euro == 2.59


def test_economics_parameters_are_editable_and_checked() -> None:
    e = m.economics(m.EconomicsParams(participants=50, employed=20, coaching_cost=100_000))
    assert e.effect == 20 * 8_100 and e.net == 20 * 8_100 - 100_000
    assert m.economics(m.EconomicsParams(participants=0, employed=0)).effect_per_participant is None
    with pytest.raises(ValueError):
        m.EconomicsParams(participants=10, employed=11)
    with pytest.raises(ValueError):
        m.EconomicsParams(coaching_cost=-1)


def test_percentiles_interpolate() -> None:
    assert m.percentile([], 0.5) is None
    assert m.percentile([7], 0.9) == 7
    assert m.percentile([1, 2, 3, 4], 0.5) == 2.5
    assert m.percentile([4, 1, 3, 2], 0.9) == pytest.approx(3.7)
    assert m.percentile(list(range(1, 11)), 0.9) == pytest.approx(9.1)
    with pytest.raises(ValueError):
        m.percentile([1], 1.5)
    s = m.summarise([10, 20, 30, 40])
    assert (s.n, s.median, s.p90, s.mean) == (4, 25, 37, 25)
    assert m.summarise([]) == m.Summary(0, None, None, None)


def test_share() -> None:
    assert m.share(20, 50) == 40.0
    assert m.share(1, 3) == 33.3
    assert m.share(1, 0) is None


def test_periods_and_buckets() -> None:
    p = m.Period(date(2025, 11, 15), date(2026, 2, 3))
    assert p.buckets() == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert m.Period(p.start, p.end, "quarter").buckets() == ["2025-Q4", "2026-Q1"]
    assert m.Period(p.start, p.end, "year").buckets() == ["2025", "2026"]
    assert p.days == 81 and p.weeks == pytest.approx(81 / 7)
    assert m.default_period(date(2026, 3, 10)) == m.Period(date(2025, 4, 1), date(2026, 3, 10))
    assert m.default_period(date(2026, 12, 31)).start == date(2026, 1, 1)
    with pytest.raises(ValueError):
        m.Period(date(2026, 1, 2), date(2026, 1, 1))


def test_days_are_finnish_days() -> None:
    # 23:30 UTC on 31 March is already 1 April in Finland (summer time, UTC+3).
    assert m.local_day(datetime(2026, 3, 31, 23, 30, tzinfo=UTC)) == date(2026, 4, 1)
    assert m.day_start(date(2026, 1, 15)) == datetime(2026, 1, 14, 22, 0, tzinfo=UTC)  # UTC+2 in winter
    assert m.day_start(date(2026, 7, 15)) == datetime(2026, 7, 14, 21, 0, tzinfo=UTC)
    assert m.Period(date(2026, 7, 1), date(2026, 7, 31)).end_at == datetime(2026, 7, 31, 21, 0, tzinfo=UTC)
    assert m.month_key(date(2026, 7, 15)) == 202607 and m.bucket_of(202607, "quarter") == "2026-Q3"


def test_suppression_hides_cells_under_five() -> None:
    assert [m.suppress(v) for v in (None, 0, 4, 5, 12)] == [None, None, None, 5, 12]
    assert m.suppress_lines([[5, 6], [7, 8]], [11, 15]) == [[5, 6], [7, 8]]


def test_suppression_hides_a_second_cell_so_the_first_cannot_be_worked_out() -> None:
    # Row 0 shows its total 19: the hidden 3 would be 19 - 9 - 7 without a second hidden cell.
    grid = [[3, 9, 7], [10, 12, 11]]
    out = m.suppress_lines(grid, [19, 33])
    assert out[0][0] is None
    assert sum(v is None for v in out[0]) >= 2
    # Column 0's total (13) is shown too: one more cell hidden in that column.
    assert sum(out[i][0] is None for i in range(2)) >= 2
    # Nothing hidden can be recovered: every line with a shown total hides 0 or 2+ cells.
    for i, row in enumerate(out):
        assert sum(v is None for v in row) != 1, i
    for j in range(3):
        assert sum(out[i][j] is None for i in range(2)) != 1, j


def test_suppression_of_a_single_column_with_its_total() -> None:
    out = m.suppress_lines([[2], [30], [40]])
    assert out == [[None], [None], [40]]  # the total 72 minus 40 would give 32, not 30 + 2
    assert m.suppress_lines([[2], [3]]) == [[None], [None]]  # the total 5 shows, both cells hide
    assert m.suppress_lines([]) == []


def test_caseload_per_team_sums_its_coaches() -> None:
    import uuid
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from services.reporting.reports import Staff, caseload_report

    org, kotka, kouvola = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    kaisa, mikko, lone, lead = (uuid.uuid4() for _ in range(4))
    staff = {
        kaisa: Staff(kaisa, "kaisa", "coach", 1.0, kotka),
        mikko: Staff(mikko, "mikko", "coach", 0.5, kouvola),
        lone: Staff(lone, "lone", "coach", 1.0, None),
        lead: Staff(lead, "lead", "team_lead", 1.0, kotka),
    }
    since = datetime(2026, 11, 1, tzinfo=UTC)

    def row(coach: uuid.UUID, status: str) -> SimpleNamespace:
        return SimpleNamespace(
            client_id=uuid.uuid4(), coach_id=coach, phase="JOB_SEARCH", status=status, since=since, rest_reason=None
        )

    rows = [row(kaisa, "ACTIVE")] * 3 + [row(kaisa, "RESTING"), row(mikko, "ACTIVE"), row(lone, "ACTIVE")]
    rows += [row(kaisa, "CLOSED")]
    report = caseload_report(
        org, rows, staff, since, team_names={kotka: "Kotka", kouvola: "Kouvola", uuid.uuid4(): "Empty"}
    )
    teams = {t.name: t for t in report.teams}
    assert [t.name for t in report.teams] == ["Empty", "Kotka", "Kouvola", None]
    assert (teams["Kotka"].coaches, teams["Kotka"].active_clients, teams["Kotka"].resting_clients) == (1, 3, 1)
    assert (teams["Kotka"].capacity, teams["Kotka"].per_fte) == (20, 3.0)
    assert (teams["Kouvola"].fte, teams["Kouvola"].capacity, teams["Kouvola"].per_fte) == (0.5, 10, 2.0)
    assert (teams[None].coaches, teams[None].active_clients) == (1, 1)
    assert (teams["Empty"].coaches, teams["Empty"].per_fte) == (0, None)
    # A coach sees their own caseload only: no teams, no totals.
    own = caseload_report(org, rows, staff, since, only_coach=kaisa, team_names={kotka: "Kotka"})
    assert own.teams == [] and own.totals is None
