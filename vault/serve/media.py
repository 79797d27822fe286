"""Attachment bytes from the vault's blobs: inline for images, video and audio, byte ranges for seeking, no-store."""

from __future__ import annotations

import mimetypes
from typing import Any

from werkzeug.datastructures import ContentRange
from werkzeug.wrappers import Request, Response

# A range answer is at most this long, so that a paused video never holds the (one-request-at-a-
# time) server: the browser asks for the next range when it needs it.
MAX_RANGE = 1024 * 1024
# Shown inline; anything else (SVG and HTML included) is a download, never rendered by the browser.
INLINE = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/avif"}
    | {"video/mp4", "video/webm", "video/ogg", "video/quicktime"}
    | {"audio/mpeg", "audio/mp4", "audio/ogg", "audio/opus", "audio/wav", "audio/webm", "audio/aac", "audio/x-m4a"}
)


def mime_of(att: dict[str, Any]) -> str:
    return str(att.get("mime") or mimetypes.guess_type(att["name"])[0] or "application/octet-stream").lower()


def shown_as(att: dict[str, Any]) -> str:
    """image, video, audio or file: how a page shows this attachment."""
    mime = mime_of(att)
    if mime not in INLINE:
        return "file"
    return mime.split("/", 1)[0]


def respond(v: Any, request: Request, att: dict[str, Any]) -> Response:
    """The attachment's bytes (206 for a range); the file name in a download is the id, never the name."""
    size = int(att["size"])
    mime = mime_of(att)
    inline = mime in INLINE and "download" not in request.args
    ext = mimetypes.guess_extension(mime) or ""
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="attachment-{att["id"]}{ext}"',
    }
    ctype = mime if inline else "application/octet-stream"
    rng = request.range
    if rng is not None:
        span = rng.range_for_length(size)
        if span is None:
            r = Response(status=416, headers=headers)
            r.headers["Content-Range"] = f"bytes */{size}"
            return r
        start, stop = span[0], min(span[1], span[0] + MAX_RANGE)
        body = v.attachment_bytes(att["id"], start, stop)
        r = Response(body, status=206, mimetype=ctype, headers=headers, direct_passthrough=True)
        r.content_range = ContentRange("bytes", start, stop, size)
        r.content_length = stop - start
        return r
    r = Response(v.attachment_bytes(att["id"]), mimetype=ctype, headers=headers, direct_passthrough=True)
    r.content_length = size
    return r
