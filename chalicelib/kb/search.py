"""Ranking articles for a question: BM25 over title + alternate phrasings + body.

Each article is a set of passages: its title and each alternate phrasing ("question"
passages, of which the best one counts) and its body (weighted lower). Two term kinds are
scored: `words` (stems, Chinese words, thesaurus concepts) and `grams` (character
n-grams, weighted lower) so typos and segmentation differences still match. English
words missing from the index's vocabulary are corrected to the nearest known word
(edit distance 1, or 2 for long words) before scoring.

`confidence` is a score in [0, 1] comparable across questions: the share of the
question's information (IDF-weighted terms) that the best article covers, so a
question about something the base never mentions ("do you sell furniture") stays low
even when one of its words matches.

With sentence encoders (`kb.embed`, one per language), questions are also matched by
meaning: every passage of an article (title, phrasings, body sentences) has a vector, and
an article's similarity is its best passage's cosine. Ranking and certainty then use a
share of the similarity and the rest of the word confidence (`SEMANTIC`, per language),
and the certainty is put on the confidence's scale (`_semantic_confidence`), so a
tenant's thresholds mean the same with or without an encoder.
"""
from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from .lexicon import is_common, is_real_word

if TYPE_CHECKING:
    from .embed import _Cached as Encoder
from .synonyms import CONCEPTS
from .text import Tokens, detect_locale, mandarin, normalize, simplified, stem, tokenize

K1 = 1.2
B = 0.75
BODY_WEIGHT = 0.35
GRAM_WEIGHT = 0.25
UNKNOWN_WEIGHT = 1.5
FOREIGN_WEIGHT = 0.4
COMMON_UNKNOWN_WEIGHT = 1.0
QUESTION_SHARE = 0.5



@dataclass(frozen=True)
class Semantic:
    """For a language with an encoder: the similarity's share in ranking and certainty, and
    the certainties mapped onto confidences 0.36 and 0.45 (`_semantic_confidence`): the
    least summed miss on the development part (architecture.md). The bot hands over below
    the clarify threshold, 0.37 by default since session 20 (certainty 0.624 in English,
    0.427 in Chinese): the mapping's slope, and with it the answer path, stayed."""

    share: float
    handoff: float
    answer: float
    # A message of several sentences or clauses is also embedded clause by clause (those
    # of at least this many characters), and the best of the message and its clauses gives
    # the certainty (the ranking stays the whole message's): a long, chatty message's
    # question is usually one of its parts. None: the whole message only.
    span_chars: int | None = None
    # The message (and each clause) is also embedded with the products it names put as
    # "item" / "商品": visitors name the thing ("the desk lamp doesnt even turn on"), the
    # articles speak of items and orders, and a product word pulls the sentence's vector
    # away from the article's (architecture.md, "Products named as items").
    generic_products: bool = True
    # Added to the certainty times the share of the message's NEIGHBOURS passages nearest in
    # meaning (over all the articles) that belong to the article: a question the base
    # answers sits among one article's phrasings, one it does not among several articles'
    # (architecture.md, "Neighbours agree").
    agreement: float = 0.0
    # Subtracted from the certainty times how much nearer in meaning the message (or a
    # span) is to a background question than to the article: what web shops are commonly
    # asked, less what this base answers (those of the background no passage of the tenant's
    # articles comes within `background_keep` of). `background.py`; architecture.md, "The
    # background".
    background: float = 0.0
    background_keep: float = 1.0
    # A background question within `background_keep` of a passage is kept all the same when
    # the words of its nearest article cover less than this of it (`Index._coverage`): near
    # the article's subject, asking what its text does not say ("能在别的门店退货吗" beside the
    # return policy). None: the nearness alone decides (architecture.md, "What the words
    # leave out").
    background_cover: float | None = None
    # Subtracted from an article's certainty times how much nearer the message (or a span) is
    # to one of the questions the article says it does not answer (`Document.not_answered`)
    # than to the article itself; a line at least `not_answered_near` close counts from
    # `not_answered_reach` below the article's best already (a question on the article's
    # subject close to what it says it does not answer usually asks that detail, even when a
    # phrasing is a little closer still; architecture.md, "How near a line must come").
    not_answered: float = 0.0
    not_answered_near: float = 1.0
    not_answered_reach: float = 0.0


