"""The bot's decision for one visitor message: answer, clarify, hand off, or greet.

Pure: it takes the message, an index of the tenant's articles and thresholds, and
returns what to do and why; the chat service carries it out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from .classify import QuestionType, classify_question
from .intent import Signals, asks_when, signals
from .search import Hit, Index
from .text import normalize

DecisionKind = Literal["answer", "clarify", "handoff", "greet", "thanks"]
# Why the bot handed over; shown to the agent in the hand-off note.
HANDOFF_REASONS = ("asked_for_human", "complaint", "angry", "no_answer", "two_failed_answers",
                   "integration_failed", "not_helpful")

# A greeting, with or without asking after the bot ("hi how r u doing today", "你好，最近好吗"):
# greeted back, never matched against the articles (small talk is not a question about one).
_HOW_ARE_YOU = (r"(how (are|r) (you|u|ya)( doing| going)?( today)?|how('?s| is) it going|how('?s| is) your day|"
                r"what'?s up|sup|你好吗|最近好吗|今天好吗|过得怎么样)")
_GREETING = re.compile(
    rf"^\s*((hi+|hello+|hey+|yo|good (morning|afternoon|evening)|你好|您好|嗨|哈喽|在吗|在不在|有人吗)"
    rf"[\s!.,?~，！？]*(there|guys|all)?[\s!.,?~，！？]*{_HOW_ARE_YOU}?|{_HOW_ARE_YOU})[\s!.,?~，！？。]*$")
# Closing chit-chat: answered politely, never handed over as "no answer".
_THANKS = re.compile(
    r"^\s*((ok|okay|k|cool|great|perfect|got it|alright|fine)[\s,.!]*)?(thanks?( you)?( a lot| so much| very much)?|thx|ty|"
    r"cheers|bye|goodbye|see you|ok|okay|got it|cool|great|perfect|"
    r"好的|好|谢谢|谢谢你|谢谢您|多谢|感谢|再见|拜拜|知道了|明白了|收到|没问题了?)[\s!.,~。！，]*"
    r"(谢谢|bye|再见)?[\s!.,~。！，]*$")


CONFIDENCE_LEAD = 0.15


@dataclass(frozen=True)
class Thresholds:
    """Per-tenant knobs. `answer`: confidence to answer outright; `clarify`: least
    confidence to offer candidates (below it the bot hands over); `margin`: how far
    (relative score) the best article must lead the second to answer without asking.
    `clarify` was 0.36, where the sentence encoder's hand-off certainty is put
    (`search.Semantic`); 0.39 (session 17) and then 0.37 (session 20) were chosen for the
    most room to both hand-off targets on questions first read unseen, each then measured
    once on a batch nobody had seen (architecture.md, "Where the bot hands over")."""

    answer: float = 0.45
    clarify: float = 0.37
    margin: float = 0.1
    candidates: int = 3
    # Below `clarify` the bot hands over; articles from this confidence up are offered to
    # read while the visitor waits for a person (architecture.md, "Hand-off reading").
    suggest: float = 0.2


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    reason: str | None = None  # for hand-offs: one of HANDOFF_REASONS
    hits: list[Hit] = field(default_factory=list)
    signals: Signals = Signals(False, False, 0.0)
    question_type: QuestionType = "pre_sales"
    # A "no_answer" hand-off: the closest articles, to read while waiting (may be empty).
    suggestions: list[Hit] = field(default_factory=list)

    @property
    def best(self) -> Hit | None:
        return self.hits[0] if self.hits else None


def decide(text: str, index: Index, thresholds: Thresholds = Thresholds()) -> Decision:
    """Decide what the bot does with one visitor message."""
    s = signals(text)
    question_type = classify_question(text)
    # Asking *when* people answer is a question for the base first (its contact hours).
    hours_question = s.wants_human and asks_when(text)
    if s.wants_human and not hours_question:
        return Decision("handoff", "asked_for_human", signals=s, question_type=question_type)
    if s.complaint:
        return Decision("handoff", "complaint", signals=s, question_type="complaint")
    if s.angry:
        return Decision("handoff", "angry", signals=s, question_type="complaint")
    if _GREETING.match(normalize(text)):
        return Decision("greet", signals=s, question_type=question_type)
    if _THANKS.match(normalize(text)):
        return Decision("thanks", signals=s, question_type=question_type)
    hits = index.search(text, limit=max(thresholds.candidates, 2))
    if not hits or hits[0].confidence < thresholds.clarify:
        floor = min(thresholds.suggest, thresholds.clarify)
        suggestions = [h for h in hits[:thresholds.candidates] if h.confidence >= floor]
        return Decision("handoff", "asked_for_human" if hours_question else "no_answer", hits=hits, signals=s,
                        question_type=question_type, suggestions=suggestions)
    best = hits[0]
    second = hits[1] if len(hits) > 1 else None
    # The best article must stand out, by ranking score or by how much more of the question it covers.
    leads = second is None or ((best.score - second.score) / best.score >= thresholds.margin
                               or best.confidence - second.confidence >= CONFIDENCE_LEAD)
    if best.confidence >= thresholds.answer and leads:
        return Decision("answer", hits=hits[:1], signals=s, question_type=question_type)
    close = [h for h in hits[:thresholds.candidates] if h.confidence >= thresholds.clarify]
    if len(close) == 1 and best.confidence >= thresholds.answer:
        return Decision("answer", hits=hits[:1], signals=s, question_type=question_type)
    return Decision("clarify", hits=close, signals=s, question_type=question_type)


def overrule(decision: Decision, candidate: Hit | None, answers: bool | None,
             thresholds: Thresholds = Thresholds()) -> Decision:
    """The decision after an optional reader (a language model, `adapters/llm.py`) said whether
    `candidate` — the best article of an answer or a choice, or the closest one offered with a
    hand-off — `answers` the message: yes answers with it, no hands over (the other articles
    offered to read meanwhile), no opinion (None) changes nothing. Greetings, thanks and
    hand-offs for a person, a complaint or anger are never overruled."""
    if answers is None or candidate is None:
        return decision
    if answers and (decision.kind == "clarify" or decision.kind == "handoff" and decision.reason == "no_answer"):
        return Decision("answer", hits=[candidate], signals=decision.signals, question_type=decision.question_type)
    if not answers and decision.kind in ("answer", "clarify"):
        floor = min(thresholds.suggest, thresholds.clarify)
        others = [h for h in decision.hits if h.doc_id != candidate.doc_id and h.confidence >= floor]
        return Decision("handoff", "no_answer", hits=decision.hits, signals=decision.signals,
                        question_type=decision.question_type, suggestions=others[:thresholds.candidates])
    return decision


def candidate(decision: Decision) -> Hit | None:
    """The article a reader is asked about: the best of an answer or a choice, or the closest
    offered with a hand-off for want of an answer; None for anything else."""
    if decision.kind in ("answer", "clarify"):
        return decision.best
    if decision.kind == "handoff" and decision.reason == "no_answer" and decision.suggestions:
        return decision.suggestions[0]
    return None
