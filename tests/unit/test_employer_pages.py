"""The employer pages' templates without the stack: every language, a label on every
control, errors tied to their control, reasons in words, no inline scripts."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from typing import Any

import pytest

from services.employer import labels, pages
from services.employer.models import (
    ClientMatches,
    MatchProfileOut,
    OpeningMatch,
    OpeningOut,
    ReasonOut,
    WeeklyCountOut,
    WeeklyReport,
)
from shared import i18n
from shared.contracts.employer import (
    CoachSupport,
    ContactChannel,
    ContactMode,
    ContactPurpose,
    OpeningSource,
    OpeningStatus,
    PlacementEndReason,
    PlacementKind,
    SupportNeed,
    WorkArrangementSupport,
)
from shared.contracts.journey import Role

NOW = datetime(2026, 1, 14, 9, 0, tzinfo=UTC)


@dataclass
class _User:
    name: str = "Jari Koordinaattori"
    role: Role = Role.EMPLOYER_COORDINATOR
    csrf: str = "csrf-abc"


def _render(template: str, lang: str, **context: Any) -> str:
    user = context.pop("user", _User())
    base: dict[str, Any] = {
        "user": user,
        "csrf_token": user.csrf,
        "csrf_field": "csrf_token",
        "nav": [],
        "path": "/",
        "here": "/",
        "writes": True,
        "values": {},
        "errors": {},
    }
    base.update(context)
    return pages.env_for(lang).get_template(template).render(**base)


class _Controls(HTMLParser):
    """Collects form controls and the ids labels point at."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "label" and a.get("for"):
            self.label_for.add(str(a["for"]))
        if tag in ("select", "textarea") or (tag == "input" and a.get("type") not in ("hidden", "submit")):
            self.controls.append(a)


def _assert_labelled(html: str) -> None:
    parser = _Controls()
    parser.feed(html)
    assert parser.controls
    for control in parser.controls:
        cid = control.get("id")
        labelled = cid in parser.label_for or control.get("aria-label")
        assert labelled, f"unlabelled control {control}"
    duplicates = {i for i in parser.ids if parser.ids.count(i) > 1}
    assert not duplicates, duplicates
    for described in re.findall(r'aria-describedby="([^"]+)"', html):
        for ref in described.split():
            assert ref in parser.ids, f"aria-describedby points at missing {ref}"


def _opening(**extra: Any) -> OpeningOut:
    return OpeningOut(
        id=uuid.uuid4(),
        employer_id=uuid.uuid4(),
        employer_name="Ravintola Kotikulma",
        title="Keittiöapulainen",
        source=OpeningSource.EMPLOYER,
        status=OpeningStatus.OPEN,
        industry="56101",
        municipality="Kotka",
        hours_min=20,
        hours_max=30,
        keywords=["keittiö"],
        tasks=[],
        carved=False,
        for_client_id=None,
        created_at=NOW,
        **extra,
    )


FORMS: list[tuple[str, dict[str, Any]]] = [
    ("employer_form.html", {"values": {"preferred_channel": "email", "support_needs": ["help_paperwork"]}}),
    (
        "contact_form.html",
        {
            "employer_options": [("e1", "Ravintola Kotikulma")],
            "clients": [("c1", "Aino Laine")],
            "staff_choices": [("s1", "Jari")],
            "values": {"mode": "face_to_face", "purposes": ["present_client"], "level": "4"},
        },
    ),
    ("opening_form.html", {"employer_options": [("e1", "Ravintola Kotikulma")], "clients": [("c1", "Aino Laine")]}),
    (
        "placement_form.html",
        {
            "employer_options": [("e1", "Ravintola Kotikulma")],
            "opening_options": [("o1", "Keittiöapulainen – Ravintola Kotikulma")],
            "clients": [("c1", "Aino Laine")],
            "values": {"kind": "open_market", "work_arrangement_support": "none", "coach_supports": []},
        },
    ),
]


@pytest.mark.parametrize("lang", i18n.SUPPORTED)
@pytest.mark.parametrize(("template", "context"), FORMS, ids=[t for t, _ in FORMS])
def test_forms_have_a_label_on_every_control_and_csrf(template: str, context: dict[str, Any], lang: str) -> None:
    html = _render(template, lang, **context)
    _assert_labelled(html)
    assert html.count('name="csrf_token" value="csrf-abc"') >= 3  # the form, language switch and logout
    assert f'<html lang="{lang}">' in html and "/employer-static/employer.css" in html


def test_errors_are_tied_to_their_controls() -> None:
    errors = {"business_id": "Y-tunnuksen tarkistusnumero ei täsmää", "support_needs": "Valitse"}
    html = _render("employer_form.html", "fi", values={"business_id": "2077474-1"}, errors=errors)
    assert 'id="business_id" name="business_id" type="text" value="2077474-1" required aria-invalid="true"' in html
    assert 'aria-describedby="business_id-error business_id-hint"' in html
    assert '<p class="field-error" id="business_id-error">Y-tunnuksen tarkistusnumero ei täsmää</p>' in html
    assert 'role="alert"' in html
    _assert_labelled(html)


