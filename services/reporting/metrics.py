"""Pure computations of the reports: periods, percentiles, fidelity scoring, economics and
small-cell suppression. No I/O here: the store fetches, these functions decide, and
``tests/unit/test_reporting_metrics.py`` checks every boundary.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from shared.i18n import N_

# Users are in Finland: days, months and periods are Finnish calendar days.
ZONE = ZoneInfo("Europe/Helsinki")

Granularity = Literal["month", "quarter", "year"]

# --------------------------------------------------------------------------- time


def local_day(moment: datetime) -> date:
    """The Finnish calendar day of an aware timestamp."""
    return moment.astimezone(ZONE).date()


def month_key(day: date) -> int:
    """``yyyymm`` as an integer: cheap to store, index and group by on any database."""
    return day.year * 100 + day.month


def day_start(day: date) -> datetime:
    """The instant (UTC) a Finnish calendar day begins."""
    return datetime.combine(day, time(0), ZONE).astimezone(UTC)


def days_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 86400


@dataclass(frozen=True)
class Period:
    """Finnish calendar days ``start``..``end``, both included, reported per ``granularity``."""

    start: date
    end: date
    granularity: Granularity = "month"

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("the period ends before it starts")

    @property
    def start_at(self) -> datetime:
        return day_start(self.start)

    @property
    def end_at(self) -> datetime:
        """The first instant after the period."""
        return day_start(self.end + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def weeks(self) -> float:
        return self.days / 7

    @property
    def start_month(self) -> int:
        return month_key(self.start)

    @property
    def end_month(self) -> int:
        return month_key(self.end)

    def buckets(self) -> list[str]:
        """Every bucket key of the period, in order (``2026-03``, ``2026-Q1`` or ``2026``)."""
        keys: list[str] = []
        year, month = self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            key = bucket_of(year * 100 + month, self.granularity)
            if not keys or keys[-1] != key:
                keys.append(key)
            month += 1
            if month > 12:
                year, month = year + 1, 1
        return keys


def default_period(today: date, granularity: Granularity = "month") -> Period:
    """The last twelve months: from the first day of the month eleven months back to today."""
    month_index = today.year * 12 + today.month - 1 - 11
    return Period(date(month_index // 12, month_index % 12 + 1, 1), today, granularity)


def bucket_of(month: int, granularity: Granularity) -> str:
    year, mon = divmod(month, 100)
    if granularity == "year":
        return f"{year}"
    if granularity == "quarter":
        return f"{year}-Q{(mon - 1) // 3 + 1}"
    return f"{year}-{mon:02d}"


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-quantile (0..1) by linear interpolation between closest ranks (Excel's
    PERCENTILE.INC, numpy's default); None for no values."""
    if not 0 <= q <= 1:
        raise ValueError("q must be within 0..1")
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True)
class Summary:
    n: int
    median: float | None
    p90: float | None
    mean: float | None


def summarise(values: Sequence[float], digits: int = 1) -> Summary:
    def r(x: float | None) -> float | None:
        return None if x is None else round(x, digits)

    mean = sum(values) / len(values) if values else None
    return Summary(len(values), r(percentile(values, 0.5)), r(percentile(values, 0.9)), r(mean))


def share(part: int, whole: int) -> float | None:
    """``part / whole`` as a percentage with one decimal; None when ``whole`` is 0."""
    return None if whole <= 0 else round(100 * part / whole, 1)


# Employment rate benchmarks shown beside the organisation's own (IPS programmes).
EMPLOYMENT_RATE_AVERAGE = 41.0
EMPLOYMENT_RATE_EXCELLENT = 50.0

# --------------------------------------------------------------------------- fidelity


class Section(StrEnum):
    STAFFING = "staffing"
    ORGANISATION = "organisation"
    SERVICES = "services"


SECTION_LABELS: dict[str, str] = {
    Section.STAFFING: N_("Staffing"),
    Section.ORGANISATION: N_("Organisation of the service"),
    Section.SERVICES: N_("Content of the service"),
}

FIDELITY_MAX = 125
FIDELITY_THRESHOLD = 74  # at least this much to call a service quality-criteria-based

Band = Literal["exemplary", "good", "fair", "not_ips"]
BAND_LABELS: dict[str, str] = {
    "exemplary": N_("Exemplary fidelity"),
    "good": N_("Good fidelity"),
    "fair": N_("Fair fidelity"),
    "not_ips": N_("Not quality-criteria-based"),
}


