"""Labels of the employer vocabulary (English msgids, translated when rendered) and the
sentences that explain a match."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from services.employer.domain import tol_section
from shared.i18n import N_, format_number, label, translator

CHANNEL_LABELS: dict[str, str] = {
    "email": N_("E-mail"),
    "phone": N_("Phone"),
    "face_to_face": N_("Face to face"),
}
MODE_LABELS = CHANNEL_LABELS
SUPPORT_NEED_LABELS: dict[str, str] = {
    "info_coaching": N_("Information on the coaching service"),
    "info_work_trial": N_("Information on work trials"),
    "info_wage_subsidy": N_("Information on wage subsidy"),
    "help_contract": N_("Help agreeing a trial or a contract"),
    "help_job_start": N_("Help at the start of the job"),
    "help_task_tailoring": N_("Help tailoring tasks"),
    "help_during_employment": N_("Support during employment"),
    "help_paperwork": N_("Help with paperwork"),
}
PURPOSE_LABELS: dict[str, str] = {
    "learn_needs": N_("Learn the employer's needs"),
    "present_service": N_("Present the service"),
    "present_client": N_("Present a client's strengths"),
    "follow_up": N_("Follow up"),
}
# The five levels of employer relationships (IPS job development, quality).
LEVEL_LABELS: dict[str, str] = {
    "1": N_("Meets employers only when a client applies, or rarely"),
    "2": N_("Asks about open jobs"),
    "3": N_("Reacts to posted jobs by introducing the service"),
    "4": N_("Meets the employer in person and presents clients' strengths"),
    "5": N_("Builds a relationship over many meetings to learn the employer's needs"),
}
SOURCE_LABELS: dict[str, str] = {
    "employer": N_("From the employer"),
    "team": N_("Found by the team"),
}
OPENING_STATUS_LABELS: dict[str, str] = {
    "open": N_("Still open"),
    "filled": N_("Filled"),
    "closed": N_("No longer open"),
}
KIND_LABELS: dict[str, str] = {
    "open_market": N_("Job in the open labour market"),
    "work_trial": N_("Work trial"),
    "wage_subsidy": N_("Wage-subsidised job"),
    "apprenticeship": N_("Apprenticeship"),
    "other": N_("Other arrangement"),
}
COACH_SUPPORT_LABELS: dict[str, str] = {
    "onboarding": N_("Onboarding at the workplace"),
    "task_tailoring": N_("Tailoring tasks"),
    "workplace_visits": N_("Workplace visits"),
    "paperwork": N_("Paperwork"),
}
WORK_ARRANGEMENT_LABELS: dict[str, str] = {
    "none": N_("Not needed"),
    "applied": N_("Applied for"),
    "granted": N_("Granted"),
}
PLACEMENT_STATUS_LABELS: dict[str, str] = {
    "active": N_("Ongoing"),
    "ended": N_("Ended"),
}
END_REASON_LABELS: dict[str, str] = {
    "contract_ended": N_("Fixed term or trial period ended"),
    "client_resigned": N_("The client resigned"),
    "employer_ended": N_("The employer ended it"),
    "new_job": N_("Moved to another job"),
    "health": N_("Health reasons"),
    "studies": N_("Went to study"),
    "other": N_("Other reason"),
}
JOURNEY_REPORT_LABELS: dict[str, str] = {
    "recorded": N_("Recorded as the client's first employer contact"),
    "already_recorded": N_("The client's first employer contact was recorded earlier"),
    "not_applicable": N_("Not reported to the journey"),
    "not_recorded": N_("The journey did not record it"),
}
# TOL 2008 sections (Statistics Finland).
TOL_SECTION_LABELS: dict[str, str] = {
    "A": N_("Agriculture, forestry and fishing"),
    "B": N_("Mining and quarrying"),
    "C": N_("Manufacturing"),
    "D": N_("Electricity, gas, steam and air conditioning supply"),
    "E": N_("Water supply; sewerage, waste management and remediation"),
    "F": N_("Construction"),
    "G": N_("Wholesale and retail trade; repair of motor vehicles"),
    "H": N_("Transportation and storage"),
    "I": N_("Accommodation and food service activities"),
    "J": N_("Information and communication"),
    "K": N_("Financial and insurance activities"),
    "L": N_("Real estate activities"),
    "M": N_("Professional, scientific and technical activities"),
    "N": N_("Administrative and support service activities"),
    "O": N_("Public administration and defence; compulsory social security"),
    "P": N_("Education"),
    "Q": N_("Human health and social work activities"),
    "R": N_("Arts, entertainment and recreation"),
    "S": N_("Other service activities"),
    "T": N_("Activities of households as employers"),
    "U": N_("Activities of extraterritorial organisations"),
}
# Why a suggestion fits (and what does not), one sentence per reason code.
REASON_TEXTS: dict[str, str] = {
    "tailored": N_("Tasks carved for this client"),
    "field_industry": N_("Field: the industry %(value)s is under the preferred %(preference)s"),
    "field_keyword": N_("Field: “%(preference)s” appears in the opening"),
    "area": N_("Area: %(value)s is a preferred area"),
    "hours": N_("Hours: %(value)s h/week fits the preferred %(preference)s h/week"),
    "interest": N_("Interest: “%(preference)s” appears in the opening"),
    "hours_outside": N_("Hours: %(value)s h/week is outside the preferred %(preference)s h/week"),
    "area_elsewhere": N_("Area: %(value)s is not among the preferred areas (%(preference)s)"),
}
# Problems the API answers with a code, in words for the pages.
PROBLEM_TEXTS: dict[str, str] = {
    "employer_exists": N_("An employer with this business ID is already in the register."),
    "placement_ended": N_("The placement has ended already."),
    "job_already_started": N_("The client's journey has a job running: end that placement first."),
    "illegal_confirm_move": N_("The journey cannot be moved from its current phase: untick the move and try again."),
    "closed_accepts_only_reopen": N_("The client's journey is closed."),
    "no_current_job": N_("The client's journey has no job running."),
    "ends_before_start": N_("The job cannot end before it started."),
    "occurred_in_future": N_("The date cannot be in the future."),
}


def reason_text(lang: str, reason: Mapping[str, Any]) -> str:
    msgid = REASON_TEXTS.get(str(reason.get("code")), "")
    if not msgid:
        return str(reason.get("text", ""))
    return translator(lang).gettext(msgid) % {
        "value": reason.get("value", ""),
        "preference": reason.get("preference", ""),
    }


def filters(lang: str) -> dict[str, Callable[..., str]]:
    def vocabulary(labels: Mapping[str, str]) -> Callable[[object], str]:
        return lambda code: label(labels, lang, code)

    def industry(code: object) -> str:
        if not code:
            return ""
        section = tol_section(str(code))
        if section is None:
            return str(code)
        name = label(TOL_SECTION_LABELS, lang, section)
        return f"{section} – {name}" if section == code else f"{code} ({section} – {name})"

    return {
        "channel_label": vocabulary(CHANNEL_LABELS),
        "mode_label": vocabulary(MODE_LABELS),
        "support_need_label": vocabulary(SUPPORT_NEED_LABELS),
        "purpose_label": vocabulary(PURPOSE_LABELS),
        "level_label": vocabulary(LEVEL_LABELS),
        "source_label": vocabulary(SOURCE_LABELS),
        "opening_status_label": vocabulary(OPENING_STATUS_LABELS),
        "kind_label": vocabulary(KIND_LABELS),
        "coach_support_label": vocabulary(COACH_SUPPORT_LABELS),
        "work_arrangement_label": vocabulary(WORK_ARRANGEMENT_LABELS),
        "placement_status_label": vocabulary(PLACEMENT_STATUS_LABELS),
        "end_reason_label": vocabulary(END_REASON_LABELS),
        "journey_report_label": vocabulary(JOURNEY_REPORT_LABELS),
        "tol_section_label": vocabulary(TOL_SECTION_LABELS),
        "industry_label": industry,
        "reason_text": lambda reason: reason_text(lang, reason),
        "hours": lambda value: "" if value is None else format_number(value, lang),
    }


CHOICES: dict[str, dict[str, str]] = {
    "channel": CHANNEL_LABELS,
    "support_need": SUPPORT_NEED_LABELS,
    "mode": MODE_LABELS,
    "purpose": PURPOSE_LABELS,
    "level": LEVEL_LABELS,
    "source": SOURCE_LABELS,
    "opening_status": OPENING_STATUS_LABELS,
    "kind": KIND_LABELS,
    "coach_support": COACH_SUPPORT_LABELS,
    "work_arrangement": WORK_ARRANGEMENT_LABELS,
    "end_reason": END_REASON_LABELS,
}


def choices(lang: str) -> Callable[[str], list[tuple[str, str]]]:
    """``choices("mode")`` in a template: the (code, translated label) pairs of a vocabulary."""
    gettext = translator(lang).gettext

    def pairs(kind: str) -> list[tuple[str, str]]:
        if kind == "level":
            return [(code, f"{code} – {gettext(text)}") for code, text in LEVEL_LABELS.items()]
        return [(code, gettext(text)) for code, text in CHOICES[kind].items()]

    return pairs
