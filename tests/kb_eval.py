"""The bot's evaluation set (tests/data/kb) and how it is scored; used by
`bench/bot_eval.py` and `tests/unit/test_bot_eval.py`.

Questions of `questions.txt` are split by a hash of their text into a development part
(70 %), which the method was developed against, and a held-out part (30 %), looked at only
for reporting. Every question of `questions_heldout.txt` (written later, the way visitors
write, before the hand-off method was reworked) is held out too; every question of
`questions_dev.txt` is in the development part: unanswerable questions that share the
shop's words, which the development part lacked, and a second batch of 332 questions on
every topic (typos, slang, short, mixed English/Chinese, unusual wording, near-domain
unanswerable ones), written by another hand without reading the held-out part, and a
third batch of 165 (many long and chatty), kept apart from tuning to choose cut-offs on.
`questions_fresh1.txt` (219, written later by a hand that saw only the articles) was the
"fresh" part until measured with the sentence encoder, and is in the development part
since; so are `questions_fresh2.txt` (214, written the same way by another hand), the
"fresh" part for three changes of the bot, and `questions_fresh3.txt` and
`questions_fresh4.txt` (each by a new hand), the "fresh" part until 2026-12-05.
`questions_fresh5.txt` to `questions_fresh38.txt` (written the same way, each by a new hand)
are the "fresh" part: reported apart, per file too; none was tuned on until session 15 chose
the reach of the articles' not_answered lines on every part then seen (5 to 16 too). 5 and 6 were first
measured for the change that gave each article 16 phrasings, 7 for the next (products named
as items), 8 for a change that did not land (short Chinese messages), 9 for the articles'
centroid passage, 10 for the neighbours' agreement (English), 11 for the background
(chalicelib/kb/background.py), 12 for its second hand and questions about when people answer,
13 with no change (a plain reading on unseen questions), 14 for the background's third hand,
15 for the articles' lists of what they do not answer (`not_answered`) with the anger rule's
precision, 16 for 12 more phrasings an article, 17 for that reach, 18 and 19 with no change
(plain readings; 19's hand was asked for a shop's week as it comes, 18's for about half
near-subject detail questions among the unanswerable ones), 20 for a change that did not land
(the answer cut-offs chosen on every seen part; the hand-off figures are the same either way),
21 for written Cantonese read as Mandarin, 22 and 23 for changes that did not land (background
questions near an article kept when its words leave them out; the hand-off cut-offs chosen for the
most room to both targets), 24 for traditional characters read as simplified too, 25 for a
change that did not land (English in plain spelling; nothing changed on it), 26 for keeping
Chinese background questions near an article whose words leave them out (22's change, measured
again), 27 for the clarify threshold 0.36 → 0.39 (the bot hands over below it), 28 with no
change (a plain reading of that threshold), 29 for regional words (Cantonese and Taiwan usage)
read as the articles write them, 30 with no change (session 18: a plain reading), 31 for English
shop words in a Chinese message read as the articles' Mandarin, 32 with no change (session 19: a
plain reading), 33 for the background grown from what visitors asked, 34 for a change that did
not land (the clarify threshold 0.38; the bot as it is met both targets on it), 35 with no
change (session 19: a plain reading), 36 for the clarify threshold 0.39 → 0.37, 37 and 38 with no
change (session 20: a plain reading of 0.37, side by side). Since the background grew the
unanswerable questions of the development part and of fresh 1 to 32 are in the bot's background
(chalicelib/kb/data/background_asked_*.txt): those parts' figures are no longer figures on
unseen questions; the held-out part's are (none of it was added), and fresh 33 onwards.
`questions_fresh39.txt` (written as 36-38) is not loaded yet: it is for measuring, once, the next
change of the bot.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.kb import embed
from chalicelib.kb.decide import Thresholds, decide
from chalicelib.kb.search import Document, Index
from chalicelib.kb.text import detect_locale

DATA = Path(__file__).resolve().parent / "data" / "kb"
HANDOFF = "handoff"


@dataclass(frozen=True)
class Question:
    text: str
    expected: str  # article id ("<topic>.<locale>") or "handoff"
    part: str = ""  # "held_out", "dev" or "fresh" when its file fixes it
    source: str = ""  # the file it comes from

    @property
    def always_held_out(self) -> bool:
        return self.part == "held_out"

    @property
    def fresh(self) -> bool:
        return self.part == "fresh"

    @property
    def held_out(self) -> bool:
        if self.part:
            return self.part == "held_out"
        return int(hashlib.sha256(self.text.encode()).hexdigest(), 16) % 10 < 3


def load_articles() -> list[dict[str, Any]]:
    """Every article of the demo shop: `<topic>.<locale>` ids, English and Chinese."""
    articles = []
    for locale in ("en", "zh"):
        for raw in json.loads((DATA / f"articles_{locale}.json").read_text(encoding="utf-8")):
            articles.append({**raw, "locale": locale, "id": f"{raw['topic']}.{locale}"})
    return articles


def load_index(semantic: bool = True) -> Index:
    """The demo shop's index, with the sentence encoders when `semantic` (and installed)."""
    return Index((Document(a["id"], a["title"], a["body"], tuple(a["phrasings"]), a["locale"], a["category"],
                           tuple(a.get("not_answered", ())))
                  for a in load_articles()), encoders=embed.encoders() if semantic else None)


