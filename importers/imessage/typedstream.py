"""A small, strict reader of NeXTSTEP/Apple *typedstream* data (NSArchiver), for iMessage bodies.

macOS Messages stores the body of a message in `message.attributedBody` (and each revision of an
edited message in `message_summary_info`) as an `NSAttributedString` archived with the old
`NSArchiver`, a format called typedstream (header `streamtyped`). Since macOS Ventura the plain
`message.text` column is often empty and this blob is the only copy of the text.

The format, as far as we need it:

- Header: a version byte (4), the signature as a length-prefixed string (`streamtyped` for
  little-endian data, `typedstream` for big-endian), then the system version (an integer).
- Integers are tagged: a byte in -128..-111 (0x80..0x91) is a tag, any other byte is the value
  itself. Tag 0x81 is followed by a 16-bit value, 0x82 by a 32-bit one, 0x83 by a float/double.
- Then groups, each a *type encoding* (an Objective-C `@encode` string such as `@`, `iI`, `+`,
  `[12c]`) followed by one value per type. Type encodings and class names are *shared strings*:
  0x84 (new) + length + bytes the first time, a reference number (0x92 = the first) afterwards.
- Objects (`@`): 0x84 then the class chain (0x84 + shared name + version, then the superclass,
  ending with 0x85 nil, or a reference to an already seen class), then groups until 0x86 (end).
  Objects, classes and C strings share one reference table; 0x85 is nil.
- `+` is an unshared byte string (length + bytes): NSString keeps its UTF-8 text there.

The text of an attributed string is the first value of its first content object (an NSString).
Everything is bounds-checked; anything unexpected raises `TypedStreamError`, never another
exception, so that a damaged blob becomes a reported problem instead of a wrong text.
Checked against the 35 typedstream samples of ReagentX/imessage-exporter (corpus/imessage).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Union

# Tags of the typedstream encoding (Apple's NSArchiver / GNUstep's typedstream.h).
TAG_INTEGER_2 = -127  # 0x81: a 16-bit integer follows
TAG_INTEGER_4 = -126  # 0x82: a 32-bit integer follows
TAG_FLOATING_POINT = -125  # 0x83: a float or double follows
TAG_NEW = -124  # 0x84: a new object, class or string follows
TAG_NIL = -123  # 0x85: nil
TAG_END_OF_OBJECT = -122  # 0x86: the end of an object's contents
FIRST_TAG = -128  # 0x80..0x91 are tags
LAST_TAG = -111
FIRST_REFERENCE = LAST_TAG + 1  # 0x92: reference number of the first shared string/object

SIGNATURE_LE = b"streamtyped"
SIGNATURE_BE = b"typedstream"
STREAMER_VERSION = 4

# Limits that keep a hostile or damaged blob from costing much.
MAX_DEPTH = 64
MAX_VALUES = 100_000
MAX_ARRAY = 16 * 1024 * 1024

# Classes whose archive holds an attributed string's text.
ATTRIBUTED_STRING_CLASSES = frozenset({"NSAttributedString", "NSMutableAttributedString"})
STRING_CLASSES = frozenset({"NSString", "NSMutableString"})

_INT_SIZES = {"c": 1, "C": 1, "s": 2, "S": 2, "i": 4, "I": 4, "l": 4, "L": 4, "q": 8, "Q": 8}
_TYPE_QUALIFIERS = "rnNoORV"


class TypedStreamError(ValueError):
    """The blob is not a well-formed typedstream (or not an attributed string)."""


@dataclass
class ArchivedClass:
    name: str
    version: int
    superclass: ArchivedClass | None = None

    def chain(self) -> list[str]:
        names: list[str] = []
        cls: ArchivedClass | None = self
        while cls is not None and len(names) < MAX_DEPTH:
            names.append(cls.name)
            cls = cls.superclass
        return names


@dataclass
class ArchivedObject:
    cls: ArchivedClass | None
    values: list[Value] = field(default_factory=list)

    def is_a(self, names: frozenset[str]) -> bool:
        return self.cls is not None and any(n in names for n in self.cls.chain())


# A decoded value: integers, floats, byte strings, C strings, objects, classes, arrays/structs.
Value = Union[int, float, bytes, str, None, ArchivedObject, ArchivedClass, list["Value"]]  # noqa: UP007


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.little = True
        self.strings: list[bytes] = []
        self.objects: list[object] = []
        self.count = 0

    # -- bytes and integers ----------------------------------------------------------------

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise TypedStreamError(f"data ends early (wanted {n} bytes at offset {self.pos})")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def head(self) -> int:
        """The next byte as a signed value (tags are negative)."""
        b = self.peek_head()
        self.pos += 1
        return b

    def peek_head(self) -> int:
        if self.pos >= len(self.data):
            raise TypedStreamError("data ends early")
        b = self.data[self.pos]
        return b - 0x100 if b & 0x80 else b

    def integer(self, head: int | None = None, *, signed: bool = True) -> int:
        if head is None:
            head = self.head()
        order = "<" if self.little else ">"
        if head == TAG_INTEGER_2:
            value: int = struct.unpack(order + ("h" if signed else "H"), self.take(2))[0]
        elif head == TAG_INTEGER_4:
            value = struct.unpack(order + ("i" if signed else "I"), self.take(4))[0]
        elif FIRST_TAG <= head <= LAST_TAG:
            raise TypedStreamError(f"unexpected tag 0x{head & 0xFF:02x} at offset {self.pos - 1}")
        else:
            value = head if signed else head & 0xFF
        return value

    def length(self) -> int:
        n = self.integer(signed=False)
        if n < 0 or n > MAX_ARRAY:
            raise TypedStreamError(f"implausible length {n}")
        return n

    def reference(self, head: int, table: list[object] | list[bytes]) -> int:
        index = self.integer(head) - FIRST_REFERENCE
        if not 0 <= index < len(table):
            raise TypedStreamError(f"reference to unknown entry {index}")
        return index

    # -- strings ---------------------------------------------------------------------------

    def shared_string(self) -> bytes | None:
        head = self.head()
        if head == TAG_NIL:
            return None
        if head == TAG_NEW:
            s = self.take(self.length())
            self.strings.append(s)
            return s
        return self.strings[self.reference(head, self.strings)]

    def text(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TypedStreamError("a string is not valid UTF-8") from exc

    # -- objects and classes ---------------------------------------------------------------

    def archived_class(self, depth: int) -> ArchivedClass | None:
        if depth > MAX_DEPTH:
            raise TypedStreamError("class chain too deep")
        head = self.head()
        if head == TAG_NIL:
            return None
        if head == TAG_NEW:
            name = self.shared_string()
            if name is None:
                raise TypedStreamError("a class without a name")
            cls = ArchivedClass(self.text(name), self.integer())
            self.objects.append(cls)
            cls.superclass = self.archived_class(depth + 1)
            return cls
        found = self.objects[self.reference(head, self.objects)]
        if not isinstance(found, ArchivedClass):
            raise TypedStreamError("a class reference points to something else")
        return found

    def archived_object(self, depth: int) -> ArchivedObject | ArchivedClass | str | None:
        if depth > MAX_DEPTH:
            raise TypedStreamError("objects nested too deep")
        head = self.head()
        if head == TAG_NIL:
            return None
        if head == TAG_NEW:
            obj = ArchivedObject(None)
            self.objects.append(obj)
            obj.cls = self.archived_class(depth + 1)
            while self.peek_head() != TAG_END_OF_OBJECT:
                obj.values.extend(self.group(depth + 1))
            self.pos += 1  # the end-of-object tag
            return obj
        found = self.objects[self.reference(head, self.objects)]
        if isinstance(found, (ArchivedObject, ArchivedClass, str)):
            return found
        raise TypedStreamError("an object reference points to something else")

    def c_string(self) -> str | None:
        head = self.head()
        if head == TAG_NIL:
            return None
        if head == TAG_NEW:
            raw = self.shared_string()
            s = None if raw is None else self.text(raw)
            self.objects.append(s)
            return s
        found = self.objects[self.reference(head, self.objects)]
        if found is not None and not isinstance(found, str):
            raise TypedStreamError("a string reference points to something else")
        return found

    # -- typed values ----------------------------------------------------------------------

    def group(self, depth: int) -> list[Value]:
        encoding = self.shared_string()
        if not encoding:
            raise TypedStreamError("a value without a type")
        return [self.value(t, depth) for t in split_types(encoding.decode("ascii", errors="replace"))]

    def value(self, t: str, depth: int) -> Value:
        self.count += 1
        if self.count > MAX_VALUES:
            raise TypedStreamError("too many values")
        kind = t[0]
        if kind == "@":
            return self.archived_object(depth)
        if kind == "#":
            return self.archived_class(depth)
        if kind == "+":
            return self.take(self.length())
        if kind in "*%:":
            return self.c_string()
        if kind in _INT_SIZES:
            return self.integer(signed=kind.islower())
        if kind == "B":
            return self.integer(signed=False)
        if kind in "fd":
            head = self.head()
            if head != TAG_FLOATING_POINT:
                return float(self.integer(head))
            order = "<" if self.little else ">"
            raw = self.take(4 if kind == "f" else 8)
            return float(struct.unpack(order + ("f" if kind == "f" else "d"), raw)[0])
        if kind == "[":
            count, element = _array_type(t)
            if element in ("c", "C"):
                return self.take(count)
            if count > MAX_ARRAY:
                raise TypedStreamError("array too long")
            return [self.value(element, depth + 1) for _ in range(count)]
        if kind in "{(":
            if depth > MAX_DEPTH:
                raise TypedStreamError("structures nested too deep")
            return [self.value(f, depth + 1) for f in _struct_fields(t)]
        raise TypedStreamError(f"unsupported type {t[:16]!r}")

    # -- the stream ------------------------------------------------------------------------

    def header(self) -> None:
        if self.take(1)[0] != STREAMER_VERSION:
            raise TypedStreamError("not a typedstream (unknown version)")
        signature = self.take(self.take(1)[0])
        if signature == SIGNATURE_LE:
            self.little = True
        elif signature == SIGNATURE_BE:
            self.little = False
        else:
            raise TypedStreamError("not a typedstream (no 'streamtyped' signature)")
        self.integer()  # the system version (1000 on every Mac seen)

    def root(self) -> Value:
        self.header()
        values = self.group(0)
        # Anything after the root object is ignored (nothing is seen there in practice).
        return values[0] if values else None


@lru_cache(maxsize=512)
def split_types(encoding: str) -> tuple[str, ...]:
    """Split an `@encode` string such as 'iI' or '{_NSRange=QQ}@' into one type per value.

    Qualifiers (const, in, out, ...) are dropped. Cached: a blob repeats a handful of encodings.
    """
    out: list[str] = []
    i = 0
    while i < len(encoding):
        while i < len(encoding) and encoding[i] in _TYPE_QUALIFIERS:
            i += 1
        if i >= len(encoding):
            raise TypedStreamError("a type encoding ends in a qualifier")
        start = i
        if encoding[i] in "[{(":
            i = _matching_close(encoding, i) + 1
        elif encoding[i] == "^":
            i += 1
            if i < len(encoding) and encoding[i] in "[{(":
                i = _matching_close(encoding, i) + 1
            else:
                i += 1
        else:
            i += 1
        out.append(encoding[start:i])
    return tuple(out)


def _matching_close(encoding: str, i: int) -> int:
    pairs = {"[": "]", "{": "}", "(": ")"}
    stack = [pairs[encoding[i]]]
    j = i + 1
    while j < len(encoding):
        c = encoding[j]
        if c in pairs:
            stack.append(pairs[c])
        elif c == stack[-1]:
            stack.pop()
            if not stack:
                return j
        j += 1
    raise TypedStreamError("an unbalanced type encoding")


def _array_type(t: str) -> tuple[int, str]:
    inner = t[1:-1]
    digits = len(inner) - len(inner.lstrip("0123456789"))
    if digits == 0 or not inner[digits:]:
        raise TypedStreamError("a malformed array type")
    return int(inner[:digits]), inner[digits:]


def _struct_fields(t: str) -> tuple[str, ...]:
    inner = t[1:-1]
    if "=" in inner:
        inner = inner.split("=", 1)[1]
    return split_types(inner)


def parse(blob: bytes) -> Value:
    """The root value of a typedstream (an `ArchivedObject` for attributed strings)."""
    try:
        return _Reader(blob).root()
    except (struct.error, IndexError, RecursionError) as exc:
        raise TypedStreamError("damaged typedstream") from exc


def attributed_string_text(blob: bytes) -> str:
    """The text of an archived NSAttributedString (attributedBody), exactly as stored.

    U+FFFC marks where each attachment sits and U+FFFD an app message; callers decide what to
    show for them. Raises TypedStreamError when the blob is damaged or holds something else.
    """
    root = parse(blob)
    if not isinstance(root, ArchivedObject) or not root.is_a(ATTRIBUTED_STRING_CLASSES):
        raise TypedStreamError("the archive does not hold an attributed string")
    if not root.values:
        raise TypedStreamError("the attributed string has no text")
    string = root.values[0]
    if not isinstance(string, ArchivedObject) or not string.is_a(STRING_CLASSES):
        raise TypedStreamError("the attributed string has no text object")
    if not string.values:
        return ""
    raw = string.values[0]
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, bytes):
        raise TypedStreamError("the text object holds no characters")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TypedStreamError("the text is not valid UTF-8") from exc


# The bytes that introduce the NSString's characters: a new shared type string "+" (0x84 0x01 '+').
_TEXT_MARKER = b"\x84\x01+"
# What follows the characters in every sample: end of the NSString (0x86), then a new type (0x84).
_TEXT_END = b"\x86\x84"


def salvage_text(blob: bytes) -> str | None:
    """Best-effort text of a damaged attributedBody, or None.

    The older heuristic many tools use: take the bytes after the `+` type marker, honour the
    length prefix as far as the blob goes, and stop at the end-of-string marker. Only for blobs
    that `attributed_string_text` rejected; the caller reports the message as damaged.
    """
    at = blob.find(_TEXT_MARKER)
    if at < 0:
        return None
    reader = _Reader(blob)
    reader.pos = at + len(_TEXT_MARKER)
    try:
        n = reader.integer(signed=False)
    except (TypedStreamError, struct.error):
        return None
    raw = blob[reader.pos : reader.pos + max(n, 0)]
    end = raw.find(_TEXT_END)
    if end >= 0:
        raw = raw[:end]
    text = raw.decode("utf-8", errors="ignore")
    return text or None
