"""SMS Backup & Restore: SMS and MMS (group, media, drafts), calls as events, streaming, XML attacks refused."""

from __future__ import annotations

import base64
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

import importers
from importers.android_sms import detect_calls, detect_messages
from importers.android_sms.convert import MAX_PART_BYTES
from importers.android_sms.phones import normalise, split_addresses
from tests.conftest import FIXTURES, ROOT, cli
from tests.importers.util import parse
from vault.errors import ExportError
from vault.records import DIRECT, EV_CALL, GROUP, IMAGE, TEXT

UTC = timezone.utc
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
MEI = "+8613800138000"
AMAL = "+971501234567"
SAM = "+15550100000"
GROUP_KEY = "sms:" + ",".join(sorted([MEI, AMAL, SAM]))
HEAD = (
    "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
    "<!--File Created By SMS Backup & Restore v10.20.002 on 15/11/2023 09:00:00-->\n"
    '<?xml-stylesheet type="text/xsl" href="sms.xsl"?>\n'
)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 / 1000 + seconds, tz=UTC)


def sms(address: str, ms: int, kind: int, body: str, name: str = "(Unknown)") -> str:
    return (
        f'  <sms protocol="0" address="{address}" date="{ms}" type="{kind}" subject="null" body="{body}" '
        f'toa="null" sc_toa="null" service_center="null" read="1" status="-1" locked="0" '
        f'date_sent="{ms - 2000}" sub_id="1" readable_date="x" contact_name="{name}" />\n'
    )


def part(
    seq: int, ct: str, *, text: str = "null", data: bytes | None = None, name: str = "null", cl: str = "null"
) -> str:
    payload = f' data="{base64.b64encode(data).decode()}"' if data is not None else ""
    return (
        f'      <part seq="{seq}" ct="{ct}" name="{name}" chset="106" cd="null" fn="null" cid="null" '
        f'cl="{cl}" ctt_s="null" ctt_t="null" text="{text}"{payload} />\n'
    )


def mms(ms: int, box: int, address: str, parts: str, addrs: list[tuple[str, int]], name: str, m_id: str) -> str:
    addr_xml = "".join(f'      <addr address="{a}" type="{t}" charset="106" />\n' for a, t in addrs)
    return (
        f'  <mms date="{ms}" ct_t="application/vnd.wap.multipart.related" msg_box="{box}" rr="null" '
        f'sub="null" read_status="null" address="{address}" m_id="{m_id}" read="1" '
        f'contact_name="{name}" readable_date="x">\n    <parts>\n'
        + part(-1, "application/smil", text="&lt;smil&gt;&lt;/smil&gt;", cl="smil.xml")
        + parts
        + "    </parts>\n    <addrs>\n"
        + addr_xml
        + "    </addrs>\n  </mms>\n"
    )


def messages_xml() -> str:
    group = f"{MEI}~{AMAL}~{SAM}"
    body = "".join(
        [
            sms("+86 138-0013-8000", T0, 1, "警察在楼下等你", "李梅"),
            sms("0086 138 0013 8000", T0 + 60_000, 2, "好的，我马上下来", "李梅"),
            sms("+971 50 123 4567", T0 + 120_000, 1, "مرحبا، كيف حالك؟"),
            sms("+971501234567", T0 + 180_000, 3, "مسودة لم ترسل"),  # a draft
            sms("+971501234567", T0 + 240_000, 1, "ok"),
            sms("+971501234567", T0 + 240_000, 1, "ok"),  # the same text in the same millisecond
            '  <sms protocol="0" address="+1555" type="1" body="no date" contact_name="x" />\n',  # bad record
            mms(
                T0 + 300_000,
                1,
                group,
                part(0, "image/png", data=PNG, name="party.png", cl="party.png")
                + part(1, "text/plain", text="照片 from the party"),
                [(SAM, 137), (MEI, 151), (AMAL, 151), ("+8613999999999", 151)],
                "李梅, (Unknown), Sam",
                "mms-1@carrier",
            ),
            mms(
                T0 + 360_000,
                2,
                group,
                part(0, "text/plain", text="thanks all"),
                [("insert-address-token", 137), (MEI, 151), (AMAL, 151), (SAM, 151)],
                "李梅, (Unknown), Sam",
                "mms-2@carrier",
            ),
            mms(
                T0 + 420_000,
                1,
                SAM,
                part(0, "image/jpeg", name="lost.jpg"),  # the backup was made without this part's data
                [(SAM, 137)],
                "Sam",
                "null",
            ),
        ]
    )
    return HEAD + f'<smses count="10" backup_set="b1" backup_date="{T0 + 10**6}" type="full">\n{body}</smses>\n'


