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
from services.coaching.journey_ui import STATUS_FILTERS, DashQuery
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
        coach_id=str(uuid.uuid4()),
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
        query=DashQuery(),
        phases=list(Phase),
        status_filters=STATUS_FILTERS,
    )
    assert f'<html lang="{lang}">' in html
    for text in texts:
        assert text in html
    assert "Aino Korhonen" in html and "chip--yellow" in html
    assert 'aria-current="page"' in html  # the caseload nav entry
    assert "3 / 10" in html  # the caseload meter
    assert "Kaisa Virtanen" in html and i18n.label(i18n.ROLE_LABELS, lang, "coach") in html


def test_dashboard_warns_over_capacity_in_words() -> None:
    html = _render(
        "dashboard.html", "fi", coaches=[_coach_view(active=12)], per_fte=20, show_clients=True, query=DashQuery()
    )
    assert "Yli enimmäismäärän" in html and "caseload--over" in html


def test_names_are_escaped() -> None:
    coaches = [_coach_view('<script>alert("x")</script>')]
    html = _render("dashboard.html", "fi", coaches=coaches, show_clients=True, query=DashQuery())
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
        client_id=str(uuid.uuid4()),
        record_pages=pages.RECORD_PAGES,
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
    for path in pages.TEMPLATES.rglob("*.html"):
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


# --------------------------------------------------------------------------- journey pages


def _journey_state(phase: Phase, status: Status = Status.ACTIVE, **extra: Any) -> Any:
    from workflows.contracts import JourneyState, Milestones

    now = datetime.now(UTC)
    return JourneyState.model_validate(
        {
            "organisation_id": uuid.uuid4(),
            "region_id": "kymenlaakso",
            "client_id": uuid.uuid4(),
            "coach_id": uuid.uuid4(),
            "phase": phase,
            "status": status,
            "since": now - timedelta(days=2),
            "episode": 1,
            "episode_started_at": now - timedelta(days=9),
            "milestones": Milestones(),
            "reminders": [{"kind": "silence_outreach", "due_at": now.isoformat(), "overdue": True}],
            "timeline_length": 1,
        }
        | extra
    )


def _client_html(lang: str, state: Any, **extra: Any) -> str:
    from services.coaching.journey_ui import CoachChoice, legal_moves

    user = _User("Kaisa Virtanen", Role.COACH)
    coaches = [CoachChoice(str(uuid.uuid4()), "Mikko Valmentaja")]
    context: dict[str, Any] = {
        "user": user,
        "csrf_token": user.csrf,
        "name": "Aino Korhonen",
        "client_id": str(state.client_id),
        "record_pages": pages.RECORD_PAGES,
        "journey": state.model_dump(mode="json"),
        "coach_name": "Kaisa",
        "timeline": [],
        "staff": {},
        "moves": legal_moves(state, uuid.uuid4(), Role.COACH, coaches),
        "today": "2026-03-02",
    }
    context.update(extra)
    return _render("client.html", lang, **context)


ALL_STATES = [
    (Phase.INTAKE, Status.ACTIVE, {}),
    (Phase.JOB_SEARCH, Status.ACTIVE, {}),
    (Phase.PROFILING, Status.RESTING, {"rested_phase": "PROFILING", "rest_reason": "health_clarification"}),
    (Phase.PROFILING, Status.CLOSED, {"outcome": "returned_to_referrer"}),
]


@pytest.mark.parametrize(("phase", "status", "extra"), ALL_STATES)
def test_client_page_move_forms_are_labelled_and_post_with_htmx(phase: Phase, status: Status, extra: Any) -> None:
    html = _client_html("fi", _journey_state(phase, status, **extra))
    forms = re.findall(r"<form class=\"move-form\"[^>]*>", html)
    assert forms, "no move forms"
    for form in forms:
        assert 'method="post"' in form and 'hx-post="' in form and 'hx-target="#journey-live"' in form
    assert html.count('name="csrf_token" value="csrf-abc"') >= len(forms)
    for control_id in re.findall(r"<(?:input|select)[^>]*\bid=\"([^\"]+)\"", html):
        assert f'<label for="{control_id}">' in html, control_id
    assert 'id="journey-live"' in html and 'aria-current="step"' in html


def test_client_page_offers_only_legal_moves() -> None:
    closed = _client_html("en", _journey_state(Phase.PROFILING, Status.CLOSED, outcome="employed"))
    assert 'data-move="reopen"' in closed
    assert not re.search(r'data-move="(advance|rest|close|step_back|resume|reassign)"', closed)
    search = _client_html("en", _journey_state(Phase.JOB_SEARCH))
    for move in ("advance", "job_started", "step_back", "rest", "close", "reassign"):
        assert f'data-move="{move}"' in search, move
    assert 'data-move="resume"' not in search and 'data-move="reopen"' not in search
    assert "Move to Agreeing with the employer" in search and "Mikko Valmentaja" in search


