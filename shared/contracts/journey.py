"""Journey vocabulary shared by the workflow, the services and reporting."""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    INTAKE = "INTAKE"
    PROFILING = "PROFILING"
    JOB_SEARCH = "JOB_SEARCH"
    EMPLOYER_AGREEMENT = "EMPLOYER_AGREEMENT"
    FOLLOW_ALONG = "FOLLOW_ALONG"


PHASE_ORDER: tuple[Phase, ...] = tuple(Phase)


class Status(StrEnum):
    ACTIVE = "ACTIVE"
    RESTING = "RESTING"
    CLOSED = "CLOSED"


class RestReason(StrEnum):
    HEALTH_CLARIFICATION = "health_clarification"
    REHABILITATIVE_WORK_ACTIVITY = "rehabilitative_work_activity"
    LIFE_SITUATION = "life_situation"
    CLIENT_REQUEST = "client_request"
    OTHER = "other"


class Outcome(StrEnum):
    EMPLOYED = "employed"
    EDUCATION = "education"
    WORK_TRIAL = "work_trial"
    REHABILITATIVE_WORK_ACTIVITY = "rehabilitative_work_activity"
    WORK_ABILITY_ASSESSMENT = "work_ability_assessment"
    SICK_LEAVE = "sick_leave"
    DISCONTINUED = "discontinued"
    DISENGAGED = "disengaged"
    RETURNED_TO_REFERRER = "returned_to_referrer"


class Role(StrEnum):
    COACH = "coach"
    EMPLOYER_COORDINATOR = "employer_coordinator"
    TEAM_LEAD = "team_lead"
    AUDITOR = "auditor"
    REGION_ANALYST = "region_analyst"
    ORG_ADMIN = "org_admin"


def journey_workflow_id(organisation_id: str, client_id: str) -> str:
    return f"journey-{organisation_id}-{client_id}"


# Custom search attributes the Temporal server must know before a journey runs.
SEARCH_ATTRIBUTES: dict[str, str] = {
    "OrganisationId": "Keyword",
    "CoachId": "Keyword",
    "JourneyPhase": "Keyword",
    "JourneyStatus": "Keyword",
}
