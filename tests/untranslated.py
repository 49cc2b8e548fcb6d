"""Finding untranslated strings on a rendered page.

A page rendered in a language must not show a catalogue msgid (the English source text)
where the language's translation differs from it: that is a string that missed gettext,
a msgid the catalogue lacks, or an empty translation falling back to English. The check
looks at the page's visible text and its user-facing attributes (aria-label, title,
placeholder, alt), whole words only, and at each literal part of a msgid with
placeholders. Very short msgids (under four letters) are skipped: they would match parts
of names and codes.
"""

from __future__ import annotations

import gettext
import re
from functools import cache
from html.parser import HTMLParser

from shared import i18n

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
_ATTRS = ("aria-label", "title", "placeholder", "alt")
_SKIP_TAGS = ("script", "style", "template")
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)


class _Text(HTMLParser):
    """Collects text, skipping scripts and elements marked as another language (``lang``,
    e.g. the language switcher's "English" on a Finnish page)."""

    def __init__(self, lang: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._lang = lang
        self._other: list[str] = []  # tags open since an element in another language began

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        attributes = dict(attrs)
        if self._other and tag not in _VOID:
            self._other.append(tag)
            return
        if self._lang and tag != "html" and attributes.get("lang") not in (None, self._lang) and tag not in _VOID:
            self._other.append(tag)
            return
        for name, value in attrs:
            if name in _ATTRS and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS and self._skip:
            self._skip -= 1
        if self._other and tag == self._other[-1]:
            self._other.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip and not self._other:
            self.parts.append(data)


def visible_text(html: str, lang: str | None = None) -> str:
    """The page's text and user-facing attribute values, whitespace collapsed, one per line;
    with ``lang``, without the elements that say they are in another language."""
    parser = _Text(lang)
    parser.feed(html)
    return "\n".join(" ".join(p.split()) for p in parser.parts if p.strip())


def _fragments(msgid: str) -> list[str]:
    """The literal parts of a msgid worth looking for (placeholders split it)."""
    parts = [" ".join(p.split()).strip(" :,.–-") for p in PLACEHOLDER.split(msgid)]
    return [p for p in parts if sum(ch.isalpha() for ch in p) >= 4]


@cache
def _patterns(lang: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return patterns_for(i18n.translator(lang), i18n.msgids(lang))


def patterns_for(translator: gettext.NullTranslations, msgids: set[str]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """A pattern per msgid whose translation differs from it (what an untranslated page shows)."""
    found: list[tuple[str, re.Pattern[str]]] = []
    for msgid in sorted(msgids):
        translated = translator.gettext(msgid)
        if translated == msgid:
            continue  # e.g. "Team: %(team)s" is Swedish too, or an unfinished entry (tested elsewhere)
        own = set(_fragments(translated))
        for fragment in _fragments(msgid):
            if fragment in own:
                continue
            found.append((msgid, re.compile(r"(?<![\w-])" + re.escape(fragment) + r"(?![\w-])")))
    return tuple(found)


def untranslated(html: str, lang: str) -> list[str]:
    """Msgids of ``lang``'s catalogue that show untranslated on a page rendered in ``lang``."""
    text = visible_text(html, lang)
    return sorted({msgid for msgid, pattern in _patterns(lang) if pattern.search(text)})


def untranslated_with(
    html: str, translator: gettext.NullTranslations, msgids: set[str], lang: str | None = None
) -> list[str]:
    text = visible_text(html, lang)
    return sorted({msgid for msgid, pattern in patterns_for(translator, msgids) if pattern.search(text)})
