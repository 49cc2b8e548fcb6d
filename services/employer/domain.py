"""Pure employer-domain rules, without I/O: business ids, industry codes, weeks, counts.

- Y-tunnus (Finnish business id): seven digits, a hyphen and a check digit.
  ``python-stdnum`` (``stdnum.fi.ytunnus``) is the authority on validity; ``parse_ytunnus``
  adds which part is wrong, in a sentence a coordinator can act on.
- TOL 2008 (Statistics Finland's industry classification, NACE Rev. 2 with a fifth
  digit): a section letter A-U, or 2-5 digits whose first two are a division.
- Weeks are ISO weeks in Finnish time; the fidelity target is six face-to-face employer
  contacts per coach a week.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from stdnum.exceptions import ValidationError
from stdnum.fi import ytunnus as stdnum_ytunnus

from shared.contracts.employer import WEEKLY_FACE_TO_FACE_TARGET, ContactMode
from shared.i18n import N_, TIMEZONE

FINLAND = ZoneInfo(TIMEZONE)

# Validation messages are English msgids: the API returns them, the web UI translates them.
MESSAGES: dict[str, str] = {
    "ytunnus_format": N_("A business ID has seven digits, a hyphen and a check digit, e.g. 2077474-0."),
    "ytunnus_check": N_("The check digit of the business ID does not match: check the ID for typing errors."),
    "tol_format": N_("Give the industry as a TOL 2008 code: a section letter A–U or 2–5 digits, e.g. 56101."),
    "tol_division": N_("The first two digits are not a TOL 2008 industry division."),
}

_YTUNNUS_SHAPE = re.compile(r"^(?:FI)?(\d{7})-?(\d)$")


class DomainError(ValueError):
    """An invalid value; ``code`` names what is wrong (a key of ``MESSAGES``)."""

    def __init__(self, code: str) -> None:
        super().__init__(MESSAGES[code])
        self.code = code
        self.message = MESSAGES[code]


# --------------------------------------------------------------------------- Y-tunnus


def ytunnus_check_digit(digits: str) -> int | None:
    """The check digit of seven digits; None when the remainder is 1 (no valid id has it)."""
    remainder = sum(w * int(d) for w, d in zip((7, 9, 10, 5, 8, 4, 2), digits, strict=True)) % 11
    if remainder == 0:
        return 0
    if remainder == 1:
        return None
    return 11 - remainder


def parse_ytunnus(value: str) -> str:
    """A valid business id in its standard form ``NNNNNNN-N``, or ``DomainError``.

    Spaces, a missing hyphen and the VAT prefix ``FI`` are accepted on input.
    """
    compact = re.sub(r"\s", "", value).upper()
    match = _YTUNNUS_SHAPE.match(compact)
    if match is None:
        raise DomainError("ytunnus_format")
    try:
        stdnum_ytunnus.validate(match.group(1) + match.group(2))
    except ValidationError:
        raise DomainError("ytunnus_check") from None
    return f"{match.group(1)}-{match.group(2)}"


# --------------------------------------------------------------------------- TOL 2008

# Sections and the divisions (first two digits) each holds.
TOL_SECTIONS: dict[str, tuple[int, int]] = {
    "A": (1, 3),
    "B": (5, 9),
    "C": (10, 33),
    "D": (35, 35),
    "E": (36, 39),
    "F": (41, 43),
    "G": (45, 47),
    "H": (49, 53),
    "I": (55, 56),
    "J": (58, 63),
    "K": (64, 66),
    "L": (68, 68),
    "M": (69, 75),
    "N": (77, 82),
    "O": (84, 84),
    "P": (85, 85),
    "Q": (86, 88),
    "R": (90, 93),
    "S": (94, 96),
    "T": (97, 98),
    "U": (99, 99),
}
# Numbers inside the ranges above that are not divisions.
_NOT_DIVISIONS = frozenset({4, 34, 40, 44, 48, 54, 57, 67, 76, 83, 89})
_TOL_SHAPE = re.compile(r"^(?:[A-U]|\d{2,5})$")


def tol_section(code: str) -> str | None:
    """The section letter of a TOL code (``"56101"`` -> ``"I"``); None if not a code."""
    if len(code) == 1 and code in TOL_SECTIONS:
        return code
    if len(code) >= 2 and code[:2].isdigit():
        division = int(code[:2])
        if division in _NOT_DIVISIONS:
            return None
        for letter, (low, high) in TOL_SECTIONS.items():
            if low <= division <= high:
                return letter
    return None


def parse_tol(value: str) -> str:
    """A TOL 2008 code in compact form (dots and spaces dropped, letter upper case)."""
    code = re.sub(r"[\s.]", "", value).upper()
    if not _TOL_SHAPE.match(code):
        raise DomainError("tol_format")
    if tol_section(code) is None:
        raise DomainError("tol_division")
    return code


def looks_like_tol(value: str) -> bool:
    """Whether a preference is meant as a TOL code rather than a keyword."""
    code = re.sub(r"[\s.]", "", value).upper()
    return bool(_TOL_SHAPE.match(code)) and tol_section(code) is not None


def tol_covers(preference: str, industry: str | None) -> bool:
    """Whether an industry code falls under a preferred code: the same section letter,
    or the preference's digits as a prefix (``"56"`` covers ``"56101"``)."""
    if not industry:
        return False
    if preference.isalpha():
        return tol_section(industry) == preference
    if industry.isalpha():
        return False
    return industry.startswith(preference)


