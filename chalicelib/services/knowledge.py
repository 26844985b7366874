"""The knowledge base: articles per tenant, their history, search for agents and
visitors, import/export, and the index the bot answers from."""
from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ..domain.clock import Clock
from ..domain.errors import ArticleNotFound, Forbidden, InvalidFrame, NotFound
from ..domain.ids import new_id
from ..domain.knowledge import (
    ARTICLE_STATUSES,
    LOCALES,
    Article,
    ArticleRepository,
    ArticleVersion,
    BotRepository,
    UnansweredQuestion,
    VectorsJob,
)
from ..domain.model import Identity
from ..domain.ports import TenantRepository

if TYPE_CHECKING:  # the ranking code loads with the first search, not with the handler
    from ..kb.search import Hit, Index

log = logging.getLogger("kefu.knowledge")
ARTICLE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_ARTICLES = 2000
# An import computes articles' vectors for this long at most (up to 500 articles may come
# in one request, the function has 15 s); it then starts the kb_vectors job for the rest
# (and the bot computes any it needs before the job is done).
IMPORT_VECTOR_SECONDS = 6.0
# Unanswered questions: the same group at this share of shared words, or this cosine
# (chosen on the development questions: same article = same group; architecture.md).
GROUP_JACCARD = 0.34
GROUP_COSINE = {"en": 0.60, "zh": 0.75}
MAX_PHRASINGS = 30
MAX_NOT_ANSWERED = 30  # questions an article says it does not answer (kb.search.Document.not_answered)
MAX_PHRASING_CHARS = 300
UNANSWERED_LISTED = 500  # the most recent unanswered questions the workbench lists (and teaching finds)
SUGGESTION_CONFIDENCE = 0.3


