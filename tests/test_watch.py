"""The watcher as a library (vault/watch/__init__.py): a real watchdog observer on a temporary folder, a real vault.

Fifty exports dropped at once (some written slowly, some cut short, some twice, one renamed) are
each imported exactly once and every bad one is reported once, with the watcher alive at the end;
folders are imported as units; --shred-imported overwrites and removes only what the vault has;
nothing of the messages leaks into events or files outside the vault. The command line, processes,
signals and kill -9 are in test_watch_cli.py.
"""

from __future__ import annotations

import io
import json
import os
import queue
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import vault
from tests.conftest import PASSPHRASE, tg_msg
from vault.errors import UsageError
from vault.secret import SourceSpec
from vault.watch import Watcher, WatchEvent, require_unattended_passphrase
from vault.watch.shred import ShredRefused, shred, shred_file
from vault.watch.units import ignored, snapshot, units, zip_complete

CANARY = "zq-canary-watch-7c41"
CJK_CANARY = "監視燈塔秘密"
SETTLE = 1.0  # the slow writers below pause 0.02 s between chunks: 50 times less


# -- small exports ------------------------------------------------------------------------------------
def wa_text(tag: str, n: int = 3) -> str:
    """A WhatsApp (Android) chat text with n messages."""
    lines = [f"12/03/2023, 09:{i:02d} - {'Mei' if i % 2 else 'Ana'}: hello {tag} {i} {CANARY}" for i in range(n)]
    return "\n".join(lines) + "\n"


def wa_zip(tag: str, n: int = 3) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("_chat.txt", wa_text(tag, n))
    return buf.getvalue()


def jsonl_text(tag: str, n: int = 3) -> str:
    rows: list[dict[str, Any]] = [
        {"type": "talkvault", "version": 1},
        {"type": "chat", "source": "mychat", "key": f"room-{tag}", "title": f"Room {tag}", "kind": "group"},
    ]
    rows += [
        {
            "type": "message",
            "chat": f"room-{tag}",
            "ts": f"2023-03-14T09:{i:02d}:00Z",
            "sender": "Jon",
            "text": f"{CJK_CANARY} {tag} {i}",
        }
        for i in range(n)
    ]
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def tg_bytes(chat_id: int, n: int = 3) -> bytes:
    doc = {
        "name": f"Chat {chat_id}",
        "type": "personal_chat",
        "id": chat_id,
        "messages": [tg_msg(i, f"{CANARY} tg {chat_id} {i}") for i in range(1, n + 1)],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1).encode()


