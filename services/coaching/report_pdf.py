"""The final report (loppuraportti) as a PDF: an HTML page rendered by WeasyPrint.

``report_html`` renders ``report/pdf.html`` in the requested language; ``render_pdf``
turns it into PDF bytes (CPU-bound: call it in a worker thread). A report that is not
approved yet carries a "draft" watermark on every page (LUONNOS in Finnish).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from services.coaching.pages import _env
from services.coaching.plan_models import REPORT_SECTION_LABELS, REPORT_SECTIONS, FinalReportOut
from shared.i18n import PHASE_LABELS, format_day, label, translator

UI_DIR = Path(__file__).parent / "ui"
FONTS = "DejaVu Sans"


def section_paragraphs(text: str | None) -> list[list[str]]:
    """A section's text as paragraphs (blank-line separated) of lines."""
    if not text:
        return []
    paragraphs: list[list[str]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line.rstrip() for line in block.split("\n") if line.strip()]
        if lines:
            paragraphs.append(lines)
    return paragraphs


def report_html(
    report: FinalReportOut,
    *,
    lang: str,
    client_name: str,
    coach_name: str,
    organisation_name: str,
    printed_on: date,
) -> str:
    """The HTML WeasyPrint renders (also what the tests read)."""
    _ = translator(lang).gettext
    approved = report.status in ("approved", "sent")
    sections = [
        (_(REPORT_SECTION_LABELS[key]), section_paragraphs(getattr(report.sections, key))) for key in REPORT_SECTIONS
    ]
    html: str = (
        _env(lang)
        .get_template("report/pdf.html")
        .render(
            report=report,
            approved=approved,
            watermark=None if approved else _("DRAFT"),
            client_name=client_name,
            coach_name=coach_name,
            organisation_name=organisation_name,
            printed_on=format_day(printed_on, lang),
            approved_on=format_day(report.approved_at, lang) if report.approved_at else "",
            phase=label(PHASE_LABELS, lang, report.facts.phase),
            sections=sections,
            font=FONTS,
        )
    )
    return html


def render_pdf(html: str) -> bytes:
    """PDF bytes of ``html`` (WeasyPrint; fonts from fonts-dejavu)."""
    from weasyprint import HTML  # type: ignore[import-untyped]

    pdf: bytes | None = HTML(string=html, base_url=str(UI_DIR)).write_pdf()
    assert pdf is not None
    return pdf


def rendered_text(html: str) -> str:
    """The text WeasyPrint lays out for ``html``, page by page (for tests: what the PDF shows)."""
    from weasyprint import HTML

    document = HTML(string=html, base_url=str(UI_DIR)).render()
    out: list[str] = []

    def walk(box: Any) -> None:
        text = getattr(box, "text", None)
        if isinstance(text, str):
            out.append(text)
        for child in getattr(box, "children", []) or []:
            walk(child)

    for page in document.pages:
        walk(page._page_box)
    return " ".join(out)
