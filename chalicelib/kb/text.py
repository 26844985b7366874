"""Text normalisation and tokenisation for English and Chinese.

- Full-width forms fold to half-width (NFKC), case folds, traditional Chinese folds to
  simplified (OpenCC's t2s tables, `opencc-python-reimplemented`).
- English words are stemmed (Snowball) after chat slang is expanded; each word also
  yields character trigrams, so a typo still shares most of its grams with the word.
- Chinese runs are segmented into words (`rjieba`, the jieba-rs binding: jieba's
  dictionary and algorithm, compiled) and also yield character bigrams, so a
  segmentation that differs between article and question still overlaps.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"[{_CJK}]+|[a-z0-9]+(?:'[a-z]+)?")
_HAS_CJK = re.compile(rf"[{_CJK}]")
_REPEATS = re.compile(r"([a-z])\1{2,}")  # "soooo" → "soo"

# Chat spellings → words (general English chat usage, not tuned to any knowledge base).
SLANG = {
    "u": "you", "ur": "your", "r": "are", "y": "why", "pls": "please", "plz": "please",
    "thx": "thanks", "ty": "thanks", "wanna": "want to", "gonna": "going to", "gotta": "have to",
    "cant": "can not", "can't": "can not", "cannot": "can not", "dont": "do not", "don't": "do not",
    "didnt": "did not", "didn't": "did not", "doesnt": "does not", "doesn't": "does not",
    "isnt": "is not", "isn't": "is not", "wont": "will not", "won't": "will not",
    "im": "i am", "i'm": "i am", "ive": "i have", "i've": "i have", "whats": "what is",
    "what's": "what is", "hows": "how is", "wheres": "where is", "where's": "where is",
    "idk": "i do not know", "asap": "soon", "b4": "before", "2day": "today", "tmrw": "tomorrow",
    "tmr": "tomorrow", "msg": "message", "pic": "picture", "pics": "pictures", "info": "information",
    "acct": "account", "pw": "password", "pwd": "password", "addr": "address", "qty": "quantity",
    "amt": "amount", "pmt": "payment", "deliv": "delivery", "ship'd": "shipped", "rcvd": "received",
    "recd": "received", "w/": "with", "w/o": "without", "abt": "about", "bc": "because", "cuz": "because",
    "coz": "because", "tho": "though", "hv": "have", "hav": "have", "wat": "what", "wut": "what",
    "sry": "sorry", "ok": "okay", "k": "okay", "yr": "your", "ya": "you", "da": "the", "teh": "the",
    "n": "and", "nd": "and", "&": "and", "2": "to", "4": "for",
    "hw": "how", "smth": "something", "sth": "something", "thru": "through", "rn": "now",
    "pkg": "package", "bday": "birthday", "ppl": "people", "prob": "probably",
}

EN_STOP = frozenset("""
a an the and or but if then so of to in on at by for with from as into about over after before
is are was were be been being am do does did doing have has had having will would shall should can
could may might must i me my mine we us our you your yours he him his she her it its they them their
this that these those there here what which who whom whose hi hello hey please
thanks thank okay just also too very really any some all not no yes yeah get got gets need want
like know tell say help question ask anyone someone something thing things one much many more most
again still only even well oh um uh hmm lol guys guy sir madam dear pretty quite going let
stuff till until anything anymore ever way lot lots maybe actually basically kind sort got gotten
""".split())

ZH_STOP = frozenset("""
的 了 吗 呢 吧 啊 呀 嘛 哦 喔 哈 么 我 你 您 他 她 它 我们 你们 他们 是 在 有 和 与 及 或 就 都 也 还 又 要 想 会 能 可以
请问 请 问 一下 一个 这个 那个 这 那 什么 怎么 怎么样 怎样 如何 为什么 哪里 哪 多少 吗? 谢谢 你好 您好 麻烦 帮 帮忙
知道 告诉 下 个 吗 嗯 呃 哎 诶 喂 对 不 没 没有 已经 时候 的话 现在 一直 给 让 把 被 从 到 对于 关于 上 中 里
有没有 能不能 是不是 可不可以 东西 还能 怎么办 怎样 一些 一点 那么 这么 然后 所以 因为 但是
""".split())


@dataclass(frozen=True)
class Tokens:
    """A text's terms: `words` (stems and Chinese words) for exact matching and
    `grams` (English character trigrams, Chinese character bigrams) for fuzzy matching;
    `surface`: an English stem's word as written (for typo correction and word frequency)."""

    words: list[str] = field(default_factory=list)
    grams: list[str] = field(default_factory=list)
    surface: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=1)