def _wording(text: str) -> str:
    """A phrasing as compared for duplicates: width, case, spacing and punctuation aside."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).casefold())


def _lines(texts: Iterable[str]) -> list[str]:
    """Non-empty lines, stripped, each wording once."""
    seen: set[str] = set()
    out = []
    for text in texts:
        text = " ".join(text.split())
        if text and _wording(text) not in seen:
            seen.add(_wording(text))
            out.append(text)
    return out


@dataclass(frozen=True)
class ArticleFields:
    """What an editor (or an import) sets on an article."""

    title: str
    body: str
    locale: str = "en"
    category: str = ""
    phrasings: tuple[str, ...] = ()
    status: str = "draft"
    not_answered: tuple[str, ...] = ()  # questions on its subject it does not answer

    def check(self) -> None:
        if self.locale not in LOCALES:
            raise InvalidFrame(f"locale must be one of {', '.join(LOCALES)}")
        if self.status not in ARTICLE_STATUSES:
            raise InvalidFrame("status must be draft or published")
        if not self.title.strip():
            raise InvalidFrame("an article needs a title")
        if len(self.phrasings) > MAX_PHRASINGS:
            raise InvalidFrame(f"at most {MAX_PHRASINGS} alternate phrasings")
        if len(self.not_answered) > MAX_NOT_ANSWERED:
            raise InvalidFrame(f"at most {MAX_NOT_ANSWERED} questions the article does not answer")
        said = {_wording(p) for p in (self.title, *self.phrasings)}
        both = [q for q in self.not_answered if q.strip() and _wording(q) in said]
        if both:
            raise InvalidFrame(f"{both[0][:70]!r} is both a phrasing of the article and a question it does "
                               "not answer")


@dataclass(frozen=True)
class SearchResult:
    article: Article
    score: float
    confidence: float


@dataclass(frozen=True)
class QuestionGroup:
    """Unanswered questions that look alike: a candidate for a new article."""

    representative: str
    count: int
    questions: list[UnansweredQuestion]
    locale: str
    # The question web shops are commonly asked (the bot's background) that the group's first
    # question means nearly the same as, or "": a name for what the base lacks.
    topic: str = ""


def _topic(vector: Any, locale: str, encoder: Any) -> str:
    """The background question written for it (kb/background.py: a clean name, not a visitor's
    words) that `vector` means nearly the same as (cosine ≥ GROUP_COSINE, the grouping's own
    bar), or ""."""
    if vector is None or encoder is None:
        return ""
    from ..kb import background

    questions = background.written(locale)
    if not questions:
        return ""
    # The background's rows begin with the written questions (background.texts).
    cosines = background.vectors(locale, encoder)[:len(questions)] @ vector
    best = int(cosines.argmax())
    return questions[best] if float(cosines[best]) >= GROUP_COSINE[locale] else ""


def _document(article: Article) -> Any:
    from ..kb.search import Document

    return Document(article.article_id, article.title, article.body, tuple(article.phrasings), article.locale,
                    article.category, tuple(article.not_answered))


def _with_vectors(article: Article, deadline: float | None = None) -> Article:
    """An article with its passages' vectors (kb.embed) for its language's encoder, computed
    once here so the bot's index need not compute them; none when no encoder is installed,
    or past `deadline` (time.monotonic()): a big import stays within the function's time,
    and the bot computes (and caches) what is missing."""
    from ..kb import embed

    encoder = embed.encoders().get(article.locale)
    if encoder is None or (deadline is not None and time.monotonic() > deadline):
        return replace(article, vectors=None)
    texts = _document(article).vector_texts()
    return replace(article, vectors=embed.pack(encoder.passages(texts), texts, encoder.model_id))


def _index(articles: Iterable[Article], keep: Callable[[Article, bytes], None] | None = None) -> Index:
    """An index of `articles`, matching questions by meaning in the languages whose encoder
    is installed; vectors stored with an article are used when they are still its own.
    Those it has to compute (an import past its time, another model) go to `keep`, if given,
    so the next container finds them stored."""
    from ..kb import embed
    from ..kb.search import Document, Index

    encoders = embed.encoders()
    by_id = {}
    documents = []
    for article in articles:
        documents.append(_document(article))
        by_id[article.article_id] = article

    def vectors(document: Document) -> Any:
        encoder = encoders[document.locale]
        texts = document.vector_texts()
        article = by_id[document.doc_id]
        found = embed.unpack(article.vectors, texts, encoder.dimensions, encoder.model_id)
        if found is None and keep is not None:
            found = encoder.passages(texts)
            keep(article, embed.pack(found, texts, encoder.model_id))
        return found

    return Index(documents, encoders=encoders, vectors=vectors)


def _require_agent(identity: Identity) -> None:
    if not identity.is_agent:
        raise Forbidden("only agents manage the knowledge base")


def _vectors_missing(article: Article) -> bool:
    """The article's stored vectors are not its passages' with its language's installed
    encoder (False when no encoder is installed: there is nothing to compute)."""
    from ..kb import embed

    encoder = embed.encoders().get(article.locale)
    if encoder is None:
        return False
    if article.vectors is None:
        return True
    texts = _document(article).vector_texts()
    return embed.unpack(article.vectors, texts, encoder.dimensions, encoder.model_id) is None


class KnowledgeService:
    def __init__(self, articles: ArticleRepository, bot: BotRepository, tenants: TenantRepository,
                 clock: Clock, vectors_job: VectorsJob | None = None) -> None:
        self._articles = articles
        self._bot = bot
        self._tenants = tenants
        self._clock = clock
        self._vectors_job = vectors_job
        # tenant → (revision, index of published articles); rebuilt when the revision moves
        self._indexes: dict[str, tuple[int, Index]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ agents: CRUD

    def articles(self, identity: Identity, status: str | None = None, locale: str | None = None,
             category: str | None = None) -> list[Article]:
        _require_agent(identity)
        return sorted((a for a in self._articles.list_all(identity.tenant_id)
                       if (status is None or a.status == status) and (locale is None or a.locale == locale)
                       and (category is None or a.category == category)),
                      key=lambda a: (a.category, a.title))

    def get(self, identity: Identity, article_id: str) -> Article:
        _require_agent(identity)
        return self._existing(identity.tenant_id, article_id)

    def create(self, identity: Identity, fields: ArticleFields, article_id: str | None = None) -> Article:
        _require_agent(identity)
        fields.check()
        if article_id is not None and not ARTICLE_ID.match(article_id):
            raise InvalidFrame("an article id is 1-64 of a-z 0-9 . _ - (starting with a letter or digit)")
        if len(self._articles.list_all(identity.tenant_id)) >= MAX_ARTICLES:
            raise InvalidFrame(f"a knowledge base holds at most {MAX_ARTICLES} articles")
        now = self._clock.now_ms()
        article = Article(identity.tenant_id, article_id or new_id("art"), fields.title.strip(), fields.body,
                          fields.locale, fields.category.strip(), [p.strip() for p in fields.phrasings if p.strip()],
                          fields.status, 1, now, now, identity.principal_id, not_answered=_lines(fields.not_answered))
        article = _with_vectors(article)
        self._articles.save(article, expected_version=None)
        return article

    def update(self, identity: Identity, article_id: str, fields: ArticleFields, expected_version: int) -> Article:
        """Save a new version; `expected_version` is the version the editor started from
        (`article_changed` if someone saved in between)."""
        _require_agent(identity)
        fields.check()
        current = self._existing(identity.tenant_id, article_id)
        article = Article(identity.tenant_id, article_id, fields.title.strip(), fields.body, fields.locale,
                          fields.category.strip(), [p.strip() for p in fields.phrasings if p.strip()],
                          fields.status, expected_version + 1, current.created_at, self._clock.now_ms(),
                          identity.principal_id, not_answered=_lines(fields.not_answered))
        article = _with_vectors(article)
        self._articles.save(article, expected_version=expected_version)
        return article

    def delete(self, identity: Identity, article_id: str) -> None:
        _require_agent(identity)
        if not self._articles.delete(identity.tenant_id, article_id):
            raise ArticleNotFound("no such article")

    def history(self, identity: Identity, article_id: str) -> list[ArticleVersion]:
        _require_agent(identity)
        versions = self._articles.history(identity.tenant_id, article_id)
        if not versions:
            raise ArticleNotFound("no such article")
        return versions

    # ------------------------------------------------------------ import / export

    def import_articles(self, identity: Identity, items: Iterable[tuple[str | None, ArticleFields]],
                        dry_run: bool = False) -> tuple[int, int]:
        """Create or overwrite articles by id (an item without id is created). Returns
        (created, updated). All items are checked before any is written; with `dry_run`,
        only checked (what would be created and updated), so a client that sends a big file
        in several requests can check them all before it writes any."""
        _require_agent(identity)
        batch = list(items)
        for article_id, fields in batch:
            fields.check()
            if article_id is not None and not ARTICLE_ID.match(article_id):
                raise InvalidFrame(f"invalid article id {article_id[:70]!r}")
        ids = Counter(article_id for article_id, _ in batch if article_id is not None)
        twice = sorted(article_id for article_id, n in ids.items() if n > 1)
        if twice:
            raise InvalidFrame(f"article id {twice[0]!r} appears more than once in the import")
        existing = {a.article_id: a for a in self._articles.list_all(identity.tenant_id)}
        to_update = sum(article_id in existing for article_id in ids)
        if len(existing) + len(batch) - to_update > MAX_ARTICLES:
            raise InvalidFrame(f"a knowledge base holds at most {MAX_ARTICLES} articles")
        if dry_run:
            return len(batch) - to_update, to_update
        created = updated = 0
        without_vectors: list[str] = []
        now = self._clock.now_ms()
        deadline = time.monotonic() + IMPORT_VECTOR_SECONDS
        for article_id, fields in batch:
            current = existing.get(article_id) if article_id else None
            article = Article(identity.tenant_id, article_id or new_id("art"), fields.title.strip(), fields.body,
                              fields.locale, fields.category.strip(),
                              [p.strip() for p in fields.phrasings if p.strip()], fields.status,
                              current.version + 1 if current else 1, current.created_at if current else now, now,
                              identity.principal_id, not_answered=_lines(fields.not_answered))
            article = _with_vectors(article, deadline)
            self._articles.save(article, expected_version=current.version if current else None)
            if article.vectors is None and _vectors_missing(article):
                without_vectors.append(article.article_id)
            if current:
                updated += 1
            else:
                created += 1
        if without_vectors and self._vectors_job is not None:
            try:
                # Its own articles only: a file imported part by part starts a job a part, and
                # none of them computes another part's articles.
                self._vectors_job.request(identity.tenant_id, without_vectors)
            except Exception:  # the import is saved; the bot computes what it needs
                log.warning("could not start the vectors job for %s (%d articles)", identity.tenant_id,
                            len(without_vectors), exc_info=True)
        return created, updated

    def fill_vectors(self, tenant_id: str, deadline: float,
                     article_ids: Iterable[str] | None = None) -> tuple[int, list[str]]:
        """Compute and store the vectors the tenant's articles lack (those of `article_ids`
        only, when given; published first), each on the condition that the article is still
        the version read, until `deadline` (time.monotonic()). Returns (stored, the ids still
        missing): the caller goes on with those in a new invocation. An editor's save in
        between wins (it brought its own)."""
        wanted = set(article_ids) if article_ids is not None else None
        articles = sorted((a for a in self._articles.list_all(tenant_id)
                           if (wanted is None or a.article_id in wanted) and _vectors_missing(a)),
                          key=lambda a: (not a.published, a.article_id))
        stored = 0
        for done, article in enumerate(articles):
            if time.monotonic() > deadline:
                return stored, [a.article_id for a in articles[done:]]
            with_vectors = _with_vectors(article)
            if with_vectors.vectors is not None and self._articles.store_vectors(
                    tenant_id, article.article_id, article.version, with_vectors.vectors):
                stored += 1
        return stored, []

    def export(self, identity: Identity) -> list[dict[str, Any]]:
        """Every article as a plain dict (id, title, body, locale, category, phrasings, status,
        not_answered)."""
        return [{"id": a.article_id, "title": a.title, "body": a.body, "locale": a.locale, "category": a.category,
                 "phrasings": list(a.phrasings), "status": a.status, "not_answered": list(a.not_answered)}
                for a in self.articles(identity)]

    # ------------------------------------------------------------ search

    def index(self, tenant_id: str, max_age_ms: int = 0) -> Index:
        """The tenant's published articles, indexed; rebuilt only when an article changed.

        Editors and search read the tenant's revision counter on every call (one GetItem) and
        see every change at once. The bot, which runs on every visitor message, passes
        REVISION_CHECK_MS: a counter that old will do, and the repository keeps it fresh by
        fetching it along with the conversation the message path reads anyway.
        """
        revision = self._articles.revision(tenant_id, max_age_ms=max_age_ms)
        cached = self._indexes.get(tenant_id)
        if cached is not None and cached[0] == revision:
            return cached[1]
        articles = [a for a in self._articles.list_all(tenant_id) if a.published]
        index = _index(articles, keep=self._keep_vectors)
        with self._lock:
            self._indexes[tenant_id] = (revision, index)
            while len(self._indexes) > 200:  # a warm Lambda serving many tenants stays bounded
                self._indexes.pop(next(iter(self._indexes)))
        return index

    def _keep_vectors(self, article: Article, vectors: bytes) -> None:
        """Store vectors the bot had to compute, for this version only; a failure costs the
        next container the same computation, never an answer."""
        try:
            self._articles.store_vectors(article.tenant_id, article.article_id, article.version, vectors)
        except Exception:  # a cache write: the answer goes on
            log.warning("could not store vectors of %s/%s", article.tenant_id, article.article_id, exc_info=True)

    def tenant_by_site_key(self, site_key: str) -> str | None:
        tenant = self._tenants.get_by_site_key(site_key)
        return tenant.tenant_id if tenant else None

    def published(self, tenant_id: str, article_id: str) -> Article:
        article = self._articles.get(tenant_id, article_id)
        if article is None or not article.published:
            raise ArticleNotFound("no such article")
        return article

    def search_published(self, tenant_id: str, query: str, locale: str | None = None,
                         limit: int = 5) -> list[SearchResult]:
        """Visitors' search (and the widget's "did you mean"): published articles only, and
        only those covering a fair share of the query (weaker ones would be noise)."""
        index = self.index(tenant_id)
        results = []
        for hit in index.search(query, locale=locale, limit=limit):
            if hit.confidence < SUGGESTION_CONFIDENCE:
                continue
            article = self._articles.get(tenant_id, hit.doc_id)
            if article is not None and article.published:
                results.append(SearchResult(article, hit.score, hit.confidence))
        return results

    def browse(self, tenant_id: str, locale: str | None = None, category: str | None = None) -> list[Article]:
        """Published articles for the FAQ page, by category then title."""
        return sorted((a for a in self._articles.list_all(tenant_id) if a.published
                       and (locale is None or a.locale == locale) and (category is None or a.category == category)),
                      key=lambda a: (a.category, a.title))

    def search(self, identity: Identity, query: str, locale: str | None = None, limit: int = 10,
               include_drafts: bool = True) -> list[SearchResult]:
        """Agents' search: drafts too (ranked by their own small index)."""
        _require_agent(identity)
        articles = {a.article_id: a for a in self._articles.list_all(identity.tenant_id)
                    if include_drafts or a.published}
        index = _index(articles.values())
        hits: list[Hit] = index.search(query, locale=locale, limit=limit)
        return [SearchResult(articles[h.doc_id], h.score, h.confidence) for h in hits]

    # ------------------------------------------------------------ unanswered questions

    def unanswered_groups(self, identity: Identity, limit: int = UNANSWERED_LISTED) -> list[QuestionGroup]:
        """Recent questions the bot could not answer, grouped by similarity (most asked first).

        A question joins the group whose first question it resembles most, if it shares
        enough of its words (Jaccard ≥ 0.34) or, with a sentence encoder for its language,
        means nearly the same (cosine ≥ GROUP_COSINE): on the development questions (same
        article = same group) that raised both precision and recall over words alone
        (English 0.79 / 0.14 → 0.83 / 0.24, Chinese 0.88 / 0.13 → 0.89 / 0.16)."""
        _require_agent(identity)
        from ..kb import embed
        from ..kb.search import analyse

        encoders = embed.encoders()
        groups: list[tuple[set[str], Any, str, list[UnansweredQuestion]]] = []
        for question in self._bot.unanswered(identity.tenant_id, limit):
            terms = set(analyse(question.text).words) or set(analyse(question.text).grams)
            encoder = encoders.get(question.locale) if question.locale in GROUP_COSINE else None
            vector = encoder.passages([question.text])[0] if encoder is not None else None
            best, best_closeness = None, 0.0
            for group in groups:
                union = len(terms | group[0])
                closeness = (len(terms & group[0]) / union if union else 0.0) / GROUP_JACCARD
                if vector is not None and group[1] is not None and group[2] == question.locale:
                    closeness = max(closeness, float(vector @ group[1]) / GROUP_COSINE[question.locale])
                if closeness > best_closeness:
                    best, best_closeness = group, closeness
            if best is not None and best_closeness >= 1.0:
                best[3].append(question)
            else:
                groups.append((terms, vector, question.locale, [question]))
        groups.sort(key=lambda g: (-len(g[3]), -g[3][0].created_at))
        return [QuestionGroup(g[3][0].text, len(g[3]), g[3][:20], g[3][0].locale,
                              _topic(g[1], g[2], encoders.get(g[2]))) for g in groups]

    def teach(self, identity: Identity, article_id: str, question_ids: list[str], expected_version: int,
              answers: bool = True) -> Article:
        """An agent says these unanswered questions are answered by this article: they become
        its alternate phrasings (a new version, in its history; vectors recomputed), so the
        bot matches that wording from now on, and they leave the unanswered list. With
        `answers` False the agent says the article does NOT answer them (the visitor said its
        answer did not help, or it is the nearest article but lacks that detail): they join
        its `not_answered` list instead, so the bot hands such questions over rather than
        answering with it.

        Only questions still on the list (`not_found` otherwise), in the article's language;
        wordings it already has are not added twice; at most MAX_PHRASINGS (MAX_NOT_ANSWERED)
        in all, and a question that is one of its phrasings is never listed as not answered (a
        clear error, nothing changed). `expected_version` as for `update`."""
        _require_agent(identity)
        wanted = list(dict.fromkeys(question_ids))
        if not wanted:
            raise InvalidFrame("name at least one question")
        listed = {q.question_id: q for q in self._bot.unanswered(identity.tenant_id, UNANSWERED_LISTED)}
        missing = [i for i in wanted if i not in listed]
        if missing:
            raise NotFound("no such unanswered question (taught already, or too old)", {"question_ids": missing})
        current = self._existing(identity.tenant_id, article_id)
        questions = [listed[i] for i in wanted]
        foreign = [q.text for q in questions if q.locale != current.locale]
        if foreign:
            raise InvalidFrame(f"these questions are not in the article's language ({current.locale})",
                               {"questions": foreign[:5]})
        texts = _lines(q.text[:MAX_PHRASING_CHARS] for q in questions)
        said = {_wording(p) for p in (current.title, *current.phrasings)}
        phrasings, not_answered = list(current.phrasings), list(current.not_answered)
        if answers:
            phrasings += [t for t in texts if _wording(t) not in said]
            if len(phrasings) > MAX_PHRASINGS:
                raise InvalidFrame(f"the article would have {len(phrasings)} alternate phrasings, at most "
                                   f"{MAX_PHRASINGS}: remove some in the editor first")
            # A question taught as answered is no longer one the article says it does not answer.
            taught = {_wording(t) for t in texts}
            not_answered = [q for q in not_answered if _wording(q) not in taught]
        else:
            own = [t for t in texts if _wording(t) in said]
            if own:
                raise InvalidFrame("the article has these as its own phrasings: take them out of its phrasings "
                                   "in the editor first", {"questions": own[:5]})
            listed_already = {_wording(q) for q in not_answered}
            not_answered += [t for t in texts if _wording(t) not in listed_already]
            if len(not_answered) > MAX_NOT_ANSWERED:
                raise InvalidFrame(f"the article would list {len(not_answered)} questions it does not answer, at "
                                   f"most {MAX_NOT_ANSWERED}: remove some in the editor first")
        article = current  # every wording is there already: nothing to save
        if (phrasings, not_answered) != (list(current.phrasings), list(current.not_answered)):
            article = self.update(identity, article_id, ArticleFields(
                current.title, current.body, current.locale, current.category, tuple(phrasings), current.status,
                tuple(not_answered)), expected_version)
        self._bot.remove_unanswered(questions)
        return article

    def bot_counters(self, identity: Identity) -> dict[str, int]:
        _require_agent(identity)
        return self._bot.counters(identity.tenant_id)

    def _existing(self, tenant_id: str, article_id: str) -> Article:
        article = self._articles.get(tenant_id, article_id)
        if article is None:
            raise ArticleNotFound("no such article")
        return article
