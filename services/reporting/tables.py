"""Every report as titled tables, in the reader's language: what the pages show and what
CSV and XLSX exports contain, so a download always matches the screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel

from services.reporting.metrics import BAND_LABELS, ITEM_BY_KEY, SECTION_LABELS
from services.reporting.models import (
    AssessmentsReport,
    CaseloadReport,
    EconomicsReport,
    EvidenceReport,
    FidelityReport,
    FlowReport,
    OutcomesReport,
    QuickHelpReport,
    RegionFidelityReport,
    RegionReport,
    Stat,
)
from shared.i18n import (
    ACTION_LABELS,
    N_,
    OUTCOME_LABELS,
    PHASE_LABELS,
    REST_REASON_LABELS,
    STATUS_LABELS,
    label,
    translator,
)

Kind = Literal["text", "int", "number", "percent", "date", "datetime"]
Cell = str | int | float | None

# The same words as the intake pages use (services/intake/labels.py).
QUICK_HELP_TOPIC_LABELS: dict[str, str] = {
    "interview_preparation": N_("Job interview preparation"),
    "cv": N_("CV and application"),
    "strengths": N_("Strengths and skills"),
    "job_search": N_("Job search"),
    "work_trial_or_wage_subsidy": N_("Work trial or wage subsidy"),
    "benefits": N_("Benefits"),
    "other": N_("Other topic"),
}
INSTRUMENT_LABELS: dict[str, str] = {
    "work_ability": N_("Work-ability estimate"),
    "self_efficacy": N_("Sense of self-efficacy"),
}
SOURCE_LABELS: dict[str, str] = {"auto": N_("From the data"), "review": N_("Reviewer")}
SUPPRESSED = "<5"


class Column(BaseModel):
    label: str
    kind: Kind = "text"


class Table(BaseModel):
    title: str
    columns: list[Column]
    rows: list[list[Cell]]
    # A link for the first cell of each row (a page of this site), or None.
    hrefs: list[str | None] | None = None
    note: str | None = None


class Tables(BaseModel):
    title: str
    tables: list[Table]


def _yes_no(_: Callable[[str], str], value: bool | None) -> str:
    if value is None:
        return ""
    return _("yes") if value else _("no")


def _stat_row(name: str, s: Stat) -> list[Cell]:
    return [name, s.n, s.median, s.p90, s.mean]


def _stat_columns(_: Callable[[str], str], what: str) -> list[Column]:
    return [
        Column(label=what),
        Column(label=_("Count"), kind="int"),
        Column(label=_("Median"), kind="number"),
        Column(label=_("90th percentile"), kind="number"),
        Column(label=_("Mean"), kind="number"),
    ]


def _hidden(value: int | None) -> Cell:
    return SUPPRESSED if value is None else value


def caseload(r: CaseloadReport, lang: str) -> Tables:
    _ = translator(lang).gettext
    coaches = Table(
        title=_("Caseload per coach"),
        columns=[
            Column(label=_("Coach")),
            Column(label=_("FTE"), kind="number"),
            Column(label=_("Capacity"), kind="int"),
            Column(label=_("Active clients"), kind="int"),
            Column(label=_("Resting clients"), kind="int"),
            Column(label=_("Active clients per FTE"), kind="number"),
            Column(label=_("Over capacity")),
        ],
        rows=[
            [
                c.username or str(c.coach_id),
                c.fte,
                c.capacity,
                c.active_clients,
                c.resting_clients,
                c.per_fte,
                _yes_no(_, c.active_clients > c.capacity),
            ]
            for c in r.coaches
        ],
    )
    tables = [coaches]
    if r.teams:
        tables.append(
            Table(
                title=_("Caseload per team"),
                columns=[
                    Column(label=_("Team")),
                    Column(label=_("Coaches"), kind="int"),
                    Column(label=_("FTE"), kind="number"),
                    Column(label=_("Capacity"), kind="int"),
                    Column(label=_("Active clients"), kind="int"),
                    Column(label=_("Resting clients"), kind="int"),
                    Column(label=_("Active clients per FTE"), kind="number"),
                ],
                rows=[
                    [
                        t.name or _("No team"),
                        t.coaches,
                        t.fte,
                        t.capacity,
                        t.active_clients,
                        t.resting_clients,
                        t.per_fte,
                    ]
                    for t in r.teams
                ],
            )
        )
    if r.totals is not None:
        t = r.totals
        tables.append(
            Table(
                title=_("The organisation"),
                columns=[
                    Column(label=_("Coaches"), kind="int"),
                    Column(label=_("FTE"), kind="number"),
                    Column(label=_("Capacity"), kind="int"),
                    Column(label=_("Active clients"), kind="int"),
                    Column(label=_("Resting clients"), kind="int"),
                    Column(label=_("Active clients per FTE"), kind="number"),
                    Column(label=_("Fidelity score (1-5)"), kind="int"),
                ],
                rows=[[t.coaches, t.fte, t.capacity, t.active_clients, t.resting_clients, t.per_fte, t.fidelity_score]],
                note=_("The quality criteria allow at most 20 active clients per full-time coach."),
            )
        )
    return Tables(title=_("Caseload"), tables=tables)


def flow(r: FlowReport, lang: str) -> Tables:
    _ = translator(lang).gettext
    actions = ["advance", "step_back", "rest", "resume", "close", "reopen", "reassign"]
    return Tables(
        title=_("Journey flow"),
        tables=[
            Table(
                title=_("Clients per phase now"),
                columns=[
                    Column(label=_("Phase")),
                    Column(label=_("Active"), kind="int"),
                    Column(label=_("Resting"), kind="int"),
                ],
                rows=[[label(PHASE_LABELS, lang, p.phase), p.active, p.resting] for p in r.phases_now]
                + [[_("Closed"), r.closed_now, None]],
            ),
            Table(
                title=_("Time in phase (days)"),
                columns=[Column(label=_("Phase")), *_stat_columns(_, _("Status"))],
                rows=[
                    [
                        label(PHASE_LABELS, lang, t.phase),
                        label(STATUS_LABELS, lang, t.status),
                        *_stat_row("", t.days)[1:],
                    ]
                    for t in r.time_in_phase
                ],
                note=_("Finished stretches in one phase and status that ended in the period."),
            ),
            Table(
                title=_("Moves per period"),
                columns=[
                    Column(label=_("Period")),
                    *[Column(label=label(ACTION_LABELS, lang, a), kind="int") for a in actions],
                    Column(label=_("Total"), kind="int"),
                ],
                rows=[
                    [bucket, *[counts.get(a, 0) for a in actions], sum(counts.values())]
                    for bucket, counts in r.moves_by_bucket.items()
                ],
            ),
            Table(
                title=_("Moves between phases"),
                columns=[
                    Column(label=_("From")),
                    Column(label=_("To")),
                    Column(label=_("Move")),
                    Column(label=_("Count"), kind="int"),
                ],
                rows=[
                    [
                        label(PHASE_LABELS, lang, t.from_phase),
                        label(PHASE_LABELS, lang, t.to_phase),
                        label(ACTION_LABELS, lang, t.action),
                        t.count,
                    ]
                    for t in r.transitions
                ],
            ),
            Table(
                title=_("Resting reasons"),
                columns=[
                    Column(label=_("Reason")),
                    Column(label=_("Put to rest in the period"), kind="int"),
                    Column(label=_("Resting now"), kind="int"),
                ],
                rows=[
                    [label(REST_REASON_LABELS, lang, x.reason), x.rested_in_period, x.resting_now]
                    for x in r.rest_reasons
                ],
            ),
        ],
    )


def outcomes(r: OutcomesReport, lang: str) -> Tables:
    _ = translator(lang).gettext
    buckets = list(r.closed_by_bucket)
    total_share = 100.0 if r.closed else None
    return Tables(
        title=_("Outcomes"),
        tables=[
            Table(
                title=_("Outcomes of closed journeys"),
                columns=[
                    Column(label=_("Outcome")),
                    Column(label=_("Clients"), kind="int"),
                    Column(label=_("Share (%)"), kind="percent"),
                ],
                rows=[
                    [
                        label(OUTCOME_LABELS, lang, o.outcome),
                        o.count,
                        round(100 * o.count / r.closed, 1) if r.closed else None,
                    ]
                    for o in r.outcomes
                ]
                + [[_("Total"), r.closed, total_share]],
            ),
            Table(
                title=_("Outcomes per period"),
                columns=[
                    Column(label=_("Period")),
                    *[Column(label=label(OUTCOME_LABELS, lang, o.outcome), kind="int") for o in r.outcomes],
                    Column(label=_("Total"), kind="int"),
                ],
                rows=[[b, *[o.by_bucket.get(b, 0) for o in r.outcomes], r.closed_by_bucket.get(b, 0)] for b in buckets],
            ),
            Table(
                title=_("Employment"),
                columns=[Column(label=_("Measure")), Column(label=_("Value"), kind="number")],
                rows=[
                    [_("Employment rate of closed journeys (%)"), r.employment_rate],
                    [_("IPS programmes on average (%)"), r.benchmark_average],
                    [_("Excellent IPS programmes (%)"), r.benchmark_excellent],
                    [_("Clients served in the period"), r.served],
                    [_("Of them, clients who had a job"), r.worked],
                    [_("Share who had a job (%)"), r.working_rate],
                    [_("First job starts"), r.job_starts.first],
                    [_("Later job starts"), r.job_starts.later],
                ],
            ),
            Table(
                title=_("Times, hours and tenure"),
                columns=_stat_columns(_, _("Measure")),
                rows=[
                    _stat_row(_("Days to the first employer contact"), r.days_to_first_employer_contact),
                    _stat_row(_("Days to the first job"), r.days_to_first_job),
                    _stat_row(_("Hours per week in jobs started"), r.hours_per_week),
                    _stat_row(_("Tenure of jobs that ended (days)"), r.tenure_days_ended),
                    _stat_row(_("Tenure of running jobs so far (days)"), r.tenure_days_running),
                ],
            ),
            Table(
                title=_("Job starts per period"),
                columns=[
                    Column(label=_("Period")),
                    Column(label=_("First job"), kind="int"),
                    Column(label=_("Later job"), kind="int"),
                ],
                rows=[[b, c.get("first", 0), c.get("later", 0)] for b, c in r.job_starts.by_bucket.items()],
            ),
        ],
    )


def item_label(key: str, lang: str) -> str:
    item = ITEM_BY_KEY.get(key)
    return translator(lang).gettext(item.label) if item else key


def fidelity(r: FidelityReport, lang: str) -> Tables:
    _ = translator(lang).gettext
    return Tables(
        title=_("Quality criteria (fidelity)"),
        tables=[
            Table(
                title=_("Fidelity scale"),
                columns=[
                    Column(label=_("Item")),
                    Column(label=_("No."), kind="int"),
                    Column(label=_("Section")),
                    Column(label=_("Measured")),
                    Column(label=_("Value"), kind="number"),
                    Column(label=_("Based on"), kind="int"),
                    Column(label=_("Score (1-5)"), kind="int"),
                    Column(label=_("Scored by")),
                    Column(label=_("Note")),
                ],
                rows=[
                    [
                        _(i.label),
                        i.number,
                        label(SECTION_LABELS, lang, i.section),
                        _(i.measure) if i.measure else _("Scored by a reviewer"),
                        i.value,
                        i.base,
                        i.score,
                        label(SOURCE_LABELS, lang, i.source) if i.source else "",
                        i.note or "",
                    ]
                    for i in r.items
                ],
                hrefs=[f"/reports/fidelity/items/{i.key}" if i.automatic else None for i in r.items],
            ),
            Table(
                title=_("Total"),
                columns=[
                    Column(label=_("Total"), kind="int"),
                    Column(label=_("Maximum"), kind="int"),
                    Column(label=_("Items scored"), kind="int"),
                    Column(label=_("Band")),
                    Column(label=_("At least 74")),
                ],
                rows=[
                    [
                        r.total,
                        r.maximum,
                        r.scored,
                        label(BAND_LABELS, lang, r.band) if r.band else _("Not all items scored"),
                        _yes_no(_, r.meets_threshold),
                    ]
                ],
                note=_("Exemplary 115-125, good 100-114, fair 74-99, not quality-criteria-based 73 or less."),
            ),
            Table(
                title=_("Reviews"),
                columns=[
                    Column(label=_("Reviewed"), kind="datetime"),
                    Column(label=_("Period starts"), kind="date"),
                    Column(label=_("Period ends"), kind="date"),
                    Column(label=_("Total"), kind="int"),
                    Column(label=_("Band")),
                ],
                rows=[
                    [
                        v.reviewed_at.isoformat(),
                        v.period_start.isoformat(),
                        v.period_end.isoformat(),
                        v.total,
                        label(BAND_LABELS, lang, v.band),
                    ]
                    for v in r.reviews
                ],
                hrefs=[f"/reports/fidelity/reviews/{v.id}" for v in r.reviews],
            ),
        ],
    )


def evidence(r: EvidenceReport, lang: str) -> Tables:
    _ = translator(lang).gettext
    return Tables(
        title=item_label(r.item, lang),
        tables=[
            Table(
                title=_("Evidence"),
                columns=[
                    Column(label=_("Client")),
                    Column(label=_("Episode"), kind="int"),
                    Column(label=_("Reference")),
                    Column(label=_("Day"), kind="date"),
                    Column(label=_("Value"), kind="number"),
                    Column(label=_("Detail")),
                    Column(label=_("Meets the criterion")),
                ],
                rows=[
                    [
                        str(x.client_id) if x.client_id else "",
                        x.episode,
                        str(x.ref) if x.ref else "",
                        x.day.isoformat() if x.day else None,
                        x.value,
                        x.detail or "",
                        _yes_no(_, x.ok),
                    ]
                    for x in r.rows
                ],
                hrefs=[f"/clients/{x.client_id}" if x.client_id else None for x in r.rows],
                note=_("Those that miss the criterion first. %(shown)s of %(total)s rows from row %(first)s.")
                % {"shown": len(r.rows), "total": r.total_rows, "first": r.offset + 1},
            )
        ],
    )


def assessments(r: AssessmentsReport, lang: str) -> Tables:
    _ = translator(lang).gettext
    return Tables(
        title=_("Self-assessments and feedback"),
        tables=[
            Table(
                title=_("Change from start to end"),
                columns=[
                    Column(label=_("Assessment")),
                    Column(label=_("Clients"), kind="int"),
                    Column(label=_("Start (0-100)"), kind="number"),
                    Column(label=_("End (0-100)"), kind="number"),
                    Column(label=_("Change"), kind="number"),
                    Column(label=_("Improved"), kind="int"),
                    Column(label=_("Unchanged"), kind="int"),
                    Column(label=_("Worsened"), kind="int"),
                ],
                rows=[
                    [
                        label(INSTRUMENT_LABELS, lang, i.instrument),
                        i.clients,
                        i.mean_start,
                        i.mean_end,
                        i.mean_change,
                        i.improved,
                        i.unchanged,
                        i.worsened,
                    ]
                    for i in r.instruments
                ],
                note=_("Clients with both a start and an end assessment; each score placed on its own scale."),
            ),
            Table(
                title=_("Client feedback"),
                columns=[
                    Column(label=_("Question")),
                    Column(label=_("Answers"), kind="int"),
                    Column(label=_("Mean (1-5)"), kind="number"),
                    *[Column(label=str(a), kind="int") for a in range(1, 6)],
                ],
                rows=[
                    [f"{q.survey}: {q.question}", q.answers, q.mean, *[q.distribution.get(a, 0) for a in range(1, 6)]]
                    for q in r.feedback
                ],
            ),
        ],
    )


def quick_help(r: QuickHelpReport, lang: str) -> Tables:
    _ = translator(lang).gettext
    buckets = list(r.topics[0].by_bucket) if r.topics else []
    return Tables(
        title=_("Quick help"),
        tables=[
            Table(
                title=_("Quick help by topic"),
                columns=[
                    Column(label=_("Topic")),
                    Column(label=_("Times"), kind="int"),
                    Column(label=_("Minutes"), kind="int"),
                ],
                rows=[[label(QUICK_HELP_TOPIC_LABELS, lang, t.topic), t.count, t.minutes] for t in r.topics]
                + [[_("Total"), r.total, r.minutes]],
                note=_("Anonymous: %(n)s") % {"n": r.anonymous},
            ),
            Table(
                title=_("Quick help per period"),
                columns=[
                    Column(label=_("Period")),
                    *[Column(label=label(QUICK_HELP_TOPIC_LABELS, lang, t.topic), kind="int") for t in r.topics],
                    Column(label=_("Total"), kind="int"),
                ],
                rows=[
                    [b, *[t.by_bucket.get(b, 0) for t in r.topics], sum(t.by_bucket.get(b, 0) for t in r.topics)]
                    for b in buckets
                ],
            ),
        ],
    )


def economics(r: EconomicsReport, lang: str) -> Tables:
    _ = translator(lang).gettext
    x = r.result
    return Tables(
        title=_("Economics"),
        tables=[
            Table(
                title=_("Parameters"),
                columns=[Column(label=_("Parameter")), Column(label=_("Value"), kind="number")],
                rows=[
                    [_("Participants"), x.participants],
                    [_("Employed participants"), x.employed],
                    [_("Effect on taxes and benefits per employed participant (€)"), x.effect_per_employed],
                    [_("Employment pension contributions per employed participant (€)"), x.pension_per_employed],
                    [_("Cost of the coaching (€)"), x.coaching_cost],
                ],
            ),
            Table(
                title=_("Result"),
                columns=[Column(label=_("Measure")), Column(label=_("Euros"), kind="number")],
                rows=[
                    [_("Added taxes and saved benefits"), x.effect],
                    [_("Per participant"), x.effect_per_participant],
                    [_("Net effect after the cost of coaching"), x.net],
                    [_("Employment pension contributions"), x.pension_contributions],
                    [_("Effect with pension contributions"), x.effect_with_pensions],
                    [_("Per participant, with pension contributions"), x.effect_with_pensions_per_participant],
                    [_("Net effect with pension contributions"), x.net_with_pensions],
                ],
                note=_("Savings in health care are not counted, so the true effect is larger."),
            ),
        ],
    )


def region(r: RegionReport, lang: str) -> Tables:
    _ = translator(lang).gettext
    rows = [*r.organisations, r.total]
    return Tables(
        title=_("Region roll-up"),
        tables=[
            Table(
                title=_("Organisations of the region"),
                columns=[
                    Column(label=_("Organisation")),
                    Column(label=_("Clients served"), kind="int"),
                    Column(label=_("Active now"), kind="int"),
                    Column(label=_("Closed"), kind="int"),
                    Column(label=_("Employment rate (%)"), kind="number"),
                    Column(label=_("Job starts"), kind="int"),
                    Column(label=_("Quick help"), kind="int"),
                    Column(label=_("Fidelity total"), kind="int"),
                    Column(label=_("Band")),
                ],
                rows=[
                    [
                        o.name if o.organisation_id else _("The whole region"),
                        _hidden(o.served),
                        _hidden(o.active_now),
                        _hidden(o.closed),
                        o.employment_rate,
                        _hidden(o.job_starts),
                        _hidden(o.quick_help),
                        o.fidelity_total,
                        label(BAND_LABELS, lang, o.fidelity_band) if o.fidelity_band else "",
                    ]
                    for o in rows
                ],
                note=_("No personal data. Numbers under %(n)s people are hidden (<%(n)s).") % {"n": r.min_cell},
            ),
            Table(
                title=_("Outcomes per organisation"),
                columns=[
                    Column(label=_("Organisation")),
                    *[Column(label=label(OUTCOME_LABELS, lang, c), kind="int") for c in r.outcome_codes],
                ],
                rows=[
                    [
                        o.name if o.organisation_id else _("The whole region"),
                        *[_hidden(o.outcomes.get(c)) for c in r.outcome_codes],
                    ]
                    for o in rows
                ],
            ),
        ],
    )


def region_fidelity(r: RegionFidelityReport, lang: str) -> Tables:
    _ = translator(lang).gettext
    return Tables(
        title=_("Quality criteria in the region"),
        tables=[
            Table(
                title=_("Fidelity scale side by side"),
                columns=[
                    Column(label=_("Item")),
                    *[Column(label=o.name, kind="int") for o in r.organisations],
                ],
                rows=[[f"{i.number}. {_(i.label)}", *[o.scores.get(i.key) for o in r.organisations]] for i in r.items]
                + [[_("Total of the latest review"), *[o.total for o in r.organisations]]],
                note=_("Automatic items that rest on fewer than %(n)s people are not shown.") % {"n": r.min_cell},
            )
        ],
    )


TABLES: dict[type[BaseModel], Callable[[Any, str], Tables]] = {
    CaseloadReport: caseload,
    FlowReport: flow,
    OutcomesReport: outcomes,
    FidelityReport: fidelity,
    EvidenceReport: evidence,
    AssessmentsReport: assessments,
    QuickHelpReport: quick_help,
    EconomicsReport: economics,
    RegionReport: region,
    RegionFidelityReport: region_fidelity,
}


def tables_of(report: BaseModel, lang: str) -> Tables:
    return TABLES[type(report)](report, lang)