@pytest.mark.parametrize(
    ("lang", "texts"),
    [
        ("fi", ["Sopivat työpaikat", "Ala: toimiala 56101 kuuluu toivottuun alaan I", "Alue: Kotka on toivottu alue",
                "Tunnit: 40 h/vko ei sovi toivottuun 15–25 h/vko"]),
        ("sv", ["Platser som passar", "Område: Kotka är ett önskat område"]),
        ("en", ["Openings that fit", "Area: Kotka is a preferred area"]),
    ],
)  # fmt: skip
def test_matches_explain_in_words(lang: str, texts: list[str]) -> None:
    client_id = uuid.uuid4()
    result = ClientMatches(
        client_id=client_id,
        phase="JOB_SEARCH",
        status="ACTIVE",
        in_job_search=True,
        profile=MatchProfileOut(
            client_id=client_id,
            fields=["I"],
            hours_min=15,
            hours_max=25,
            areas=["Kotka"],
            interests=[],
            updated_at=NOW,
        ),
        matches=[
            OpeningMatch(
                opening=_opening(),
                score=7,
                reasons=[
                    ReasonOut(code="field_industry", preference="I", value="56101", text="x"),
                    ReasonOut(code="area", preference="Kotka", value="Kotka", text="x"),
                ],
                concerns=[ReasonOut(code="hours_outside", preference="15–25", value="40", text="x")],
                explanation="x",
            )
        ],
    )
    html = _render("client_matches.html", lang, client_id=str(client_id), name="Aino Laine", result=result, done="")
    for text in texts:
        assert text in html, text
    _assert_labelled(html)


def test_weekly_counts_against_six() -> None:
    report = WeeklyReport(
        week="2026-W03",
        monday=date(2026, 1, 12),
        sunday=date(2026, 1, 18),
        target=6,
        staff=[
            WeeklyCountOut(staff_id=uuid.uuid4(), username="Kaisa", role="coach", face_to_face=7, other=1, total=8,
                           target=6, target_met=True),
            WeeklyCountOut(staff_id=uuid.uuid4(), username="Mikko", role="coach", face_to_face=2, other=0, total=2,
                           target=6, target_met=False),
        ],
    )  # fmt: skip
    from services.employer.domain import parse_week

    week = parse_week("2026-W03")
    html = _render(
        "contacts.html", "fi", report=report, week=week, previous="2026-W02", next="2026-W04", contacts=[],
        employers={}, names={}, staff={},
    )  # fmt: skip
    assert "Viikko 3: 12.1.2026–18.1.2026" in html
    assert "7 / 6" in html and "Täyttyy" in html and "2 / 6" in html and "4 puuttuu" in html
    assert 'max="6"' in html and 'value="6"' in html  # the meter stops at the target


def test_team_leads_see_no_forms() -> None:
    html = _render("openings.html", "en", writes=False, openings=[_opening()], current="open")
    assert "Add an opening" not in html and "Keittiöapulainen" in html


@pytest.mark.parametrize(
    ("labels_dict", "codes"),
    [
        (labels.CHANNEL_LABELS, list(ContactChannel)),
        (labels.MODE_LABELS, list(ContactMode)),
        (labels.SUPPORT_NEED_LABELS, list(SupportNeed)),
        (labels.PURPOSE_LABELS, list(ContactPurpose)),
        (labels.SOURCE_LABELS, list(OpeningSource)),
        (labels.OPENING_STATUS_LABELS, list(OpeningStatus)),
        (labels.KIND_LABELS, list(PlacementKind)),
        (labels.COACH_SUPPORT_LABELS, list(CoachSupport)),
        (labels.WORK_ARRANGEMENT_LABELS, list(WorkArrangementSupport)),
        (labels.END_REASON_LABELS, list(PlacementEndReason)),
    ],
)
def test_every_code_has_a_label(labels_dict: dict[str, str], codes: list[str]) -> None:
    assert set(labels_dict) == {str(c) for c in codes}


def test_finnish_uses_the_users_terms() -> None:
    fi = i18n.translator("fi").gettext
    assert fi(labels.KIND_LABELS["work_trial"]) == "Työkokeilu"
    assert fi(labels.KIND_LABELS["wage_subsidy"]) == "Palkkatuettu työ"
    assert fi(labels.WORK_ARRANGEMENT_LABELS["granted"]) == "Myönnetty"
    assert fi("Work-arrangement support") == "Työolosuhteiden järjestelytuki"
    assert fi("Business ID") == "Y-tunnus"
    assert labels.filters("fi")["industry_label"]("56101") == "56101 (I – Majoitus- ja ravitsemistoiminta)"
    assert labels.filters("sv")["industry_label"]("I") == "I – Hotell- och restaurangverksamhet"


def test_templates_have_no_inline_script_handlers_or_cdn() -> None:
    for path in pages.TEMPLATES.glob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script", text), f"script in {path.name}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline event handler in {path.name}"
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), f"external resource in {path.name}"
        assert "style=" not in text, f"inline style in {path.name}"


def test_every_employer_api_route_declares_roles_and_the_gateway_routes_to_employer() -> None:
    from polku.gateway import create_service_app, owner_of
    from shared.routes import iter_routes
    from shared.settings import SERVICES

    app = create_service_app("employer")
    routes = list(iter_routes(app))
    api = [r for r in routes if r.path.startswith("/api/v1/") and not r.path.startswith("/api/v1/employer/")]
    assert [r.path for r in api if r.roles is None] == []
    writes = [r for r in api if r.methods & {"POST", "PUT"}]
    assert all(r.roles == frozenset({Role.COACH, Role.EMPLOYER_COORDINATOR}) for r in writes)
    schema = app.openapi()
    assert "/api/v1/openings/{opening_id}/matches" in schema["paths"] and "/employers" not in schema["paths"]

    apps = {name: create_service_app(name) for name in SERVICES}
    some_id = str(uuid.uuid4())
    for r in routes:
        if r.path.startswith(("/healthz", "/readyz", "/docs", "/api/v1/employer/")) or not r.methods:
            continue
        path = re.sub(r"{\w+}", some_id, r.path)
        for method in r.methods - {"HEAD"}:
            scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}
            assert owner_of(apps, scope) == "employer", f"{method} {r.path} goes elsewhere"