def calls_xml() -> str:
    def call(number: str, ms: int, kind: int, duration: int, name: str, presentation: int = 1) -> str:
        return (
            f'  <call number="{number}" duration="{duration}" date="{ms}" type="{kind}" '
            f'presentation="{presentation}" subscription_id="1" post_dial_digits="" '
            f'subscription_component_name="x" readable_date="x" contact_name="{name}" />\n'
        )

    body = (
        call("+86 138 0013 8000", T0 + 500_000, 1, 65, "李梅")
        + call("+971501234567", T0 + 600_000, 3, 0, "(Unknown)")
        + call("+15550100000", T0 + 700_000, 2, 12, "Sam")
        + call("", T0 + 800_000, 5, 0, "(Unknown)", presentation=2)
    )
    return (
        HEAD.replace("sms.xsl", "calls.xsl")
        + f'<calls count="4" backup_set="b2" backup_date="{T0}" type="full">\n{body}</calls>\n'
    )


@pytest.fixture
def backup(tmp_path: Path) -> Path:
    p = tmp_path / "sms-20231115090000.xml"
    p.write_text(messages_xml(), encoding="utf-8")
    return p


@pytest.fixture
def calls(tmp_path: Path) -> Path:
    p = tmp_path / "calls-20231115090000.xml"
    p.write_text(calls_xml(), encoding="utf-8")
    return p


def test_numbers_are_normalised() -> None:
    assert normalise("+86 138-0013-8000") == normalise("0086 (138) 0013.8000") == MEI
    assert normalise("Bank-Info") == "Bank-Info" and normalise("A@Example.org") == "a@example.org"
    assert split_addresses("+1 555~null~+1555~insert-address-token") == ["+1555"]
    assert split_addresses("null") == [] and split_addresses(None) == []


def test_sms_and_mms(backup: Path) -> None:
    result = parse(backup)
    assert [(c.key, c.title, c.kind) for c in result.chats] == [
        ("sms:" + MEI, "李梅", DIRECT),
        ("sms:" + AMAL, AMAL, DIRECT),  # "(Unknown)": the number
        (GROUP_KEY, "李梅, (Unknown), Sam", GROUP),
        ("sms:" + SAM, "Sam", DIRECT),
    ]
    assert result.chats[2].participants == ("Sam", "李梅", AMAL)  # sorted by number, named where known
    assert len(result.messages) == 9 and result.events == []
    (problem,) = result.problems
    assert problem.line == 11 and "date" in problem.message and "no date" not in str(problem)
    first, reply, arabic, draft, ok1, ok2, photo, mine, lost = result.messages
    assert (first.chat, first.sender, first.sender_id, first.from_me) == ("sms:" + MEI, "李梅", MEI, False)
    assert first.text == "警察在楼下等你" and first.ts == at(0) and first.kind == TEXT
    assert (reply.chat, reply.sender, reply.from_me, reply.ts) == ("sms:" + MEI, "You", True, at(60))
    assert arabic.text == "مرحبا، كيف حالك؟" and arabic.sender == AMAL
    assert draft.from_me and draft.extra["box"] == "draft" and draft.text == "مسودة لم ترسل"
    assert (ok1.text, ok1.ts, ok1.sender) == (ok2.text, ok2.ts, ok2.sender) == ("ok", at(240), AMAL)
    assert photo.chat == GROUP_KEY and photo.sender == "Sam" and photo.sender_id == SAM and not photo.from_me
    assert photo.text == "照片 from the party" and photo.kind == IMAGE and photo.source_id == "mms:mms-1@carrier"
    (png,) = photo.attachments
    assert (png.name, png.mime, png.size, png.kind) == ("party.png", "image/png", len(PNG), IMAGE)
    assert png.open is not None
    with png.open() as fh:
        assert fh.read() == PNG
    assert mine.chat == GROUP_KEY and mine.from_me and mine.sender == "You" and mine.text == "thanks all"
    assert lost.chat == "sms:" + SAM and lost.source_id is None
    (missing,) = lost.attachments
    assert missing.name == "lost.jpg" and missing.open is None and missing.size is None