def _t2s() -> Any:
    from opencc import OpenCC  # lazy: only text with Chinese needs it

    return OpenCC("t2s")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def _segment(run: str) -> list[str]:
    import rjieba  # lazy: about 100 ms to load its dictionary on first use

    return [w for w in rjieba.cut(run) if w.strip()]


def has_cjk(text: str) -> bool:
    return bool(_HAS_CJK.search(text))


# Simplified variants that OpenCC keeps apart but visitors use interchangeably (帐户/账户, 到帐/到账).
_VARIANTS = str.maketrans({"帐": "账"})


# Written Cantonese → Mandarin: the words and particles Cantonese writes its own way (in
# traditional and simplified forms), so that "呢件衫冇貨喇，幾時補返？" meets articles written
# in Mandarin as "这件衣服没货了，什么时候补货？" does. Only forms that are not also Mandarin
# words, or only where they are not: 係 (是) not inside 關係 / 联系 / 體系, 呢 (这) only before a
# measure word, 點 (怎么) only in its Cantonese phrases and before a verb (點先 not after a number:
# "三點先落單" is "ordered only at three"), 仲 (还) not in 仲裁,
# 衫 (衣服) not in 衬衫, 咋 a final particle but Mandarin's 怎么 before a word ("咋办"), 著 (穿)
# only before a size or clothes (not 著名, 等著), 細 (小) only by a size word (not 仔細), 蚊 (元)
# only after a numeral. Since session 17 also Cantonese vocabulary (唔該 is "please", not 不该;
# 窿, 頸巾, 碌卡 ...) and Taiwan's words for what the mainland says otherwise (保固, 簡訊, 登入 ...):
# architecture.md, "Regional words".
_CANTONESE = {
    "係咪": "是不是", "系咪": "是不是", "係唔係": "是不是", "系唔系": "是不是", "唔係": "不是", "唔系": "不是",
    "有冇": "有没有", "可唔可以": "可不可以", "得唔得": "行不行", "使唔使": "用不用", "要唔要": "要不要",
    "點解": "为什么", "点解": "为什么", "點樣": "怎样", "点样": "怎样", "點算": "怎么办", "点算": "怎么办",
    "幾時": "什么时候", "几时": "什么时候", "幾耐": "多久", "几耐": "多久",
    "幾多": "多少", "几多": "多少", "邊度": "哪里", "边度": "哪里", "邊處": "哪里", "边处": "哪里",
    "邊個": "哪个", "边个": "哪个", "邊間": "哪家", "边间": "哪家",
    "而家": "现在", "依家": "现在", "乜嘢": "什么", "乜": "什么", "咩": "什么", "賣晒": "卖完", "卖晒": "卖完",
    "嘅": "的", "喺": "在", "唔": "不", "冇": "没有", "咗": "了", "俾": "给", "畀": "给", "啲": "些", "嘢": "东西",
    "睇": "看", "搵": "找", "揾": "找", "佢哋": "他们", "佢": "他", "哋": "们", "嚟": "来", "噉": "这样",
    "咁": "这么", "嗰": "那", "攞": "拿", "啱": "对", "㗎": "", "喎": "", "啩": "", "嘞": "", "囉": "",
    "聽日": "明天", "听日": "明天", "尋日": "昨天", "寻日": "昨天", "琴日": "昨天", "今朝": "今天早上",
    "下晝": "下午", "下昼": "下午", "朝早": "早上", "落單": "下单", "落单": "下单",
    "唔該": "请", "唔该": "请", "唔好": "不要", "唔好意思": "不好意思", "好唔好": "好不好", "有冇得": "能不能", "冇得": "不能", "幾錢": "多少钱", "几钱": "多少钱",
    "撳": "点击", "窿": "洞", "頸巾": "围巾", "颈巾": "围巾", "波鞋": "运动鞋", "報數": "报销", "报数": "报销",
    "屋企": "家", "搞掂": "搞定", "唔使": "不用", "唔得": "不行", "唔記得": "忘了", "唔记得": "忘了", "咁耐": "这么久",
    "俾錢": "付钱", "畀錢": "付钱", "俾钱": "付钱", "畀钱": "付钱", "碌卡": "刷卡", "速遞": "快递", "速递": "快递",
    "埋單": "结账", "埋单": "结账", "電郵": "邮件", "电邮": "邮件",
    # Taiwan's words for what the mainland says otherwise
    "保固": "保修", "公分": "厘米", "簡訊": "短信", "简讯": "短信", "折價券": "优惠券", "折价券": "优惠券",
    "超商": "便利店", "宅配": "送货上门", "帳號": "账号", "帐号": "账号", "登入": "登录", "訊息": "消息", "讯息": "消息",
    "統一編號": "税号", "统一编号": "税号", "統編": "税号", "统编": "税号",
}
_IN_CONTEXT = (  # (pattern, Mandarin)
    (r"(?<![關关聯联體体維维干幹])係", "是"), (r"呢(?=[個个度件啲些款隻只條条對对張张])", "这"),
    (r"點(?=[做用搞知處处辦办])", "怎么"), (r"仲(?![裁夏介])", "还"), (r"(?<![衬襯])衫", "衣服"),
    (r"咋(?=[\u4e00-\u9fff])", "怎么"), (r"咋", ""), (r"喇(?![叭嘛])", "了"),
    (r"(?<![0-9０-９一二三四五六七八九十兩两幾几半])[點点]先", "怎样才"),
    (r"著(?=\s*(?:開|开|[衫鞋褲裤裙]|[smlxSMLX]{1,3}(?![a-zA-Z])|[0-9]))", "穿"), (r"(?<=[偏好太較较])細|細(?=[件碼码號号])", "小"),
    (r"(?<=[0-9０-９十百千])蚊", "元"))
