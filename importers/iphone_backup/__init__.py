"""An iPhone backup made by Finder or iTunes (Apple Devices), imported whole: every app it can read.

How a person gets it: connect the iPhone, then on macOS open Finder (Catalina and later; iTunes
before), select the phone, "Back up all of the data on your iPhone to this Mac", optionally
"Encrypt local backup" (then a password is set), "Back Up Now"; on Windows the same in Apple Devices
or iTunes. The backup is a folder named after the device's UDID:
- macOS: `~/Library/Application Support/MobileSync/Backup/<udid>/`
- Windows: `%APPDATA%\\Apple Computer\\MobileSync\\Backup\\<udid>` (iTunes from apple.com) or
  `%USERPROFILE%\\Apple\\MobileSync\\Backup\\<udid>` (Microsoft Store iTunes, Apple Devices).
`talkvault import <that folder>` reads it; an encrypted backup needs its password
(`--iphone-backup-password`, or `$TALKVAULT_IPHONE_BACKUP_PASSWORD`; key name "iphone-backup").

Versions: backups of iOS 10 and later (Manifest.db; older ones have Manifest.mbdb and are not read),
encrypted or not.

What is read (one module per app): WhatsApp and WhatsApp Business (`whatsapp`), Messages —
iMessage and SMS — through importers/imessage (`sms`), WeChat (`wechat`); the backup's index and
files by `manifest`, decryption by `crypto`. Each app's records carry that app's source
("whatsapp", "imessage", "wechat"). Notes say what was read (app names and counts) and which chat
apps the backup holds that are not read. Nothing is written to the backup and no decrypted byte is
written anywhere: databases are opened read-only, or decrypted into memory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from importers.base import Format, ParseOptions
from importers.iphone_backup import sms, wechat, whatsapp
from importers.iphone_backup.crypto import DecryptError, WrongPassword
from importers.iphone_backup.manifest import Backup, BackupError, PasswordNeeded, is_backup
from vault.errors import AuthenticationError, ExportError
from vault.records import Chat, Event, Message, Note, Problem, Record

#: The name of the backup password in ParseOptions.keys.
KEY = "iphone-backup"
PASSWORD_HELP = (
    "this iPhone backup is encrypted: give its password with --iphone-backup-password "
    "(or in $TALKVAULT_IPHONE_BACKUP_PASSWORD, which stays out of the process list)"
)
WRONG_PASSWORD = (
    "the iPhone backup password is wrong (it is the one set for encrypted backups in Finder or "
    "iTunes, not the phone's passcode); nothing was imported"
)

# Chat apps a backup may hold that this importer does not read, by the app part of their domains.
NOT_READ = {
    "ph.telegra.Telegraph": "Telegram",
    "org.whispersystems.signal": "Signal",
    "jp.naver.line": "LINE",
    "com.linecorp.line": "LINE",
    "com.viber": "Viber",
    "viber.share.container": "Viber",
    "com.iwilab.KakaoTalk": "KakaoTalk",
    "com.facebook.Messenger": "Messenger",
    "com.burbn.instagram": "Instagram",
    "com.skype.skype": "Skype",
    "com.tencent.mqq": "QQ",
    "com.tinyspeck.chatlyio": "Slack",
    "com.hammerandchisel.discord": "Discord",
    "ch.threema.iapp": "Threema",
}
READ_APPS = {*whatsapp.DOMAINS, wechat.DOMAIN}
_APP_PREFIXES = ("AppDomain-", "AppDomainGroup-group.", "AppDomainGroup-", "AppDomainPlugin-")


def detect(path: Path) -> bool:
    return is_backup(path)


def _app_of(domain: str) -> str | None:
    for prefix in _APP_PREFIXES:
        if domain.startswith(prefix):
            return domain[len(prefix) :]
    return None


def _not_read(counts: dict[str, int]) -> tuple[list[str], int]:
    """(chat apps present that are not read, how many other apps the backup holds)."""
    chat_apps: set[str] = set()
    others: set[str] = set()
    for domain in counts:
        if domain in READ_APPS:
            continue
        app = _app_of(domain)
        if app is None:
            continue
        app_id = app.removesuffix(".shared")
        name = next((n for k, n in NOT_READ.items() if app_id == k or app_id.startswith(k + ".")), None)
        if name:
            chat_apps.add(name)
        elif not app_id.startswith(("net.whatsapp.", "com.tencent.xin")):
            others.add(app_id)
    return sorted(chat_apps), len(others)


class _Tally:
    def __init__(self) -> None:
        self.chats = self.messages = self.events = 0

    def count(self, rec: Record) -> None:
        if isinstance(rec, Chat):
            self.chats += 1
        elif isinstance(rec, Message):
            self.messages += 1
        elif isinstance(rec, Event):
            self.events += 1


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    try:
        backup = Backup.open(path, options.keys.get(KEY))
    except PasswordNeeded:
        raise ExportError(PASSWORD_HELP, path=str(path)) from None
    except WrongPassword:
        raise AuthenticationError(WRONG_PASSWORD) from None
    except BackupError as exc:
        raise ExportError(f"{exc}; make the backup again, or choose another one", path=exc.what) from None
    try:
        yield from _apps(backup)
    finally:
        backup.close()


def _apps(backup: Backup) -> Iterator[Record]:
    readers: list[tuple[str, Callable[[], Iterator[Record]]]] = []
    for domain, name in whatsapp.DOMAINS.items():
        if backup.find(domain, whatsapp.DATABASE) is not None:
            readers.append((name, lambda d=domain: whatsapp.read(backup, d)))  # type: ignore[misc]
    if sms.present(backup):
        readers.append(("Messages (iMessage/SMS)", lambda: sms.read(backup)))
    if wechat.accounts(backup):
        readers.append(("WeChat", lambda: wechat.read(backup)))
    if backup.encrypted:
        yield Note("the backup is encrypted; it was decrypted in memory only")
    if not readers:
        yield Note("no WhatsApp, Messages or WeChat data was found in this backup")
    for name, read in readers:
        tally = _Tally()
        try:
            for rec in read():
                tally.count(rec)
                yield rec
        except (sqlite3.Error, DecryptError, OSError, UnicodeDecodeError) as exc:
            yield Problem(name, None, f"its database could not be read to the end ({type(exc).__name__})")
        except ExportError:
            yield Problem(name, None, "its database is not in the form this importer reads; skipped")
        yield Note(f"{name}: {tally.chats} chats, {tally.messages} messages, {tally.events} events")
    chat_apps, others = _not_read(backup.domain_counts())
    if chat_apps:
        yield Note("not read (not supported inside a backup): " + ", ".join(chat_apps))
    if others:
        yield Note(f"{others} other apps in the backup hold no chats this importer reads")


FORMATS = [
    Format(
        name="iphone-backup",
        source="iphone",
        description=(
            "an iPhone backup folder (Finder/iTunes, encrypted or not): WhatsApp, Messages "
            "(iMessage/SMS) and WeChat inside it"
        ),
        detection="a folder with Manifest.plist (a backup's keys) and Manifest.db",
        detect=detect,
        parse=parse,
    )
]