NEIGHBOURS = 5
SEMANTIC = {"en": Semantic(share=0.8, handoff=0.61, answer=0.74, span_chars=12, agreement=0.15,
                           background=2.0, background_keep=0.70, not_answered=2.0,
                           not_answered_near=0.65, not_answered_reach=0.10),
            "zh": Semantic(share=0.5, handoff=0.41, answer=0.565, span_chars=4,
                           background=2.0, background_keep=0.75, background_cover=0.55, not_answered=2.0,
                           not_answered_near=0.65, not_answered_reach=0.10)}
_CLAUSE = re.compile(r"[.?!;。！？；\n]+|,\s+|，")
SEMANTIC_CANDIDATES = 8
MAX_PASSAGES = 64  # float16 vectors: 48 kB (English) or 64 kB (Chinese) at most per article
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|\n+")
_MARKDOWN = re.compile(r"[*_`#>\[\]()!|~-]+")

# What a shop's visitors name when they mean "the item": clothes, accessories, small
# electronics and homeware (a general list, not the demo shop's catalogue).
_PRODUCTS = {
    "en": ("lamp mug cup jacket hoodie shirt t-shirt tshirt tee dress shoe shoes sneaker sneakers boot boots "
           "speaker tablet earbuds headphones laptop sweater coat scarf top jeans pants trousers shorts "
           "skirt bag backpack wallet belt hat cap socks sock blouse cardigan jumper watch smartwatch necklace "
           "bracelet ring earrings sunglasses blender kettle toaster vase pillow blanket towel candle charger "
           "cable keyboard mouse camera suit blazer vest leggings bikini swimsuit pajamas sandals heels loafers "
           "trainers gloves umbrella perfume lipstick sofa chair desk plate bowl glass"),
    "zh": ("衣服 裙子 连衣裙 外套 夹克 卫衣 衬衫 T恤 毛衣 大衣 羽绒服 围巾 裤子 牛仔裤 短裤 鞋子 球鞋 运动鞋 "
           "靴子 背包 钱包 帽子 袜子 手表 项链 耳环 眼镜 杯子 马克杯 台灯 音箱 耳机 平板电脑 充电器 毯子 枕头 "
           "毛巾 蜡烛 花瓶"),
}
_GENERIC = {"en": "item", "zh": "商品"}
_PRODUCT_PATTERNS: dict[str, re.Pattern[str]] = {}


def generic_products(text: str, locale: str) -> str:
    """`text` with the products it names put as the generic "item" (English) or "商品"."""
    pattern = _PRODUCT_PATTERNS.get(locale)
    if pattern is None:
        words = sorted(_PRODUCTS.get(locale, "").split(), key=len, reverse=True)
        if not words:
            return text
        one = "(?:" + "|".join(map(re.escape, words)) + ")"
        # A run of them ("desk lamp") is one item. Chinese has no spaces and no \b between words:
        # its list keeps to words that are not the start of other shop words (包 of 包裹, 手机 of 手机号).
        pattern = re.compile(rf"\b{one}(?:\s+{one})*\b" if locale == "en" else f"{one}+", re.IGNORECASE)
        _PRODUCT_PATTERNS[locale] = pattern
    return pattern.sub(_GENERIC[locale], text)