def test_calls_are_events_with_duration(calls: Path) -> None:
    result = parse(calls)
    assert importers.detect(calls).name == "android-calls"
    assert [c.key for c in result.chats] == ["sms:" + MEI, "sms:" + AMAL, "sms:" + SAM, "sms:private"]
    assert result.messages == [] and not result.problems
    incoming, missed, outgoing, rejected = result.events
    assert all(e.kind == EV_CALL for e in result.events)
    assert (incoming.chat, incoming.ts, incoming.actor, incoming.extra["duration_s"]) == (
        "sms:" + MEI,
        at(500),
        "李梅",
        65,
    )
    assert incoming.extra["call_type"] == "incoming"
    assert missed.extra == {"duration_s": 0, "call_type": "missed", "presentation": 1} and missed.actor == AMAL
    assert outgoing.extra["call_type"] == "outgoing" and outgoing.actor is None and outgoing.extra["duration_s"] == 12
    assert rejected.extra["call_type"] == "rejected" and rejected.extra["presentation"] == 2


def test_oversize_part_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importers.android_sms.convert as convert

    monkeypatch.setattr(convert, "MAX_PART_BYTES", 16)
    p = tmp_path / "sms.xml"
    p.write_text(messages_xml(), encoding="utf-8")
    result = parse(p)
    assert len(result.messages) == 9
    assert any("larger than" in pr.message for pr in result.problems)
    assert result.messages[6].attachments[0].open is None
    assert MAX_PART_BYTES >= 8 << 20


