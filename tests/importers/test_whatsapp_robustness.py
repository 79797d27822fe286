"""WhatsApp importer on bad input: only ExportError or Problems, bounded memory, long lines."""

from __future__ import annotations

import os
import tracemalloc
import zipfile
from pathlib import Path

import pytest

import importers
from importers.base import ParseOptions
from importers.whatsapp import detect
from importers.whatsapp.source import MAX_LINE_BYTES
from tests.conftest import FIXTURES
from tests.importers.util import Parsed, parse
from vault.errors import ExportError
from vault.records import Message

WA = FIXTURES / "whatsapp"
ANNA = WA / "WhatsApp Chat with Anna.txt"


def wa(path: Path, **opts: object) -> Parsed:
    return parse(path, "whatsapp", **opts)


def only_export_error(path: Path) -> Parsed | None:
    """Parse, accepting ExportError; any other exception fails the test."""
    try:
        return wa(path)
    except ExportError:
        return None


def _chat_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


def test_truncated_zip(tmp_path: Path) -> None:
    whole = _chat_zip(
        tmp_path / "whole.zip",
        {"_chat.txt": (WA / "ios_group_chat.txt").read_bytes(), "a.jpg": os.urandom(4000)},
    )
    data = whole.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30):
        truncated = tmp_path / f"WhatsApp Chat - Cut {cut}.zip"
        truncated.write_bytes(data[:cut])
        assert detect(truncated) is False
        with pytest.raises(ExportError, match="zip"):
            wa(truncated)


def test_zip_with_damaged_member(tmp_path: Path) -> None:
    path = _chat_zip(tmp_path / "WhatsApp Chat - Damaged.zip", {"_chat.txt": ANNA.read_bytes() * 50})
    data = bytearray(path.read_bytes())
    data[60:90] = bytes(30)  # inside the compressed chat text
    path.write_bytes(bytes(data))
    with pytest.raises(ExportError):
        wa(path)


def test_zip_member_escaping_the_archive(tmp_path: Path) -> None:
    chat = b"1/13/23, 12:20 PM - Ben: x.jpg (file attached)\n"
    path = _chat_zip(tmp_path / "WhatsApp Chat with Ben.zip", {"_chat.txt": chat, "../x.jpg": b"outside"})
    p = wa(path)
    assert [pr.message for pr in p.problems] == ["1 zip member(s) named outside the archive were skipped"]
    (m,) = p.messages
    assert m.attachments[0].name == "x.jpg" and m.attachments[0].open is None
    only_escaping = _chat_zip(tmp_path / "evil.zip", {"../_chat.txt": chat, "/etc/x.txt": chat})
    with pytest.raises(ExportError, match="no WhatsApp chat text"):
        wa(only_escaping)


def test_binary_junk_named_txt(tmp_path: Path) -> None:
    junk = tmp_path / "WhatsApp Chat with Junk.txt"
    junk.write_bytes(os.urandom(200_000))
    assert detect(junk) is False
    with pytest.raises(ExportError, match="no WhatsApp message header"):
        wa(junk)


def test_empty_and_missing(tmp_path: Path) -> None:
    empty = tmp_path / "WhatsApp Chat with Nobody.txt"
    empty.write_bytes(b"")
    with pytest.raises(ExportError):
        wa(empty)
    with pytest.raises(ExportError, match="no such file"):
        wa(tmp_path / "missing.txt")
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    with pytest.raises(ExportError, match="no WhatsApp chat text"):
        wa(nothing)  # a folder without a chat


def test_utf16_without_bom_is_read(tmp_path: Path) -> None:
    """Re-saved by another tool as UTF-16 (with or without a BOM): the same records."""
    want = wa(ANNA).records[1:]
    for encoding in ("utf-16-le", "utf-16-be", "utf-16"):
        (tmp_path / encoding).mkdir()
        path = tmp_path / encoding / ANNA.name
        path.write_bytes(ANNA.read_text("utf-8").encode(encoding))
        assert detect(path)
        p = wa(path)
        assert p.records[1:] == want, encoding