def spans(query: str, locale: str) -> list[str]:
    """What is embedded of a message in `locale`: the message first (it alone ranks), then
    its clauses (`Semantic.span_chars`), those in Mandarin when written in Cantonese
    (`text.mandarin`: the articles are written in Mandarin), those in simplified characters
    when written in traditional ones (`text.simplified`: the articles are written in simplified;
    the encoder reads both, but a passage's own script is nearer), and each of those with its
    products as items (`Semantic.generic_products`), which may only raise the certainty."""
    semantic = SEMANTIC[locale]
    found = [query]
    if semantic.span_chars is not None:
        clauses = [c.strip() for c in _CLAUSE.split(query) if len(c.strip()) >= semantic.span_chars]
        found += clauses if len(clauses) >= 2 else []
    if locale == "zh":
        found += [m for m in dict.fromkeys(mandarin(f) for f in found) if m not in found]
        found += [m for m in dict.fromkeys(simplified(f) for f in found) if m not in found]
    if semantic.generic_products:
        found += [g for g in dict.fromkeys(generic_products(f, locale) for f in found) if g not in found]
    return found


@dataclass(frozen=True)
class Document:
    """What the index needs from an article."""

    doc_id: str
    title: str
    body: str = ""
    phrasings: tuple[str, ...] = ()
    locale: str = "en"
    category: str = ""
    # Questions on the article's subject that it does not answer, written by the tenant: a
    # message nearer one of them than to the article lowers the article's certainty, as the
    # background does (`Semantic.not_answered`; architecture.md, "What an article does not
    # answer"). Embedded and stored with the passages' vectors, never matched as passages.
    not_answered: tuple[str, ...] = ()

    def passages(self) -> list[str]:
        """What the encoder embeds: the title, each phrasing and each body sentence, at most
        MAX_PASSAGES (a long body's later sentences are left to word matching; the vectors
        must fit the article's item, 400 KB in DynamoDB)."""
        body = [p.strip() for p in _SENTENCE.split(_MARKDOWN.sub(" ", self.body))]
        return [self.title, *self.phrasings, *(p for p in body if len(p) > 3)][:MAX_PASSAGES]

    def vector_texts(self) -> list[str]:
        """What is embedded and stored with the article: its passages, then the questions it
        does not answer."""
        return [*self.passages(), *self.not_answered]


@dataclass(frozen=True)
class Hit:
    doc_id: str
    score: float
    confidence: float


@dataclass
class _Field:
    """BM25 statistics of one passage kind (question passages or bodies) for one term kind."""

    df: Counter[str] = field(default_factory=Counter)
    n: int = 0
    total_len: int = 0
    # Each term's idf as asked (a question's words are asked of every article): cleared by add().
    _idf: dict[str, float] = field(default_factory=dict, repr=False, compare=False)

    def add(self, terms: Sequence[str]) -> None:
        self.n += 1
        self.total_len += len(terms)
        self.df.update(set(terms))
        self._idf.clear()

    @property
    def avg_len(self) -> float:
        return self.total_len / self.n if self.n else 1.0

    def idf(self, term: str) -> float:
        found = self._idf.get(term)
        if found is None:
            df = self.df.get(term, 0)
            found = self._idf[term] = math.log(1 + (self.n - df + 0.5) / (df + 0.5))
        return found

    def bm25(self, query: Iterable[str], terms: Counter[str], length: int) -> float:
        if isinstance(query, (set, frozenset)) and query.isdisjoint(terms):
            return 0.0  # most passages share no term with a question: no loop for them
        score = 0.0
        norm = K1 * (1 - B + B * length / self.avg_len)
        for term in query:
            tf = terms.get(term, 0)
            if tf:
                score += self.idf(term) * tf * (K1 + 1) / (tf + norm)
        return score


@dataclass
class _Passages:
    question: list[tuple[Counter[str], int]]
    body: tuple[Counter[str], int]


_CONCEPT_TABLE: dict[str, tuple[set[str], tuple[str, ...]]] = {}


def _concept_table() -> dict[str, tuple[set[str], tuple[str, ...]]]:
    if not _CONCEPT_TABLE:
        for name, (english, chinese) in CONCEPTS.items():
            _CONCEPT_TABLE["~" + name] = ({stem(w) for w in english if " " not in w},
                                          tuple(normalize(c) for c in chinese))
    return _CONCEPT_TABLE


