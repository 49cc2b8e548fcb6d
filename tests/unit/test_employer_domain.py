"""Employer domain rules without I/O: business ids, TOL codes, weeks and weekly counts, and
the validation of the API's input models."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.employer import domain
from services.employer.models import ContactCreate, EmployerCreate, MatchProfileIn, OpeningCreate, PlacementCreate
from shared.contracts.employer import ContactMode

# --------------------------------------------------------------------------- Y-tunnus


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("2077474-0", "2077474-0"),
        ("0112038-9", "0112038-9"),
        ("0109862-8", "0109862-8"),
        ("0201256-6", "0201256-6"),
        ("2331972-7", "2331972-7"),
        ("1234567-1", "1234567-1"),
        ("20774740", "2077474-0"),  # no hyphen
        (" 2077474-0 ", "2077474-0"),
        ("2077 474-0", "2077474-0"),
        ("FI20774740", "2077474-0"),  # the VAT number form
        ("fi20774740", "2077474-0"),
    ],
)
def test_valid_business_ids(value: str, normalised: str) -> None:
    assert domain.parse_ytunnus(value) == normalised


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("2077474-1", "ytunnus_check"),
        ("2077474-9", "ytunnus_check"),
        ("0112038-8", "ytunnus_check"),
        ("1000008-0", "ytunnus_check"),  # remainder 1: no check digit makes it valid
        ("1000008-1", "ytunnus_check"),
        ("207747-0", "ytunnus_format"),  # six digits
        ("12345678-9", "ytunnus_format"),  # eight digits before the hyphen
        ("2077474-", "ytunnus_format"),
        ("2077474-00", "ytunnus_format"),
        ("abcdefg-h", "ytunnus_format"),
        ("2077474/0", "ytunnus_format"),
        ("", "ytunnus_format"),
        ("SE2077474-0", "ytunnus_format"),
    ],
)
def test_invalid_business_ids_say_which_part_is_wrong(value: str, code: str) -> None:
    with pytest.raises(domain.DomainError) as caught:
        domain.parse_ytunnus(value)
    assert caught.value.code == code
    assert caught.value.message == domain.MESSAGES[code]


def test_check_digit_agrees_with_stdnum() -> None:
    from stdnum.fi import ytunnus

    for n in range(1_000_000, 1_000_400):
        digits = str(n)
        check = domain.ytunnus_check_digit(digits)
        valid = [d for d in range(10) if ytunnus.is_valid(f"{digits}-{d}")]
        assert valid == ([] if check is None else [check]), digits


# --------------------------------------------------------------------------- TOL 2008


@pytest.mark.parametrize(
    ("value", "code", "section"),
    [
        ("56101", "56101", "I"),
        ("56.101", "56101", "I"),
        ("56", "56", "I"),
        ("i", "I", "I"),
        ("47111", "47111", "G"),
        ("01", "01", "A"),
        ("99000", "99000", "U"),
        ("86", "86", "Q"),
    ],
)
def test_tol_codes(value: str, code: str, section: str) -> None:
    assert domain.parse_tol(value) == code
    assert domain.tol_section(code) == section


@pytest.mark.parametrize(("value", "error"), [("V", "tol_format"), ("5", "tol_format"), ("561011", "tol_format"),
                                                ("04", "tol_division"), ("00", "tol_division"), ("57", "tol_division"),
                                                ("IT", "tol_format"), ("ravintola", "tol_format")])  # fmt: skip
def test_invalid_tol_codes(value: str, error: str) -> None:
    with pytest.raises(domain.DomainError) as caught:
        domain.parse_tol(value)
    assert caught.value.code == error


def test_tol_covers_by_section_and_prefix() -> None:
    assert domain.tol_covers("I", "56101")
    assert domain.tol_covers("56", "56101")
    assert domain.tol_covers("561", "56101")
    assert not domain.tol_covers("55", "56101")
    assert not domain.tol_covers("G", "56101")
    assert domain.tol_covers("I", "I")
    assert not domain.tol_covers("56", "I")
    assert not domain.tol_covers("I", None)


# --------------------------------------------------------------------------- weeks and counts


def test_weeks() -> None:
    week = domain.parse_week("2026-W03")
    assert (week.monday, week.sunday) == (date(2026, 1, 12), date(2026, 1, 18))
    assert str(week) == "2026-W03" and str(week.shift(-3)) == "2025-W52" and str(week.shift(1)) == "2026-W04"
    assert domain.week_of(date(2026, 1, 1)) == domain.Week(2026, 1)
    for bad in ("2026-03", "2026-W3", "2025-W53", "2026-W00"):
        with pytest.raises(ValueError):
            domain.parse_week(bad)


def test_weekly_counts_against_the_target_of_six() -> None:
    week = domain.parse_week("2026-W03")
    f2f, phone = ContactMode.FACE_TO_FACE, ContactMode.PHONE
    contacts = [
        *[domain.ContactFact("kaisa", date(2026, 1, 12) + timedelta(days=i % 5), f2f) for i in range(6)],
        domain.ContactFact("kaisa", date(2026, 1, 14), phone),
        domain.ContactFact("mikko", date(2026, 1, 18), f2f),  # Sunday: this week
        domain.ContactFact("mikko", date(2026, 1, 19), f2f),  # next Monday: not counted
        domain.ContactFact("mikko", date(2026, 1, 11), f2f),  # the Sunday before: not counted
        domain.ContactFact("jari", date(2026, 1, 13), ContactMode.EMAIL),
    ]
    counts = domain.weekly_counts(contacts, week, staff=["kaisa", "mikko", "leena"])
    by_id = {c.staff_id: c for c in counts}
    assert [c.staff_id for c in counts] == ["kaisa", "mikko", "jari", "leena"]
    assert (by_id["kaisa"].face_to_face, by_id["kaisa"].other, by_id["kaisa"].target_met) == (6, 1, True)
    assert (by_id["mikko"].face_to_face, by_id["mikko"].target_met) == (1, False)
    assert (by_id["jari"].face_to_face, by_id["jari"].other, by_id["jari"].total) == (0, 1, 1)
    assert (by_id["leena"].total, by_id["leena"].target) == (0, 6)


def test_relationship_level_is_the_latest_contacts() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    assert domain.relationship_level([]) is None
    assert domain.relationship_level([(date(2026, 1, 5), t, 4), (date(2026, 1, 7), t, 2)]) == 2
    # Two on the same day: the one recorded later.
    assert domain.relationship_level([(date(2026, 1, 7), t + timedelta(hours=1), 5), (date(2026, 1, 7), t, 2)]) == 5


def test_occurred_at_is_noon_in_finland_but_never_in_the_future() -> None:
    now = datetime(2026, 1, 14, 8, 0, tzinfo=UTC)  # 10:00 in Helsinki
    assert domain.occurred_at(date(2026, 1, 13), now) == datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
    assert domain.occurred_at(date(2026, 1, 14), now) == now
    assert domain.finnish_today(datetime(2026, 1, 14, 22, 30, tzinfo=UTC)) == date(2026, 1, 15)


# --------------------------------------------------------------------------- input models


def _errors(exc: ValidationError) -> dict[str, str]:
    return {".".join(str(p) for p in e["loc"]) or e["type"]: e["type"] for e in exc.errors()}


def test_employer_input_normalises_and_validates() -> None:
    body = EmployerCreate.model_validate(
        {
            "name": "  Ravintola   Kotikulma ",
            "business_id": "20774740",
            "industry": "56.101",
            "locations": [{"municipality": "Kotka"}],
            "contact_persons": [{"name": "Maija Mallikas", "email": "maija@example.fi", "phone": "040 123 4567"}],
        }
    )
    assert (body.name, body.business_id, body.industry) == ("Ravintola Kotikulma", "2077474-0", "56101")
    assert body.preferred_channel.value == "email"  # employers asked for e-mail
    with pytest.raises(ValidationError) as caught:
        EmployerCreate.model_validate(
            {
                "name": "",
                "business_id": "2077474-1",
                "industry": "04",
                "contact_persons": [{"name": "M", "email": "not-an-address", "phone": "abc"}],
                "support_needs": ["help_paperwork", "help_paperwork"],
                "extra": 1,
            }
        )
    errors = _errors(caught.value)
    assert errors["business_id"] == "ytunnus_check" and errors["industry"] == "tol_division"
    assert errors["support_needs"] == "duplicates" and errors["contact_persons.0.phone"] == "phone"
    assert {"name", "contact_persons.0.email", "extra"} <= set(errors)


def test_contact_input_rules() -> None:
    base = {"employer_id": "6f1b2c4e-4f7a-4a35-9a63-0e1c1d2b3a4f", "mode": "face_to_face", "level": 4}
    ok = ContactCreate.model_validate({**base, "occurred_on": "2026-01-05", "purposes": ["present_client"]})
    assert ok.client_id is None and ok.staff_id is None
    with pytest.raises(ValidationError) as caught:
        ContactCreate.model_validate(
            {**base, "occurred_on": "2999-01-01", "purposes": [], "client_present": True, "level": 6}
        )
    errors = _errors(caught.value)
    assert errors["occurred_on"] == "date_future" and errors["purposes"] == "too_short" and "level" in errors
    with pytest.raises(ValidationError) as caught:
        ContactCreate.model_validate(
            {**base, "occurred_on": "2026-01-05", "purposes": ["follow_up"], "client_present": True}
        )
    assert list(_errors(caught.value).values()) == ["client_needed"]


def test_opening_and_profile_inputs() -> None:
    opening = OpeningCreate.model_validate(
        {
            "employer_id": "6f1b2c4e-4f7a-4a35-9a63-0e1c1d2b3a4f",
            "title": "Keittiöapulainen",
            "keywords": "keittiö, , ravintola",
            "tasks": "Salaattien kokoaminen\n\nAstianpesu\n",
            "hours_min": "",
        }
    )
    assert opening.keywords == ["keittiö", "ravintola"] and opening.tasks == ["Salaattien kokoaminen", "Astianpesu"]
    assert opening.hours_min is None
    with pytest.raises(ValidationError) as caught:
        OpeningCreate.model_validate(
            {
                "employer_id": "6f1b2c4e-4f7a-4a35-9a63-0e1c1d2b3a4f",
                "title": "X",
                "for_client_id": "7f1b2c4e-4f7a-4a35-9a63-0e1c1d2b3a4f",
            }
        )
    assert list(_errors(caught.value).values()) == ["carved_tasks"]
    with pytest.raises(ValidationError) as caught:
        MatchProfileIn.model_validate({"hours_min": 30, "hours_max": 20})
    assert list(_errors(caught.value).values()) == ["hours_order"]


def test_placement_input_rules() -> None:
    base = {
        "client_id": "7f1b2c4e-4f7a-4a35-9a63-0e1c1d2b3a4f",
        "employer_id": "6f1b2c4e-4f7a-4a35-9a63-0e1c1d2b3a4f",
        "kind": "work_trial",
        "job_title": "Varastotyöntekijä",
        "starts_on": "2026-01-05",
        "hours_per_week": 20,
        "permanent": False,
        "competitive": False,
    }
    assert PlacementCreate.model_validate(base).confirm_move is False
    cases = [
        ({"planned_end_on": "2026-01-01"}, "end_before_start"),
        ({"permanent": True, "planned_end_on": "2026-03-01"}, "permanent_end"),
        ({"starts_on": (date.today() + timedelta(days=3)).isoformat()}, "start_future"),
        ({"kind": "trial"}, "enum"),
        ({"hours_per_week": 0}, "greater_than"),
    ]
    for change, code in cases:
        with pytest.raises(ValidationError) as caught:
            PlacementCreate.model_validate({**base, **change})
        assert code in _errors(caught.value).values(), change


def test_forms_may_send_empty_optional_fields_as_none() -> None:
    employer = EmployerCreate.model_validate(
        {
            "name": "Oy",
            "business_id": "2077474-0",
            "industry": None,
            "contact_persons": [{"name": "A", "title": None, "email": "", "phone": None}],
        }
    )
    assert employer.industry is None and employer.contact_persons[0].email is None
    opening = OpeningCreate.model_validate(
        {"employer_id": "6f1b2c4e-4f7a-4a35-9a63-0e1c1d2b3a4f", "title": "T", "industry": "", "municipality": None}
    )
    assert opening.industry is None and opening.municipality is None
    with pytest.raises(ValidationError) as caught:
        EmployerCreate.model_validate({"name": "Oy", "business_id": "2077474-0", "industry": "5" * 11})
    assert _errors(caught.value) == {"industry": "string_too_long"}
