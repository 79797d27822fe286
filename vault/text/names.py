"""Searchable names: chat titles and people, with Chinese names also findable by pinyin.

A name is indexed as its normalised tokens plus, when it contains Chinese characters, its full
pinyin (`zhangwei`, `zhang wei`) and initials (`zw`), so `in:zhangwei` or `from:zw` find 张伟.
Polyphonic characters take pypinyin's most likely reading (names only; message bodies get no
pinyin, as formats/cjk-search.md recommends).
"""

from __future__ import annotations

import re

from vault.text.normalize import fold, index_text

_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")


def pinyin_forms(name: str) -> list[str]:
    """Full pinyin (joined and spaced) and initials of the Chinese characters in `name`."""
    han = "".join(_HAN.findall(fold(name)))
    if not han:
        return []
    from pypinyin import Style, lazy_pinyin

    full = lazy_pinyin(han, errors="ignore")
    initials = lazy_pinyin(han, style=Style.FIRST_LETTER, errors="ignore")
    return ["".join(full), " ".join(full), "".join(initials)]


def name_index_text(name: str) -> str:
    parts = [index_text(name)]
    parts.extend(index_text(p) for p in pinyin_forms(name))
    return " ".join(p for p in parts if p)
