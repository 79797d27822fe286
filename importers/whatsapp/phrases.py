"""WhatsApp's own words: the placeholders and notices it prints into an "Export chat" text, by language.

WhatsApp writes the body of a message that was not plain text with a fixed, translated phrase:
"<Media omitted>", "image omitted", "This message was deleted", "Missed voice call", ... The tables
below hold the phrases seen in the sample exports (shared/corpus/whatsapp: English, Arabic, Czech,
Dutch, French, German, Hindi, Indonesian, Italian, Japanese, Portuguese, Russian, Spanish, Thai,
Ukrainian, Vietnamese) plus the few that peers' issues and tests show verbatim. A phrase missing here
costs little: the line stays a text message (or, for iOS lines WhatsApp marks with U+200E, a notice
event that keeps its sender as the actor).

Lookups use `phrase_key()`: invisible marks and surrounding spaces removed, a final full stop removed,
case folded.
"""

from __future__ import annotations

import re
import unicodedata

from importers.whatsapp import locales
from vault.records import (
    AUDIO,
    CALL,
    CONTACT,
    DELETED,
    EV_ENCRYPTION,
    EV_JOIN,
    EV_LEAVE,
    EV_PIN,
    EV_TITLE,
    FILE,
    GIF,
    IMAGE,
    MEDIA,
    STICKER,
    VIDEO,
    EventKind,
    MessageKind,
)

# Invisible formatting marks WhatsApp puts around headers, names and notices: LRM, RLM, LRE, RLE,
# PDF, LRO, RLO, LRI, RLI, FSI, PDI, and a BOM (formats/whatsapp-*.md §1.3, §1.7 item 2).
MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
# Spaces WhatsApp uses inside headers and phone numbers: NBSP, NARROW NBSP (Android since 2023), THIN.
ODD_SPACES = "\u00a0\u202f\u2009"
_STRIP = MARKS + ODD_SPACES + " \t"
_MARKS_RE = re.compile(f"[{MARKS}]")
_ODD_SPACES_RE = re.compile(f"[{ODD_SPACES}]")

# Bodies longer than this are never a placeholder (the longest phrase below is about 40 characters).
MAX_PHRASE_LEN = 64


def without_marks(text: str) -> str:
    """Text with WhatsApp's invisible marks removed (for notices and placeholders, not user text)."""
    if _MARKS_RE.search(text) is not None:
        text = _MARKS_RE.sub("", text)
    return text.strip(_STRIP)


def _plain_spaces(text: str) -> str:
    return _ODD_SPACES_RE.sub(" ", text) if _ODD_SPACES_RE.search(text) is not None else text


def phrase_key(text: str) -> str:
    """The form of a body used for table lookups (never stored)."""
    if text.isascii():  # the same steps: no marks, no odd spaces, casefold is lower, NFC changes nothing
        core = text.strip(" \t")
        if core.endswith("."):
            core = core[:-1].rstrip()
        return core.lower()
    core = _plain_spaces(without_marks(text))
    if core.endswith((".", "。")):
        core = core[:-1].rstrip()
    # NFC: Devanagari nukta letters come precomposed or not (U+095C vs U+0921 U+093C).
    return unicodedata.normalize("NFC", core.casefold())


def clean_name(text: str) -> str:
    """A sender or file name as shown: marks removed, NBSP and NARROW NBSP made plain spaces."""
    return " ".join(_plain_spaces(without_marks(text)).split())


