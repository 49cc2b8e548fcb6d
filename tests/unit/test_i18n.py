"""Translations, language negotiation and the page templates, without the stack."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from starlette.datastructures import Headers

from services.coaching import pages
from shared import i18n
from shared.contracts.journey import Outcome, Phase, RestReason, Role, Status

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _extracted() -> set[str]:
    """Every msgid ``pybabel extract -F babel.cfg`` finds in templates and Python code."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(ROOT / "babel.cfg"))  # type: ignore[no-untyped-call]
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), method_map, options_map):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.fixture(scope="module")
def extracted() -> set[str]:
    return _extracted()


# --------------------------------------------------------------------------- catalogues


@pytest.mark.parametrize("lang", i18n.SUPPORTED)
def test_catalogue_has_no_empty_translation(lang: str) -> None:
    assert i18n.missing_translations(lang) == []


@pytest.mark.parametrize("lang", i18n.SUPPORTED)
def test_every_used_msgid_is_in_the_catalogue(lang: str, extracted: set[str]) -> None:
    missing = sorted(extracted - i18n.msgids(lang))
    assert not missing, f"run pybabel extract/update (see shared/i18n.py) and translate: {missing}"


@pytest.mark.parametrize("lang", i18n.SUPPORTED)
def test_no_msgid_is_in_two_catalogue_files(lang: str) -> None:
    assert i18n.duplicate_msgids(lang) == {}


@pytest.mark.parametrize("lang", i18n.SUPPORTED)
def test_catalogue_has_no_stale_msgids(lang: str, extracted: set[str]) -> None:
    assert sorted(i18n.msgids(lang) - extracted) == []


def test_extraction_sees_templates_and_python(extracted: set[str]) -> None:
    assert "Skip to content" in extracted  # base.html
    assert "Wrong username or password." in extracted  # pages.py
    assert "Rapid job search" in extracted  # N_() in shared/i18n.py


@pytest.mark.parametrize("lang", ["fi", "sv"])
def test_translations_keep_placeholders(lang: str) -> None:
    t = i18n.translator(lang)
    for msgid in i18n.msgids(lang):
        assert set(PLACEHOLDER.findall(t.gettext(msgid))) == set(PLACEHOLDER.findall(msgid)), msgid


@pytest.mark.parametrize(
    ("labels", "codes"),
    [
        (i18n.PHASE_LABELS, list(Phase)),
        (i18n.STATUS_LABELS, list(Status)),
        (i18n.ROLE_LABELS, list(Role)),
        (i18n.REST_REASON_LABELS, list(RestReason)),
        (i18n.OUTCOME_LABELS, list(Outcome)),
    ],
)
def test_every_vocabulary_code_has_a_label(labels: dict[str, str], codes: list[str]) -> None:
    assert set(labels) == {str(c) for c in codes}


def test_finnish_uses_the_users_terms() -> None:
    fi = i18n.translator("fi").gettext
    assert [fi(i18n.PHASE_LABELS[p]) for p in Phase] == [
        "Palveluun hakeutuminen",
        "Ammatillinen profilointi",
        "Työn nopea etsintä",
        "Työnantajan kanssa sopiminen",
        "Työsuhteen ylläpitämisen tuki",
    ]
    assert [fi(i18n.STATUS_LABELS[s]) for s in Status] == ["Aktiivinen", "Lepäämässä", "Päättynyt"]
    assert fi(i18n.ROLE_LABELS["coach"]) == "Työhönvalmentaja"


def test_unknown_msgid_falls_back_to_english() -> None:
    assert i18n.translator("fi").gettext("No such string anywhere") == "No such string anywhere"
    assert i18n.label(i18n.PHASE_LABELS, "sv", "NOT_A_PHASE") == "NOT_A_PHASE"
    assert i18n.translator("sv").ngettext("%(n)s day", "%(n)s days", 2) == "%(n)s days"


def test_unsupported_language_is_refused() -> None:
    with pytest.raises(ValueError):
        i18n.catalog("de")


# --------------------------------------------------------------------------- negotiation


@dataclass
class _Req:
    cookies: dict[str, str]
    headers: Headers


def _req(cookie: str | None = None, accept: str | None = None) -> _Req:
    return _Req(
        cookies={i18n.LANG_COOKIE: cookie} if cookie is not None else {},
        headers=Headers({"accept-language": accept} if accept is not None else {}),
    )


@pytest.mark.parametrize(
    ("cookie", "accept", "expected"),
    [
        (None, None, "fi"),
        (None, "", "fi"),
        (None, "sv-FI,sv;q=0.9,en;q=0.8", "sv"),
        (None, "en-GB", "en"),
        (None, "de-DE,de;q=0.9,en;q=0.5,sv;q=0.4", "en"),
        (None, "en;q=0.2, sv;q=0.8", "sv"),
        (None, "sv;q=0, en;q=0.1", "en"),
        (None, "de, fr", "fi"),
        (None, "*", "fi"),
        (None, "en;q=abc, sv", "sv"),
        ("en", "sv-FI", "en"),
        ("sv", None, "sv"),
        ("xx", "en", "en"),  # an unknown cookie value is ignored
        ("", "sv", "sv"),
    ],
)
def test_negotiate(cookie: str | None, accept: str | None, expected: str) -> None:
    assert i18n.negotiate(_req(cookie, accept)) == expected