def test_latin1_gives_problems_not_exceptions(tmp_path: Path) -> None:
    path = tmp_path / "WhatsApp Chat with Zoë.txt"
    text = "18/03/2022, 14:56 - Zoë: Grüße aus Köln\n18/03/2022, 14:57 - Ben: ok\n"
    path.write_bytes(text.encode("latin-1"))
    p = wa(path)
    assert [pr.line for pr in p.problems] == [1]
    assert "not UTF-8" in p.problems[0].message
    assert "Zo" not in p.problems[0].message and "Gr" not in p.problems[0].message
    assert [m.text for m in p.messages] == ["Gr\ufffd\ufffde aus K\ufffdln", "ok"]


def test_text_before_the_first_header(tmp_path: Path) -> None:
    path = tmp_path / "chat.txt"
    path.write_text("exported by a tool\n\n" + ANNA.read_text("utf-8"), encoding="utf-8")
    p = wa(path)
    assert [(pr.line, pr.message) for pr in p.problems] == [(1, "text before the first message was skipped")]
    assert len(p.messages) == len(wa(ANNA).messages)


def test_impossible_date_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "chat.txt"
    path.write_text(
        "25/03/2022, 10:00 - A: one\n31/02/2022, 10:00 - A: two\n26/03/2022, 10:00 - A: three\n",
        encoding="utf-8",
    )
    p = wa(path)
    assert [m.text for m in p.messages] == ["one", "three"]
    assert [pr.line for pr in p.problems] == [2]


def test_a_header_of_another_shape_stays_text(tmp_path: Path) -> None:
    """A quoted iOS line inside an Android export is part of the message, not a record."""
    path = tmp_path / "chat.txt"
    path.write_text(
        "25/03/2022, 10:00 - A: look what he wrote:\n[3/18/22, 14:56:01] Elon: hi\n25/03/2022, 10:01 - B: ok\n",
        encoding="utf-8",
    )
    p = wa(path)
    assert [m.text for m in p.messages] == [
        "look what he wrote:\n[3/18/22, 14:56:01] Elon: hi",
        "ok",
    ]


def test_very_long_line_is_cut_with_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "WhatsApp Chat with Long.txt"
    with open(path, "wb") as fh:
        fh.write(b"18/03/2022, 14:56 - A: ")
        fh.write(b"x" * (3 * MAX_LINE_BYTES))
        fh.write(b"\n18/03/2022, 14:57 - B: after\n")
    p = wa(path)
    long, after = p.messages
    assert len(long.text) < MAX_LINE_BYTES and after.text == "after"
    assert [pr.line for pr in p.problems] == [1]
    assert "longer than" in p.problems[0].message


def test_long_junk_line_without_header(tmp_path: Path) -> None:
    path = tmp_path / "WhatsApp Chat with Junk.txt"
    path.write_bytes(b"y" * (5 * MAX_LINE_BYTES))
    assert detect(path) is False
    with pytest.raises(ExportError):
        wa(path)


@pytest.mark.slow
def test_memory_stays_bounded(tmp_path: Path) -> None:
    """Parsing holds one message at a time: peak memory far below the file's size."""
    path = tmp_path / "WhatsApp Chat with Many.txt"
    line = "18/03/2022, 14:56 - Alice: {} lorem ipsum dolor sit amet 好的 😀\n"
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(40_000):
            fh.write(line.format(i))
    size = path.stat().st_size
    fmt = importers.get("whatsapp")
    tracemalloc.start()
    try:
        count = sum(isinstance(r, Message) for r in fmt.parse(path, ParseOptions()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 40_000
    assert peak < size // 4, (peak, size)


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01\x02",
        b"PK\x03\x04garbage",
        b"[1/1/21, 12:00:00]",
        b"1/1/21, 12:00 - ",
        b"\xef\xbb\xbf",
        b"\xff\xfe",
        b"13/13/13, 25:61 - A: x\n",
        "[\u0661/\u0661/\u0662\u0661, \u0661:\u0660\u0660 م] A: x\n".encode(),
    ],
)
def test_odd_bytes_only_export_errors(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "chat.txt"
    path.write_bytes(data)
    detect(path)
    only_export_error(path)