# Deleted-message placeholders ("You deleted this message", "This message was deleted"): kind DELETED.
_DELETED = (
    "this message was deleted",
    "you deleted this message",
    # Arabic
    "أنت حذفت هذه الرسالة",
    "تم حذف هذه الرسالة",
    "لقد حذَفت هذه الرسالة",
    # Czech
    "tato zpráva byla odstraněna",
    "tuto zprávu jste odstranil/a",
    "tuto zprávu jste smazal/a",
    "tato zpráva byla smazána",
    # Dutch
    "dit bericht is verwijderd",
    "u hebt dit bericht verwijderd",
    "je hebt dit bericht verwijderd",
    # French
    "vous avez supprimé ce message",
    "ce message a été supprimé",
    # German
    "du hast diese nachricht gelöscht",
    "diese nachricht wurde gelöscht",
    # Hindi
    "आपने यह मैसेज डिलीट किया",
    "यह मैसेज डिलीट कर दिया गया है",
    # Indonesian
    "anda menghapus pesan ini",
    "pesan ini dihapus",
    # Italian
    "hai eliminato questo messaggio",
    "questo messaggio è stato eliminato",
    # Japanese
    "このメッセージを削除しました",
    "このメッセージは削除されました",
    # Portuguese
    "apagou esta mensagem",
    "esta mensagem foi apagada",
    "você apagou esta mensagem",
    "mensagem apagada",
    # Russian
    "вы удалили данное сообщение",
    "данное сообщение удалено",
    # Spanish
    "eliminaste este mensaje",
    "se eliminó este mensaje",
    "este mensaje fue eliminado",
    # Thai
    "คุณได้ลบข้อความนี้",
    "ข้อความนี้ถูกลบแล้ว",
    # Ukrainian
    "ви видалили це повідомлення",
    "це повідомлення було видалено",
    # Vietnamese (both placements of the tone mark occur in Unicode text)
    "bạn đã xoá tin nhắn này",
    "bạn đã xóa tin nhắn này",
    "tin nhắn này đã bị xóa",
    "tin nhắn này đã bị xoá",
    # Turkish
    "bu mesaj silindi",
    "bu mesajı sildiniz",
)

