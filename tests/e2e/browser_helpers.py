"""Shared pieces of the browser tests: the page checker of the coaching test extended to
every language (the page's ``lang``, no inline scripts and, on an English page, no Finnish
catalogue text left over), plus the login, the journey's buttons and the untranslated-string
check, reused from the coaching test so that both stay the same."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from playwright.sync_api import Page

from shared import i18n
from tests.e2e.test_coaching_browser import (
    ARGS,
    CHROMIUM,
    LOCALES,
    LOGIN,
    PHASE,
    Checker,
    _current_phase,
    _login,
    _press,
)
from tests.untranslated import _fragments, untranslated, visible_text

__all__ = [
    "ARGS",
    "CHROMIUM",
    "LOCALES",
    "LOGIN",
    "PHASE",
    "PageChecker",
    "current_phase",
    "finnish_left_over",
    "login",
    "press",
]

current_phase = _current_phase
login = _login
press = _press


@cache
def _finnish_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """A pattern per catalogue entry whose Finnish text differs from its English one: the
    Finnish fragments an English page must not show (a string rendered without the
    request's language)."""
    fi, en = i18n.translator("fi"), i18n.translator("en")
    found: list[tuple[str, re.Pattern[str]]] = []
    for msgid in sorted(i18n.msgids("fi") & i18n.msgids("en")):
        finnish, english = fi.gettext(msgid), en.gettext(msgid)
        if finnish == english:
            continue
        own = set(_fragments(english))
        for fragment in _fragments(finnish):
            if fragment not in own:
                found.append((msgid, re.compile(r"(?<![\w-])" + re.escape(fragment) + r"(?![\w-])")))
    return tuple(found)


def finnish_left_over(html: str) -> list[str]:
    """Msgids whose Finnish text shows on a page rendered in English."""
    text = visible_text(html, "en")
    return sorted({msgid for msgid, pattern in _finnish_patterns() if pattern.search(text)})


class PageChecker(Checker):
    """The coaching test's checks (numbered full-page screenshot, axe-core with no serious or
    critical violations, every control labelled, untranslated strings in Finnish) and: the
    page is in the language asked for, has no inline scripts, shows no untranslated msgid in
    English either and no Finnish catalogue text on an English page."""

    def __init__(self, folder: Path, lang: str) -> None:
        super().__init__(folder, lang)
        self.pages: list[str] = []

    def __call__(self, page: Page, name: str) -> None:
        super().__call__(page, name)
        self.pages.append(name)
        assert page.evaluate("() => document.documentElement.lang") == self.lang, f"{name}: page language"
        assert page.evaluate("() => document.querySelectorAll('script:not([src])').length") == 0, name
        html = page.content()
        if self.lang != "fi":
            assert untranslated(html, self.lang) == [], name
        if self.lang == "en":
            assert finnish_left_over(html) == [], f"{name}: Finnish text on an English page"
