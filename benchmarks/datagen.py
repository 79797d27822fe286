"""Deterministic chat data for benchmarks: mixed languages (30% Chinese), realistic message lengths.

`messages(n, seed)` yields (ts, sender, text) tuples in time order; `write_telegram`,
`write_whatsapp` and `write_plaintext` stream them into export files without holding them in memory.
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
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


def messages(
    n: int,
    seed: int | str = 1,
    start: int = 1_500_000_000,
    senders: list[str] = SENDERS,
    end: int | None = None,
) -> Iterator[tuple[int, str, str]]:
    """`n` messages in time order after `start`, at least 1 s apart: 240 s on average, or with `end`
    spread over (start, end] as `n` sorted uniform times would be (drawn one after the other)."""
    rng = random.Random(seed)
    ts = start
    for i in range(n):
        if end is None:
            ts += int(rng.expovariate(1 / 240)) + 1
        else:  # the smallest of the n - i times still to come, uniform over (ts, end]
            ts = max(ts + 1, ts + int((end - ts) * (1 - rng.random() ** (1 / (n - i)))))
        body = text(rng)
        if i % RARE_EVERY == RARE_EVERY - 1:
            body += " " + RARE
        yield ts, rng.choice(senders), body


def _telegram_message(no: int, ts: int, sender: str, body: str) -> str:
    """One message of a Telegram Desktop export, as one line of JSON."""
    rec = {
        "id": no,
        "type": "message",
        "date": datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        "date_unixtime": str(ts),
        "from": sender,
        "from_id": f"user{zlib.crc32(sender.encode()) % 10**8}",
        "text": body,
        "text_entities": [{"type": "plain", "text": body}],  # as Telegram Desktop writes every message
    }
    return json.dumps(rec, ensure_ascii=False)


def _open_chat(chat: dict[str, object]) -> str:
    """A chat object's head, up to the opening of its "messages" array."""
    return json.dumps(chat, ensure_ascii=False)[:-1] + ', "messages": [\n'


def write_telegram(path: Path, n: int, seed: int = 1, chat_id: int = 123456, name: str = "Benchmark group") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        fh.write(_open_chat({"name": name, "type": "private_group", "id": chat_id}))
        for i, (ts, sender, body) in enumerate(messages(n, seed)):
            fh.write(("," if i else "") + _telegram_message(i + 1, ts, sender, body) + "\n")
        fh.write("]}\n")
    return path


# A heavy user's ten years (benchmarks/tenmillion.py): 2016-01-01 to 2026-01-01 UTC.
DECADE = (1_451_606_400, 1_767_225_600)
BIG_CHAT = "Big chat"  # 10% of all messages: the chat the benchmark deletes
OWNER = "Mei"  # the account's owner: one side of every personal chat
# The big chats' shares of all messages (the first is BIG_CHAT, the second "Benchmark group", the name
# search.py's `in:` queries use); SMALL_CHATS small ones share the rest, sizes heavy-tailed.
BIG_SHARES = (0.10, 0.05, 0.04, 0.03, 0.03, 0.02, 0.02, 0.01, 0.01, 0.01, 0.01)
SMALL_CHATS = 1500


@dataclass(frozen=True)
class ChatPlan:
    no: int  # its place in the export, from 1
    chat_id: int
    name: str
    type: str
    count: int
    start: int  # its messages are spread over (start, end]
    end: int
    senders: list[str]
    seed: str


def account_plan(n: int, seed: int = 1) -> list[ChatPlan]:
    """The chats of a generated account of exactly `n` messages, in export order (shuffled).

    BIG_SHARES of n in chats spanning the whole DECADE (the biggest: BIG_CHAT), the rest over
    SMALL_CHATS chats (70% personal, 30% groups) of log-normal weights, each over a random part of
    the decade. Chats that would get no message are left out.
    """
    rng = random.Random(f"plan-{seed}")
    small = min(SMALL_CHATS, max(0, n - len(BIG_SHARES)))
    weights = [min(rng.lognormvariate(0, 2), 100.0) for _ in range(small)]
    rest = n - sum(int(n * f) for f in BIG_SHARES)
    exact = [n * f for f in BIG_SHARES] + [rest * w / sum(weights) for w in weights] if weights else []
    counts = [int(x) for x in exact] if weights else [int(n * f) for f in BIG_SHARES]
    counts[1 if len(counts) > 1 else 0] += n - sum(counts)  # what rounding left: to "Benchmark group"
    span = DECADE[1] - DECADE[0]
    chats = []
    for i, count in enumerate(counts):
        if i < len(BIG_SHARES):
            name = BIG_CHAT if i == 0 else "Benchmark group" if i == 1 else f"Group {i}"
            kind, start, length = "private_supergroup" if i % 2 == 0 else "private_group", DECADE[0], span
            senders = SENDERS
        else:
            length = int(span * rng.uniform(0.02, 1.0))
            start = DECADE[0] + rng.randrange(span - length + 1)
            if rng.random() < 0.7:
                other = f"{rng.choice(SENDERS)} {i}"
                name, kind, senders = other, "personal_chat", [OWNER, other]
            else:
                name, kind = f"群 {i}" if rng.random() < 0.3 else f"Group {i}", "private_group"
                senders = rng.sample(SENDERS, rng.randint(3, len(SENDERS)))
        if count > 0:
            chats.append((name, kind, count, start, start + length, senders))
    rng.shuffle(chats)
    return [
        ChatPlan(no, 10_000 + no, name, kind, count, start, end, senders, f"{seed}-{no}")
        for no, (name, kind, count, start, end, senders) in enumerate(chats, 1)
    ]


def account_messages(plan: ChatPlan) -> Iterator[tuple[int, str, str]]:
    return messages(plan.count, plan.seed, plan.start, plan.senders, plan.end)


def write_account(path: Path, n: int, seed: int = 1, plain: Path | None = None) -> list[ChatPlan]:
    """A Telegram Desktop full-account export (result.json, `chats.list`) of account_plan(n, seed).

    Streams: one chat's messages at a time, none held. With `plain`, also writes every message as a
    line `ts<TAB>chat no<TAB>sender<TAB>text` (for ripgrep and the baselines), in the same pass.
    """
    plan = account_plan(n, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh, ExitStack() as stack:
        dump = stack.enter_context(plain.open("w", encoding="utf-8")) if plain else None
        about = "Here is the data you requested. Generated for talkvault's benchmarks."
        fh.write(json.dumps({"about": about})[:-1] + ', "chats": {"about": "All chats.", "list": [\n')
        for c in plan:
            fh.write(("," if c.no > 1 else "") + _open_chat({"name": c.name, "type": c.type, "id": c.chat_id}))
            for i, (ts, sender, body) in enumerate(account_messages(c)):
                fh.write(("," if i else "") + _telegram_message(i + 1, ts, sender, body) + "\n")
                if dump:
                    dump.write(f"{ts}\t{c.no}\t{sender}\t{body}\n")
            fh.write("]}\n")
        fh.write("]}}\n")
    return plan


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