# Media left out of an export made "without media". Android: one phrase in angle brackets; iOS: one
# phrase per media type (after U+200E).
_MEDIA_OMITTED: dict[str, MessageKind] = {
    # Android (the type is not said)
    "<media omitted>": MEDIA,
    "<média vynechány>": MEDIA,
    "<без медиафайлов>": MEDIA,
    "<media weggelaten>": MEDIA,
    "<medien ausgeschlossen>": MEDIA,
    "<multimedia omitido>": MEDIA,
    "<médias omis>": MEDIA,
    "<media omessi>": MEDIA,
    "<mídia oculta>": MEDIA,
    "<arquivo de mídia oculto>": MEDIA,
    "<medya dahil edilmedi>": MEDIA,
    "<media tidak disertakan>": MEDIA,
    # iOS, English
    "image omitted": IMAGE,
    "video omitted": VIDEO,
    "audio omitted": AUDIO,
    "sticker omitted": STICKER,
    "gif omitted": GIF,
    "contact card omitted": CONTACT,
    "document omitted": FILE,
    # Arabic
    "لم يتم إدراج الصورة": IMAGE,
    "لم يتم إدراج الفيديوهات": VIDEO,
    "لم يتم إدراج المقاطع الصوتية": AUDIO,
    "تم حذف الملصقات": STICKER,
    "لم يتم إدراج صورة gif": GIF,
    "لم يتم إدراج بطاقة جهة اتصال": CONTACT,
    "لم يتم إدراج المستند": FILE,
    # Czech
    "obrázek vynechán": IMAGE,
    "video vynecháno": VIDEO,
    "zvukový soubor vynechán": AUDIO,
    "nálepka vynechána": STICKER,
    "gif vynechán": GIF,
    "vizitka vynechána": CONTACT,
    "dokument vynechán": FILE,
    # French
    "image absente": IMAGE,
    "vidéo absente": VIDEO,
    "audio omis": AUDIO,
    "sticker omis": STICKER,
    "gif retiré": GIF,
    "fiche contact manquante": CONTACT,
    "document manquant": FILE,
    # German
    "bild weggelassen": IMAGE,
    "video weggelassen": VIDEO,
    "audio weggelassen": AUDIO,
    "sticker weggelassen": STICKER,
    "gif weggelassen": GIF,
    "kontaktkarte ausgelassen": CONTACT,
    "dokument weggelassen": FILE,
    # Hindi
    "फ़ोटो हटाई गई": IMAGE,
    "वीडियो छोड़ा गया": VIDEO,
    "ऑडियो हटाई गयी": AUDIO,
    "स्टिकर छोड़ा गया": STICKER,
    "gif छोड़ा गया": GIF,
    "कॉन्टैक्ट कार्ड छोड़ा गया": CONTACT,
    "डॉक्यूमेंट छोड़ा गया": FILE,
    # Indonesian
    "gambar tidak disertakan": IMAGE,
    "video tidak disertakan": VIDEO,
    "audio tidak disertakan": AUDIO,
    "stiker tidak disertakan": STICKER,
    "gif tidak disertakan": GIF,
    "kartu kontak tidak disertakan": CONTACT,
    "dokumen tidak disertakan": FILE,
    # Italian
    "immagine omessa": IMAGE,
    "video omesso": VIDEO,
    "audio omesso": AUDIO,
    "sticker non incluso": STICKER,
    "gif esclusa": GIF,
    "scheda contatto omessa": CONTACT,
    "documento omesso": FILE,
    # Japanese
    "画像は含まれていません": IMAGE,
    "ビデオは含まれていません": VIDEO,
    "音声は含まれていません": AUDIO,
    "スタンプは含まれていません": STICKER,
    "gifは含まれていません": GIF,
    "連絡先カードを省略": CONTACT,
    "ドキュメントは含まれていません": FILE,
    # Portuguese
    "imagem não revelada": IMAGE,
    "vídeo não revelado": VIDEO,
    "ficheiro de áudio não revelado": AUDIO,
    "sticker não revelado": STICKER,
    "gif não revelada": GIF,
    "contacto não revelado": CONTACT,
    "documento não revelado": FILE,
    # Russian
    "изображение отсутствует": IMAGE,
    "видео отсутствует": VIDEO,
    "аудиофайл отсутствует": AUDIO,
    "стикер не добавлен": STICKER,
    "gif отсутствует": GIF,
    "карточка контакта отсутствует": CONTACT,
    "документ отсутствует": FILE,
    # Spanish
    "imagen omitida": IMAGE,
    "video omitido": VIDEO,
    "audio omitido": AUDIO,
    "sticker omitido": STICKER,
    "gif omitido": GIF,
    "tarjeta de contacto omitida": CONTACT,
    "documento omitido": FILE,
    # Thai
    "ไม่มีรูปภาพ": IMAGE,
    "วิดีโอถูกลบ": VIDEO,
    "ไม่มีไฟล์เสียง": AUDIO,
    "ไม่มีสติกเกอร์": STICKER,
    "ละเว้น gif": GIF,
    "บัตรรายชื่อที่ละเว้น": CONTACT,
    "ละเว้นเอกสาร": FILE,
    # Ukrainian
    "зображення відсутнє": IMAGE,
    "відео відсутнє": VIDEO,
    "аудіо відсутнє": AUDIO,
    "наклейку не додано": STICKER,
    "gif-анімацію пропущено": GIF,
    "картка контакту відсутня": CONTACT,
    "документ пропущено": FILE,
    # Vietnamese
    "đã bỏ qua hình ảnh": IMAGE,
    "đã bỏ video": VIDEO,
    "bỏ qua tệp âm thanh": AUDIO,
    "đã bỏ sticker": STICKER,
    "đã bỏ qua ảnh gif": GIF,
    "bỏ qua thẻ liên lạc": CONTACT,
    "đã bỏ qua tài liệu": FILE,
}

# Call records a person's phone logged into the chat (Android: "Missed voice call").
_CALLS = (
    "zmeškaný hovor",
    "zmeškaný videohovor",
    "пропущенный аудиозвонок",
    "пропущенный видеозвонок",
    "gemiste spraakoproep",
    "gemiste video-oproep",
    "verpasster sprachanruf",
    "verpasster videoanruf",
    "llamada perdida",
    "videollamada perdida",
    "llamada de voz perdida",
    "appel vocal manqué",
    "appel vidéo manqué",
    "chiamata vocale persa",
    "videochiamata persa",
    "chamada de voz perdida",
    "chamada de vídeo perdida",
)
# English call lines, also with the iOS details after a comma ("Voice call, 19 sec").
CALL_RE = re.compile(r"(?:missed )?(?:group )?(?:voice|video) call(?:,.*)?", re.IGNORECASE | re.DOTALL)

