"""Intake vocabulary shared by the intake service, its events and reporting: codes only."""

from __future__ import annotations

from enum import StrEnum


class ReferrerType(StrEnum):
    """Who referred the person (lähettävä taho)."""

    EMPLOYMENT_SERVICES = "employment_services"  # TE / municipal employment services
    SOCIAL_SERVICES = "social_services"
    HEALTH_SERVICES = "health_services"
    MENTAL_HEALTH_SERVICES = "mental_health_services"
    KELA = "kela"
    EDUCATION = "education"
    OTHER = "other"


class DeclineReason(StrEnum):
    """Why a referral was declined. Zero exclusion: the person's own wish to work in the
    open labour market is the only entry criterion, so the reasons in ``EXCLUDING`` mean
    someone who wanted work was turned away; the team lead's view flags them."""

    NO_WISH_FOR_OPEN_EMPLOYMENT = "no_wish_for_open_employment"
    PERSON_DECLINED = "person_declined"
    UNREACHABLE = "unreachable"
    OUTSIDE_AREA = "outside_area"
    ALREADY_A_CLIENT = "already_a_client"
    CHOSE_OTHER_SERVICE = "chose_other_service"
    NOT_WORK_READY = "not_work_ready"
    HEALTH_OR_SUBSTANCE_USE = "health_or_substance_use"
    NO_CAPACITY = "no_capacity"
    OTHER = "other"


EXCLUDING: frozenset[DeclineReason] = frozenset(
    {DeclineReason.NOT_WORK_READY, DeclineReason.HEALTH_OR_SUBSTANCE_USE, DeclineReason.NO_CAPACITY}
)


class ReferralStatus(StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class ConsentScope(StrEnum):
    PROCESSING = "processing"  # processing of personal data in the service
    INFORMATION_EXCHANGE = "information_exchange"  # with one named party


class InformationParty(StrEnum):
    EMPLOYMENT_SERVICES = "employment_services"
    SOCIAL_SERVICES = "social_services"
    HEALTH_SERVICES = "health_services"
    MENTAL_HEALTH_SERVICES = "mental_health_services"
    KELA = "kela"
    REFERRING_PARTY = "referring_party"
    OTHER = "other"


class QuickHelpTopic(StrEnum):
    """Pika-apu: one-off coaching for a specific need."""

    INTERVIEW_PREPARATION = "interview_preparation"
    CV = "cv"
    STRENGTHS = "strengths"
    JOB_SEARCH = "job_search"
    WORK_TRIAL_OR_WAGE_SUBSIDY = "work_trial_or_wage_subsidy"
    BENEFITS = "benefits"
    OTHER = "other"


class ClientSource(StrEnum):
    REFERRAL = "referral"
    SELF_REFERRAL = "self_referral"


LANGUAGES: tuple[str, ...] = ("fi", "sv", "en")