def test_a_refused_move_shows_its_reason_and_field_errors_in_place() -> None:
    from services.coaching.journey_ui import field_errors, rejection_msgid

    state = _journey_state(Phase.INTAKE)
    html = _client_html("fi", state, error=rejection_msgid("review_date_in_past"), failed="rest",
                        field_errors=field_errors([{"field": "body.review_date"}]),
                        submitted={"reason": "other", "review_date": "2020-01-01"})  # fmt: skip
    assert 'role="alert"' in html and "Tarkistuspäivä on menneisyydessä." in html
    assert 'aria-invalid="true" aria-describedby="rest-review_date-error"' in html
    assert "Anna tarkistuspäivä oikeassa muodossa." in html
    assert 'value="2020-01-01"' in html and '<option value="other" selected>' in html


def _pages_in(lang: str) -> dict[str, str]:
    """Every journey page and fragment state, rendered in ``lang``."""
    user = _User("Kaisa Virtanen", Role.COACH)
    rendered = {
        "dashboard": _render(
            "dashboard.html", lang, user=user, csrf_token=user.csrf, nav=pages.NAV, coaches=[_coach_view()],
            data_as_of="2025-05-02T09:00:00+00:00", per_fte=20, show_clients=True, query=DashQuery(status="RESTING"),
            phases=list(Phase), status_filters=STATUS_FILTERS, grouped=True, team_name="Kotkan tiimi",
        ),
        "refused": _client_html(lang, _journey_state(Phase.INTAKE), error="The review date is in the past.",
                                failed="rest", field_errors={"review_date": "Give the review date as a valid date."}),
        "done": _client_html(lang, _journey_state(Phase.INTAKE), done="advance"),
    }  # fmt: skip
    for phase, status, extra in ALL_STATES:
        rendered[f"{phase}-{status}"] = _client_html(lang, _journey_state(phase, status, **extra))
    return rendered


def test_no_untranslated_string_on_the_journey_pages() -> None:
    from tests.untranslated import untranslated

    for name, html in _pages_in("fi").items():
        assert untranslated(html, "fi") == [], name


def test_the_untranslated_check_finds_a_string_missing_from_a_broken_catalogue() -> None:
    """Render with a copy of the Finnish catalogue whose "Moves" and "Rest" entries are
    empty (they fall back to English): the check must name exactly those."""
    import gettext
    import io

    from babel.messages.mofile import write_mo
    from jinja2 import FileSystemLoader

    from shared.ui import TEMPLATES as SHARED_TEMPLATES
    from tests.untranslated import untranslated, untranslated_with

    broken = i18n.catalog("fi").__class__(locale="fi", domain="messages")
    for message in i18n.catalog("fi"):
        if message.id:
            broken.add(message.id, "" if message.id in ("Moves", "Rest") else message.string, flags=message.flags)
    buf = io.BytesIO()
    write_mo(buf, broken)
    buf.seek(0)
    translator = gettext.GNUTranslations(buf)
    env = i18n.environment.__wrapped__(pages.TEMPLATES, "fi")  # a fresh environment, not the cached one
    env.loader = FileSystemLoader([pages.TEMPLATES, SHARED_TEMPLATES])
    env.globals["chip_colour"] = pages.chip_colour
    env.install_gettext_callables(translator.gettext, translator.ngettext, newstyle=True)  # type: ignore[attr-defined]
    state = _journey_state(Phase.INTAKE)
    from services.coaching.journey_ui import legal_moves

    html = env.get_template("client.html").render(
        user=_User("Kaisa", Role.COACH), csrf_token="t", csrf_field="csrf_token", nav=[], path="/", here="/",
        name="Aino", client_id=str(state.client_id), record_pages=pages.RECORD_PAGES,
        journey=state.model_dump(mode="json"), coach_name="", timeline=[], staff={},
        moves=legal_moves(state, uuid.uuid4(), Role.COACH), today="2026-03-02",
    )  # fmt: skip
    assert untranslated(html, "fi") == ["Moves", "Rest"]
    # The same page with the real catalogue passes, and a translator that knows nothing flags a lot.
    assert untranslated(_client_html("fi", state), "fi") == []
    assert len(untranslated_with(html.replace("Vaiheen muutokset", "Moves"), gettext.NullTranslations(), set())) == 0
    assert "Moves" in untranslated_with(html, i18n.translator("fi"), i18n.msgids("fi"))