# The table's words longest first, then each in-context form as a named group (c0, c1, ...),
# so a match says which one it was.
_CANTONESE_RE = re.compile("|".join([*sorted(map(re.escape, _CANTONESE), key=len, reverse=True),
                                      *(f"(?P<c{i}>{p})" for i, (p, _) in enumerate(_IN_CONTEXT))]))


# English shop words in a Chinese message ("想cancel點搞", "tracking number會send去我email定係..."),
# as Hong Kong, Singapore and Malaysia write: put in the Mandarin the articles use. Shop
# vocabulary only (names — app, iphone, paypal — stay as they are); phrases before their words.
_MIXED = {
    "tracking number": "快递单号", "tracking no": "快递单号", "tracking code": "快递单号", "order number": "订单号",
    "order no": "订单号", "promo code": "优惠码", "discount code": "优惠码", "coupon code": "优惠码",
    "voucher code": "优惠码", "gift card": "礼品卡", "credit card": "信用卡", "debit card": "借记卡",
    "shipping fee": "运费", "delivery fee": "运费", "shipping cost": "运费", "free shipping": "包邮",
    "free delivery": "包邮", "size chart": "尺码表", "size guide": "尺码表", "price drop": "降价",
    "price protection": "价格保护", "sold out": "卖完", "out of stock": "缺货", "in stock": "有货",
    "delete account": "注销账户", "customer service": "客服", "return label": "退货标签",
    "verification code": "验证码", "log in": "登录", "sign in": "登录",
    "cancel": "取消", "cancelled": "取消了", "canceled": "取消了", "refund": "退款", "refunded": "退款了",
    "return": "退货", "exchange": "换货", "order": "订单", "tracking": "物流", "track": "查物流",
    "express": "加急快递", "standard": "普通快递", "shipping": "配送", "delivery": "配送", "ship": "发货",
    "shipped": "发货了", "delivered": "已送达", "parcel": "包裹", "package": "包裹", "size": "尺码",
    "discount": "折扣", "coupon": "优惠券", "voucher": "优惠券", "promo": "优惠", "invoice": "发票",
    "receipt": "收据", "warranty": "保修", "repair": "维修", "password": "密码", "login": "登录",
    "account": "账户", "checkout": "结账", "payment": "付款", "pay": "付款", "declined": "被拒",
    "decline": "被拒", "restock": "补货", "stock": "库存", "address": "地址", "email": "邮件", "e-mail": "邮件",
    "sms": "短信", "otp": "验证码", "newsletter": "订阅邮件", "unsubscribe": "退订", "send": "发", "data": "数据",
    "download": "下载", "price": "价格", "sale": "打折", "fee": "费用", "card": "卡",
}
_MIXED_RE = re.compile(r"(?<![a-z])(" + "|".join(map(re.escape, sorted(_MIXED, key=len, reverse=True)))
                       + r")(?![a-z])", re.IGNORECASE)


