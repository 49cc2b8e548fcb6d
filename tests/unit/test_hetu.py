"""The Finnish personal identity code: a table of valid and invalid codes covering every
century sign and every check character, and properties checked with hypothesis."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.fi import hetu as stdnum_hetu

from services.intake import hetu
from services.intake.models import ClientFields

TODAY = date(2026, 1, 1)  # fixed, so the table does not age
ALPHABET = "0123456789ABCDEFHJKLMNPRSTUVWXY"  # the check characters, written out independently
GROUPS = {1800: "+", 1900: "-YXWVU", 2000: "ABCDEF"}

# Computed once with the Population Register Centre's rule (DDMMYYZZZ mod 31), written out
# here so the table does not trust the code under test. Together the rows use all 13
# century signs and all 31 check characters.
VALID: list[tuple[str, str]] = [
    ("080258+156S", "1858-02-08"),
    ("051170-668P", "1970-11-05"),
    ("310808Y076Y", "1908-08-31"),
    ("260296X098A", "1996-02-26"),
    ("130865W598W", "1965-08-13"),
    ("300510V2213", "1910-05-30"),
    ("240906U0906", "1906-09-24"),
    ("140619A430M", "2019-06-14"),
    ("180203B2480", "2003-02-18"),
    ("260104C566V", "2004-01-26"),
    ("160119D0621", "2019-01-16"),
    ("130525E2309", "2025-05-13"),
    ("101002F5924", "2002-10-10"),
    ("060371+5722", "1871-03-06"),
    ("241123-1227", "1923-11-24"),
    ("090555Y575K", "1955-05-09"),
    ("060632X107D", "1932-06-06"),
    ("170933W6988", "1933-09-17"),
    ("290595V323N", "1995-05-29"),
    ("180783U308L", "1983-07-18"),
    ("220211A815X", "2011-02-22"),
    ("240108B717F", "2008-01-24"),
    ("131210C085C", "2010-12-13"),
    ("071025D7485", "2025-10-07"),
    ("180220E625J", "2020-02-18"),
    ("140403F170H", "2003-04-14"),
    ("170561+157T", "1861-05-17"),
    ("260987-433E", "1987-09-26"),
    ("140107Y595U", "1907-01-14"),
    ("091181X458B", "1981-11-09"),
    ("250151W547R", "1951-01-25"),
    ("131052-308T", "1952-10-13"),  # the register's own example
]

INVALID: list[tuple[str, str]] = [
    ("131052-308U", "hetu_check"),
    ("080258+156T", "hetu_check"),
    ("140619A430N", "hetu_check"),
    ("250151W547S", "hetu_check"),
    ("131052-308G", "hetu_check"),  # G, I, O, Q and Z are never check characters
    ("131052-308Z", "hetu_check"),
    ("310252-308Y", "hetu_date"),  # 31 February
    ("290223A123A", "hetu_date"),  # 2023 is no leap year
    ("001052-308T", "hetu_date"),
    ("131352-308T", "hetu_date"),
    ("131052G308T", "hetu_century"),
    ("131052Z308T", "hetu_century"),
    ("1310523308T", "hetu_century"),
    ("131052/308T", "hetu_century"),
    ("131052-000T", "hetu_individual"),
    ("131052-001T", "hetu_individual"),
    ("010594Y9021", "hetu_individual"),  # a temporary code (900-999), valid to stdnum's checksum
    ("050594U903M", "hetu_individual"),
    ("131052-308", "hetu_format"),
    ("131052-308TT", "hetu_format"),
    ("13105-2308T", "hetu_format"),
    ("", "hetu_format"),
    ("abcdefghijk", "hetu_format"),
]


@pytest.mark.parametrize(("code", "born"), VALID)
def test_valid_codes(code: str, born: str) -> None:
    parsed = hetu.parse(code, today=TODAY)
    assert parsed.code == code and parsed.birth_date == date.fromisoformat(born)
    assert stdnum_hetu.is_valid(code)
    assert hetu.parse(f"  {code.lower()} ", today=TODAY) == parsed  # normalised


def test_the_table_covers_every_sign_and_check_character() -> None:
    assert {code[6] for code, _ in VALID} == set("+-YXWVUABCDEF")
    assert {code[-1] for code, _ in VALID} == set(ALPHABET)


@pytest.mark.parametrize(("code", "problem"), INVALID)
def test_invalid_codes_name_the_wrong_part(code: str, problem: str) -> None:
    with pytest.raises(hetu.HetuError) as err:
        hetu.parse(code, today=TODAY)
    assert err.value.code == problem
    assert err.value.message == hetu.MESSAGES[problem] and len(err.value.message) > 20


def test_a_birth_date_in_the_future_is_refused() -> None:
    code = "010130A002" + ALPHABET[int("010130002") % 31]  # 1 January 2030
    assert stdnum_hetu.is_valid(code)
    with pytest.raises(hetu.HetuError) as err:
        hetu.parse(code, today=TODAY)
    assert err.value.code == "hetu_future"


def test_client_fields_give_the_message_at_the_field_and_fill_the_birth_date() -> None:
    fields = ClientFields(first_name="Aino", last_name="Laine", personal_identity_code="131052-308t")
    assert fields.personal_identity_code == "131052-308T" and fields.date_of_birth == date(1952, 10, 13)
    with pytest.raises(ValueError) as err:
        ClientFields(first_name="Aino", last_name="Laine", personal_identity_code="131052-308U")
    (error,) = err.value.errors()  # type: ignore[attr-defined]
    assert error["loc"] == ("personal_identity_code",) and error["type"] == "hetu_check"
    assert "check character" in error["msg"]
    with pytest.raises(ValueError) as err:
        ClientFields(
            first_name="Aino", last_name="Laine", personal_identity_code="131052-308T", date_of_birth="1952-10-14"
        )
    assert err.value.errors()[0]["loc"] == ("date_of_birth",)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- properties


@st.composite
def codes(draw: st.DrawFn) -> tuple[str, date]:
    born = draw(st.dates(min_value=date(1800, 1, 1), max_value=TODAY - timedelta(days=1)))
    sign = draw(st.sampled_from(GROUPS[born.year // 100 * 100]))
    individual = draw(st.integers(min_value=2, max_value=899))
    digits = f"{born:%d%m}{born.year % 100:02d}{individual:03d}"
    return f"{digits[:6]}{sign}{digits[6:]}{ALPHABET[int(digits) % 31]}", born


@settings(max_examples=300)
@given(codes())
def test_every_well_formed_code_is_valid_with_its_birth_date(case: tuple[str, date]) -> None:
    code, born = case
    assert hetu.parse(code, today=TODAY).birth_date == born
    assert stdnum_hetu.is_valid(code)


@settings(max_examples=300)
@given(codes(), st.sampled_from([0, 1, 2, 3, 4, 5, 7, 8, 9]), st.integers(min_value=1, max_value=9))
def test_any_one_changed_digit_is_caught(case: tuple[str, date], position: int, delta: int) -> None:
    code, _ = case
    changed = code[:position] + str((int(code[position]) + delta) % 10) + code[position + 1 :]
    # 31 is prime and divides no k * 10^p with 0 < |k| < 10: the check character always changes.
    with pytest.raises(hetu.HetuError):
        hetu.parse(changed, today=TODAY)


@settings(max_examples=200)
@given(codes(), st.sampled_from(ALPHABET))
def test_any_other_check_character_is_caught(case: tuple[str, date], check: str) -> None:
    code, _ = case
    if check == code[-1]:
        return
    with pytest.raises(hetu.HetuError) as err:
        hetu.parse(code[:-1] + check, today=TODAY)
    assert err.value.code == "hetu_check"


@settings(max_examples=200)
@given(codes(), st.data())
def test_the_century_signs_of_one_century_are_equivalent(case: tuple[str, date], data: st.DataObject) -> None:
    code, born = case
    sign = data.draw(st.sampled_from(GROUPS[born.year // 100 * 100]))
    assert hetu.parse(code[:6] + sign + code[7:], today=TODAY).birth_date == born


@settings(max_examples=300)
@given(st.text(alphabet="0123456789-+ABCDEFUVWXYGZ", min_size=9, max_size=12))
def test_agrees_with_stdnum_on_arbitrary_strings(text: str) -> None:
    try:
        parsed = hetu.parse(text, today=TODAY)
    except hetu.HetuError:
        assert not stdnum_hetu.is_valid(text) or hetu.parse(text, today=date.max).birth_date > TODAY
    else:
        assert stdnum_hetu.is_valid(text) and parsed.birth_date <= TODAY