@functools.lru_cache(maxsize=20_000)
def concepts_of(word: str) -> frozenset[str]:
    """Thesaurus concepts a single word (stem or Chinese word) belongs to (the thesaurus is a
    constant: a word's concepts are looked up once per process, then remembered)."""
    return frozenset(name for name, (english, chinese) in _concept_table().items()
                     if word in english or any(c in word for c in chinese))


def _concepts(text: str, words: Sequence[str]) -> list[str]:
    found: set[str] = set()
    for word in words:
        found |= concepts_of(word)
    for name, (_english, chinese) in _concept_table().items():
        if any(c in text for c in chinese):  # across a segmentation boundary too
            found.add(name)
    return sorted(found)


def analyse(text: str) -> Tokens:
    """Tokens of a text plus its thesaurus concepts (as words)."""
    normalized = normalize(_MARKDOWN.sub(" ", text))
    tokens = tokenize(normalized, normalized=True)
    return Tokens(tokens.words + _concepts(normalized, tokens.words), tokens.grams, tokens.surface)


def _with_centroid(vectors: Any, questions: int) -> Any:
    """`vectors` with one more unit row: the mean direction of its first `questions` rows."""
    import numpy as np

    if not questions:
        return vectors
    centroid = vectors[:questions].astype(np.float32).mean(axis=0)
    norm = float(np.linalg.norm(centroid))
    if norm == 0.0:
        return vectors
    return np.vstack([vectors, (centroid / norm).astype(vectors.dtype)[None, :]])


def _semantic_confidence(certainty: float, semantic: Semantic) -> float:
    """A certainty on the word confidence's scale: the line through (handoff, 0.36) and
    (answer, 0.45), clipped to [0, 1]."""
    slope = (0.45 - 0.36) / (semantic.answer - semantic.handoff)
    return round(min(1.0, max(0.0, 0.36 + (certainty - semantic.handoff) * slope)), 6)


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a swap of two letters costs 1), capped at limit + 1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


