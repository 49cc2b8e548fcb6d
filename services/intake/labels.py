"""Labels of the intake vocabulary (English msgids, translated when rendered) and the
translation of validation errors into field messages for the forms."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from services.intake.models import MESSAGES
from shared.contracts.intake import (
    ClientSource,
    ConsentScope,
    DeclineReason,
    InformationParty,
    QuickHelpTopic,
    ReferralStatus,
    ReferrerType,
)
from shared.i18n import N_, label, translator

REFERRER_TYPE: dict[str, str] = {
    ReferrerType.EMPLOYMENT_SERVICES: N_("Employment services (TE services)"),
    ReferrerType.SOCIAL_SERVICES: N_("Social services"),
    ReferrerType.HEALTH_SERVICES: N_("Health services"),
    ReferrerType.MENTAL_HEALTH_SERVICES: N_("Mental health services"),
    ReferrerType.KELA: N_("Kela"),
    ReferrerType.EDUCATION: N_("Educational institution"),
    ReferrerType.OTHER: N_("Other referrer"),
}
DECLINE_REASON: dict[str, str] = {
    DeclineReason.NO_WISH_FOR_OPEN_EMPLOYMENT: N_("No wish to work in the open labour market"),
    DeclineReason.PERSON_DECLINED: N_("The person did not want the service"),
    DeclineReason.UNREACHABLE: N_("The person could not be reached"),
    DeclineReason.OUTSIDE_AREA: N_("Lives outside the service area"),
    DeclineReason.ALREADY_A_CLIENT: N_("Already a client"),
    DeclineReason.CHOSE_OTHER_SERVICE: N_("Chose another service"),
    DeclineReason.NOT_WORK_READY: N_("Judged not ready for work"),
    DeclineReason.HEALTH_OR_SUBSTANCE_USE: N_("Health or substance use"),
    DeclineReason.NO_CAPACITY: N_("No capacity"),
    DeclineReason.OTHER: N_("Other reason"),
}
REFERRAL_STATUS: dict[str, str] = {
    ReferralStatus.RECEIVED: N_("Waiting for a decision"),
    ReferralStatus.ACCEPTED: N_("Accepted"),
    ReferralStatus.DECLINED: N_("Declined"),
}
INFORMATION_PARTY: dict[str, str] = {
    InformationParty.EMPLOYMENT_SERVICES: N_("Employment services (TE services)"),
    InformationParty.SOCIAL_SERVICES: N_("Social services"),
    InformationParty.HEALTH_SERVICES: N_("Health services"),
    InformationParty.MENTAL_HEALTH_SERVICES: N_("Mental health services"),
    InformationParty.KELA: N_("Kela"),
    InformationParty.REFERRING_PARTY: N_("The referring party"),
    InformationParty.OTHER: N_("Another party"),
}
CONSENT_SCOPE: dict[str, str] = {
    ConsentScope.PROCESSING: N_("Processing of personal data in the service"),
    ConsentScope.INFORMATION_EXCHANGE: N_("Information exchange"),
}
QUICK_HELP_TOPIC: dict[str, str] = {
    QuickHelpTopic.INTERVIEW_PREPARATION: N_("Job interview preparation"),
    QuickHelpTopic.CV: N_("CV and application"),
    QuickHelpTopic.STRENGTHS: N_("Strengths and skills"),
    QuickHelpTopic.JOB_SEARCH: N_("Job search"),
    QuickHelpTopic.WORK_TRIAL_OR_WAGE_SUBSIDY: N_("Work trial or wage subsidy"),
    QuickHelpTopic.BENEFITS: N_("Benefits"),
    QuickHelpTopic.OTHER: N_("Other topic"),
}
LANGUAGE: dict[str, str] = {"fi": N_("Finnish"), "sv": N_("Swedish"), "en": N_("English")}
SOURCE: dict[str, str] = {
    ClientSource.REFERRAL: N_("Referral"),
    ClientSource.SELF_REFERRAL: N_("Self-referral"),
}

# Field messages for pydantic's own error types; the intake validators' own messages are
# in ``MESSAGES`` under their error type.
GENERIC: dict[str, str] = {
    "missing": N_("Required."),
    "string_too_short": N_("Required."),
    "string_too_long": N_("Too long."),
    "date_parsing": N_("Give a date."),
    "date_from_datetime_parsing": N_("Give a date."),
    "date_type": N_("Give a date."),
    "int_parsing": N_("Give a whole number."),
    "int_type": N_("Give a whole number."),
    "greater_than_equal": N_("The number is out of range."),
    "less_than_equal": N_("The number is out of range."),
    "enum": N_("Choose one of the options."),
    "literal_error": N_("Choose one of the options."),
    "string_pattern_mismatch": N_("Choose one of the options."),
    "uuid_parsing": N_("Choose one of the options."),
    "uuid_type": N_("Choose one of the options."),
    "bool_parsing": N_("Choose yes or no."),
    "extra_forbidden": N_("Unknown field."),
}
EMAIL = N_("Check the e-mail address.")
FALLBACK = N_("Check this field.")


def filters(lang: str) -> dict[str, Callable[[object], str]]:
    def vocabulary(labels: Mapping[str, str]) -> Callable[[object], str]:
        return lambda code: label(labels, lang, code)

    return {
        "referrer_label": vocabulary(REFERRER_TYPE),
        "decline_label": vocabulary(DECLINE_REASON),
        "referral_status_label": vocabulary(REFERRAL_STATUS),
        "party_label": vocabulary(INFORMATION_PARTY),
        "consent_scope_label": vocabulary(CONSENT_SCOPE),
        "topic_label": vocabulary(QUICK_HELP_TOPIC),
        "language_label": vocabulary(LANGUAGE),
        "source_label": vocabulary(SOURCE),
    }


OPTIONS: dict[str, Mapping[str, str]] = {
    "referrer": REFERRER_TYPE,
    "decline": DECLINE_REASON,
    "party": INFORMATION_PARTY,
    "topic": QUICK_HELP_TOPIC,
    "language": LANGUAGE,
}


def options(lang: str) -> Callable[[str], list[tuple[str, str]]]:
    """``options("topic")`` in a template: (code, translated label) pairs for a select."""
    gettext = translator(lang).gettext
    return lambda kind: [(str(code), gettext(msgid)) for code, msgid in OPTIONS[kind].items()]


def field_messages(errors: Iterable[Mapping[str, Any]], lang: str) -> dict[str, str]:
    """``{"field.path": "translated message"}`` from pydantic errors or ``FieldError`` dicts
    (keys ``loc`` or ``field``, and ``type``); the first message per field wins."""
    gettext = translator(lang).gettext
    out: dict[str, str] = {}
    for error in errors:
        path = str(error["field"]) if "field" in error else ".".join(str(p) for p in error.get("loc", ()))
        kind = str(error.get("type", ""))
        if kind in MESSAGES:
            msgid = MESSAGES[kind]
        elif path.endswith("email") and kind == "value_error":
            msgid = EMAIL
        else:
            msgid = GENERIC.get(kind, FALLBACK)
        out.setdefault(path, gettext(msgid))
    return out