# --------------------------------------------------------------------------- formatting


def test_times_are_shown_in_finnish_time() -> None:
    moment = datetime(2025, 1, 15, 22, 30, tzinfo=UTC)  # 00:30 on the 16th in Helsinki
    assert "16.1.2025" in i18n.format_when(moment, "fi")
    assert i18n.format_day(moment.isoformat(), "fi") == "16.1.2025"
    assert i18n.format_day("2025-03-04", "fi") == "4.3.2025"
    assert i18n.format_when("not a time", "fi") == ""
    assert i18n.format_number(0.5, "fi") == "0,5"


# --------------------------------------------------------------------------- templates


@dataclass
class _User:
    name: str
    role: Role
    csrf: str = "csrf-abc"


def _render(template: str, lang: str, **context: Any) -> str:
    base: dict[str, Any] = {
        "user": None,
        "csrf_token": None,
        "csrf_field": "csrf_token",
        "nav": [],
        "path": "/",
        "here": "/",
    }
    base.update(context)
    return pages._env(lang).get_template(template).render(**base)


def _coach_view(name: str = "Aino Korhonen", active: int = 3) -> pages.CoachView:
    since = (datetime.now(UTC) - timedelta(days=4)).isoformat()
    row = pages.ClientRow(
        client_id=str(uuid.uuid4()),
        name=name,
        phase="JOB_SEARCH",
        status="RESTING",
        colour="yellow",
        rest_reason="health_clarification",
        outcome=None,
        since=since,
        days=4,
    )
    return pages.CoachView(
        coach_id=str(uuid.uuid4()), name="Kaisa", is_me=True, fte=0.5, capacity=10, active=active, clients=[row]
    )


@pytest.mark.parametrize(
    ("lang", "texts"),
    [
        ("fi", ["Asiakkuudet", "Omat asiakkaat", "Työn nopea etsintä", "Lepäämässä: Terveydentilan selvittely"]),
        ("sv", ["Klienter", "Mina klienter", "Snabbt jobbsökande", "Vilande: Hälsoläget utreds"]),
        ("en", ["Caseload", "My clients", "Rapid job search", "Resting: Health situation being clarified"]),
    ],
)
def test_dashboard_renders_in_each_language(lang: str, texts: list[str]) -> None:
    user = _User("Kaisa Virtanen", Role.COACH)
    html = _render(
        "dashboard.html",
        lang,
        user=user,
        csrf_token=user.csrf,
        nav=pages.NAV,
        coaches=[_coach_view()],
        data_as_of="2025-05-02T09:00:00+00:00",
        per_fte=20,
        show_clients=True,
    )
    assert f'<html lang="{lang}">' in html
    for text in texts:
        assert text in html
    assert "Aino Korhonen" in html and "chip--yellow" in html
    assert 'aria-current="page"' in html  # the caseload nav entry
    assert "3 / 10" in html  # the caseload meter
    assert "Kaisa Virtanen" in html and i18n.label(i18n.ROLE_LABELS, lang, "coach") in html


def test_dashboard_warns_over_capacity_in_words() -> None:
    html = _render("dashboard.html", "fi", coaches=[_coach_view(active=12)], per_fte=20, show_clients=True)
    assert "Yli enimmäismäärän" in html and "caseload--over" in html


def test_names_are_escaped() -> None:
    html = _render("dashboard.html", "fi", coaches=[_coach_view('<script>alert("x")</script>')], show_clients=True)
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_session_csrf_goes_to_htmx_headers_and_forms() -> None:
    user = _User("Kaisa", Role.TEAM_LEAD, csrf="tok'en")
    html = _render("error.html", "en", user=user, csrf_token=user.csrf, title="T", message="M")
    # tojson escapes the quote that would end the single-quoted attribute.
    assert """hx-headers='{"X-CSRF-Token": "tok\\u0027en"}'""" in html
    assert html.count('name="csrf_token" value="tok&#39;en"') == 2  # language switch + logout


@pytest.mark.parametrize("lang", i18n.SUPPORTED)
def test_login_page_has_labelled_controls(lang: str) -> None:
    html = _render("login.html", lang, csrf_token="t", error="Bad", username="kaisa", next="/clients/1")
    for control in ("username", "password"):
        assert f'<label for="{control}">' in html and f'id="{control}"' in html
    assert 'role="alert"' in html and 'aria-describedby="login-error"' in html
    assert 'name="next" value="/clients/1"' in html
    assert "<main" in html and "<header" in html and 'href="#main"' in html