class Index:
    """An in-memory BM25 index of one tenant's articles (built in milliseconds for hundreds)."""

    def __init__(self, documents: Iterable[Document], encoders: Mapping[str, Encoder] | None = None,
                 vectors: Callable[[Document], Any] | None = None) -> None:
        """`encoders` (by locale): match questions in those languages by meaning too.
        `vectors(document)` gives a document's passage vectors as stored with its article,
        or None: then they are computed (and cached by the encoder)."""
        self.documents: dict[str, Document] = {}
        self.encoders = dict(encoders or {})
        self._vectors_of = vectors
        self._passage_vectors: dict[str, Any] = {}
        self._words: dict[str, _Passages] = {}
        self._grams: dict[str, _Passages] = {}
        self._q_words, self._b_words = _Field(), _Field()
        self._q_grams, self._b_grams = _Field(), _Field()
        self._all_words = _Field()  # one passage per article: for confidence
        self._all_grams = _Field()
        # Terms of the whole article, and of its question passages alone (title, phrasings).
        self._doc_words: dict[str, set[str]] = {}
        self._doc_grams: dict[str, set[str]] = {}
        self._question_words: dict[str, set[str]] = {}
        self._question_grams: dict[str, set[str]] = {}
        self._chars: dict[tuple[str, bool], set[str]] = {}
        self._corrections: dict[str, str] = {}
        self._backgrounds: dict[str, Any] = {}
        self._not_answered: dict[str, Any] = {}
        for document in documents:
            self._add(document)
        self._vocabulary = {t for t in self._all_words.df if t.isascii() and t.isalpha() and not t.startswith("~")}

    def _add(self, document: Document) -> None:
        self.documents[document.doc_id] = document
        questions = [analyse(t) for t in (document.title, *document.phrasings)]
        body = analyse(document.body)
        words, grams = [], []
        for tokens in questions:
            self._q_words.add(tokens.words)
            self._q_grams.add(tokens.grams)
            words.append((Counter(tokens.words), len(tokens.words)))
            grams.append((Counter(tokens.grams), len(tokens.grams)))
        self._b_words.add(body.words)
        self._b_grams.add(body.grams)
        self._words[document.doc_id] = _Passages(words, (Counter(body.words), len(body.words)))
        self._grams[document.doc_id] = _Passages(grams, (Counter(body.grams), len(body.grams)))
        all_words = {w for tokens in questions for w in tokens.words} | set(body.words)
        all_grams = {g for tokens in questions for g in tokens.grams} | set(body.grams)
        self._all_words.add(list(all_words))
        self._all_grams.add(list(all_grams))
        self._doc_words[document.doc_id] = all_words
        self._doc_grams[document.doc_id] = all_grams
        self._question_words[document.doc_id] = {w for tokens in questions for w in tokens.words}
        self._question_grams[document.doc_id] = {g for tokens in questions for g in tokens.grams}

    def __len__(self) -> int:
        return len(self.documents)

    def correct(self, words: Sequence[str], surface: dict[str, str] | None = None) -> list[str]:
        """Replace unknown English words by the most common known word within a small edit
        distance (of equally common ones the first in alphabetical order: the same answer in every
        container, whatever the set's hash order); a real English word (`surface` gives the
        word as written) is kept as it is."""
        out = []
        for word in words:
            if word in self._all_words.df or not (word.isascii() and word.isalpha()) or len(word) < 4:
                out.append(word)
                continue
            if surface is not None and is_real_word(surface.get(word, word)):
                out.append(word)
                continue
            if word in self._corrections:
                out.append(self._corrections[word])
                continue
            limit = 1 if len(word) < 7 else 2
            best, best_key = word, (limit + 1, 0, "")
            for known in self._vocabulary:
                if abs(len(known) - len(word)) > limit or known[0] != word[0] and known[:2] != word[1::-1]:
                    continue
                distance = _edit_distance(word, known, limit)
                key = (distance, -self._all_words.df[known], known)
                if distance <= limit and key < best_key:
                    best, best_key = known, key
            if len(self._corrections) < 10_000:
                self._corrections[word] = best
            out.append(best)
        return out

    def search(self, query: str, locale: str | None = None, limit: int = 5) -> list[Hit]:
        """Best articles for `query`, best first. `locale` (detected from the query when
        None) is preferred: other locales are searched only if it has no article."""
        words, grams, surface = self._read(query)
        if not words and not grams:
            return []
        locale = locale or detect_locale(query)
        candidates = [d for d in self.documents.values() if d.locale == locale] or list(self.documents.values())
        q_words, q_grams = set(words), set(grams)
        scored = []
        for document in candidates:
            w, g = self._words[document.doc_id], self._grams[document.doc_id]
            score = max((self._q_words.bm25(q_words, c, n) for c, n in w.question), default=0.0)
            score += BODY_WEIGHT * self._b_words.bm25(q_words, *w.body)
            gram_score = max((self._q_grams.bm25(q_grams, c, n) for c, n in g.question), default=0.0)
            gram_score += BODY_WEIGHT * self._b_grams.bm25(q_grams, *g.body)
            score += GRAM_WEIGHT * gram_score
            if score > 0:
                scored.append((-score, document.doc_id))
        scored.sort()
        if locale in self.encoders and locale in SEMANTIC and any(d.locale == locale for d in candidates):
            return self._semantic(query, candidates, scored, q_words, q_grams, surface, limit)
        # Confidence only for the articles returned: it costs more than the ranking.
        return [Hit(doc_id, -negative, self.confidence(doc_id, q_words, q_grams, surface))
                for negative, doc_id in scored[:limit]]

    def vectors(self, document: Document) -> Any:
        """A document's passage vectors (one unit row per passage), computed once, and one
        more row: the centroid of its question passages (title and phrasings), which a
        question worded unlike any single phrasing may still be close to."""
        found = self._passage_vectors.get(document.doc_id)
        if found is None:
            if self._vectors_of is not None:
                found = self._vectors_of(document)
            if found is None:
                found = self.encoders[document.locale].passages(document.vector_texts())
            passages = len(found) - len(document.not_answered)
            self._not_answered[document.doc_id] = found[passages:]
            found = _with_centroid(found[:passages], min(1 + len(document.phrasings), passages))
            self._passage_vectors[document.doc_id] = found
        return found

    def not_answered(self, document: Document) -> Any:
        """The vectors of the questions `document` does not answer (rows; none: zero rows)."""
        self.vectors(document)
        return self._not_answered[document.doc_id]

    def background(self, locale: str) -> Any:
        """The background questions' vectors (`background.py`) that no passage of this
        index's articles in `locale` is within `Semantic.background_keep` of, or whose
        nearest article's words cover less than `Semantic.background_cover` of them: what
        shops are asked that this base does not answer. Computed once per index."""
        found = self._backgrounds.get(locale)
        if found is None:
            import numpy as np

            from . import background

            found = background.vectors(locale, self.encoders[locale])
            semantic = SEMANTIC[locale]
            documents = [d for d in self.documents.values() if d.locale == locale and len(self.vectors(d))]
            if len(found) and documents:
                # Each background question's nearness to each article (its best passage).
                near = np.column_stack([(found @ self.vectors(d).T).max(axis=1) for d in documents])
                keep = near.max(axis=1) < semantic.background_keep
                if semantic.background_cover is not None:
                    texts = background.texts(locale)
                    for i in np.flatnonzero(~keep):
                        nearest = documents[int(near[i].argmax())].doc_id
                        keep[i] = self._question_coverage(nearest, texts[i]) < semantic.background_cover
                found = found[keep]
            self._backgrounds[locale] = found
        return found

    def _question_coverage(self, doc_id: str, text: str) -> float:
        """How much of `text`'s words the article covers (`_coverage`, words read as a
        message's are)."""
        words, grams, surface = self._read(text)
        return self._coverage(doc_id, set(words), set(grams), surface)

    def _read(self, text: str) -> tuple[list[str], list[str], dict[str, str]]:
        """A message's words (typos corrected to the base's words), n-grams and surface forms."""
        tokens = analyse(text)
        words = self.correct(tokens.words, tokens.surface)
        if words != tokens.words:  # a corrected word may be a thesaurus word too
            words = list(dict.fromkeys(words + _concepts("", words)))
        return words, tokens.grams, tokens.surface

    def _semantic(self, query: str, candidates: list[Document], scored: list[tuple[float, str]],
                  q_words: set[str], q_grams: set[str], surface: dict[str, str], limit: int) -> list[Hit]:
        """The articles closest in meaning and the best by words, ranked by a share of the
        whole message's similarity plus the rest of word confidence; their certainty is the
        same with the best of the message's spans (`spans`: its clauses, products as items)."""
        locale = candidates[0].locale
        semantic = SEMANTIC[locale]
        questions = self.encoders[locale].encode(spans(query, locale))
        whole, best = {}, {}
        nearest: list[tuple[float, str]] = []  # each article's NEIGHBOURS best passages for the message
        for document in candidates:
            vectors = self.vectors(document)
            if len(vectors):
                cosines = vectors @ questions.T
                whole[document.doc_id] = max(float(cosines[:, 0].max()), 0.0)
                best[document.doc_id] = max(float(cosines.max()), 0.0)
                if semantic.agreement:
                    column = cosines[:, 0]
                    nearest.extend((float(c), document.doc_id) for c in column[column.argsort()[-NEIGHBOURS:]])
        neighbours = Counter(doc_id for _, doc_id in sorted(nearest, reverse=True)[:NEIGHBOURS])
        unanswered = 0.0  # how near the message comes to what shops are asked and this base does not answer
        if semantic.background:
            kept = self.background(locale)
            unanswered = float((kept @ questions.T).max()) if len(kept) else 0.0
        closest = sorted(whole, key=lambda d: -whole[d])[:SEMANTIC_CANDIDATES]
        pool = dict.fromkeys([*closest, *(doc_id for _, doc_id in scored[:limit])])
        ranked = []
        for doc_id in pool:
            confidence = self.confidence(doc_id, q_words, q_grams, surface)
            score = semantic.share * whole.get(doc_id, 0.0) + (1 - semantic.share) * confidence
            certainty = semantic.share * best.get(doc_id, 0.0) + (1 - semantic.share) * confidence
            certainty += semantic.agreement * neighbours[doc_id] / NEIGHBOURS
            certainty -= semantic.background * max(0.0, unanswered - best.get(doc_id, 0.0))
            if semantic.not_answered and doc_id in best:
                lacking = self.not_answered(self.documents[doc_id])
                if len(lacking):
                    near = float((lacking @ questions.T).max())
                    reach = semantic.not_answered_reach if near >= semantic.not_answered_near else 0.0
                    certainty -= semantic.not_answered * max(0.0, near - best[doc_id] + reach)
            ranked.append(Hit(doc_id, round(score, 6), _semantic_confidence(certainty, semantic)))
        ranked.sort(key=lambda h: (-h.score, h.doc_id))
        return ranked[:limit]

    def confidence(self, doc_id: str, words: set[str], grams: set[str],
                   surface: dict[str, str] | None = None) -> float:
        """How sure the bot may be that the article answers the question, in [0, 1]: the
        question's coverage by the whole article blended with its coverage by the
        article's question passages (title and phrasings) alone. A question outside the
        base often shares a shop word or two with some article's body ("company",
        "products", "office"), rarely the words of what the article answers."""
        whole = self._coverage(doc_id, words, grams, surface, questions_only=False)
        asked = self._coverage(doc_id, words, grams, surface, questions_only=True)
        return (1 - QUESTION_SHARE) * whole + QUESTION_SHARE * asked

    def _coverage(self, doc_id: str, words: set[str], grams: set[str],
                  surface: dict[str, str] | None = None, questions_only: bool = False) -> float:
        """IDF-weighted share of the question's words found in the article, or in its question
        passages alone (a word also counts when a thesaurus concept of it does, and a Chinese
        word partly by its characters), blended with the share of its character n-grams."""
        if questions_only:
            doc_words, doc_grams = self._question_words[doc_id], self._question_grams[doc_id]
        else:
            doc_words, doc_grams = self._doc_words[doc_id], self._doc_grams[doc_id]
        stats = self._all_words
        content = [w for w in words if not w.startswith("~")]
        total = covered = 0.0
        doc_is_chinese = self.documents[doc_id].locale.startswith("zh")
        for word in content:
            weight = stats.idf(word)
            if word.isascii() == doc_is_chinese:
                # A word in the other language of a mixed question: only the thesaurus can
                # match it here, so its absence tells little.
                weight *= FOREIGN_WEIGHT
            elif word not in stats.df and not concepts_of(word):
                # A word the base never uses: the subject it does not cover, unless it is a
                # common English word (then it more likely says how, not what, is asked).
                common = word.isascii() and is_common((surface or {}).get(word, word))
                weight *= COMMON_UNKNOWN_WEIGHT if common else UNKNOWN_WEIGHT
            total += weight
            if word in doc_words or concepts_of(word) & doc_words:
                covered += weight
            elif not word.isascii():
                chars = self._doc_chars(doc_id, questions_only)
                covered += weight * 0.5 * sum(c in chars for c in word) / len(word)
        word_share = covered / total if total else 0.0
        gram_total = sum(self._all_grams.idf(g) for g in grams)
        gram_share = (sum(self._all_grams.idf(g) for g in grams & doc_grams) / gram_total) if gram_total else 0.0
        if not content:
            concepts = words - set(content)
            return 0.5 * gram_share + 0.5 * (len(concepts & doc_words) / len(concepts) if concepts else 0.0)
        return 0.7 * word_share + 0.3 * gram_share

    def _doc_chars(self, doc_id: str, questions_only: bool = False) -> set[str]:
        chars = self._chars.get((doc_id, questions_only))
        if chars is None:
            d = self.documents[doc_id]
            texts = (d.title, *d.phrasings) if questions_only else (d.title, d.body, *d.phrasings)
            chars = self._chars[(doc_id, questions_only)] = set(normalize(" ".join(texts)))
        return chars
