"""Messages (iMessage and SMS) inside an iPhone backup: sms.db, read by importers/imessage/.

Where: domain `HomeDomain`, file `Library/SMS/sms.db` (the schema family of a Mac's chat.db);
attachment files in `MediaDomain` under `Library/SMS/Attachments/...`: the attachment table names
them `~/Library/SMS/Attachments/ab/12/<GUID>/IMG_0001.jpeg` (or `/var/mobile/Library/SMS/...`),
and the part from `Library/SMS/` on is the file's relativePath in MediaDomain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

from importers.imessage import read_database
from importers.iphone_backup.manifest import Backup
from vault.records import Note, Record

DOMAIN = "HomeDomain"
DATABASE = "Library/SMS/sms.db"
MEDIA_DOMAIN = "MediaDomain"
_MARKER = "Library/SMS/"


def present(backup: Backup) -> bool:
    return backup.find(DOMAIN, DATABASE) is not None


def attachment_path(filename: str) -> str | None:
    """The MediaDomain relativePath of an attachment's `filename`, or None if it is elsewhere."""
    at = filename.replace("\\", "/").find(_MARKER)
    if at < 0:
        return None
    rel = filename.replace("\\", "/")[at:]
    return None if any(part == ".." for part in rel.split("/")) else rel


def read(backup: Backup) -> Iterator[Record]:
    """The records of sms.db (nothing when the backup has none)."""
    entry = backup.find(DOMAIN, DATABASE)
    if entry is None:
        return

    def resolve(filename: str) -> Callable[[], IO[bytes]] | None:
        rel = attachment_path(filename)
        found = backup.find(MEDIA_DOMAIN, rel) if rel else None
        return backup.opener(found) if found is not None else None

    if backup.unsaved_log(entry):
        yield Note(f"Messages/{DATABASE}-wal was not read: the newest messages may be missing")
    conn = backup.database(entry)
    try:
        yield from read_database(conn, f"Messages/{DATABASE}", resolve)
    finally:
        conn.close()
