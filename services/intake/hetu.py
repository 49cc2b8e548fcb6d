"""The Finnish personal identity code (henkilötunnus, HETU): DDMMYYCZZZQ.

DD MM YY the date of birth, C the century sign, ZZZ the individual number, Q the check
character: ``int(DDMMYYZZZ) % 31`` indexed into ``0123456789ABCDEFHJKLMNPRSTUVWXY``.
Century signs (Population Register Centre, since 2023): ``+`` 1800s; ``-`` and
``Y X W V U`` 1900s; ``A`` and ``B C D E F`` 2000s.

``python-stdnum`` (``stdnum.fi.hetu``) is the authority on validity; it knows every sign
above. This module adds what a form needs on top: which part is wrong, in a sentence a
coach can act on, and the date of birth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from stdnum.exceptions import ValidationError
from stdnum.fi import hetu as stdnum_hetu

from shared.i18n import N_

CHECK_CHARACTERS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
CENTURIES: dict[str, int] = {
    "+": 1800,
    **dict.fromkeys("-YXWVU", 1900),
    **dict.fromkeys("ABCDEF", 2000),
}
_SHAPE = re.compile(r"^(\d{2})(\d{2})(\d{2})(.)(\d{3})(.)$")

# Messages are English msgids: the API returns them as they are, the web UI translates them.
MESSAGES: dict[str, str] = {
    "hetu_format": N_("An identity code has 11 characters: date of birth, century sign, "
                      "individual number and check character, e.g. 131052-308T."),
    "hetu_century": N_("The 7th character must be a century sign: + for the 1800s, - Y X W V U "
                       "for the 1900s, A B C D E F for the 2000s."),
    "hetu_date": N_("The first six digits are not a date of birth (DDMMYY)."),
    "hetu_future": N_("The date of birth in the identity code is in the future."),
    "hetu_individual": N_("The individual number (digits 8–10) must be between 002 and 899."),
    "hetu_check": N_("The check character does not match: check the code for typing errors."),
}  # fmt: skip


class HetuError(ValueError):
    """An invalid identity code; ``code`` names the part that is wrong."""

    def __init__(self, code: str) -> None:
        super().__init__(MESSAGES[code])
        self.code = code
        self.message = MESSAGES[code]


@dataclass(frozen=True)
class Hetu:
    code: str  # normalised: upper case, no surrounding space
    birth_date: date


def check_character(digits: str) -> str:
    """The check character of the nine digits DDMMYYZZZ."""
    return CHECK_CHARACTERS[int(digits) % 31]


def parse(value: str, *, today: date | None = None) -> Hetu:
    """Validate an identity code; ``HetuError`` says which part is wrong.

    Temporary codes (individual number 900-999) are refused: they are issued for a care
    episode, not by the population register, and would break duplicate detection.
    """
    code = value.strip().upper()
    match = _SHAPE.match(code)
    if match is None:
        raise HetuError("hetu_format")
    dd, mm, yy, sign, individual, _check = match.groups()
    if sign not in CENTURIES:
        raise HetuError("hetu_century")
    try:
        born = date(CENTURIES[sign] + int(yy), int(mm), int(dd))
    except ValueError:
        raise HetuError("hetu_date") from None
    if not 2 <= int(individual) <= 899:
        raise HetuError("hetu_individual")
    try:
        stdnum_hetu.validate(code)
    except ValidationError:
        # Date, century and individual number passed above, so what is left is the check.
        raise HetuError("hetu_check") from None
    if born > (today or date.today()):
        raise HetuError("hetu_future")
    return Hetu(code=code, birth_date=born)