def band(total: int) -> Band:
    """115-125 exemplary, 100-114 good, 74-99 fair, 73 or less not IPS."""
    if total >= 115:
        return "exemplary"
    if total >= 100:
        return "good"
    if total >= FIDELITY_THRESHOLD:
        return "fair"
    return "not_ips"


def _descending(value: float, limits: tuple[float, float, float, float]) -> int:
    """5 when ``value <= limits[0]``, 4 when ``<= limits[1]``, ... 1 above ``limits[3]``."""
    for score, limit in zip((5, 4, 3, 2), limits, strict=True):
        if value <= limit:
            return score
    return 1


def _ascending(value: float, limits: tuple[float, float, float, float]) -> int:
    """5 when ``value >= limits[0]``, 4 when ``>= limits[1]``, ... 1 below ``limits[3]``."""
    for score, limit in zip((5, 4, 3, 2), limits, strict=True):
        if value >= limit:
            return score
    return 1


def score_caseload(clients_per_fte: float) -> int:
    """Active clients per full-time coach: 5 ≤20, 4 21-25, 3 26-30, 2 31-40, 1 ≥41."""
    return _descending(clients_per_fte, (20, 25, 30, 40))


def score_rapid_search(mean_days: float) -> int:
    """Mean days from entry to the first face-to-face employer contact:
    5 ≤30, 4 31-60, 3 61-150, 2 151-270, 1 ≥271."""
    return _descending(mean_days, (30, 60, 150, 270))


def score_contact_frequency(per_coach_week: float) -> int:
    """Face-to-face employer contacts per full-time coach per week: 5 ≥6, 4 ≥5, 3 ≥4, 2 ≥2, 1 <2."""
    return _ascending(per_coach_week, (6, 5, 4, 2))


def score_mean_level(mean: float) -> int:
    """A mean of 1-5 levels (contact quality, disclosure) rounded half up into 1..5."""
    return max(1, min(5, math.floor(mean + 0.5)))


def score_diversity(percent: float) -> int:
    """Share of distinct job types or employers among jobs: 5 ≥85%, 4 ≥70, 3 ≥55, 2 ≥40, 1 <40."""
    return _ascending(percent, (85, 70, 55, 40))


def score_competitive(percent: float) -> int:
    """Share of jobs in the open labour market: 5 ≥95%, 4 ≥85, 3 ≥75, 2 ≥65, 1 <65."""
    return _ascending(percent, (95, 85, 75, 65))


def score_community(percent: float) -> int:
    """Share of client meetings outside the office: 5 ≥65%, 4 ≥50, 3 ≥30, 2 ≥15, 1 <15."""
    return _ascending(percent, (65, 50, 30, 15))


def score_every_time(percent: float) -> int:
    """Practices the criteria ask for every time (benefits counselling before the job, the
    follow-along schedule, outreach after silence): 5 all, 4 ≥75%, 3 ≥50, 2 ≥25, 1 <25."""
    return _ascending(percent, (100, 75, 50, 25))


@dataclass(frozen=True)
class FidelityItem:
    key: str
    number: int
    section: Section
    label: str  # English msgid
    measure: str | None  # what the software measures (msgid); None: a reviewer scores it
    scorer: Callable[[float], int] | None = None

    @property
    def automatic(self) -> bool:
        return self.scorer is not None