# What a placeholder body means: (message kind, what it says).
PLACEHOLDERS: dict[str, tuple[MessageKind, str]] = {}
for _p in (*_DELETED, *locales.DELETED):
    PLACEHOLDERS[phrase_key(_p)] = (DELETED, "deleted")
for _p, _kind in _MEDIA_OMITTED.items():
    PLACEHOLDERS[phrase_key(_p)] = (_kind, "omitted")
for _p in (*_CALLS, *locales.MISSED_CALLS):
    PLACEHOLDERS[phrase_key(_p)] = (CALL, "call")
# Android writes a view-once photo or video as the bare word "null" (formats §1.3).
PLACEHOLDERS["null"] = (MEDIA, "view_once")

# Android "with media": "IMG-20220323-WA0002.jpg (file attached)"; the caption follows on the next lines.
FILE_ATTACHED_RE = re.compile(
    "[" + MARKS + r"]*(?P<name>[^\n]+?) \((?:file attached|soubor byl přiložen|файл добавлен"
    r"|bestand bijgevoegd|datei angehängt|archivo adjunto|fichier joint|file allegato"
    r"|arquivo anexado|ficheiro anexado|dosya ekli|file terlampir|załączony plik|fil vedhæftet"
    r"|bifogad fil|vedlagt fil|файл додано|الملف مرفق)\)(?=\n|$)",
    re.IGNORECASE,
)
# iOS "with media": "<attached: 00000035-PHOTO-2022-03-27-21-41-55.jpg>", after U+200E and after the
# document's visible name for files; "<adjunto: …>" in Spanish (prabhakar267/WA-Reader#36). Matched
# against the body from its last "<" on (a damaged export doubles the opening: "<attached: <attached: x>").
ATTACHED_RE = re.compile(r"<\s*[" + MARKS + r"]*(?P<label>[^\W\d_][^<>:\n]{0,30}?)\s?:\s*(?P<name>[^<>]*?)\s*>\s*$")
# Labels of ATTACHED_RE accepted without the U+200E that iOS puts in front of a placeholder.
ATTACHED_LABELS = frozenset(
    {
        "attached",
        "adjunto",
        "anexo",
        "anhang",
        "allegato",
        "pièce jointe",
        "прикреплено",
        "bijgevoegd",
        "vedlagt",
        "bifogat",
        "załączono",
        "eklendi",
        "đính kèm",
        "terlampir",
        "dilampirkan",
        "příloha",
        "附件",
        "添付ファイル",
        "첨부됨",
        "المُرفق",
        "додано",
    }
)
# Old iOS: "2015-08-04-PHOTO-00004762.jpg <‎attached>" (Pustur/whatsapp-chat-parser tests).
OLD_ATTACHED_RE = re.compile(r"[" + MARKS + r"]*(?P<name>\S[^<>\n]*?) <[" + MARKS + r"]*attached>$")
# iOS "without media" documents: "Some file.txt ‎document omitted",
# "Resume.pdf • ‎2 pages ‎document omitted" (the visible name, then the omitted phrase after U+200E).
DOCUMENT_OMITTED_RE = re.compile(
    r"(?P<name>[^\u200e\u200f\n]+?) (?:• [\u200e\u200f][^\u200e\u200f\n]* )?"
    r"[\u200e\u200f](?P<phrase>[^\u200e\u200f\n]+)"
)

# "location: https://maps.google.com/?q=51.50214569326172,-0.12739796972656" in any language.
LOCATION_RE = re.compile(
    r"[^:\n]{1,40}:\s?(?P<url>https?://maps\.google\.[a-z.]+/\?q=(?P<lat>-?\d+(?:\.\d+)?),(?P<lon>-?\d+(?:\.\d+)?))\s*",
    re.IGNORECASE,
)
# Venues: iOS one line "Pimlico Gardens (London, United Kingdom): https://foursquare.com/v/…",
# Android three lines "Pimlico Gardens\nLondon, United Kingdom\nhttps://foursquare.com/v/…".
VENUE_LINE_RE = re.compile(r"(?P<name>[^\n]+) \((?P<address>[^\n]*)\): (?P<url>https://foursquare\.com/\S+)")
VENUE_LINES_RE = re.compile(r"(?P<name>[^\n]+)\n(?:(?P<address>[^\n]+)\n)?(?P<url>https://foursquare\.com/\S+)")
LIVE_LOCATION = frozenset({"live location shared", "live location ended"})

