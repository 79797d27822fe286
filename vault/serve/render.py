"""The templates (jinja2, autoescaped) and how things look: local times, day separators, sender colours, highlights."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from vault.serve import charts
from vault.serve.media import shown_as

COLORS = 8  # sender colour classes c0..c7, as in the HTML export
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def local(ts_ms: int, zone: ZoneInfo) -> datetime:
    return (_EPOCH + timedelta(milliseconds=int(ts_ms))).astimezone(zone)


def color(key: str | None) -> int:
    return hashlib.blake2b((key or "").encode("utf-8", "replace"), digest_size=2).digest()[0] % COLORS


def marked(text: str, spans: list[tuple[int, int]]) -> Markup:
    """`text` with each [start, end) span in <mark>, everything escaped."""
    out: list[str] = []
    pos = 0
    for a, b in spans:
        out.append(str(escape(text[pos:a])))
        out.append(f"<mark>{escape(text[a:b])}</mark>")
        pos = b
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


def size(n: int | None) -> str:
    if not n:
        return ""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover


class Renderer:
    """Renders the page, the unlock page and the fragments the page's script asks for, in one time zone."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.env = Environment(
            loader=PackageLoader("vault.serve", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.env.filters.update(
            hm=lambda ts: local(ts, zone).strftime("%H:%M"),
            when=lambda ts: local(ts, zone).strftime("%Y-%m-%d %H:%M"),
            day=lambda ts: local(ts, zone).strftime("%Y-%m-%d"),
            iso=lambda ts: local(ts, zone).isoformat(timespec="seconds"),
            size=size,
            color=color,
            shown=shown_as,
        )
        self.env.globals.update(zone=zone.key, charts=charts)

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

    def messages(self, page: dict[str, Any], *, chat_id: str) -> str:
        """A page of a conversation, with a separator before each new local day."""
        rows: list[dict[str, Any]] = []
        day = None
        for m in page["messages"]:
            d = local(m["ts_ms"], self.zone)
            key = d.strftime("%Y-%m-%d")
            rows.append({"day": f"{key} · {d.strftime('%A')}" if key != day else None, "day_key": key, "m": m})
            day = key
        return self.render(
            "messages.html",
            rows=rows,
            chat_id=chat_id,
            older=page["older"],
            newer=page["newer"],
            target=page.get("target"),
        )

    def hits(self, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for h in hits:
            h["marked"] = marked(h["text"], h.get("highlights", []))
            utc = datetime.strptime(h["ts"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
            h["local"] = utc.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")
        return hits

    def span(self, first_ms: int | None, last_ms: int | None) -> str:
        if first_ms is None or last_ms is None:
            return ""
        a, b = local(first_ms, self.zone).strftime("%Y-%m-%d"), local(last_ms, self.zone).strftime("%Y-%m-%d")
        return a if a == b else f"{a} – {b}"
