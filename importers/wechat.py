"""WeChat (placeholder during development)."""
from importers import wechat_databases, wechat_pywxdump as p
from importers.base import Format
FORMATS = [Format("wechat-db","wechat","d","d",wechat_databases.detect,wechat_databases.parse),
Format("wechat-pywxdump-csv","wechat","d","d",p.detect_csv,p.parse_csv, True),
Format("wechat-pywxdump-json","wechat","d","d",p.detect_json,p.parse_json, True)]
