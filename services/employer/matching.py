"""Matching job seekers and openings: pure domain logic, no I/O.

A client's match profile holds the vocational-profile preferences that matter here:
preferred fields (TOL 2008 codes or keywords), hours per week, areas (municipalities)
and interests (keywords). An opening fits a profile for named reasons; the score only
orders suggestions, the reasons are what a coach reads:

| reason | points | when |
|---|---|---|
| ``tailored`` | 5 | the opening's tasks were carved for this client |
| ``field_industry`` | 4 | the opening's industry falls under a preferred TOL code |
| ``field_keyword`` | 4 | a preferred field word appears in the opening (once with the above) |
| ``area`` | 3 | the opening's municipality is a preferred area |
| ``hours`` | 2 | the opening's hours overlap the preferred range |
| ``interest`` | 1 each, at most 3 | an interest word appears in the opening |

``concerns`` name what does not fit (hours outside the range, another municipality),
without removing the suggestion. An opening with no reason at all is not suggested;
an opening carved for another client is never suggested.

Words match case-insensitively as substrings, so Finnish compounds and inflections are
found (``keittiö`` in ``keittiöapulainen``, ``ravintola`` in ``ravintolassa``); words of
three letters or fewer must match a whole word.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from services.employer.domain import looks_like_tol, tol_covers

ReasonCode = Literal["tailored", "field_industry", "field_keyword", "area", "hours", "interest"]
ConcernCode = Literal["hours_outside", "area_elsewhere"]

POINTS: dict[str, int] = {
    "tailored": 5,
    "field_industry": 4,
    "field_keyword": 4,
    "area": 3,
    "hours": 2,
    "interest": 1,
}
MAX_INTEREST_POINTS = 3


@dataclass(frozen=True)
class Profile:
    fields: tuple[str, ...] = ()
    hours_min: float | None = None
    hours_max: float | None = None
    areas: tuple[str, ...] = ()
    interests: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.fields or self.areas or self.interests) and self.hours_min is None and self.hours_max is None


@dataclass(frozen=True)
class OpeningFacts:
    id: str
    title: str
    industry: str | None = None
    municipality: str | None = None
    hours_min: float | None = None
    hours_max: float | None = None
    keywords: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    employer_name: str = ""
    # Set when the tasks were carved for one client (job carving).
    for_client_id: str | None = None

    def text(self) -> str:
        return normalise(" | ".join([self.title, *self.keywords, *self.tasks, self.employer_name]))


@dataclass(frozen=True)
class Reason:
    code: str  # a ReasonCode or ConcernCode
    preference: str = ""  # the client's preference that matched (or was missed)
    value: str = ""  # what in the opening matched it


@dataclass(frozen=True)
class Suggestion:
    """An opening for a client, or a client for an opening, and why."""

    target_id: str
    score: int
    reasons: tuple[Reason, ...]
    concerns: tuple[Reason, ...] = field(default_factory=tuple)


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def mentions(text: str, word: str) -> bool:
    """Whether normalised ``text`` mentions ``word`` (substring; whole word if short)."""
    needle = normalise(word)
    if not needle:
        return False
    if len(needle) <= 3:
        return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", text) is not None
    return needle in text


def _hours(value_min: float | None, value_max: float | None) -> str:
    def fmt(v: float) -> str:
        return f"{v:g}"

    if value_min is not None and value_max is not None:
        return fmt(value_min) if value_min == value_max else f"{fmt(value_min)}–{fmt(value_max)}"
    if value_min is not None:
        return f"{fmt(value_min)}–"
    if value_max is not None:
        return f"–{fmt(value_max)}"
    return ""


def _overlap(a_min: float | None, a_max: float | None, b_min: float | None, b_max: float | None) -> bool:
    low_a, high_a = a_min if a_min is not None else 0.0, a_max if a_max is not None else float("inf")
    low_b, high_b = b_min if b_min is not None else 0.0, b_max if b_max is not None else float("inf")
    return low_a <= high_b and low_b <= high_a


def fit(profile: Profile, opening: OpeningFacts, client_id: str) -> tuple[int, list[Reason], list[Reason]] | None:
    """Score, reasons and concerns of ``opening`` for the client; None if never suggested."""
    if opening.for_client_id is not None and opening.for_client_id != client_id:
        return None
    reasons: list[Reason] = []
    concerns: list[Reason] = []
    score = 0
    if opening.for_client_id == client_id:
        reasons.append(Reason("tailored"))
        score += POINTS["tailored"]

    text = opening.text()
    field_reasons: list[Reason] = []
    for preference in profile.fields:
        if looks_like_tol(preference):
            code = re.sub(r"[\s.]", "", preference).upper()
            if tol_covers(code, opening.industry):
                field_reasons.append(Reason("field_industry", preference, opening.industry or ""))
        elif mentions(text, preference):
            field_reasons.append(Reason("field_keyword", preference, opening.title))
    if field_reasons:
        reasons.extend(field_reasons)
        score += max(POINTS[r.code] for r in field_reasons)

    if opening.municipality and profile.areas:
        place = normalise(opening.municipality)
        if any(normalise(a) == place for a in profile.areas):
            reasons.append(Reason("area", opening.municipality, opening.municipality))
            score += POINTS["area"]
        else:
            concerns.append(Reason("area_elsewhere", ", ".join(profile.areas), opening.municipality))

    has_profile_hours = profile.hours_min is not None or profile.hours_max is not None
    has_opening_hours = opening.hours_min is not None or opening.hours_max is not None
    if has_profile_hours and has_opening_hours:
        wanted = _hours(profile.hours_min, profile.hours_max)
        offered = _hours(opening.hours_min, opening.hours_max)
        if _overlap(profile.hours_min, profile.hours_max, opening.hours_min, opening.hours_max):
            reasons.append(Reason("hours", wanted, offered))
            score += POINTS["hours"]
        else:
            concerns.append(Reason("hours_outside", wanted, offered))

    interest_points = 0
    for interest in profile.interests:
        if mentions(text, interest):
            reasons.append(Reason("interest", interest, opening.title))
            interest_points += POINTS["interest"]
    score += min(interest_points, MAX_INTEREST_POINTS)

    if not reasons:
        return None
    return score, reasons, concerns


def _ordered(suggestions: Iterable[tuple[Suggestion, str]]) -> list[Suggestion]:
    return [s for s, _ in sorted(suggestions, key=lambda p: (-p[0].score, -len(p[0].reasons), p[1], p[0].target_id))]


def rank_openings(profile: Profile, openings: Sequence[OpeningFacts], client_id: str) -> list[Suggestion]:
    """Openings for one client, best fit first."""
    found: list[tuple[Suggestion, str]] = []
    for opening in openings:
        result = fit(profile, opening, client_id)
        if result is not None:
            score, reasons, concerns = result
            found.append((Suggestion(opening.id, score, tuple(reasons), tuple(concerns)), normalise(opening.title)))
    return _ordered(found)


def rank_clients(opening: OpeningFacts, profiles: Mapping[str, Profile]) -> list[Suggestion]:
    """Clients (by id) for one opening, best fit first."""
    found: list[tuple[Suggestion, str]] = []
    for client_id, profile in profiles.items():
        result = fit(profile, opening, client_id)
        if result is not None:
            score, reasons, concerns = result
            found.append((Suggestion(client_id, score, tuple(reasons), tuple(concerns)), client_id))
    return _ordered(found)


# English sentences of the reasons, for API callers; the web UI translates the codes.
_TEXT: dict[str, str] = {
    "tailored": "tasks tailored for this client",
    "field_industry": "preferred field {preference} covers the industry {value}",
    "field_keyword": "preferred field '{preference}' appears in the opening",
    "area": "in {value}, a preferred area",
    "hours": "{value} h/week fits the preferred {preference} h/week",
    "interest": "interest '{preference}' appears in the opening",
    "hours_outside": "{value} h/week is outside the preferred {preference} h/week",
    "area_elsewhere": "in {value}, not in the preferred areas ({preference})",
}


def explain(reason: Reason) -> str:
    return _TEXT[reason.code].format(preference=reason.preference, value=reason.value)


def explanation(suggestion: Suggestion) -> str:
    """One English sentence: why, and what does not fit."""
    why = "; ".join(explain(r) for r in suggestion.reasons)
    if suggestion.concerns:
        why += ". But: " + "; ".join(explain(c) for c in suggestion.concerns)
    return why[:1].upper() + why[1:] + "."