# Polls (Android and iOS, English): "POLL:\nQuestion\nOPTION: a (2 votes)".
POLL_PREFIX = "POLL:"

# The edited marker WhatsApp appends since 2023: " <This message was edited>". The English one is
# reported by peers; the others are peers' claims, not verified on a real export (formats §1.3).
EDITED_RE = re.compile(
    r"[ \u00a0\u202f" + MARKS + r"]*<(?:This message was edited|Diese Nachricht wurde bearbeitet\.?"
    r"|Este mensaje fue editado|Ce message a été modifié|Questo messaggio è stato modificato)>$",
)

# The end-to-end encryption notice opens every chat; iOS prints it under the chat's own name
# (formats §1.1). Its first words, in the languages of the corpus and in the old group wording.
E2E_PREFIXES = (
    "Messages and calls are end-to-end encrypted",
    "Messages to this group are now secured with end-to-end encryption",
    "Messages you send to this group are now secured with end-to-end encryption",
    "Messages you send to this chat and calls are now secured with end-to-end encryption",
    "Messages to this chat and calls are now secured with end-to-end encryption",
    "الرسائل والمكالمات مشفرة",
    "Zprávy a hovory jsou",
    "Berichten en oproepen worden end-to-end",
    "Berichten en gesprekken worden end-to-end",
    "Les messages et les appels sont chiffrés",
    "Nachrichten und Anrufe sind Ende-zu-Ende",
    "मैसेजेस और कॉल्स एंड-टू-एंड",
    "Pesan dan panggilan terenkripsi",
    "I messaggi e le chiamate sono crittografati",
    "メッセージと通話はエンドツーエンド暗号化",
    "As mensagens e chamadas são",
    "As mensagens e as chamadas são protegidas",
    "Сообщения и звонки защищены",
    "Los mensajes y las llamadas están cifrados",
    "ข้อความและการโทรได้รับการเข้ารหัส",
    "Повідомлення й дзвінки захищено",
    "Tin nhắn và cuộc gọi được mã hóa",
    "Mesajlar ve aramalar uçtan uca",
)
# English words of notices iOS prints under a direct chat's name (with U+200E before them).
NOTICE_HINTS_RE = re.compile(
    r"security code|changed (?:their|the) phone number|blocked this contact|unblocked this contact"
    r"|business account|disappearing messages|message timer|is a contact|end-to-end",
    re.IGNORECASE,
)
# Word stems of "encrypted" in notices (to type a notice as EV_ENCRYPTION).
_ENCRYPTION_RE = re.compile(
    r"end-to-end|encrypt|chiffr|verschlüssel|шифр|cifrad|crittograf|encripta|criptograf|versleutel"
    r"|šifr|暗号|加密|암호|เข้ารหัส|mã hóa|terenkripsi|एन्क्रिप्ट|مشفرة|szyfr|şifrel",
    re.IGNORECASE,
)
# Stems of group-membership and title notices (EV_JOIN / EV_LEAVE / EV_TITLE / EV_PIN); English
# first, then the languages of the corpus where a notice was seen.
_JOIN_RE = re.compile(
    r"\bjoined\b|\badded\b|invite link|\brejoint\b|beigetreten|hinzugefügt|se unió|añadió"
    r"|ha aggiunto|adicionou|добавил|присоедин|toegevoegd|přidal",
    re.IGNORECASE,
)
_LEAVE_RE = re.compile(
    r"\bleft\b|\bremoved\b|a quitté|verlassen|entfernt|salió|ha abbandonato|saiu|removeu"
    r"|вышел|удалил|покинул|verlaten|odešel|odebral",
    re.IGNORECASE,
)
_TITLE_RE = re.compile(
    r"changed the subject|changed the group name|a modifié le sujet|hat den betreff"
    r"|cambió el asunto|ha cambiato l'oggetto|mudou o assunto|изменил\S* тему|wijzigde het onderwerp",
    re.IGNORECASE,
)
_PIN_RE = re.compile(r"\bpinned a message\b|\bunpinned a message\b", re.IGNORECASE)
# Words that only group notices use ("created group", "this group's settings", ...).
_GROUP_RE = re.compile(
    r"\bgroup\b|\bgroup's\b|gruppe|grupo|groupe|gruppo|групп|groep|skupin|\bgrup\b|กลุ่ม|グループ"
    r"|群|그룹|مجموعة|समूह|nhóm",
    re.IGNORECASE,
)


