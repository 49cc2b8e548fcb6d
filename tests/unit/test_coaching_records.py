"""Client records without the stack: the profile's change list, input validation, the
encryption binding, the pages' error messages, times and templates."""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from pydantic import ValidationError

from services.coaching import record_pages
from services.coaching.pages import _env
from services.coaching.record_models import (
    PROFILE_FIELDS,
    MeetingIn,
    ProfileIn,
    TeamMeetingIn,
    TeamMemberIn,
)
from services.coaching.record_store import (
    MEETING,
    PROFILE,
    Sealer,
    changed_fields,
    context,
    new_meeting,
    to_meeting,
)
from shared.crypto import FieldCipher
from shared.i18n import translator
from shared.keys import KeyRing


@pytest.fixture(scope="module")
def cipher() -> FieldCipher:
    return FieldCipher(
        KeyRing(
            secret_key=os.urandom(32),
            field_keys={"k1": os.urandom(32)},
            active_field_key="k1",
            blind_index_key=os.urandom(32),
        )
    )


# --------------------------------------------------------------------------- change list


def test_the_first_version_changes_the_fields_it_fills() -> None:
    new = ProfileIn(goals="Varastotyö", strengths="Tarkka", preferred_hours_per_week=20)
    assert changed_fields(None, new) == ["strengths", "preferred_hours_per_week", "goals"]


def test_an_empty_first_version_changes_nothing() -> None:
    assert changed_fields(None, ProfileIn()) == []


def test_only_the_changed_fields_are_listed_in_the_profiles_order() -> None:
    old = ProfileIn(strengths="Tarkka", goals="Varasto", preferred_hours_per_week=20)
    new = ProfileIn(strengths="Tarkka", goals="Logistiikka", preferred_hours_per_week=30, interests="Autot")
    assert changed_fields(old, new) == ["interests", "preferred_hours_per_week", "goals"]


def test_saving_the_same_profile_changes_nothing() -> None:
    profile = ProfileIn(strengths="Tarkka", preferred_area="Kotka")
    assert changed_fields(profile, profile.model_copy()) == []


def test_clearing_a_field_is_a_change_and_blank_is_the_same_as_empty() -> None:
    old = ProfileIn(strengths="Tarkka", goals="Varasto")
    assert changed_fields(old, ProfileIn(strengths="Tarkka", goals="   ")) == ["goals"]
    assert changed_fields(ProfileIn(goals=""), ProfileIn()) == []
    assert changed_fields(ProfileIn(goals=" Varasto "), ProfileIn(goals="Varasto")) == []


def test_the_change_list_knows_every_profile_field() -> None:
    assert set(ProfileIn.model_fields) == set(PROFILE_FIELDS)


# --------------------------------------------------------------------------- validation


def _meeting(**over: Any) -> dict[str, Any]:
    return {
        "occurred_at": "2026-11-20T10:00:00+02:00",
        "duration_minutes": 45,
        "place": "community",
        "participants": ["client", "coach"],
        **over,
    }


def test_a_meeting_defaults_to_a_meeting_and_blank_notes_are_none() -> None:
    m = MeetingIn.model_validate(_meeting(notes="  "))
    assert m.contact_mode == "meeting" and m.notes is None
    assert MeetingIn.model_validate(_meeting(notes=None)).notes is None


@pytest.mark.parametrize(
    "change",
    [
        {"occurred_at": "2026-11-20T10:00:00"},
        {"duration_minutes": 0},
        {"duration_minutes": 24 * 60 + 1},
        {"place": "car"},
        {"contact_mode": "email"},
        {"participants": []},
        {"participants": ["client", "client"]},
        {"participants": ["neighbour"]},
        {"notes": "x" * 10_001},
        {"extra": True},
    ],
)
def test_bad_meetings_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        MeetingIn.model_validate(_meeting(**change))


@pytest.mark.parametrize(
    "body",
    [{"preferred_hours_per_week": -1}, {"preferred_hours_per_week": 81}, {"goals": "x" * 5001}, {"wage": 1}],
)
def test_bad_profiles_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ProfileIn.model_validate(body)