def write_slowly(path: Path, data: bytes, chunks: int = 8, pause: float = 0.02) -> None:
    """A slow writer (a download, a sync client): the file grows in chunks."""
    step = max(1, len(data) // chunks)
    with open(path, "wb") as fh:
        for i in range(0, len(data), step):
            fh.write(data[i : i + step])
            fh.flush()
            time.sleep(pause)


def tg_folder(folder: Path, chat_id: int, n: int = 3, slow: bool = False) -> None:
    """A Telegram Desktop ChatExport_* folder: result.json and a photo."""
    (folder / "photos").mkdir(parents=True)
    (folder / "photos" / "photo_1.jpg").write_bytes(b"\xff\xd8\xff" + os.urandom(2000))
    doc = json.loads(tg_bytes(chat_id, n))
    doc["messages"][0]["photo"] = "photos/photo_1.jpg"
    data = json.dumps(doc, ensure_ascii=False, indent=1).encode()
    if slow:
        write_slowly(folder / "result.json", data)
    else:
        (folder / "result.json").write_bytes(data)


# -- running a watcher on a thread ------------------------------------------------------------------------
class Running:
    """A Watcher on a background thread; events collected in order; stopped and joined on exit."""

    def __init__(self, v: vault.Vault, dirs: list[Path], **kw: Any) -> None:
        self._q: queue.Queue[WatchEvent] = queue.Queue()
        self.events: list[WatchEvent] = []
        self.error: BaseException | None = None
        self.result: dict[str, Any] | None = None
        self.w = Watcher(v, dirs, on_event=self._q.put, **kw)
        self.t = threading.Thread(target=self._run, name="test-watcher")

    def _run(self) -> None:
        try:
            self.result = self.w.run()
        except BaseException as exc:
            self.error = exc

    def __enter__(self) -> Running:
        self.t.start()
        self.wait_for(lambda evs: any(e.kind == "watching" for e in evs))
        return self

    def wait_for(self, done: Callable[[list[WatchEvent]], bool], timeout: float = 45) -> None:
        deadline = time.monotonic() + timeout
        while not done(self.events):
            assert self.error is None, self.error
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out; events so far: " + json.dumps([e.to_json() for e in self.events]))
            try:
                self.events.append(self._q.get(timeout=min(left, 1.0)))
            except queue.Empty:
                assert self.t.is_alive(), f"the watcher died: {self.error!r}"

    def of(self, kind: str) -> list[str]:
        return [str(e.path) for e in self.events if e.kind == kind]

    def __exit__(self, *exc: object) -> None:
        self.w.stop()
        self.t.join(timeout=30)
        assert not self.t.is_alive(), "the watcher did not stop"
        while not self._q.empty():
            self.events.append(self._q.get_nowait())
        if self.error is not None:
            raise self.error


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leaked, f"threads left running: {leaked}"


def scan_for(roots: list[Path], needles: list[bytes], skip: tuple[Path, ...] = ()) -> list[str]:
    hits = []
    for root in roots:
        for f in root.rglob("*"):
            if any(f == s or s in f.parents for s in skip):
                continue
            if f.is_file() and not f.is_symlink():
                data = f.read_bytes()
                hits += [f"{f}: {n!r}" for n in needles if n in data]
    return hits


NEEDLES = [CANARY.encode(), CJK_CANARY.encode(), PASSPHRASE.encode()]


# -- the acceptance run ---------------------------------------------------------------------------------
def test_fifty_exports_at_once(new_vault: vault.Vault, tmp_path: Path, hermetic: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    good: dict[Path, int] = {}  # export path -> messages it holds
    bad: list[Path] = []
    dups: list[tuple[Path, Path]] = []
    fast: list[tuple[Path, bytes]] = []
    slow: list[tuple[Path, bytes]] = []
    for i in range(10):  # Telegram single-chat result.json files
        p = drop / f"telegram_{i:02d}.json"
        (slow if i < 3 else fast).append((p, tg_bytes(1000 + i, 3)))
        good[p] = 3
    for i in range(10):  # WhatsApp chat texts
        p = drop / f"WhatsApp Chat with P{i:02d}.txt"
        (slow if i < 3 else fast).append((p, wa_text(f"wa{i}", 4).encode()))
        good[p] = 4
    for i in range(8):  # JSONL
        p = drop / f"room_{i:02d}.jsonl"
        (slow if i < 2 else fast).append((p, jsonl_text(f"j{i}", 2).encode()))
        good[p] = 2
    for i in range(6):  # WhatsApp zips: a slow one has no central directory until its last chunk
        p = drop / f"WhatsApp Chat - Z{i:02d}.zip"
        (slow if i < 2 else fast).append((p, wa_zip(f"z{i}", 5)))
        good[p] = 5
    misc = drop / "misc"  # a folder no importer recognises: its exports count one by one
    misc.mkdir()
    for i in range(2):
        p = misc / f"inner_{i}.jsonl"
        fast.append((p, jsonl_text(f"inner{i}", 3).encode()))
        good[p] = 3
    for i in range(3):  # cut short: a zip without its end, Telegram JSON without its end
        p = drop / f"WhatsApp Chat - Cut{i}.zip"
        data = wa_zip(f"cut{i}", 40)
        fast.append((p, data[: len(data) * 2 // 3]))
        bad.append(p)
    for i in range(2):
        p = drop / f"telegram_cut_{i}.json"
        data = tg_bytes(2000 + i, 20)
        fast.append((p, data[: len(data) // 2]))
        bad.append(p)
    for name in ("notes.bin", "photo.heic"):  # nothing recognises these
        p = drop / name
        fast.append((p, os.urandom(300)))
        bad.append(p)
    originals = [p for p, _ in fast if p in good]
    for i, src in enumerate(originals[:3]):  # the same bytes under another name
        copy = drop / f"copy_{i}{src.suffix}"
        fast.append((copy, next(d for p, d in fast if p == src)))
        dups.append((src, copy))
    folders = [drop / f"ChatExport_2024-0{i + 1}-01" for i in range(4)]
    for f in folders:
        good[f] = 3
    assert len(good) + len(bad) + len(dups) == 50

    with Running(new_vault, [drop], settle=SETTLE) as run:
        writers = [threading.Thread(target=write_slowly, args=(p, d)) for p, d in slow]
        writers += [
            threading.Thread(target=tg_folder, args=(f, 3000 + i), kwargs={"slow": i % 2 == 0})
            for i, f in enumerate(folders)
        ]
        for t in writers:
            t.start()
        for p, data in fast:
            p.write_bytes(data)
        for t in writers:
            t.join()

        def settled(evs: list[WatchEvent]) -> bool:
            done = {Path(str(e.path)) for e in evs if e.kind in ("imported", "skipped", "failed")}
            return all(p in done for p in [*good, *bad]) and all(a in done and b in done for a, b in dups)

        run.wait_for(settled)
        # A renamed and a touched export: already in the vault, nothing added.
        renamed_from = drop / "WhatsApp Chat with P05.txt"
        renamed = drop / "WhatsApp Chat with P05 (old).txt"
        os.rename(renamed_from, renamed)
        touched = drop / "room_05.jsonl"
        os.utime(touched)
        run.wait_for(lambda evs: {str(renamed), str(touched)} <= set(run.of("skipped")))
        # Still alive after all that: one more export arrives and is imported.
        late = drop / "late.jsonl"
        late.write_text(jsonl_text("late", 6))
        run.wait_for(lambda evs: str(late) in run.of("imported"))
    good[late] = 6

    imported, failed, skipped = run.of("imported"), run.of("failed"), run.of("skipped")
    assert run.result == {"files": [], "added": sum(good.values())}  # a long-running watcher keeps no list
    assert run.events[-1].to_json() == {
        "event": "stopped",
        "time": run.events[-1].time,
        "imported": len(good),
        "failed": len(bad),
        "added": sum(good.values()),
    }
    # Every bad export reported exactly once, nothing else failed.
    assert sorted(failed) == sorted(map(str, bad))
    # Every good export imported exactly once: for each pair of identical files one import, one skip.
    for src, copy in dups:
        assert sorted([str(src) in imported, str(copy) in imported]) == [False, True]
        assert str(src) in skipped or str(copy) in skipped
    singles = [p for p in good if all(p not in pair for pair in dups)]
    assert [p.name for p in singles if imported.count(str(p)) != 1] == []
    assert len(imported) == len(good) == len(set(imported))
    assert str(renamed) not in imported and imported.count(str(touched)) == 1
    # The vault's counts: the messages of the good exports, each once; one done import per export.
    counts = new_vault.counts()
    assert counts["messages"] == sum(good.values())
    assert counts["imports"] == len(good)
    c = new_vault.conn
    done = c.execute("SELECT file_name, file_sha256 FROM imports WHERE status = 'done'").fetchall()
    file_digests = [sha for name, sha in done if not name.startswith("ChatExport")]
    assert len(file_digests) == len(set(file_digests)) == len(good) - len(folders)  # no bytes twice
    assert c.execute("SELECT count(*) FROM imports WHERE status = 'running'").fetchone()[0] == 0
    assert counts["attachments"] == len(folders)  # each folder's photo came in with its unit
    assert new_vault.check()["ok"]
    # Nothing of the messages in the events, nor in any file outside the vault but the exports.
    log = json.dumps([e.to_json() for e in run.events], ensure_ascii=False) + "\n".join(e.line() for e in run.events)
    assert CANARY not in log and CJK_CANARY not in log
    assert not scan_for([hermetic, tmp_path], NEEDLES, skip=(drop,))
    assert len(new_vault.search(f'"{CANARY}"', limit=1000)) == sum(n for p, n in good.items() if p.suffix != ".jsonl")


def test_a_folder_is_one_unit_once_complete(new_vault: vault.Vault, tmp_path: Path) -> None:
    """A ChatExport folder is imported whole, after its last file, not file by file."""
    drop = tmp_path / "drop"
    drop.mkdir()
    with Running(new_vault, [drop], settle=SETTLE) as run:
        folder = drop / "ChatExport_2024-05-01"
        tg_folder(folder, 4242, n=7, slow=True)
        run.wait_for(lambda evs: str(folder) in run.of("imported"))
    assert run.of("failed") == [] and run.of("imported") == [str(folder)]
    doc = next(e.doc for e in run.events if e.kind == "imported")
    assert doc["added"] == 7 and doc["attachments"] == 1 and doc["format"] == "telegram"


def test_failure_reported_once_and_retried_when_it_changes(
    new_vault: vault.Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    p = drop / "telegram.json"
    data = tg_bytes(55, 10)
    p.write_bytes(data[:100])
    looks: list[int] = []
    seed = Watcher._seed

    def counting_seed(self: Watcher) -> None:
        looks.append(1)
        seed(self)

    monkeypatch.setattr(Watcher, "_seed", counting_seed)
    with Running(new_vault, [drop], settle=0.2, rescan=0.2) as run:
        run.wait_for(lambda evs: str(p) in run.of("failed"))
        # Rescans look at it again and again: no second report while it is unchanged.
        run.wait_for(lambda evs: len(looks) >= 4)
        other = drop / "other.jsonl"
        other.write_text(jsonl_text("other", 2))
        run.wait_for(lambda evs: str(other) in run.of("imported"))
        assert run.of("failed") == [str(p)]
        p.write_bytes(data)  # the whole file arrives: tried again, imported
        run.wait_for(lambda evs: str(p) in run.of("imported"))
    assert run.of("failed") == [str(p)]
    assert new_vault.counts()["messages"] == 10 + 2


def test_once_waits_for_a_file_still_being_written(new_vault: vault.Vault, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    p = drop / "WhatsApp Chat - Slow.zip"
    writer = threading.Thread(target=write_slowly, args=(p, wa_zip("slow", 30)), kwargs={"chunks": 20})
    events: list[WatchEvent] = []
    with open(p, "wb"):
        pass  # it exists (empty) when the run starts
    writer.start()
    try:
        result = Watcher(new_vault, [drop], settle=0.5, on_event=events.append).run(once=True)
    finally:
        writer.join()
    assert [f["path"] for f in result["files"]] == [str(p)]
    assert result["files"][0]["error"] is None and result["added"] == 30


def test_a_zip_that_stops_growing_midway_gets_more_time(new_vault: vault.Vault, tmp_path: Path) -> None:
    """A writer that pauses longer than --settle: the zip without its central directory is not failed at once."""
    drop = tmp_path / "drop"
    drop.mkdir()
    p = drop / "WhatsApp Chat - Paused.zip"
    data = wa_zip("paused", 12)
    with Running(new_vault, [drop], settle=0.3) as run:
        with open(p, "wb") as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            run.wait_for(lambda evs: str(p) in run.of("waiting"))  # it settled, incomplete
            fh.write(data[len(data) // 2 :])
        run.wait_for(lambda evs: str(p) in run.of("imported"))
    assert run.of("failed") == [] and run.of("imported") == [str(p)]
    assert next(e.doc["added"] for e in run.events if e.kind == "imported") == 12


# -- shredding -----------------------------------------------------------------------------------------
def test_shred_imported(new_vault: vault.Vault, tmp_path: Path, hermetic: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    wa = drop / "WhatsApp Chat with Shred.txt"
    wa.write_text(wa_text("shred", 5))
    original = wa.read_bytes()
    folder = drop / "ChatExport_shred"
    tg_folder(folder, 777, n=4)
    already = drop / "already.jsonl"
    already.write_text(jsonl_text("already", 2))
    new_vault.import_path(already)
    with_problem = drop / "problem.jsonl"
    with_problem.write_text(jsonl_text("problem", 2) + "{not json\n")
    broken = drop / "broken.json"
    broken.write_bytes(tg_bytes(9, 5)[:150])
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("a hard link's other name")
    linked = drop / "WhatsApp Chat with Linked.txt"
    linked.write_text(wa_text("linked", 2))
    os.link(linked, tmp_path / "second-name.txt")

    fd = os.open(wa, os.O_RDONLY)  # the inode outlives the unlink: we can see what was written to it
    try:
        events: list[WatchEvent] = []
        result = Watcher(new_vault, [drop], settle=0, shred_imported=True, on_event=events.append).run(once=True)
        overwritten = os.pread(fd, len(original) + 10, 0)
    finally:
        os.close(fd)
    assert len(overwritten) == len(original) and overwritten != original and CANARY.encode() not in overwritten
    assert not wa.exists() and not folder.exists() and not already.exists()
    assert with_problem.exists() and broken.exists() and linked.exists()
    kinds = {(e.kind, e.path) for e in events}
    assert ("shredded", str(wa)) in kinds and ("shredded", str(folder)) in kinds and ("shredded", str(already)) in kinds
    assert ("kept", str(with_problem)) in kinds and ("kept", str(linked)) in kinds
    assert ("failed", str(broken)) in kinds
    assert next(e.files for e in events if e.kind == "shredded" and e.path == str(folder)) == 2
    assert new_vault.counts()["messages"] == 5 + 4 + 2 + 2 + 2
    assert {f["path"] for f in result["files"]} == {str(p) for p in (wa, folder, with_problem, broken, linked)}
    # The shredded exports are gone from the disk's files; what is left is what was kept.
    kept = (with_problem, broken, linked, tmp_path / "second-name.txt")
    assert not scan_for([hermetic, tmp_path], NEEDLES, skip=kept)
    leftover = {f.name for f in drop.rglob("*")}
    assert leftover == {with_problem.name, broken.name, linked.name}


def test_shred_file_refuses_links_and_special_files(tmp_path: Path) -> None:
    target = tmp_path / "target.txt"
    target.write_text("keep me")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    folder = tmp_path / "unit"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_text("a")
    (folder / "b.txt").write_text("b")
    (folder / "link").symlink_to(target)
    os.mkfifo(folder / "pipe")
    result = shred(folder)
    assert result.files == 2 and target.read_text() == "keep me"
    assert [Path(k.split(":")[0]).name for k in result.kept] == ["pipe", "unit"]  # the pipe keeps its folder
    assert sorted(p.name for p in folder.iterdir()) == ["pipe"]
    with pytest.raises(ShredRefused, match="cannot open"):
        shred_file(link)  # never through a symbolic link
    assert link.is_symlink() and target.read_text() == "keep me"


# -- the parts ----------------------------------------------------------------------------------------------
def test_units_of_a_watched_folder(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    tg_folder(drop / "ChatExport_1", 1)
    (drop / "misc" / "deeper").mkdir(parents=True)
    (drop / "misc" / "a.jsonl").write_text(jsonl_text("a"))
    tg_folder(drop / "misc" / "deeper" / "ChatExport_2", 2)
    (drop / "misc" / ".hidden.jsonl").write_text(jsonl_text("h"))
    (drop / "download.zip.crdownload").write_bytes(b"PK")
    (drop / "link.jsonl").symlink_to(drop / "misc" / "a.jsonl")
    os.mkfifo(drop / "pipe")
    vault_dir = drop / "vault"
    vault_dir.mkdir()
    (vault_dir / "vault.db").write_bytes(b"x")
    found = []
    for entry in sorted(drop.iterdir()):
        found += [(u.path.relative_to(drop).as_posix(), u.is_dir) for u in units(entry, lambda p: p == vault_dir)]
    assert found == [("ChatExport_1", True), ("misc/a.jsonl", False), ("misc/deeper/ChatExport_2", True)]
    assert ignored(".DS_Store") and ignored("x.part") and ignored("~$draft.docx") and not ignored("result.json")


def test_snapshot_and_zip_completeness(tmp_path: Path) -> None:
    z = tmp_path / "e.zip"
    data = wa_zip("z", 50)
    z.write_bytes(data[:-30])
    assert not zip_complete(z)
    z.write_bytes(data)
    assert zip_complete(z)
    folder = tmp_path / "f"
    tg_folder(folder, 5)
    a = snapshot(folder)
    assert a is not None and a == snapshot(folder)
    (folder / "photos" / "photo_2.jpg").write_bytes(b"x")
    b = snapshot(folder)
    assert b is not None and b.digest != a.digest and b.is_dir
    assert snapshot(tmp_path / "gone") is None


def test_imported_before(new_vault: vault.Vault, tmp_path: Path) -> None:
    f = tmp_path / "room.jsonl"
    f.write_text(jsonl_text("r"))
    assert new_vault.imported_before(f) is None
    new_vault.import_path(f)
    prior = new_vault.imported_before(f)
    assert prior is not None and prior.problems == 0
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(f.read_bytes())
    assert new_vault.imported_before(copy) is not None  # the same bytes under another name
    f.write_text(jsonl_text("r") + "\n")
    assert new_vault.imported_before(f) is None  # different bytes
    folder = tmp_path / "ChatExport_x"
    tg_folder(folder, 8)
    new_vault.import_path(folder)
    assert new_vault.imported_before(folder) is not None  # a folder matches on its files' names and bytes
    other = tmp_path / "ChatExport_y"
    tg_folder(other, 8)
    (other / "result.json").write_bytes((other / "result.json").read_bytes().replace(b"message", b"Message"))
    assert new_vault.imported_before(other) is None  # same shape, other bytes


def test_watcher_refuses_bad_folders_and_never_prompts(new_vault: vault.Vault, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    (drop / "inner").mkdir(parents=True)
    with pytest.raises(UsageError, match="not a folder"):
        Watcher(new_vault, [tmp_path / "missing"])
    with pytest.raises(UsageError, match="overlap"):
        Watcher(new_vault, [drop, drop / "inner"])
    with pytest.raises(UsageError, match="inside the vault"):
        Watcher(new_vault, [new_vault.path])
    with pytest.raises(UsageError, match="unknown time zone"):
        Watcher(new_vault, [drop], tz="Mars/Olympus")
    with pytest.raises(UsageError, match="--passphrase-fd N, --passphrase-file FILE or --passphrase-command"):
        require_unattended_passphrase(SourceSpec(), env={})
    require_unattended_passphrase(SourceSpec(file="/x"), env={})
    require_unattended_passphrase(SourceSpec(), env={"TALKVAULT_PASSPHRASE_COMMAND": "pass show tv"})


def test_the_vault_inside_a_watched_folder_is_left_alone(tmp_path: Path, weak_kdf: Any) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    with vault.create(drop / "myvault", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        (drop / "room.jsonl").write_text(jsonl_text("x"))
        events: list[WatchEvent] = []
        result = Watcher(v, [drop], settle=0, on_event=events.append).run(once=True)
        assert [f["path"] for f in result["files"]] == [str(drop / "room.jsonl")]
        assert not any(e.kind == "failed" for e in events)