STAFF, ORG, CONTENT = Section.STAFFING, Section.ORGANISATION, Section.SERVICES
ITEMS: tuple[FidelityItem, ...] = (
    FidelityItem("caseload", 1, STAFF, N_("Caseload size"), N_("Active clients per full-time coach"), score_caseload),
    FidelityItem("staff_focus", 2, STAFF, N_("Focus on employment coaching"), None),
    FidelityItem("generalists", 3, STAFF, N_("Comprehensive service by each coach"), None),
    FidelityItem("team_assignment", 4, ORG, N_("Shared clients with the multi-professional team"), None),
    FidelityItem("team_contact", 5, ORG, N_("Regular contact with the multi-professional team"), None),
    FidelityItem("employment_services", 6, ORG, N_("Collaboration with employment services"), None),
    FidelityItem("coaching_unit", 7, ORG, N_("Employment coaching unit"), None),
    FidelityItem("supervisor_role", 8, ORG, N_("Role of the team lead"), None),
    FidelityItem("zero_exclusion", 9, ORG, N_("Open to everyone who wants to work"), None),
    FidelityItem("agency_focus", 10, ORG, N_("Organisation's focus on open employment"), None),
    FidelityItem("executive_support", 11, ORG, N_("Support of the management"), None),
    FidelityItem(
        "work_incentives",
        12,
        CONTENT,
        N_("Benefits counselling"),
        N_("Job starts preceded by benefits counselling (%)"),
        score_every_time,
    ),
    FidelityItem(
        "disclosure",
        13,
        CONTENT,
        N_("Disclosure of work limitations"),
        N_("Mean of 1 + disclosure criteria met per searching client"),
        score_mean_level,
    ),
    FidelityItem("ongoing_assessment", 14, CONTENT, N_("Ongoing work-based assessment"), None),
    FidelityItem(
        "rapid_search",
        15,
        CONTENT,
        N_("Rapid job search"),
        N_("Mean days from entry to the first face-to-face employer contact"),
        score_rapid_search,
    ),
    FidelityItem("individual_search", 16, CONTENT, N_("Individualised job search"), None),
    FidelityItem(
        "contact_frequency",
        17,
        CONTENT,
        N_("Job development: frequency of employer contact"),
        N_("Face-to-face employer contacts per full-time coach per week"),
        score_contact_frequency,
    ),
    FidelityItem(
        "contact_quality",
        18,
        CONTENT,
        N_("Job development: quality of employer contact"),
        N_("Mean relationship level (1-5) of employer contacts"),
        score_mean_level,
    ),
    FidelityItem(
        "job_type_diversity",
        19,
        CONTENT,
        N_("Diversity of job types"),
        N_("Distinct industries among job placements (%)"),
        score_diversity,
    ),
    FidelityItem(
        "employer_diversity",
        20,
        CONTENT,
        N_("Diversity of employers"),
        N_("Distinct employers among job placements (%)"),
        score_diversity,
    ),
    FidelityItem(
        "competitive_jobs",
        21,
        CONTENT,
        N_("Jobs in the open labour market"),
        N_("Job placements in the open labour market (%)"),
        score_competitive,
    ),
    FidelityItem("individual_follow_along", 22, CONTENT, N_("Individualised follow-along support"), None),
    FidelityItem(
        "time_unlimited",
        23,
        CONTENT,
        N_("Time-unlimited follow-along support"),
        N_("Working clients whose follow-along contacts were all on time (%)"),
        score_every_time,
    ),
    FidelityItem(
        "community_based",
        24,
        CONTENT,
        N_("Services in the community"),
        N_("Client contacts outside the office (%)"),
        score_community,
    ),
    FidelityItem(
        "assertive_engagement",
        25,
        CONTENT,
        N_("Assertive engagement and outreach"),
        N_("Silences followed by documented outreach within 14 days (%)"),
        score_every_time,
    ),
)
ITEM_BY_KEY: dict[str, FidelityItem] = {item.key: item for item in ITEMS}
assert len(ITEMS) == 25 and [i.number for i in ITEMS] == list(range(1, 26))

# Outreach that answers a silence counts when it comes within this many days.
OUTREACH_WINDOW_DAYS = 14
# Places of a client contact that count as "in the community" (not the office, not remote).
COMMUNITY_PLACES: frozenset[str] = frozenset({"community", "workplace", "home"})


def score_item(key: str, value: float | None) -> int | None:
    """The 1-5 score of an automatic item from its measured value; None without data."""
    item = ITEM_BY_KEY[key]
    if item.scorer is None or value is None:
        return None
    return item.scorer(value)


@dataclass(frozen=True)
class Total:
    total: int  # sum of the scored items
    scored: int  # how many of the 25 have a score
    complete: bool
    band: Band | None  # only for a complete scorecard
    meets_threshold: bool | None


def fidelity_total(scores: Iterable[int | None]) -> Total:
    present = [s for s in scores if s is not None]
    if any(not 1 <= s <= 5 for s in present):
        raise ValueError("item scores are 1..5")
    total = sum(present)
    complete = len(present) == len(ITEMS)
    return Total(
        total=total,
        scored=len(present),
        complete=complete,
        band=band(total) if complete else None,
        meets_threshold=total >= FIDELITY_THRESHOLD if complete else None,
    )