def notice_kind(text: str) -> EventKind | None:
    """The EV_* kind of a notice's text when its words say it (None: a plain EV_SYSTEM)."""
    if _ENCRYPTION_RE.search(text):
        return EV_ENCRYPTION
    if _TITLE_RE.search(text):
        return EV_TITLE
    if _PIN_RE.search(text):
        return EV_PIN
    if _LEAVE_RE.search(text):
        return EV_LEAVE
    if _JOIN_RE.search(text):
        return EV_JOIN
    return None


def is_group_notice(text: str, kind: EventKind | None) -> bool:
    """Whether a notice shows that the chat is a group (joins, leaves, subject, the word "group")."""
    return kind in (EV_JOIN, EV_LEAVE, EV_TITLE) or _GROUP_RE.search(text) is not None


_E2E_HEAD = 12  # every prefix is longer; notices are looked up by their first characters
_E2E_BY_HEAD: dict[str, tuple[str, ...]] = {}
for _p in E2E_PREFIXES:
    _E2E_BY_HEAD[_p[:_E2E_HEAD]] = (*_E2E_BY_HEAD.get(_p[:_E2E_HEAD], ()), _p)


def _bigrams(text: str) -> frozenset[str]:
    return frozenset(map(str.__add__, text, text[1:]))


# Every locale's notice (whatsapp/locales.py), by its first two characters, as character bigrams of
# its first _E2E_SPAN characters: a notice matches one of its language with a similar start.
_E2E_SPAN = 40
_E2E_SIMILAR = 0.55  # shared bigrams / all bigrams (the zh-CN wordings of 2022 and 2024 share 0.6+)
_E2E_MIN_LEN = 24  # no notice is shorter
_E2E_GRAMS: dict[str, list[frozenset[str]]] = {}
for _p in (*E2E_PREFIXES, *locales.E2E_NOTICES):
    _key = _plain_spaces(without_marks(_p)[:_E2E_SPAN]).casefold()
    _E2E_GRAMS.setdefault(_key[:2], []).append(_bigrams(_key))
# All bigrams of each bucket: a body sharing too few of them cannot be like any notice in it
# (most message bodies stop at this one set operation).
_E2E_UNION: dict[str, frozenset[str]] = {head: frozenset().union(*grams) for head, grams in _E2E_GRAMS.items()}


def is_e2e_notice(core: str) -> bool:
    """The end-to-end notice, whichever language and app version (`core` has no leading marks).

    A known wording's start (E2E_PREFIXES), or a body of notice length whose first characters are
    mostly those of a notice WhatsApp ships in some language (wordings drift between versions:
    zh-CN iOS said "消息和通话都进行端到端加密。" and later "消息和通话已进行端到端加密。").
    """
    prefixes = _E2E_BY_HEAD.get(core[:_E2E_HEAD])
    if prefixes is not None and core.startswith(prefixes):
        return True
    if len(core) < _E2E_MIN_LEN or core[:2].casefold() not in _E2E_UNION:
        return False
    key = _plain_spaces(core[:_E2E_SPAN]).casefold()
    grams = _bigrams(key)
    if len(grams & _E2E_UNION[key[:2]]) < _E2E_SIMILAR * len(grams):
        return False
    size = len(grams)
    for known in _E2E_GRAMS[key[:2]]:
        shared = len(grams & known)
        if shared >= _E2E_SIMILAR * (size + len(known) - shared):  # Jaccard similarity
            return True
    return False
