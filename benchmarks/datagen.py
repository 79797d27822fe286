"""Deterministic chat data for benchmarks: mixed languages (30% Chinese), realistic message lengths.

`messages(n, seed)` yields (ts, sender, text) tuples in time order; `write_telegram`,
`write_whatsapp` and `write_plaintext` stream them into export files without holding them in memory.
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

COMMON_HAN = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后"
    "小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长"
    "知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最"
    "间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市"
    "眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计"
    "或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让"
    "认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办"
    "运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持"
    "取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞"
    "观争究包组造落视济喜离虽坏兴切证警察腾讯微信汤圆饺子"
)
_WORD_TEXT = (
    "the be to of and a in that have it for not on with he as you do at this but his by from they we say "
    "her she or an will my one all would there their what so up out if about who get which go me when "
    "make can like time no just him know take people into year your good some could them see other than "
    "then now look only come its over think also back after use two how our work first well way even new "
    "want because any these give day most us meeting dinner tomorrow tonight photo lol haha ok okay "
    "thanks sorry late train airport coffee café naïve résumé Zürich Straße iphone android password "
    "birthday weekend holiday project deadline invoice doctor school kids football concert "
)
WORDS = _WORD_TEXT.split()
EMOJI = "😂❤️👍🙏😊🎉🤔😭🔥✨🍕🚗"
SENDERS = ["Mei", "Jon", "Ana", "Lukas", "李伟", "王芳", "Sora", "민지", "Layla", "Tom"]


def _han(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(COMMON_HAN) for _ in range(n))


def text(rng: random.Random) -> str:
    """A message: 30% Chinese, else Latin words with the odd emoji; lengths skewed short."""
    r = rng.random()
    length = min(int(rng.expovariate(1 / 9)) + 1, 120)
    if r < 0.30:
        s = _han(rng, length + 1)
        if rng.random() < 0.2:
            s += rng.choice(WORDS)
        return s
    words = [rng.choice(WORDS) for _ in range(max(1, length // 2 + 1))]
    if rng.random() < 0.1:
        words.append(rng.choice(EMOJI))
    return " ".join(words)


RARE = "quokka"  # appended to every RARE_EVERY-th message: a term with few, known hits
RARE_EVERY = 5000


def messages(n: int, seed: int = 1, start: int = 1_500_000_000) -> Iterator[tuple[int, str, str]]:
    rng = random.Random(seed)
    ts = start
    for i in range(n):
        ts += int(rng.expovariate(1 / 240)) + 1
        body = text(rng)
        if i % RARE_EVERY == RARE_EVERY - 1:
            body += " " + RARE
        yield ts, rng.choice(SENDERS), body


def write_telegram(path: Path, n: int, seed: int = 1, chat_id: int = 123456, name: str = "Benchmark group") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        head = {"name": name, "type": "private_group", "id": chat_id}
        fh.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "messages": [\n')
        for i, (ts, sender, body) in enumerate(messages(n, seed)):
            rec = {
                "id": i + 1,
                "type": "message",
                "date": datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
                "date_unixtime": str(ts),
                "from": sender,
                "from_id": f"user{zlib.crc32(sender.encode()) % 10**8}",
                "text": body,
                "text_entities": [{"type": "plain", "text": body}],  # as Telegram Desktop writes every message
            }
            fh.write(("," if i else "") + json.dumps(rec, ensure_ascii=False) + "\n")
        fh.write("]}\n")
    return path


def write_whatsapp(path: Path, n: int, seed: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for ts, sender, body in messages(n, seed):
            d = datetime.fromtimestamp(ts, timezone.utc)
            fh.write(f"{d:%d/%m/%Y, %H:%M} - {sender}: {body}\n")
    return path


def write_plaintext(path: Path, n: int, seed: int = 1) -> Path:
    """One message per line, as ripgrep would search a plaintext export."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for ts, sender, body in messages(n, seed):
            fh.write(f"{ts}\t{sender}\t{body}\n")
    return path