def mandarin(text: str) -> str:
    """`text` with written Cantonese and Taiwan's own words put as mainland Mandarin
    (`_CANTONESE`), and English shop words in it as Chinese (`_MIXED`); text without Chinese
    unchanged."""
    if not _HAS_CJK.search(text):
        return text

    def swap(match: re.Match[str]) -> str:
        if match.lastgroup:  # one of _IN_CONTEXT
            return _IN_CONTEXT[int(match.lastgroup[1:])][1]
        return _CANTONESE[match.group(0)]

    text = _CANTONESE_RE.sub(swap, text)
    return _MIXED_RE.sub(lambda m: _MIXED[re.sub(r"\s+", " ", m.group(1).lower())], text)


def simplified(text: str) -> str:
    """`text` with traditional Chinese characters put as simplified (OpenCC t2s); other text unchanged."""
    return _t2s().convert(text) if has_cjk(text) else text


def normalize(text: str) -> str:
    """Full-width → half-width, case folded, written Cantonese → Mandarin, traditional →
    simplified Chinese."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if has_cjk(text):
        text = simplified(mandarin(text)).translate(_VARIANTS)
    return text


def detect_locale(text: str) -> str:
    """"zh" when the text holds at least two Chinese characters (mixed text included), else "en"."""
    return "zh" if len(_HAS_CJK.findall(text)) >= 2 else "en"


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    return str(_stemmer().stemWord(word))


def english_words(run: str) -> list[str]:
    """Slang expanded, stop words dropped, stemmed."""
    return [s for s, _ in _english_words(run)]


def _english_words(run: str) -> list[tuple[str, str]]:
    """(stem, word) pairs of a run of letters and digits."""
    run = _REPEATS.sub(r"\1\1", run)
    out = []
    for word in SLANG.get(run, run).split():
        word = word.replace("'", "")
        if word in EN_STOP or (len(word) < 2 and not word.isdigit()):
            continue
        out.append((stem(word), word))
    return out


def trigrams(word: str) -> list[str]:
    padded = f"#{word}#"
    return [padded[i:i + 3] for i in range(len(padded) - 2)] if len(word) > 2 else [padded]


def tokenize(text: str, normalized: bool = False) -> Tokens:
    """Terms of `text` for ranking (see `Tokens`)."""
    text = text if normalized else normalize(text)
    words: list[str] = []
    grams: list[str] = []
    surface: dict[str, str] = {}
    for run in _RUNS.findall(text):
        if _HAS_CJK.match(run):
            for word in _segment(run):
                if word not in ZH_STOP:
                    words.append(word)
            chars = [c for c in run]
            if len(chars) == 1:
                if run not in ZH_STOP:
                    grams.append(run)
            else:
                grams.extend(a + b for a, b in zip(chars, chars[1:]))
        else:
            for word, written in _english_words(run):
                words.append(word)
                surface.setdefault(word, written)
                if not word.isdigit():
                    grams.extend(trigrams(word))
    return Tokens(words, grams, surface)
