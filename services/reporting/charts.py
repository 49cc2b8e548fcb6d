"""Charts as SVG, drawn on the server: no JavaScript, no scripts inside, numbers written
next to the marks (colour is never the only carrier), a title and a description for
screen readers. Every chart has its figures in a table of the same report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# A palette that stays apart for common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#999999")
FONT = "font-family='system-ui, -apple-system, Segoe UI, Roboto, sans-serif'"


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float]
    colour: str | None = None


def _svg(width: int, height: int, title: str, desc: str, body: list[str]) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='{width}' height='{height}' "
        f"role='img' aria-labelledby='chart-title chart-desc' {FONT} font-size='12'>"
        f"<title id='chart-title'>{escape(title)}</title><desc id='chart-desc'>{escape(desc)}</desc>"
        f"<rect width='{width}' height='{height}' fill='#ffffff'/>"
        f"<text x='12' y='22' font-size='15' font-weight='600' fill='#1a1a1a'>{escape(title)}</text>"
        + "".join(body)
        + "</svg>"
    )


def _fmt(value: float) -> str:
    return (
        f"{value:.1f}".rstrip("0").rstrip(".")
        if isinstance(value, float) and not value.is_integer()
        else f"{value:.0f}"
    )


def stacked_bars(title: str, categories: Sequence[str], series: Sequence[Series], desc: str = "") -> str:
    """Vertical bars per category, each stacked from the series; the total above each bar."""
    width, height = 760, 360
    left, right, top, bottom = 48, 170, 40, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    peak = max([*totals, 1])
    body: list[str] = []
    for step in range(5):
        value = peak * step / 4
        y = top + plot_h - plot_h * step / 4
        body.append(f"<line x1='{left}' x2='{left + plot_w}' y1='{y:.1f}' y2='{y:.1f}' stroke='#e2e2e2'/>")
        body.append(f"<text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end' fill='#555'>{_fmt(value)}</text>")
    n = max(len(categories), 1)
    slot = plot_w / n
    bar = min(48.0, slot * 0.7)
    for i, category in enumerate(categories):
        x = left + slot * i + (slot - bar) / 2
        y = top + plot_h
        for j, s in enumerate(series):
            value = s.values[i]
            if value <= 0:
                continue
            h = plot_h * value / peak
            y -= h
            colour = s.colour or PALETTE[j % len(PALETTE)]
            body.append(
                f"<rect x='{x:.1f}' y='{y:.1f}' width='{bar:.1f}' height='{h:.1f}' fill='{colour}'>"
                f"<title>{escape(category)}: {escape(s.label)} {_fmt(value)}</title></rect>"
            )
        if totals[i]:
            body.append(
                f"<text x='{x + bar / 2:.1f}' y='{y - 4:.1f}' text-anchor='middle' fill='#1a1a1a'>"
                f"{_fmt(totals[i])}</text>"
            )
        if n <= 12 or i % 2 == 0:
            body.append(
                f"<text x='{x + bar / 2:.1f}' y='{top + plot_h + 16}' text-anchor='middle' fill='#333'>"
                f"{escape(category)}</text>"
            )
    for j, s in enumerate(series):
        colour = s.colour or PALETTE[j % len(PALETTE)]
        y = top + 4 + j * 18
        body.append(f"<rect x='{width - right + 14}' y='{y}' width='12' height='12' fill='{colour}'/>")
        body.append(f"<text x='{width - right + 32}' y='{y + 10}' fill='#1a1a1a'>{escape(s.label[:24])}</text>")
    return _svg(width, height, title, desc, body)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    group: str = ""
    colour: str | None = None


def horizontal_bars(
    title: str, bars: Sequence[Bar], maximum: float, desc: str = "", empty: str = "–", marker: float | None = None
) -> str:
    """One bar per row against a fixed maximum (e.g. 1-5 fidelity scores); group headings
    between rows of different groups; the value written at the end of each bar."""
    label_w, bar_w, row_h = 330, 360, 20
    rows = len(bars) + len({b.group for b in bars if b.group})
    width, height = label_w + bar_w + 60, 48 + rows * row_h + 10
    body: list[str] = []
    y = 40
    group = None
    groups = {g: k for k, g in enumerate(dict.fromkeys(b.group for b in bars))}
    for b in bars:
        if b.group and b.group != group:
            group = b.group
            body.append(f"<text x='12' y='{y + 14}' font-weight='600' fill='#1a1a1a'>{escape(b.group)}</text>")
            y += row_h
        body.append(f"<text x='{label_w - 8}' y='{y + 14}' text-anchor='end' fill='#333'>{escape(b.label[:52])}</text>")
        body.append(f"<rect x='{label_w}' y='{y + 3}' width='{bar_w}' height='{row_h - 6}' fill='#f1f1f1'/>")
        if b.value is None:
            body.append(f"<text x='{label_w + 6}' y='{y + 14}' fill='#777'>{escape(empty)}</text>")
        else:
            w = bar_w * max(0.0, min(b.value, maximum)) / maximum
            colour = b.colour or PALETTE[groups.get(b.group, 0) % len(PALETTE)]
            body.append(
                f"<rect x='{label_w}' y='{y + 3}' width='{w:.1f}' height='{row_h - 6}' fill='{colour}'>"
                f"<title>{escape(b.label)}: {_fmt(b.value)}</title></rect>"
            )
            body.append(f"<text x='{label_w + w + 6:.1f}' y='{y + 14}' fill='#1a1a1a'>{_fmt(b.value)}</text>")
        y += row_h
    if marker is not None:
        x = label_w + bar_w * marker / maximum
        body.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='36' y2='{y}' stroke='#D55E00' stroke-dasharray='4 3'/>")
    return _svg(width, height, title, desc, body)


@dataclass(frozen=True)
class Stage:
    label: str
    active: int
    resting: int


def phase_flow(
    title: str,
    stages: Sequence[Stage],
    forward: Sequence[int],
    back: Sequence[int],
    labels: tuple[str, str],
    desc: str = "",
) -> str:
    """The five phases left to right with the clients in each (active and resting), and
    between neighbours the moves forward (above) and back (below) in the period."""
    box_w, box_h, gap = 120, 84, 44
    n = len(stages)
    width, height = 24 + n * box_w + (n - 1) * gap + 24, 250
    top = 70
    active_label, resting_label = labels
    body: list[str] = [
        "<defs><marker id='arrow' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' markerHeight='7' "
        "orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' fill='#333'/></marker></defs>"
    ]
    for i, s in enumerate(stages):
        x = 24 + i * (box_w + gap)
        body.append(
            f"<rect x='{x}' y='{top}' width='{box_w}' height='{box_h}' rx='8' fill='#eef5fb' stroke='#0072B2'/>"
        )
        words = s.label.split()
        lines = [" ".join(words[: (len(words) + 1) // 2]), " ".join(words[(len(words) + 1) // 2 :])]
        for k, line in enumerate(ln for ln in lines if ln):
            body.append(
                f"<text x='{x + box_w / 2}' y='{top + 18 + k * 14}' text-anchor='middle' font-weight='600' "
                f"fill='#1a1a1a'>{escape(line)}</text>"
            )
        body.append(
            f"<text x='{x + box_w / 2}' y='{top + 56}' text-anchor='middle' fill='#1a1a1a'>"
            f"{escape(active_label)} {s.active}</text>"
        )
        body.append(
            f"<text x='{x + box_w / 2}' y='{top + 72}' text-anchor='middle' fill='#555'>"
            f"{escape(resting_label)} {s.resting}</text>"
        )
        if i + 1 < n:
            x1, x2 = x + box_w + 4, x + box_w + gap - 4
            f_count = forward[i] if i < len(forward) else 0
            b_count = back[i] if i < len(back) else 0
            body.append(
                f"<line x1='{x1}' x2='{x2}' y1='{top + 28}' y2='{top + 28}' stroke='#333' marker-end='url(#arrow)'/>"
                f"<text x='{(x1 + x2) / 2}' y='{top + 20}' text-anchor='middle' fill='#1a1a1a'>{f_count}</text>"
            )
            body.append(
                f"<line x1='{x2}' x2='{x1}' y1='{top + 58}' y2='{top + 58}' stroke='#999' marker-end='url(#arrow)'/>"
                f"<text x='{(x1 + x2) / 2}' y='{top + 74}' text-anchor='middle' fill='#555'>{b_count}</text>"
            )
    return _svg(width, height, title, desc, body)
