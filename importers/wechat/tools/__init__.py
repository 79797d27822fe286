"""Readers of the files that WeChat export tools write (MemoTrace, PyWxDump, WechatExporter), and what they share."""
