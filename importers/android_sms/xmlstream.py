"""A streaming, attack-safe reader of the backup's XML: elements as (name, attributes, line) events.

SMS Backup & Restore keeps every value in attributes (message text, base64 media), so a thin
layer over the standard library's expat parser is all the reading there is: the file is fed in
1 MiB chunks and nothing but the current element's attributes is held. A document type
declaration (where entity-expansion attacks live) is refused outright, entity declarations too,
and external entities are never fetched; the app writes none of these.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO
from xml.parsers import expat

from vault.errors import ExportError

CHUNK = 64 << 10

START = "start"
END = "end"


@dataclass(frozen=True)
class Node:
    event: str  # START or END
    name: str
    attrs: dict[str, str]
    line: int


class _Refused(Exception):
    """The document declares a DTD or an entity: refused before anything is expanded."""


def nodes(raw: IO[bytes], *, path: str) -> Iterator[Node]:
    """START and END events of every element, streaming; ExportError for XML that is not well formed
    or that declares a DTD or entities."""
    queue: deque[Node] = deque()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse(*_: object) -> None:
        raise _Refused

    def start(name: str, attrs: dict[str, str]) -> None:
        queue.append(Node(START, name, attrs, parser.CurrentLineNumber))

    def end(name: str) -> None:
        queue.append(Node(END, name, {}, parser.CurrentLineNumber))

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    while True:
        try:
            chunk = raw.read(CHUNK)
        except OSError as exc:
            raise ExportError("the file could not be read to the end", path=path) from exc
        try:
            parser.Parse(chunk, not chunk)
        except _Refused:
            raise ExportError(
                "the XML declares a document type or entities, which SMS Backup & Restore never "
                "writes; refused (it may be crafted to exhaust memory)",
                path=path,
                line=parser.CurrentLineNumber,
            ) from None
        except expat.ExpatError as exc:
            raise ExportError(
                f"the XML is damaged or cut short ({expat.ErrorString(exc.code)}); make the backup again",
                path=path,
                line=exc.lineno,
            ) from None
        while queue:
            yield queue.popleft()
        if not chunk:
            return