def test_client_page_lists_journey_and_timeline() -> None:
    now = datetime.now(UTC).isoformat()
    journey = {
        "phase": "PROFILING",
        "status": "CLOSED",
        "outcome": "employed",
        "since": now,
        "episode": 2,
        "reminders": [{"kind": "employer_contact_due", "due_at": now, "overdue": True}],
    }
    actor = {"user_id": str(uuid.uuid4()), "role": "coach"}
    timeline = [
        {"seq": 2, "at": now, "kind": "move", "action": "advance", "from_phase": "INTAKE", "to_phase": "PROFILING"},
        {"seq": 1, "at": now, "kind": "started", "to_phase": "INTAKE", "actor": actor},
    ]
    html = _render(
        "client.html",
        "fi",
        name="Aino Korhonen",
        journey=journey,
        coach_name="Kaisa",
        timeline=timeline,
        staff={actor["user_id"]: "Kaisa Virtanen"},
    )
    assert "<h1>Aino Korhonen</h1>" in html
    assert "Päättynyt: Työllistynyt" in html and "chip--green" in html
    assert "Siirretty seuraavaan vaiheeseen" in html and "Palveluun hakeutuminen → Ammatillinen profilointi" in html
    assert "Asiakkuus alkoi" in html and "tekijä: Kaisa Virtanen" in html
    assert "Ensimmäisen työnantajakontaktin määräaika" in html and "myöhässä" in html


def test_templates_have_no_inline_script_handlers_or_cdn() -> None:
    for path in pages.TEMPLATES.glob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"inline script in {path.name}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline event handler in {path.name}"
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), f"external resource in {path.name}"
        assert "style=" not in text, f"inline style in {path.name}"
    assert (pages.STATIC / "htmx.min.js").stat().st_size > 10_000


# --------------------------------------------------------------------------- page helpers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/clients/1?x=2", "/clients/1?x=2"),
        ("/", "/"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        ("/login?next=/x", "/"),
        ("/logout", "/"),
        ("clients/1", "/"),
    ],
)
def test_safe_next(value: str | None, expected: str) -> None:
    assert pages.safe_next(value) == expected


def test_safe_next_may_allow_the_login_page() -> None:
    assert pages.safe_next("/login?next=/x", allow_login=True) == "/login?next=/x"


@pytest.mark.parametrize(
    ("status", "reason", "outcome", "colour"),
    [
        ("ACTIVE", None, None, "light-green"),
        ("RESTING", "health_clarification", None, "yellow"),
        ("RESTING", "rehabilitative_work_activity", None, "pink"),
        ("RESTING", "life_situation", None, "grey"),
        ("CLOSED", None, "employed", "green"),
        ("CLOSED", None, "returned_to_referrer", "red"),
        ("CLOSED", None, "discontinued", "grey"),
        (None, None, None, "grey"),
    ],
)
def test_chip_colour(status: str | None, reason: str | None, outcome: str | None, colour: str) -> None:
    assert pages.chip_colour(status, reason, outcome) == colour


def test_days_since_counts_finnish_calendar_days() -> None:
    now = datetime(2025, 6, 10, 21, 30, tzinfo=UTC)  # 00:30 on the 11th in Helsinki
    assert pages.days_since("2025-06-10T21:10:00+00:00", now) == 0  # 00:10 on the 11th
    assert pages.days_since("2025-06-10T20:00:00+00:00", now) == 1  # 23:00 on the 10th
    assert pages.days_since("2025-06-01T08:00:00+00:00", now) == 10
    assert pages.days_since("2025-07-01T08:00:00+00:00", now) == 0
    assert pages.days_since(None, now) is None


def test_caseload_view_joins_names_and_puts_me_first() -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    c1, c2 = uuid.uuid4(), uuid.uuid4()
    since = datetime.now(UTC).isoformat()
    report = {
        "coaches": [
            {"coach_id": str(other), "username": "b-coach", "fte": 1.0, "capacity": 20, "active_clients": 1,
             "clients": [{"client_id": str(c2), "phase": "INTAKE", "status": "ACTIVE", "since": since}]},
            {"coach_id": str(me), "username": "z-me", "fte": 0.5, "capacity": 10, "active_clients": 1,
             "clients": [{"client_id": str(c1), "phase": "JOB_SEARCH", "status": "ACTIVE", "since": since}]},
        ]
    }  # fmt: skip
    views = pages.caseload_view(report, {str(c1): "Aino K"}, {str(other): "Bertta Coach"}, me)
    assert [v.name for v in views] == ["z-me", "Bertta Coach"]
    assert views[0].is_me and views[0].capacity == 10 and not views[0].over
    assert views[0].clients[0].name == "Aino K" and views[0].clients[0].days == 0
    assert views[1].clients[0].name is None  # not in the registry answer: shown as unavailable
