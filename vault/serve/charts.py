"""Charts as SVG made on the server: a calendar heatmap of a year, and bar charts; colours come from the stylesheet."""

from __future__ import annotations

from datetime import date, timedelta

from markupsafe import Markup, escape

CELL = 12  # px per day in the heatmap, gap included
LEVELS = 4  # heat levels l1..l4 (l0: no messages), classes styled by app.css
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS = ("Mon", "", "Wed", "", "Fri", "", "")


def _level(n: int, top: int) -> int:
    if n <= 0 or top <= 0:
        return 0
    return min(LEVELS, 1 + (LEVELS * (n - 1)) // top)


def heatmap(year: int, by_day: dict[str, int]) -> Markup:
    """A year as weeks (columns) of days (rows, Monday on top), one square per day."""
    first = date(year, 1, 1)
    start = first - timedelta(days=first.weekday())
    top = max((n for d, n in by_day.items() if d.startswith(f"{year:04d}-")), default=0)
    left, head = 30, 16
    weeks = ((date(year, 12, 31) - start).days // 7) + 1
    width, height = left + weeks * CELL + 2, head + 7 * CELL + 2
    out = [
        f'<svg class="chart heat" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img"'
        f' aria-label="Messages per day in {year}">'
    ]
    for i, name in enumerate(DAYS):
        if name:
            out.append(f'<text class="axis" x="0" y="{head + i * CELL + 9}">{name}</text>')
    d = first
    while d.year == year:
        week = (d - start).days // 7
        if d.day == 1:
            out.append(f'<text class="axis" x="{left + week * CELL}" y="10">{MONTHS[d.month - 1]}</text>')
        key = d.isoformat()
        n = by_day.get(key, 0)
        x, y = left + week * CELL, head + d.weekday() * CELL
        word = "message" if n == 1 else "messages"
        out.append(
            f'<rect class="l{_level(n, top)}" x="{x}" y="{y}" width="{CELL - 2}" height="{CELL - 2}" rx="2">'
            f"<title>{key}: {n} {word}</title></rect>"
        )
        d += timedelta(days=1)
    out.append("</svg>")
    return Markup("".join(out))


def bars(items: list[tuple[str, int]], *, label: str, width: int = 520) -> Markup:
    """Horizontal bars, one per (label, value), longest first as given."""
    row, text_w = 22, 170
    top = max((n for _, n in items), default=0) or 1
    height = row * len(items) + 4
    out = [
        f'<svg class="chart bars" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img"'
        f' aria-label="{escape(label)}">'
    ]
    for i, (name, n) in enumerate(items):
        y = i * row + 2
        w = max(1, round((width - text_w - 60) * n / top)) if n else 0
        short = name if len(name) <= 22 else name[:21] + "…"
        out.append(
            f'<text class="label" x="{text_w - 6}" y="{y + 15}" text-anchor="end">{escape(short)}'
            f"<title>{escape(name)}</title></text>"
            f'<rect class="bar" x="{text_w}" y="{y + 3}" width="{w}" height="{row - 6}" rx="2"></rect>'
            f'<text class="value" x="{text_w + w + 6}" y="{y + 15}">{n}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def columns(values: list[int], labels: list[str], *, label: str, width: int = 520, height: int = 140) -> Markup:
    """Vertical bars (hours of the day, weekdays), each with its label below."""
    n = max(len(values), 1)
    top = max(values, default=0) or 1
    col = (width - 10) / n
    base = height - 18
    out = [
        f'<svg class="chart cols" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img"'
        f' aria-label="{escape(label)}">'
    ]
    for i, v in enumerate(values):
        h = round((base - 6) * v / top)
        x = 5 + i * col
        out.append(
            f'<rect class="bar" x="{x + 1:.1f}" y="{base - h}" width="{max(col - 2, 1):.1f}" height="{h}" rx="1">'
            f"<title>{escape(labels[i])}: {v}</title></rect>"
            f'<text class="axis" x="{x + col / 2:.1f}" y="{height - 4}" text-anchor="middle">{escape(labels[i])}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))