def load_index_written_background() -> Index:
    """The demo shop's index with only the background written for it (kb/background.py), as
    before session 19 added what visitors asked: for tests of a mechanism measured without it."""
    from chalicelib.kb import background

    index = load_index()
    written = {locale: background.written(locale) for locale in ("en", "zh")}
    rows = {(locale, e.model_id): background.vectors(locale, e)[:len(written[locale])]  # written come first
            for locale, e in index.encoders.items()}
    saved_texts, saved_rows = background.texts, background._vectors
    background.texts, background._vectors = (lambda locale: written.get(locale, ())), rows  # type: ignore[assignment]
    try:
        for locale in index.encoders:
            index.background(locale)  # computed now, kept by the index
    finally:
        background.texts, background._vectors = saved_texts, saved_rows  # type: ignore[assignment]
    return index


def load_questions() -> list[Question]:
    questions = []
    for name, part in (("questions.txt", ""), ("questions_heldout.txt", "held_out"), ("questions_dev.txt", "dev"),
                       ("questions_fresh1.txt", "dev"), ("questions_fresh2.txt", "dev"),
                       ("questions_fresh3.txt", "dev"), ("questions_fresh4.txt", "dev"),
                       ("questions_fresh5.txt", "fresh"), ("questions_fresh6.txt", "fresh"),
                       ("questions_fresh7.txt", "fresh"), ("questions_fresh8.txt", "fresh"),
                       ("questions_fresh9.txt", "fresh"), ("questions_fresh10.txt", "fresh"),
                       ("questions_fresh11.txt", "fresh"), ("questions_fresh12.txt", "fresh"),
                       ("questions_fresh13.txt", "fresh"), ("questions_fresh14.txt", "fresh"),
                       ("questions_fresh15.txt", "fresh"), ("questions_fresh16.txt", "fresh"),
                       ("questions_fresh17.txt", "fresh"), ("questions_fresh18.txt", "fresh"),
                       ("questions_fresh19.txt", "fresh"), ("questions_fresh20.txt", "fresh"),
                       ("questions_fresh21.txt", "fresh"), ("questions_fresh22.txt", "fresh"),
                       ("questions_fresh23.txt", "fresh"), ("questions_fresh24.txt", "fresh"),
                       ("questions_fresh25.txt", "fresh"), ("questions_fresh26.txt", "fresh"),
                       ("questions_fresh27.txt", "fresh"), ("questions_fresh28.txt", "fresh"),
                       ("questions_fresh29.txt", "fresh"), ("questions_fresh30.txt", "fresh"),
                       ("questions_fresh31.txt", "fresh"), ("questions_fresh32.txt", "fresh"),
                       ("questions_fresh33.txt", "fresh"), ("questions_fresh34.txt", "fresh"),
                       ("questions_fresh35.txt", "fresh"), ("questions_fresh36.txt", "fresh"),
                       ("questions_fresh37.txt", "fresh"), ("questions_fresh38.txt", "fresh")):
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            topic, text = (part.strip() for part in line.split("|", 1))
            expected = HANDOFF if topic == HANDOFF else f"{topic}.{detect_locale(text)}"
            questions.append(Question(text, expected, part, name))
    return questions


@dataclass
class Outcome:
    question: Question
    kind: str
    top: str | None
    latency_ms: float
    offered: tuple[str, ...] = ()  # a hand-off's articles to read while waiting

    @property
    def answerable(self) -> bool:
        return self.question.expected != HANDOFF


def run(questions: list[Question], index: Index, thresholds: Thresholds = Thresholds()) -> list[Outcome]:
    outcomes = []
    for q in questions:
        start = time.perf_counter()
        decision = decide(q.text, index, thresholds)
        elapsed = (time.perf_counter() - start) * 1000
        top = decision.best.doc_id if decision.best else None
        outcomes.append(Outcome(q, decision.kind, top, elapsed, tuple(h.doc_id for h in decision.suggestions)))
    return outcomes


def figures(outcomes: list[Outcome]) -> dict[str, float]:
    """top1_accuracy: answerable questions whose top-ranked article is the expected one
    (retrieval quality, whatever the decision); answered_correct: answered outright with
    it; answered_wrong: answered outright with another article; offered_correct: answered with it or offered it among the clarifying candidates;
    handoff_correct: unanswerable questions handed off; wrong_handoff: answerable
    questions handed off; handoff_offered_right: of those answerable questions handed off,
    the share whose right article was offered to read while waiting; unanswerable_offered:
    unanswerable questions handed off with some article offered to read (noise, if harmless)."""
    answerable = [o for o in outcomes if o.answerable]
    unanswerable = [o for o in outcomes if not o.answerable]
    latencies = sorted(o.latency_ms for o in outcomes)

    def share(part: int, whole: int) -> float:
        return round(part / whole, 4) if whole else 0.0

    return {
        "top1_accuracy": share(sum(o.top == o.question.expected for o in answerable), len(answerable)),
        "answered_correct": share(sum(o.kind == "answer" and o.top == o.question.expected for o in answerable),
                                  len(answerable)),
        "offered_correct": share(sum(o.kind in ("answer", "clarify") and o.top == o.question.expected
                                     for o in answerable), len(answerable)),
        "answered_wrong": share(sum(o.kind == "answer" and o.top != o.question.expected for o in answerable),
                                len(answerable)),
        "clarified": share(sum(o.kind == "clarify" for o in answerable), len(answerable)),
        "handoff_correct": share(sum(o.kind == "handoff" for o in unanswerable), len(unanswerable)),
        "wrong_handoff": share(sum(o.kind == "handoff" for o in answerable), len(answerable)),
        "handoff_offered_right": share(sum(o.kind == "handoff" and o.question.expected in o.offered
                                           for o in answerable), sum(o.kind == "handoff" for o in answerable)),
        "unanswerable_offered": share(sum(o.kind == "handoff" and bool(o.offered) for o in unanswerable),
                                      len(unanswerable)),
        "answer_p50_ms": round(latencies[len(latencies) // 2], 3) if latencies else 0.0,
        "questions": len(outcomes),
    }
