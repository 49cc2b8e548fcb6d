"""Employer vocabulary shared by the employer service, its events and reporting: codes only."""

from __future__ import annotations

from enum import StrEnum

# The weekly target of face-to-face employer contacts per coach (IPS job development, frequency).
WEEKLY_FACE_TO_FACE_TARGET = 6


class ContactChannel(StrEnum):
    """How the employer prefers to be contacted. Employers asked for e-mail, so it is the default."""

    EMAIL = "email"
    PHONE = "phone"
    FACE_TO_FACE = "face_to_face"


class SupportNeed(StrEnum):
    """What an employer wants from the service (survey of Kymenlaakso employers)."""

    INFO_COACHING = "info_coaching"  # information on the coach's services
    INFO_WORK_TRIAL = "info_work_trial"
    INFO_WAGE_SUBSIDY = "info_wage_subsidy"
    HELP_CONTRACT = "help_contract"  # agreeing a trial or a contract
    HELP_JOB_START = "help_job_start"
    HELP_TASK_TAILORING = "help_task_tailoring"
    HELP_DURING_EMPLOYMENT = "help_during_employment"
    HELP_PAPERWORK = "help_paperwork"


class ContactMode(StrEnum):
    FACE_TO_FACE = "face_to_face"
    PHONE = "phone"
    EMAIL = "email"


class ContactPurpose(StrEnum):
    LEARN_NEEDS = "learn_needs"  # learn the employer's needs
    PRESENT_SERVICE = "present_service"
    PRESENT_CLIENT = "present_client"  # present a client's strengths
    FOLLOW_UP = "follow_up"


class OpeningSource(StrEnum):
    EMPLOYER = "employer"  # the employer announced or offered it
    TEAM = "team"  # found by the team (job development, postings)


class OpeningStatus(StrEnum):
    OPEN = "open"
    FILLED = "filled"
    CLOSED = "closed"


class PlacementKind(StrEnum):
    OPEN_MARKET = "open_market"  # a job in the open labour market
    WORK_TRIAL = "work_trial"  # työkokeilu
    WAGE_SUBSIDY = "wage_subsidy"  # palkkatuki
    APPRENTICESHIP = "apprenticeship"  # oppisopimus
    OTHER = "other"


class CoachSupport(StrEnum):
    """What the coach agreed with the employer to do (the support agreement)."""

    ONBOARDING = "onboarding"
    TASK_TAILORING = "task_tailoring"
    WORKPLACE_VISITS = "workplace_visits"
    PAPERWORK = "paperwork"


class WorkArrangementSupport(StrEnum):
    """Työolosuhteiden järjestelytuki: not needed, applied for, or granted."""

    NONE = "none"
    APPLIED = "applied"
    GRANTED = "granted"


class PlacementStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class PlacementEndReason(StrEnum):
    CONTRACT_ENDED = "contract_ended"  # fixed term or trial period over
    CLIENT_RESIGNED = "client_resigned"
    EMPLOYER_ENDED = "employer_ended"
    NEW_JOB = "new_job"  # moved on to another job
    HEALTH = "health"
    STUDIES = "studies"
    OTHER = "other"


class JourneyReport(StrEnum):
    """What the client's journey said to a milestone the employer service reported."""

    RECORDED = "recorded"
    ALREADY_RECORDED = "already_recorded"  # e.g. the first employer contact was earlier
    NOT_APPLICABLE = "not_applicable"  # nothing to report (not client-specific, not face to face)
    NOT_RECORDED = "not_recorded"  # the journey refused it (closed, no current job, ...); see the code