def test_a_profile_takes_blank_form_fields_as_empty() -> None:
    p = ProfileIn.model_validate({"preferred_hours_per_week": "", "goals": "", "strengths": " Tarkka "})
    assert p.preferred_hours_per_week is None and p.goals is None and p.strengths == "Tarkka"


def test_team_member_and_team_meeting_validation() -> None:
    assert TeamMemberIn(role="te_expert", name=" Tiina ", contact="").name == "Tiina"
    for bad in ({"role": "boss", "name": "A"}, {"role": "other", "name": " "}, {"role": "other", "name": "x" * 201}):
        with pytest.raises(ValidationError):
            TeamMemberIn.model_validate(bad)
    one = uuid.uuid4()
    with pytest.raises(ValidationError):
        TeamMeetingIn.model_validate({"held_on": "2026-11-20", "participant_ids": [str(one), str(one)]})
    with pytest.raises(ValidationError):
        TeamMeetingIn.model_validate({"held_on": "2026-11-20", "participant_ids": []})


# --------------------------------------------------------------------------- encryption


def test_meeting_notes_are_sealed_to_their_row_and_field(cipher: FieldCipher) -> None:
    org, client, author = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    row = new_meeting(cipher, org, client, MeetingIn.model_validate(_meeting(notes="Selkävaivat")), author)
    assert row.notes_enc is not None and "Selkävaivat" not in row.notes_enc
    assert to_meeting(row, cipher).notes == "Selkävaivat"
    # The same ciphertext does not open as another row's notes, nor as another field.
    with pytest.raises(InvalidTag):
        Sealer(cipher, MEETING, uuid.uuid4()).open("notes", row.notes_enc)
    with pytest.raises(InvalidTag):
        Sealer(cipher, PROFILE, row.id).open("notes", row.notes_enc)
    assert context(MEETING, row.id, "notes") == f"coaching.meeting:{row.id}:notes"


# --------------------------------------------------------------------------- pages


def test_api_field_errors_become_translated_messages_at_the_form_fields() -> None:
    errors = [
        {"field": "participants.0", "message": "Input should be 'client'...", "type": "literal_error"},
        {"field": "duration_minutes", "message": "x", "type": "greater_than"},
        {"field": "goals", "message": "too long", "type": "string_too_long"},
        {"field": "duration_minutes", "message": "second", "type": "x"},
        {"field": "mystery", "message": "?", "type": "x"},
    ]
    assert record_pages.field_errors(errors, "fi") == {
        "participants": "Valitse vähintään yksi osallistuja.",
        "duration_minutes": "Anna kesto kokonaisina minuutteina, 1–1440.",
        "goals": "Liian pitkä: enintään 5 000 merkkiä.",
        "mystery": translator("fi").gettext("Check this field."),
    }
    assert record_pages.field_errors(errors[:1], "en") == {"participants": "Choose at least one participant."}


def test_the_forms_date_and_time_are_finnish_time() -> None:
    summer = record_pages.meeting_time("2026-06-15", "10:30")
    winter = record_pages.meeting_time("2026-12-15", "10:30")
    assert summer == datetime(2026, 6, 15, 7, 30, tzinfo=UTC)
    assert winter == datetime(2026, 12, 15, 8, 30, tzinfo=UTC)
    assert record_pages.meeting_time("", "10:30") is None
    assert record_pages.meeting_time("2026-02-30", "10:30") is None
    assert record_pages.meeting_time("2026-02-03", "25:00") is None


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_every_code_has_a_translated_label(lang: str) -> None:
    t = translator(lang).gettext
    for labels in (
        record_pages.PLACE_LABELS,
        record_pages.CONTACT_MODE_LABELS,
        record_pages.PARTICIPANT_LABELS,
        record_pages.TEAM_ROLE_LABELS,
        record_pages.PROFILE_LABELS,
        record_pages.FIELD_MESSAGES,
    ):
        for msgid in labels.values():
            assert t(msgid), msgid
            if lang == "fi":
                assert t(msgid) != msgid, f"untranslated: {msgid}"


