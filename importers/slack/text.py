"""Slack message text: mrkdwn tokens made readable, and text for messages that only carry blocks.

Slack stores message text as "mrkdwn": mentions as `<@U024BE7LH>` (older exports:
`<@U024BE7LH|bob>`), channel links as `<#C024BE7LR|general>`, special mentions as `<!here>`,
`<!channel>`, `<!subteam^S123|@team>`, dates as `<!date^1392734382^{date_short}|Feb 18, 2014>`,
links as `<https://example.com|label>`, and escapes `&`, `<`, `>` as `&amp;`, `&lt;`, `&gt;`
(nothing else is escaped). We resolve the tokens first, then unescape, so `&lt;@U1&gt;` stays
the literal text `<@U1>`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# Everything between < and > that Slack wrote as a token (a literal < is always &lt;).
_TOKEN = re.compile(r"<([^<>\n]*)>")
# The only entities Slack escapes (api.slack.com "Formatting text for app surfaces": escaping).
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
# Link schemes whose label usually repeats the address (mailto:a@b|a@b).
_QUIET_SCHEMES = ("mailto:", "tel:")


def unescape(text: str) -> str:
    """Undo Slack's three escapes (&amp; last, so '&amp;lt;' becomes '&lt;', as Slack meant)."""
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text


def render(text: str, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    """mrkdwn as a person reads it: '@Name', '#channel', 'label (https://…)', entities unescaped."""

    def token(match: re.Match[str]) -> str:
        body = match.group(1)
        target, _, label = body.partition("|")
        if target.startswith("@"):
            uid = target[1:]
            return "@" + (users.get(uid) or label or uid)
        if target.startswith("#"):
            cid = target[1:]
            return "#" + (label or channels.get(cid) or cid)
        if target.startswith("!"):
            return _special(target[1:], label)
        return _link(target, label)

    return unescape(_TOKEN.sub(token, text))


def _special(command: str, label: str) -> str:
    """`<!here>`, `<!channel>`, `<!everyone>`, `<!subteam^ID|@team>`, `<!date^…|fallback>`."""
    if label:
        return label
    name = command.split("^", 1)[0]
    return "@" + name if name else ""


def _link(url: str, label: str) -> str:
    if not label or label == url:
        return url
    bare = url
    for scheme in _QUIET_SCHEMES:
        if url.startswith(scheme):
            bare = url[len(scheme) :]
    if label == bare:
        return label
    return f"{label} ({url})"


def attachments_text(attachments: Iterable[Any], users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    """The readable part of legacy message attachments (bots, link unfurls): pretext, title, text.

    Used only when a message's own text is empty, as for most bot messages of older exports.
    """
    parts: list[str] = []
    for att in attachments:
        if not isinstance(att, dict):
            continue
        body = [att.get(k) for k in ("pretext", "title", "text")]
        pieces = [p for p in body if isinstance(p, str) and p]
        if not pieces and isinstance(att.get("fallback"), str):
            pieces = [att["fallback"]]
        parts.extend(render(p, users, channels) for p in pieces)
    return "\n".join(parts)


def blocks_text(blocks: Iterable[Any], users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    """Text of `rich_text` blocks, for messages whose `text` is missing (some exporters omit it)."""
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "rich_text":
            for element in block.get("elements") or ():
                lines.append(_rich_element(element, users, channels))
        elif isinstance(block, dict) and block.get("type") == "section":
            text = block.get("text")
            if isinstance(text, dict) and isinstance(text.get("text"), str):
                lines.append(render(text["text"], users, channels))
    return "\n".join(line for line in lines if line)


def _rich_element(element: Any, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    if not isinstance(element, dict):
        return ""
    kind = element.get("type")
    children = element.get("elements")
    if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
        return "".join(_rich_leaf(e, users, channels) for e in children or ())
    if kind == "rich_text_list":
        return "\n".join(_rich_element(e, users, channels) for e in children or ())
    return _rich_leaf(element, users, channels)


def _rich_leaf(leaf: Any, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    if not isinstance(leaf, dict):
        return ""
    kind = leaf.get("type")
    if kind == "text":
        return str(leaf.get("text") or "")
    if kind == "user":
        uid = str(leaf.get("user_id") or "")
        return "@" + (users.get(uid) or uid)
    if kind == "channel":
        cid = str(leaf.get("channel_id") or "")
        return "#" + (channels.get(cid) or cid)
    if kind == "link":
        url = str(leaf.get("url") or "")
        return _link(url, str(leaf.get("text") or ""))
    if kind == "emoji":
        return _emoji(leaf)
    if kind == "broadcast":
        return "@" + str(leaf.get("range") or "here")
    if kind == "usergroup":
        return "@" + str(leaf.get("usergroup_id") or "")
    return ""


def _emoji(leaf: Mapping[str, Any]) -> str:
    """An emoji element: its character from `unicode` ('1f3c0', '1f468-200d-1f4bb') or :name:."""
    code = leaf.get("unicode")
    if isinstance(code, str) and code:
        try:
            return "".join(chr(int(part, 16)) for part in code.split("-"))
        except (ValueError, OverflowError):
            pass
    return f":{leaf.get('name') or ''}:"
