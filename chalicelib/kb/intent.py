"""What a visitor's message wants besides an answer: a person, to complain, or to vent.

Rules over the normalised text (full-width folded, traditional → simplified), English
and Chinese. Cheap, explainable and testable; the bot uses them before searching.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .text import normalize

_HUMAN = [re.compile(p) for p in (
    r"\b(talk|speak|chat|connect|transfer|put) (me )?(to|with|through to) (a |an |the |some |your )?"
    r"(real |live |actual )?(human|person|agent|someone|somebody|representative|rep|operator|staff|people|team)",
    r"\b(real|live|actual) (person|human|agent|people)\b",
    r"\b(want|need|get|give me|request|call) (a |an |the |to )?(human|agent|operator|representative|real person)\b",
    r"\b(customer service|support) (rep|representative|agent|person)\b",
    r"^\s*(human|agent|operator|representative)\s*(please|pls|plz|now)?\s*[.!?]*\s*$",
    r"转人工|找人工|要人工|接人工|人工服务|真人|找客服|让客服|叫客服|人工客服在|呼叫客服|转接客服|转客服",
)]
# When people answer, asked with a request for a person ("can i talk to a real person on
# sunday", "晚上十点还能找到真人客服吗"): a question the base's contact-hours article may answer,
# not a request to be handed over now. A time word alone is not enough ("i've been waiting since
# this morning, get me a human"): a question word, or a time the visitor asks about.
_WHEN = [re.compile(p) for p in (
    r"\b(when|what time|which days?|what days?|how late|until when|till when|what hours|opening hours|"
    r"(on|at|during|over) (the )?(sundays?|saturdays?|weekends?|weekdays?|holidays?|night)|tonight|"
    r"in the (evening|morning)|(at|after|before|until|till) \d{1,2}( ?(am|pm)|:\d\d)?)\b",
    r"几点|什么时候|哪天|几时|(周末|星期[一二三四五六日天]|礼拜[一二三四五六日天]|周[一二三四五六日]|晚上|夜里|半夜|"
    r"节假日|假期|上班时间|工作时间|营业时间).*(吗|么|嘛|\?|有没有|能不能|可不可以|还有)",
)]
_COMPLAINT = [re.compile(p) for p in (
    r"\bcomplain|\bcomplaint|\bscam\b|\bfraud|\brip ?off\b|\bunacceptable\b|\blawyer\b|\bsue\b|"
    r"\breport (you|this|your)\b|\bconsumer protection\b|\bchargeback\b",
    r"投诉|举报|骗子|消协|告你们|起诉|差评|曝光你们|维权|欺诈",
)]
_ANGER_EN = {
    "worst": 2, "useless": 2, "terrible": 2, "horrible": 2, "awful": 2, "ridiculous": 2, "pathetic": 2,
    "angry": 2, "furious": 2.5, "disgusting": 2, "hate": 1, "hate you": 1, "hate your": 1, "hate this": 1,
    "wtf": 2, "stupid": 2, "idiot": 2.5, "idiots": 2.5,
    "incompetent": 2, "disaster": 1.5, "joke": 1, "fed up": 2, "sick of": 2, "unbelievable": 1.5,
    "shit": 2.5, "crap": 2, "damn": 1.5, "fuck": 3, "fucking": 3, "annoyed": 1.5, "upset": 1.5,
    "nobody answers": 1.5, "no one answers": 1.5, "still waiting": 1, "never again": 2, "rude": 1.5,
}
_ANGER_ZH = {
    "垃圾": 2.5, "气死": 2.5, "太差": 2, "烂": 1, "太烂": 1, "真烂": 1, "好烂": 1, "烂透": 1.5, "烂货": 1.5,
    "烂服务": 1.5, "什么烂": 1.5, "破服务": 2.5, "坑人": 2, "坑": 1, "骗": 2, "恶心": 2,
    "滚": 2.5, "废物": 2.5, "无语": 1.5, "离谱": 1.5, "生气": 2, "愤怒": 2.5, "受够": 2, "他妈": 3,
    "妈的": 3, "什么破": 2.5, "差劲": 2, "态度差": 2, "太慢了": 1, "到底": 0.5, "赶紧": 0.5, "服了": 1.5,
}
ANGER_THRESHOLD = 2.0
# Strong words about the visitor or the item, not the shop: "they look awful on me", "like an
# idiot" (the visitor of themself), "tried it on and hate it", and 垃圾 in the spam folder or the
# bin ("垃圾邮件", "垃圾箱"). Taken out before scoring. ("烂"
# alone is the plain word for broken or crushed — "箱子压烂了" — and counts only half: its angry
# uses are the compounds above.)
_NOT_AT_US = re.compile(
    r"\b(look|looks|looked|fit|fits|fitted|feel|feels|felt)( so| really| just| kinda| pretty)? "
    r"(awful|terrible|horrible)\b|\b(awful|terrible|horrible) on me\b|"
    r"\b(like|such) an idiot\b|\bi('| a)?m (such )?an idiot\b|\b(and|i|just) hate (it|them)\b|"
    r"垃圾(邮件|邮箱|箱|桶|短信|信息|信|分类|袋)")


@dataclass(frozen=True)
class Signals:
    wants_human: bool
    complaint: bool
    anger: float  # 0 = calm; ANGER_THRESHOLD and above counts as angry

    @property
    def angry(self) -> bool:
        return self.anger >= ANGER_THRESHOLD


def wants_human(text: str) -> bool:
    """The visitor asks for a person ("talk to a human", "转人工")."""
    t = normalize(text)
    return any(p.search(t) for p in _HUMAN)


def asks_when(text: str) -> bool:
    """The message asks about a time or days ("on sunday", "几点", "周末有…吗"): with
    `wants_human`, a question about when people answer."""
    t = normalize(text)
    return any(p.search(t) for p in _WHEN)


def is_complaint(text: str) -> bool:
    t = normalize(text)
    return any(p.search(t) for p in _COMPLAINT)


def anger(text: str) -> float:
    """A rough anger score from a bilingual lexicon, shouting and exclamation marks."""
    t = _NOT_AT_US.sub(" ", normalize(text))
    score = 0.0
    for word, weight in _ANGER_EN.items():
        if re.search(rf"\b{re.escape(word)}\b", t):
            score += weight
    for word, weight in _ANGER_ZH.items():
        if word in t:
            score += weight
    if re.search(r"[!?]{3,}", t) or "!!" in t:
        score += 1
    shouted = re.findall(r"\b[A-Z]{4,}\b", text)
    if len(shouted) >= 2:
        score += 1
    return score


def signals(text: str) -> Signals:
    return Signals(wants_human(text), is_complaint(text), anger(text))