def _context(section: str) -> dict[str, Any]:
    user_id = str(uuid.uuid4())
    member = {
        "id": str(uuid.uuid4()),
        "role": "te_expert",
        "name": "Tiina <b>TE</b>",
        "organisation": "TE-palvelut",
        "contact": "040 123",
        "started_at": "2026-11-01T10:00:00+00:00",
        "ended_at": None,
        "active": True,
    }
    common: dict[str, Any] = {
        "user": None,
        "csrf_token": "token",
        "csrf_field": "csrf_token",
        "nav": [],
        "path": f"/clients/x/{section}",
        "here": f"/clients/x/{section}",
        "client_id": "x",
        "name": "Aino Mäki",
        "section": section,
        "can_write": True,
        "labels": {
            "place": record_pages.PLACE_LABELS,
            "contact_mode": record_pages.CONTACT_MODE_LABELS,
            "participant": record_pages.PARTICIPANT_LABELS,
            "team_role": record_pages.TEAM_ROLE_LABELS,
            "profile": record_pages.PROFILE_LABELS,
        },
        "profile_fields": PROFILE_FIELDS,
        "staff": {user_id: "Coach Cecilia"},
        "errors": {},
        "alert": None,
        "saved": False,
    }
    if section == "meetings":
        return {
            **common,
            "values": {"date": "", "time": "", "duration_minutes": "", "place": "", "contact_mode": "meeting",
                       "participants": ["client"], "notes": ""},
            "errors": {"duration_minutes": "Anna kesto"},
            "meetings": [
                {"occurred_at": "2026-11-20T10:00:00+00:00", "duration_minutes": 45, "place": "home",
                 "contact_mode": "outreach", "participants": ["client", "family"], "notes": "<script>x</script>",
                 "recorded_by": user_id}
            ],
        }  # fmt: skip
    if section == "profile":
        return {
            **common,
            "profile": {**dict.fromkeys(PROFILE_FIELDS), "goals": "Varasto", "version": 2, "saved_at":
                        "2026-11-20T10:00:00+00:00", "author_id": user_id},
            "versions": [{"version": 2, "author_id": user_id, "saved_at": "2026-11-20T10:00:00+00:00",
                          "changed_fields": ["goals"]}],
            "values": dict.fromkeys(PROFILE_FIELDS, ""),
        }  # fmt: skip
    return {
        **common,
        "members": [member],
        "former": [],
        "members_by_id": {member["id"]: member},
        "team_meetings": [{"held_on": "2026-11-20", "participant_ids": [member["id"]], "notes": "Palkkatuki",
                           "recorded_by": user_id}],
        "member_values": {"role": "", "name": "", "organisation": "", "contact": ""},
        "member_errors": {},
        "meeting_values": {"held_on": "", "participant_ids": [], "notes": ""},
        "meeting_errors": {},
    }  # fmt: skip


CONTROL = re.compile(r"<(input|select|textarea)\b([^>]*)>")


@pytest.mark.parametrize("section", ["meetings", "profile", "team"])
def test_every_control_has_a_label_and_no_inline_script(section: str) -> None:
    html = _env("fi").get_template(f"records/{section}.html").render(**_context(section))
    assert '<link rel="stylesheet" href="/static/records.css">' in html
    assert "<script>" not in html and " on" + "click=" not in html and "style=" not in html
    for _tag, attrs in CONTROL.findall(html):
        if 'type="hidden"' in attrs:
            continue
        match = re.search(r'\bid="([^"]+)"', attrs)
        assert match, f"a control without an id: {attrs}"
        assert f'<label for="{match.group(1)}">' in html, f"no label for {match.group(1)}"
    assert html.count('name="csrf_token" value="token"') >= 1


def test_user_text_is_escaped_and_errors_sit_at_their_field() -> None:
    html = _env("fi").get_template("records/meetings.html").render(**_context("meetings"))
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert 'aria-describedby="meeting-duration-error" aria-invalid="true"' in html
    assert 'min="1" max="1440" inputmode="numeric"' in html  # extra attributes are markup, not text
    assert "Jalkautuva yhteydenotto" in html and "Asiakkaan koti" in html and "Perhe tai läheinen" in html
    team = _env("fi").get_template("records/team.html").render(**_context("team"))
    assert "Tiina &lt;b&gt;TE&lt;/b&gt;" in team and "TE-asiantuntija" in team