# --------------------------------------------------------------------------- economics


@dataclass(frozen=True)
class EconomicsParams:
    """The Rovaniemi-style calculation. The defaults are the published figures: 30 of about
    61 participants employed; 243,000 € in added taxes and saved benefits (8,100 € per
    employed participant, about 4,000 € per participant); 132,000 € more in employment
    pension contributions (4,400 € per employed participant); coaching cost 94,000 €."""

    participants: int = 61
    employed: int = 30
    effect_per_employed: float = 8_100.0
    pension_per_employed: float = 4_400.0
    coaching_cost: float = 94_000.0

    def __post_init__(self) -> None:
        if self.participants < 0 or self.employed < 0:
            raise ValueError("participants and employed cannot be negative")
        if self.employed > self.participants:
            raise ValueError("more employed than participants")
        if min(self.effect_per_employed, self.pension_per_employed, self.coaching_cost) < 0:
            raise ValueError("amounts cannot be negative")


@dataclass(frozen=True)
class Economics:
    params: EconomicsParams
    effect: float  # taxes and benefits
    net: float
    effect_per_participant: float | None
    pension_contributions: float
    effect_with_pensions: float
    net_with_pensions: float
    effect_with_pensions_per_participant: float | None
    return_per_euro: float | None  # euros of effect per euro of coaching


def economics(p: EconomicsParams) -> Economics:
    effect = p.employed * p.effect_per_employed
    pensions = p.employed * p.pension_per_employed
    with_pensions = effect + pensions

    def per_participant(amount: float) -> float | None:
        return round(amount / p.participants, 0) if p.participants else None

    return Economics(
        params=p,
        effect=round(effect, 2),
        net=round(effect - p.coaching_cost, 2),
        effect_per_participant=per_participant(effect),
        pension_contributions=round(pensions, 2),
        effect_with_pensions=round(with_pensions, 2),
        net_with_pensions=round(with_pensions - p.coaching_cost, 2),
        effect_with_pensions_per_participant=per_participant(with_pensions),
        return_per_euro=round(effect / p.coaching_cost, 2) if p.coaching_cost else None,
    )


# --------------------------------------------------------------------------- suppression

# Region roll-ups show no cell that counts fewer people than this.
MIN_CELL = 5


def suppress(value: int | None, minimum: int = MIN_CELL) -> int | None:
    """``value``, or None when it counts fewer than ``minimum`` people."""
    return None if value is None or value < minimum else value


def suppress_lines(
    grid: Sequence[Sequence[int]],
    totals: Sequence[int] | None = None,
    minimum: int = MIN_CELL,
) -> list[list[int | None]]:
    """Suppress a table of counts of people (rows x columns) for publication.

    Primary: every cell under ``minimum``. Secondary: a row whose ``totals`` entry is
    shown must not have exactly one hidden cell (it could be worked out by subtraction),
    so the smallest other cell of such a row is hidden too; the same holds for columns,
    whose totals are the column sums (shown when not under ``minimum``). Repeated until
    no single hidden cell can be recovered.
    """
    rows = [list(r) for r in grid]
    width = len(rows[0]) if rows else 0
    if any(len(r) != width for r in rows):
        raise ValueError("ragged table")
    hidden = [[v < minimum for v in r] for r in rows]
    row_total_shown = [t >= minimum for t in totals] if totals is not None else [False] * len(rows)
    col_total_shown = [sum(r[c] for r in rows) >= minimum for c in range(width)]

    def hide_smallest(cells: list[tuple[int, int]]) -> bool:
        open_cells = [(rows[i][j], i, j) for i, j in cells if not hidden[i][j]]
        if not open_cells:
            return False
        _, i, j = min(open_cells)
        hidden[i][j] = True
        return True

    changed = True
    while changed:
        changed = False
        for i in range(len(rows)):
            line = [(i, j) for j in range(width)]
            if row_total_shown[i] and sum(hidden[i][j] for _, j in line) == 1:
                changed = hide_smallest(line) or changed
        for j in range(width):
            line = [(i, j) for i in range(len(rows))]
            if col_total_shown[j] and sum(hidden[i][j] for i, _ in line) == 1:
                changed = hide_smallest(line) or changed
    return [[None if hidden[i][j] else rows[i][j] for j in range(width)] for i in range(len(rows))]
