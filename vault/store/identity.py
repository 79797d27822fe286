"""How a message's identity is stored: its time bucket first, so that the UNIQUE index grows where the import writes.

A message's identity (vault/operations/ingest.py: a 128-bit hash of the export's own id, or of what
the export shows plus an ordinal) is random. Under a UNIQUE index on random keys every insert lands
on a random page of the index, and once the index outgrows the page cache (about 2 million messages
with the 64 MiB cache) each insert reads and writes a page of its own: at 10 million messages the
writes would cost twice what they cost at 1 million (docs/performance.md "Identity at 10M").

So `messages.uid` holds a *key*: two bytes of the message's time bucket (2^32 ms, 49.7 days), then
the identity. An import walks time forwards, so its inserts stay within one bucket's pages, a few
MB at any vault size. The identity alone is what tombstones, `uid_aliases` and the JSONL export's
`identity` use, so those never depend on the time.

The same identity can arrive with another time: a re-import with another --tz (naive times are
fingerprinted as the export shows them), a Telegram HTML export beside its JSON, two WeChat tools.
A record is therefore looked for under its own bucket and under the bucket next to it on the nearer
side (`keys()`): any shift under half a bucket (24.8 days) finds the stored row. Zone shifts are at
most 26 hours. A record whose time moved by more than 24.8 days is stored beside the first one; its
tombstone is still found, since tombstones hold the identity only.
"""

from __future__ import annotations

BUCKET_BITS = 32  # 2^32 ms = 49.7 days
_HALF = 1 << (BUCKET_BITS - 1)
_OFFSET = 1 << 15  # buckets from 1900 to 3000 are -515..7567: two unsigned bytes with an offset
PREFIX = 2  # bytes of bucket before the identity


def _bucket(b: int) -> bytes:
    return (b + _OFFSET).to_bytes(PREFIX, "big")


def key(ts_ms: int, identity: bytes) -> bytes:
    """The stored key of an identity at time ts_ms."""
    return _bucket(ts_ms >> BUCKET_BITS) + identity


def neighbour(ts_ms: int, identity: bytes) -> bytes:
    """The key of the same identity in the bucket next to ts_ms's, on the nearer side."""
    b = ts_ms >> BUCKET_BITS
    return _bucket(b - 1 if ts_ms & (_HALF * 2 - 1) < _HALF else b + 1) + identity


def keys(ts_ms: int, identity: bytes) -> tuple[bytes, bytes]:
    """Where a record with this identity and time may already be stored: its key, then the neighbour's."""
    return key(ts_ms, identity), neighbour(ts_ms, identity)


def identity_of(stored: bytes) -> bytes:
    """The identity within a stored key."""
    return bytes(stored[PREFIX:])