# --------------------------------------------------------------------------- time


def finnish_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(FINLAND).date()


def occurred_at(day: date, now: datetime) -> datetime:
    """The moment a dated event is reported to the journey: noon Finnish time on ``day``,
    but never later than ``now`` (a journey refuses milestones from the future)."""
    noon = datetime.combine(day, time(12, 0), tzinfo=FINLAND).astimezone(UTC)
    return min(noon, now.astimezone(UTC))


_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class Week:
    year: int
    week: int

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    def shift(self, weeks: int) -> Week:
        return week_of(self.monday + timedelta(weeks=weeks))


def week_of(day: date) -> Week:
    year, week, _ = day.isocalendar()
    return Week(year, week)


def parse_week(value: str) -> Week:
    """An ISO week ``YYYY-Www``; ``ValueError`` if there is no such week."""
    match = _ISO_WEEK.match(value.strip())
    if match is None:
        raise ValueError("use the form YYYY-Www, e.g. 2026-W03")
    year, week = int(match.group(1)), int(match.group(2))
    date.fromisocalendar(year, week, 1)  # raises for week 0 or 53 in a 52-week year
    return Week(year, week)


# --------------------------------------------------------------------------- weekly counts


@dataclass(frozen=True)
class ContactFact:
    staff_id: str
    occurred_on: date
    mode: ContactMode


@dataclass(frozen=True)
class WeeklyCount:
    staff_id: str
    face_to_face: int
    other: int
    target: int = WEEKLY_FACE_TO_FACE_TARGET

    @property
    def total(self) -> int:
        return self.face_to_face + self.other

    @property
    def target_met(self) -> bool:
        return self.face_to_face >= self.target


def weekly_counts(contacts: Iterable[ContactFact], week: Week, staff: Iterable[str] = ()) -> list[WeeklyCount]:
    """Employer contacts in ``week`` per staff member; everyone in ``staff`` appears, with
    or without contacts. Ordered by face-to-face contacts, most first, then by id."""
    face: dict[str, int] = dict.fromkeys(staff, 0)
    other: dict[str, int] = dict.fromkeys(staff, 0)
    for c in contacts:
        if not week.monday <= c.occurred_on <= week.sunday:
            continue
        face.setdefault(c.staff_id, 0)
        other.setdefault(c.staff_id, 0)
        if c.mode is ContactMode.FACE_TO_FACE:
            face[c.staff_id] += 1
        else:
            other[c.staff_id] += 1
    rows = [WeeklyCount(staff_id=s, face_to_face=face[s], other=other[s]) for s in face]
    return sorted(rows, key=lambda r: (-r.face_to_face, -r.other, r.staff_id))


def relationship_level(levels_by_time: Iterable[tuple[date, datetime, int]]) -> int | None:
    """The employer's current relationship level: the level of the latest contact."""
    latest = max(levels_by_time, default=None)
    return None if latest is None else latest[2]
