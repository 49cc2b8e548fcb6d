"""Intake's templates without the stack: every control labelled, no inline scripts or
styles, each language renders, validation errors become translated field messages."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.intake import labels, pages
from services.intake.models import (
    ClientConsents,
    ClientCreate,
    ClientDetails,
    CoachLoad,
    ConsentState,
    DeclineCount,
    OverrideView,
    Oversight,
    ReferralView,
)
from shared import ui
from shared.contracts.intake import ConsentScope, DeclineReason, InformationParty, ReferralStatus, ReferrerType
from shared.contracts.journey import Role

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
TEMPLATE_DIRS = (ui.TEMPLATES, pages.TEMPLATES)


@dataclass
class _User:
    name: str = "Kaisa Valmentaja"
    role: Role = Role.COACH
    csrf: str = "csrf-abc"


class _Controls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.controls: list[str] = []
        self.labels: set[str] = set()
        self.forms: list[dict[str, str | None]] = []
        self.tokens = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append(a.get("id") or f"<{tag} name={a.get('name')} without id>")
        if tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        if tag == "form":
            self.forms.append(a)
        if tag == "input" and a.get("name") == "csrf_token" and a.get("value"):
            self.tokens += 1


def _coaches() -> list[CoachLoad]:
    return [
        CoachLoad(coach_id=uuid.uuid4(), username="kaisa", name="Kaisa", role="coach", fte=1.0, capacity=20, active=7),
        CoachLoad(coach_id=uuid.uuid4(), username="mikko", name="Mikko", role="coach", fte=0.8, capacity=16, active=16),
    ]


def _referral(status: ReferralStatus = ReferralStatus.RECEIVED, wants: bool = False) -> ReferralView:
    return ReferralView(
        referral_id=uuid.uuid4(),
        status=status,
        referrer_type=ReferrerType.SOCIAL_SERVICES,
        referrer_organisation="Kotkan sosiaalitoimi",
        referrer_unit=None,
        referrer_contact="Sari",
        referred_on=date(2026, 1, 2),
        wants_open_employment=wants,
        first_name="Aino",
        last_name="Laine",
        background="Toivoo työtä",
        requested_start=None,
        received_at=NOW,
        decline_reason=DeclineReason.NOT_WORK_READY if status == ReferralStatus.DECLINED else None,
        decline_note=None,
        decided_at=NOW if status != ReferralStatus.RECEIVED else None,
        client_id=None,
    )


def _details() -> ClientDetails:
    client_id, user = uuid.uuid4(), uuid.uuid4()
    states = [
        ConsentState(scope=ConsentScope.PROCESSING, given=False, at=NOW, recorded_by=user),
        ConsentState(
            scope=ConsentScope.INFORMATION_EXCHANGE,
            party=InformationParty.OTHER,
            party_name="Nuorisotoimi",
            given=True,
            at=NOW,
            recorded_by=user,
        ),
    ]
    return ClientDetails(
        client_id=client_id,
        organisation_id=uuid.uuid4(),
        coach_id=user,
        journey_id="j",
        first_name="Aino",
        last_name="Laine",
        registered_at=NOW,
        personal_identity_code="131052-308T",
        date_of_birth=date(1952, 10, 13),
        consent=ClientConsents(client_id=client_id, processing=False, current=states, history=states),
    )


def _oversight() -> Oversight:
    return Oversight(
        received=3,
        accepted=1,
        declined=2,
        open=0,
        declines_by_reason=[
            DeclineCount(reason=r, count=1 if r == DeclineReason.NO_CAPACITY else 0, excluding=r == "no_capacity")
            for r in DeclineReason
        ],
        excluding_declines=1,
        recent_declines=[],
        overrides=[
            OverrideView(
                client_id=uuid.uuid4(),
                coach_id=uuid.uuid4(),
                active_before=16,
                capacity=16,
                reason="Tuttu valmentaja",
                at=NOW,
                decided_by=uuid.uuid4(),
            )
        ],
        quick_help_contacts=2,
        quick_help_minutes=75,
    )


PAGES: dict[str, dict[str, Any]] = {
    "referrals.html": {"referrals": [_referral(), _referral(ReferralStatus.DECLINED)], "show": "open"},
    "referral_new.html": {"values": {}, "errors": {"referrer_type": "Pakollinen tieto."}},
    "referral.html": {
        "referral": _referral(),
        "values": {"coach_id": ""},
        "errors": {"client.personal_identity_code": "Tarkistusmerkki ei täsmää", "override_reason": "Täynnä"},
        "decline_values": {},
        "decline_errors": {},
        "message": None,
        "coaches": _coaches(),
        "per_fte": 20,
    },
    "register.html": {"values": {}, "errors": {}, "message": "x", "coaches": _coaches(), "per_fte": 20},
    "client_details.html": {"client": _details(), "name": "Aino Laine", "staff": {}, "values": {}, "errors": {}},
    "quick_help.html": {"values": {}, "errors": {}, "saved": True, "recent": [], "total_count": 0, "total_minutes": 0},
    "oversight.html": {"report": _oversight(), "staff": {}},
}


def _render(template: str, lang: str, **context: Any) -> str:
    user = _User()
    base = {
        "user": user,
        "csrf_token": user.csrf,
        "csrf_field": "csrf_token",
        "nav": ui.nav_for(user.role),
        "path": "/referrals",
        "here": "/referrals",
    }
    return pages.env_for(lang).get_template(template).render(**{**base, **context})


@pytest.mark.parametrize("template", sorted(PAGES))
@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_every_control_has_a_label_and_every_form_a_token(template: str, lang: str) -> None:
    html = _render(template, lang, **PAGES[template])
    parser = _Controls()
    parser.feed(html)
    unlabelled = [c for c in parser.controls if c not in parser.labels]
    assert unlabelled == [], unlabelled
    posts = [f for f in parser.forms if (f.get("method") or "").lower() == "post"]
    assert parser.tokens >= len(posts)  # language switch, logout and each of the page's forms
    assert f'<html lang="{lang}">' in html


def test_the_referral_page_shows_caseloads_and_field_messages() -> None:
    html = _render("referral.html", "fi", **PAGES["referral.html"])
    assert "7 / 20" in html and "16 / 16" in html and "asiakasmäärä täynnä" in html
    assert 'aria-invalid="true"' in html and "Tarkistusmerkki ei täsmää" in html
    assert 'aria-describedby="client-personal_identity_code-hint client-personal_identity_code-error"' in html
    assert "wish_confirmed" in html  # the wish was not confirmed by the referrer
    assert html.count('type="radio" id="coach-') == 2


def test_the_details_page_warns_about_withdrawn_processing_consent() -> None:
    html = _render("client_details.html", "sv", **PAGES["client_details.html"])
    assert "har återkallat samtycket" in html and "Informationsutbyte: Nuorisotoimi" in html


def test_templates_have_no_inline_script_handlers_styles_or_cdn() -> None:
    files = [p for d in TEMPLATE_DIRS for p in Path(d).glob("*.html")]
    assert len(files) >= 10
    for path in files:
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"inline script in {path.name}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline event handler in {path.name}"
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), f"external resource in {path.name}"
        assert "style=" not in text, f"inline style in {path.name}"


def test_validation_errors_become_translated_field_messages() -> None:
    with pytest.raises(ValidationError) as err:
        ClientCreate.model_validate(
            {"coach_id": "x", "first_name": "", "last_name": "L", "personal_identity_code": "131052-308U", "email": "y"}
        )
    messages = labels.field_messages(err.value.errors(), "fi")
    assert messages["coach_id"] == "Valitse jokin vaihtoehdoista."
    assert messages["first_name"] == "Pakollinen tieto."
    assert messages["personal_identity_code"].startswith("Tarkistusmerkki ei täsmää")
    assert messages["email"] == "Tarkista sähköpostiosoite."
    assert labels.field_messages([{"field": "consent.processing", "type": "consent_required"}], "sv") == {
        "consent.processing": "Klientskapet kan inte börja utan klientens samtycke till behandling av hens uppgifter."
    }


def test_the_nav_offers_intake_by_role() -> None:
    paths = {role: [item.path for item in ui.nav_for(role)] for role in Role}
    assert {"/referrals", "/register", "/quick-help"} <= set(paths[Role.COACH])
    assert "/intake/oversight" in paths[Role.TEAM_LEAD] and "/intake/oversight" not in paths[Role.COACH]
    assert "/referrals" not in paths[Role.AUDITOR]


def test_every_intake_api_route_declares_its_roles_and_the_openapi_builds() -> None:
    from polku.gateway import create_service_app
    from shared.routes import iter_routes

    app = create_service_app("intake")
    api = [r for r in iter_routes(app) if r.path.startswith("/api/v1/") and "/intake/openapi" not in r.path]
    undeclared = [r.path for r in api if r.roles is None and not r.path.startswith("/api/v1/intake/docs")]
    assert undeclared == []
    assert len(api) >= 14
    schema = app.openapi()
    assert "/api/v1/referrals/{referral_id}/accept" in schema["paths"]
    assert "/referrals" not in schema["paths"]  # pages are not API
