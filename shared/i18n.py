"""The one translation mechanism for every user-facing string: gettext catalogues per language.

Message ids are English. The catalogues are ``shared/locale/{lang}/LC_MESSAGES/messages.po``;
they are read with babel and compiled to GNU .mo in memory on first use, so a fresh clone
needs no compile step.

Adding or changing strings (from the repository root)::

    .venv/bin/pybabel extract -F babel.cfg --no-location --sort-output -w 100 \\
        --project Polku --copyright-holder "Polku contributors" -o shared/locale/messages.pot .
    .venv/bin/pybabel update -i shared/locale/messages.pot -d shared/locale -D messages \\
        --no-fuzzy-matching --ignore-obsolete -w 100

then fill in the empty ``msgstr`` lines (English too: ``tests/unit/test_i18n.py`` fails on
any empty one).

A part of the UI may instead keep its strings in its own file beside ``messages.po``
(``shared/locale/{lang}/LC_MESSAGES/<part>.po``, written by hand in the same format); all
files of a language form one catalogue, and a msgid may live in only one of them.

Python code marks strings with ``_ = translator(lang).gettext; _("...")`` or, for labels
translated later, ``N_("...")``. Templates use ``{{ _("...") }}`` / ``{% trans %}``, plus the
vocabulary filters installed by ``environment`` (``phase_label``, ``status_label``, ...).
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Protocol

from babel.dates import format_date, format_datetime, get_timezone
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, select_autoescape

SUPPORTED: tuple[str, ...] = ("fi", "sv", "en")
DEFAULT = "fi"
LANG_COOKIE = "polku_lang"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
# Users are in Finland: show times in Finnish time whatever the server's zone.
TIMEZONE = "Europe/Helsinki"


class _Request(Protocol):
    @property
    def cookies(self) -> Mapping[str, str]: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


def N_(message: str) -> str:  # the gettext name pybabel extracts
    """Mark a string for extraction without translating it yet."""
    return message


# --------------------------------------------------------------------------- catalogues


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def po_files(lang: str) -> list[Path]:
    """The catalogue files of ``lang``: ``messages.po`` first, then any other ``*.po`` beside
    it in name order. Extra files let parts of the UI keep their strings apart (and let
    people work on them without merge conflicts); they form one catalogue."""
    main = po_path(lang)
    others = sorted(p for p in main.parent.glob("*.po") if p != main)
    return [main, *others]


def _read(path: Path, lang: str) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


def duplicate_msgids(lang: str) -> dict[str, list[str]]:
    """Msgids that more than one catalogue file of ``lang`` defines, with the files' names."""
    seen: dict[str, list[str]] = {}
    for path in po_files(lang):
        for message in _read(path, lang):
            if message.id:
                key = message.id if isinstance(message.id, str) else message.id[0]
                seen.setdefault(key, []).append(path.name)
    return {key: files for key, files in seen.items() if len(files) > 1}


@cache
def catalog(lang: str) -> Catalog:
    if lang not in SUPPORTED:
        raise ValueError(f"unsupported language {lang!r}; one of {', '.join(SUPPORTED)}")
    files = po_files(lang)
    merged = _read(files[0], lang)
    for path in files[1:]:
        for message in _read(path, lang):
            if message.id and message.id not in merged:
                merged[message.id] = message
    return merged


@cache
def translator(lang: str) -> gettext.GNUTranslations:
    """The translations of ``lang`` (``gettext``, ``ngettext``, ``pgettext``); a missing or
    empty entry falls back to the English msgid."""
    buf = io.BytesIO()
    write_mo(buf, catalog(lang))  # skips empty and fuzzy entries, so they fall back
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def missing_translations(lang: str) -> list[str]:
    """Msgids of ``lang`` whose msgstr is empty (for a plural, any form empty)."""
    missing: list[str] = []
    for message in catalog(lang):
        if not message.id:
            continue  # the header
        strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
        if not all(strings):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


def msgids(lang: str) -> set[str]:
    """Every msgid in the catalogue of ``lang`` (singular form for plurals)."""
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog(lang) if m.id}


# --------------------------------------------------------------------------- negotiation


