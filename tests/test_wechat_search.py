"""WeChat's real CSV samples in a vault: Chinese search for 1- and 2-character queries (EXPECTED.md ground truth)."""

from __future__ import annotations

import csv

import pytest

import vault
from tests.conftest import PASSPHRASE, corpus_file

PERSON = "wechat/pywxdump_csv_weclone_test_person.csv"
LEGACY = "wechat/pywxdump_csv_legacy_weclone_example_chat.csv"

# corpus/EXPECTED.md, "Substring ground truth" tables (row ids of the CSV).
PERSON_TRUTH = {
    "哈哈": {12, 20, 27, 51, 60, 61, 73, 88, 94},
    "哈": {12, 20, 27, 51, 60, 61, 73, 88, 94},
    "啊哈哈哈": {12, 20, 61, 88, 94},
    "我": {9, 15, 16, 21, 36, 37, 40, 42, 52, 53, 59, 85, 87, 90, 92, 99},
    "南站": {15},
    "12km": {16},
    "拼多多": {83},
    "签约": {83, 87},
    "代言人": {96},
    "旺柴": {17},
    "撤回": {57, 63},
}
LEGACY_TRUTH = {
    "电影": {29, 32, 34},
    "哈哈": {8, 27, 35},
    "hot": {18, 20, 21},
    "看": {29, 30, 32},
    "困": {9},
    "der": {12},
    "emmm": {31},
    "反诈": {34},
    "聊天": {1},
}


def _ids_by_server_id(path):  # type: ignore[no-untyped-def]
    with open(path, encoding="utf-8", newline="") as fh:
        return {row["MsgSvrID"]: int(row["id"]) for row in csv.DictReader(fh)}


@pytest.mark.parametrize(("rel", "truth"), [(PERSON, PERSON_TRUTH), (LEGACY, LEGACY_TRUTH)])
def test_chinese_search_over_real_wechat_exports(tmp_path, weak_kdf, rel, truth):
    path = corpus_file(rel)
    by_server = _ids_by_server_id(path)
    with vault.create(tmp_path / "v", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        v.import_path(path, tz="Asia/Shanghai")
        sid = {str(r[0]): r[1] for r in v.conn.execute("SELECT id, source_id FROM messages")}
        for query, want in truth.items():
            got = {by_server[sid[h["id"]]] for h in v.search(query, limit=None)}
            assert got == want, query


def test_traditional_query_finds_simplified_text(tmp_path, weak_kdf):
    path = corpus_file(PERSON)
    with vault.create(tmp_path / "v", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        v.import_path(path, tz="Asia/Shanghai")
        assert v.search("簽約", limit=None) and {h["id"] for h in v.search("簽約", limit=None)} == {
            h["id"] for h in v.search("签约", limit=None)
        }
        assert len(v.search("簽", limit=None)) >= 2
