"""Helpers for importer tests: run a parser to a list and split records by type."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import importers
from importers.base import ParseOptions
from vault.records import Chat, Event, Message, Note, Problem, Record


@dataclass
class Parsed:
    records: list[Record] = field(default_factory=list)

    @property
    def chats(self) -> list[Chat]:
        return [r for r in self.records if isinstance(r, Chat)]

    @property
    def messages(self) -> list[Message]:
        return [r for r in self.records if isinstance(r, Message)]

    @property
    def events(self) -> list[Event]:
        return [r for r in self.records if isinstance(r, Event)]

    @property
    def problems(self) -> list[Problem]:
        return [r for r in self.records if isinstance(r, Problem)]

    @property
    def notes(self) -> list[Note]:
        return [r for r in self.records if isinstance(r, Note)]


def parse(path: Path, fmt: str | None = None, **opts: object) -> Parsed:
    """Parse `path` with the named format (or the detected one), reading attachments as the vault would."""
    f = importers.get(fmt) if fmt else importers.detect(path)
    out = Parsed()
    for rec in f.parse(path, ParseOptions(**opts)):  # type: ignore[arg-type]
        if isinstance(rec, Message):
            for att in rec.attachments:  # the opener must work while the parser is suspended
                if att.open is not None:
                    with att.open() as fh:
                        fh.read(16)
        out.records.append(rec)
    return out
