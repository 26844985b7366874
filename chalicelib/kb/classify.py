"""Question type of a visitor's message: pre-sales, after-sales, technical or complaint.

Routing calls `classify_question(text)` on a conversation's first message. Keyword
evidence in English and Chinese decides; when it is weak and a knowledge-base index is
given, the category of the best matching article decides instead.
"""
from __future__ import annotations

import re
from typing import Literal

from .intent import signals
from .text import normalize

QuestionType = Literal["pre_sales", "after_sales", "technical", "complaint"]
QUESTION_TYPES: tuple[QuestionType, ...] = ("pre_sales", "after_sales", "technical", "complaint")

# Article category → question type (a tenant's categories outside this map fall back to keywords).
CATEGORY_TYPES: dict[str, QuestionType] = {
    "shipping": "pre_sales", "products": "pre_sales", "promotions": "pre_sales", "payment": "pre_sales",
    "general": "pre_sales", "pricing": "pre_sales", "orders": "after_sales", "returns": "after_sales",
    "warranty": "after_sales", "account": "technical", "technical": "technical",
}

_KEYWORDS: dict[QuestionType, re.Pattern[str]] = {
    "pre_sales": re.compile(
        r"\b(price|prices|cost|how much|discount|coupon|promo|in stock|available|size|sizes|material|"
        r"ship to|shipping cost|delivery time|do you (sell|have|ship|offer|accept)|can i (buy|order|pay)|"
        r"buy|purchase|recommend|gift card|bulk|wholesale)\b"
        r"|多少钱|价格|优惠|折扣|有货|库存|尺码|材质|包邮|运费|能买|想买|购买|推荐|支持.*支付|批发|礼品卡"),
    "after_sales": re.compile(
        r"\b(my order|order number|tracking|track|where is my|refund|return|exchange|damaged|broken|"
        r"wrong item|missing|not received|never (arrived|got)|cancel|warranty|repair|invoice|delivered)\b"
        r"|我的订单|订单号|物流|快递|退款|退货|换货|坏了|破损|发错|没收到|取消订单|保修|维修|发票|签收"),
    "technical": re.compile(
        r"\b(log ?in|password|verification|sms|otp|code not|error|bug|crash|app|website|page|"
        r"checkout (error|fail)|not loading|browser|account)\b"
        r"|登录|登陆|密码|验证码|短信|报错|闪退|打不开|网页|网站|app|账号|账户|页面"),
}


def classify_question(text: str, index: object | None = None) -> QuestionType:
    """The question type of `text`, for routing.

    Parameters
    ----------
    text:
        The visitor's message, any mix of English and Chinese.
    index:
        Optional `chalicelib.kb.search.Index` of the tenant's articles: a confident
        match's category decides when keywords do not.
    """
    s = signals(text)
    if s.complaint or s.angry:
        return "complaint"
    t = normalize(text)
    counts = {kind: len(pattern.findall(t)) for kind, pattern in _KEYWORDS.items()}
    best = max(counts.values())
    if index is not None:
        from .search import Index

        if isinstance(index, Index):
            hits = index.search(text, limit=1)
            if hits and hits[0].confidence >= 0.5:
                category = index.documents[hits[0].doc_id].category
                kind = CATEGORY_TYPES.get(category)
                if kind and (best == 0 or counts[kind] == best):
                    return kind
    if best == 0:
        return "pre_sales"  # a first question with no after-sales or technical sign is usually pre-sales
    for kind in ("after_sales", "technical", "pre_sales"):  # ties: the more specific need first
        if counts[kind] == best:  # type: ignore[index]
            return kind  # type: ignore[return-value]
    return "pre_sales"


def message_type(text: str) -> str | None:
    """The routing rules' spelling of the question type ("pre-sales", "after-sales",
    "technical", "complaint"), or None when the message gives no sign of any (a greeting):
    the drop-in replacement for routing's keyword classifier."""
    s = signals(text)
    t = normalize(text)
    if not (s.complaint or s.angry or any(p.search(t) for p in _KEYWORDS.values())):
        return None
    return classify_question(text).replace("_", "-")