@pytest.mark.parametrize(
    "text, match",
    [
        (HEAD + '<smses count="1">\n  <sms address="1" date="1"', "damaged or cut short"),
        ("<smses count='1'><sms></smses>", "damaged or cut short"),
        (
            '<?xml version="1.0"?>\n<!DOCTYPE smses [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>\n'
            '<smses count="1"><sms address="1" date="1" type="1" body="&b;" /></smses>',
            "document type",
        ),
        ("", "damaged or cut short"),
    ],
)
def test_bad_files_are_one_clean_error(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "sms-bad.xml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ExportError, match=match) as err:
        list(importers.get("android-sms").parse(p, importers.ParseOptions()))
    assert str(p) in str(err.value)


def test_billion_laughs_is_refused_not_expanded(tmp_path: Path) -> None:
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    p = tmp_path / "sms-lol.xml"
    p.write_text(f'<!DOCTYPE smses [<!ENTITY l0 "lol">{entities}]><smses count="1"><sms body="&l9;"/></smses>')
    assert not detect_messages(p)  # no count attribute right after a DOCTYPE: not even detected
    with pytest.raises(ExportError, match="document type"):
        list(importers.get("android-sms").parse(p, importers.ParseOptions()))


def test_detection(backup: Path, calls: Path, tmp_path: Path) -> None:
    assert importers.detect(backup).name == "android-sms"
    assert detect_messages(backup) and not detect_calls(backup)
    assert detect_calls(calls) and not detect_messages(calls)
    empty = tmp_path / "sms-empty.xml"
    empty.write_text(HEAD + '<smses count="0" backup_set="x" backup_date="1" type="full" />\n')
    assert detect_messages(empty) and parse(empty).records == []
    for path in FIXTURES.rglob("*"):
        assert not detect_messages(path) and not detect_calls(path), path
    other = tmp_path / "other.xml"
    other.write_text('<?xml version="1.0"?><calls><call number="1"/></calls>')  # no count: someone else's
    assert not detect_calls(other)
    for fmt in importers.formats():
        if fmt.source != "sms":
            assert not fmt.detect(backup), fmt.name
            assert not fmt.detect(calls), fmt.name


def test_import_into_a_vault(backup: Path, calls: Path, cli_vault: dict[str, str]) -> None:
    r = cli("import", str(backup), str(calls), "--json", env=cli_vault)
    assert r.code == 0, r.err
    sms_doc, calls_doc = r.json()["files"]
    assert (sms_doc["format"], sms_doc["added"], sms_doc["attachments"], len(sms_doc["problems"])) == (
        "android-sms",
        9,
        1,
        1,
    )
    assert (calls_doc["format"], calls_doc["added"], calls_doc["events"]) == ("android-calls", 0, 4)
    hits = cli("search", "警察", "--json", env=cli_vault).json()
    assert [(h["chat"], h["sender"], h["ts"], h["text"]) for h in hits] == [
        ("李梅", "李梅", "2023-11-14T22:13:20Z", "警察在楼下等你")
    ]
    chats = {c["title"]: c for c in cli("chats", "--json", env=cli_vault).json()}
    assert chats["李梅"]["messages"] == 2 and chats["李梅"]["events"] == 1  # texts and calls meet
    again = cli("import", str(backup), str(calls), "--json", env=cli_vault).json()
    assert again["added"] == 0 and [f["events"] for f in again["files"]] == [0, 0]


_MEASURE = """
import sys
from pathlib import Path
import importers
from importers.base import ParseOptions
fmt = importers.get("android-sms")  # every importer module loaded: the baseline
def hwm():  # this process's peak RSS (ru_maxrss would include the parent's, kept across exec)
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) * 1024 for l in fh if l.startswith("VmHWM:"))
base = hwm()
n = media = 0
for rec in fmt.parse(Path(sys.argv[1]), ParseOptions()):
    for att in getattr(rec, "attachments", ()):
        with att.open() as fh:
            media += len(fh.read())
    n += 1
print(n, media, base, hwm())
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="measures VmHWM in /proc")
def test_a_large_backup_streams_in_bounded_memory(tmp_path: Path) -> None:
    """About 100 MB of XML (base64 MMS media of 1.5 MB a part) parses with a peak RSS far below it."""
    p = tmp_path / "sms-big.xml"
    picture = bytes(range(256)) * 6000  # 1.5 MB
    with open(p, "w", encoding="utf-8") as fh:
        fh.write(HEAD + '<smses count="0" type="full">\n')
        for i in range(50):
            fh.write(
                mms(T0 + i * 1000, 1, SAM, part(0, "text/plain", text=f"图 {i}"), [(SAM, 137)], "Sam", f"m{i}").replace(
                    "    </parts>", part(1, "image/jpeg", name=f"p{i}.jpg", data=picture) + "    </parts>"
                )
            )
            for j in range(200):
                fh.write(sms(SAM, T0 + i * 1000 + j, 1, f"message {i}-{j} 警察"))
        fh.write("</smses>\n")
    size = p.stat().st_size
    assert size > 100_000_000
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(p)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    records, media, base, peak = (int(x) for x in out.stdout.split())
    assert records == 1 + 50 * 201 and media == 50 * len(picture)
    above = (peak - base) / 1e6
    print(f"\n{size / 1e6:.0f} MB backup: peak RSS {peak / 1e6:.0f} MB, {above:.0f} MB above the interpreter")
    assert peak - base < 32_000_000  # a few parts' worth, whatever the file's size
    assert peak - base < size / 3  # the interpreter itself is ~40 MB; what parsing adds is what counts


def test_parsed_in_a_second_process_the_same(
    backup: Path, tmp_path: Path, weak_kdf: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Format.parse_ahead: the records, MMS media openers included, travel from the child intact."""
    import vault
    from tests.conftest import PASSPHRASE
    from vault.operations import parse_ahead

    def imported(where: Path) -> tuple[int, int, list[tuple[str, str]]]:
        with vault.create(where, PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:  # type: ignore[arg-type]
            report = v.import_path(backup)
            hits = [(h["sender"], h["text"]) for h in v.search("照片")]
            return report.added, report.attachments, hits

    here = imported(tmp_path / "here")
    used: list[str] = []
    real = parse_ahead.prepared_ahead

    def counting(fmt: object, *rest: object) -> object:
        used.append(fmt.name)  # type: ignore[attr-defined]
        return real(fmt, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(parse_ahead, "THRESHOLD", 0)
    monkeypatch.setattr(parse_ahead, "prepared_ahead", counting)
    there = imported(tmp_path / "there")
    assert used == ["android-sms"]
    assert here == there == (9, 1, [("Sam", "照片 from the party")])