def _accept_language(header: str) -> list[str]:
    """Language tags of an Accept-Language header, best first (q=0 dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and q > 0:
            weighted.append((-q, index, tag.strip().lower()))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(request: _Request) -> str:
    """The language of a request: the ``polku_lang`` cookie, then Accept-Language, then Finnish."""
    chosen = request.cookies.get(LANG_COOKIE, "")
    if chosen in SUPPORTED:
        return chosen
    for tag in _accept_language(request.headers.get("accept-language", "")):
        primary = tag.replace("_", "-").split("-")[0]
        if primary in SUPPORTED:
            return primary
    return DEFAULT


# --------------------------------------------------------------------------- vocabulary

# Labels of the shared journey vocabulary (shared.contracts.journey, workflows.contracts).
# Finnish wording follows the users' own terms (see shared/domain/IPS.md).
PHASE_LABELS: dict[str, str] = {
    "INTAKE": N_("Intake and engagement"),
    "PROFILING": N_("Vocational profiling"),
    "JOB_SEARCH": N_("Rapid job search"),
    "EMPLOYER_AGREEMENT": N_("Agreeing with the employer"),
    "FOLLOW_ALONG": N_("Follow-along support"),
}
STATUS_LABELS: dict[str, str] = {
    "ACTIVE": N_("Active"),
    "RESTING": N_("Resting"),
    "CLOSED": N_("Closed"),
}
ROLE_LABELS: dict[str, str] = {
    "coach": N_("Employment coach"),
    "employer_coordinator": N_("Employer coordinator"),
    "team_lead": N_("Team lead"),
    "auditor": N_("Auditor"),
    "region_analyst": N_("Region analyst"),
    "org_admin": N_("Organisation admin"),
}
REST_REASON_LABELS: dict[str, str] = {
    "health_clarification": N_("Health situation being clarified"),
    "rehabilitative_work_activity": N_("Rehabilitative work activity first"),
    "life_situation": N_("Life situation"),
    "client_request": N_("At the client's request"),
    "other": N_("Other reason"),
}
OUTCOME_LABELS: dict[str, str] = {
    "employed": N_("Employed"),
    "education": N_("Education"),
    "work_trial": N_("Work trial"),
    "rehabilitative_work_activity": N_("Rehabilitative work activity"),
    "work_ability_assessment": N_("Back to work-ability assessment"),
    "sick_leave": N_("Sick leave"),
    "discontinued": N_("Discontinued"),
    "disengaged": N_("Did not stay a client"),
    "returned_to_referrer": N_("Returned to the referrer"),
}
ACTION_LABELS: dict[str, str] = {
    "started": N_("Journey started"),
    "advance": N_("Moved to the next phase"),
    "step_back": N_("Moved back a phase"),
    "rest": N_("Put to rest"),
    "resume": N_("Resumed"),
    "close": N_("Closed"),
    "reopen": N_("Reopened"),
    "reassign": N_("Coach changed"),
}
MILESTONE_LABELS: dict[str, str] = {
    "first_employer_contact": N_("First employer contact"),
    "job_started": N_("Job started"),
    "job_ended": N_("Job ended"),
    "benefits_counselling_given": N_("Benefits counselling given"),
    "disclosure_discussed": N_("Disclosure discussed"),
    "contact_made": N_("Contact with the client"),
}
REMINDER_LABELS: dict[str, str] = {
    "employer_contact_due": N_("First employer contact due"),
    "disclosure_revisit": N_("Revisit disclosure"),
    "follow_along_contact": N_("Follow-along contact due"),
    "rest_review": N_("Review the resting"),
    "silence_outreach": N_("Reach out after silence"),
}
LANGUAGE_NAMES: dict[str, str] = {"fi": "Suomi", "sv": "Svenska", "en": "English"}  # each in itself


def label(labels: Mapping[str, str], lang: str, code: object) -> str:
    """The translated label of a vocabulary code; the code itself when unknown."""
    if code is None:
        return ""
    key = str(code)
    msgid = labels.get(key)
    return translator(lang).gettext(msgid) if msgid else key


# --------------------------------------------------------------------------- formatting


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


# The conventions dates and numbers are formatted in: the users are in Finland, so English
# pages use British day-month order and the 24-hour clock, not the US defaults of "en";
# Swedish pages use Finland-Swedish conventions.
FORMAT_LOCALES: dict[str, str] = {"fi": "fi_FI", "sv": "sv_FI", "en": "en_GB"}


def format_locale(lang: str) -> str:
    return FORMAT_LOCALES.get(lang, lang)


def format_when(value: object, lang: str, fmt: str = "short") -> str:
    """A timestamp (datetime or ISO string) in Finnish time, in the language's format."""
    moment = _as_datetime(value)
    if moment is None:
        return ""
    return format_datetime(moment, fmt, tzinfo=get_timezone(TIMEZONE), locale=format_locale(lang))


def format_day(value: object, lang: str) -> str:
    """A date (or the Finnish date of a timestamp) in the language's short format."""
    if isinstance(value, str) and value:
        try:
            value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
        except ValueError:
            return ""
    if isinstance(value, datetime):
        value = value.astimezone(get_timezone(TIMEZONE)).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return format_date(value, "short", locale=format_locale(lang))
    return ""


def format_number(value: float, lang: str) -> str:
    return format_decimal(value, locale=format_locale(lang))


# --------------------------------------------------------------------------- Jinja2


def _filters(lang: str) -> dict[str, Callable[..., str]]:
    def vocabulary(labels: Mapping[str, str]) -> Callable[[object], str]:
        return lambda code: label(labels, lang, code)

    return {
        "phase_label": vocabulary(PHASE_LABELS),
        "status_label": vocabulary(STATUS_LABELS),
        "role_label": vocabulary(ROLE_LABELS),
        "rest_reason_label": vocabulary(REST_REASON_LABELS),
        "outcome_label": vocabulary(OUTCOME_LABELS),
        "action_label": vocabulary(ACTION_LABELS),
        "milestone_label": vocabulary(MILESTONE_LABELS),
        "reminder_label": vocabulary(REMINDER_LABELS),
        "when": lambda value, fmt="short": format_when(value, lang, fmt),
        "day": lambda value: format_day(value, lang),
        "number": lambda value: format_number(value, lang),
    }


@cache
def environment(template_dir: Path, lang: str) -> Environment:
    """A Jinja2 environment for templates in ``template_dir`` rendering in ``lang``.

    One environment per (directory, language), built once: the gettext callables are
    installed into it, so concurrent renders in different languages never share state.
    Templates use ``_()``, ``gettext()``, ``ngettext()`` and ``{% trans %}`` (new-style:
    ``_("Hello %(name)s", name=x)``, autoescaped), and the vocabulary filters above.
    """
    if lang not in SUPPORTED:
        raise ValueError(f"unsupported language {lang!r}")
    env = Environment(
        loader=FileSystemLoader(template_dir),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # babel.cfg extracts with trimmed = true too, so {% trans %} ids match the catalogue.
    env.policies["ext.i18n.trimmed"] = True
    t = translator(lang)
    env.install_gettext_callables(t.gettext, t.ngettext, newstyle=True, pgettext=t.pgettext)  # type: ignore[attr-defined]
    env.filters.update(_filters(lang))
    env.globals.update(lang=lang, languages=SUPPORTED, language_names=LANGUAGE_NAMES)
    return env
