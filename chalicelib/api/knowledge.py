"""REST: the knowledge base for agents (CRUD, history, search, import/export, unanswered
questions, bot settings) and for visitors (published articles: browse and search)."""
from __future__ import annotations

import re
from typing import Any

from chalice.app import Response

from ..bootstrap import services
from ..domain.errors import NotFound
from ..domain.knowledge import Article, BotSettings
from ..domain.model import Identity
from .errors import Routes
from .http import bearer_token, json_response, parse_body, parse_query
from .lazy import LazyModule
from .sessions import PUBLIC_CORS

knowledge = Routes(__name__)
ks = LazyModule("chalicelib.api.kb_schemas")
kb_service = LazyModule("chalicelib.services.knowledge")
markdown = LazyModule("chalicelib.kb.markdown")
_TAGS = re.compile(r"[*_`#>\[\]()!|~]+")


def _agent() -> Identity:
    return services().auth.require_agent(bearer_token(knowledge.current_request))  # type: ignore[no-any-return]


def _fields(body: Any) -> Any:
    return kb_service.ArticleFields(title=body.title, body=body.body, locale=body.locale, category=body.category,
                                    phrasings=tuple(body.phrasings), status=body.status,
                                    not_answered=tuple(body.not_answered))


def _article_out(a: Article) -> Any:
    return ks.ArticleOut(id=a.article_id, title=a.title, body=a.body, body_html=markdown.render_markdown(a.body),
                         locale=a.locale, category=a.category, phrasings=list(a.phrasings), status=a.status,
                         not_answered=list(a.not_answered),
                         version=a.version, created_at=a.created_at, updated_at=a.updated_at,
                         updated_by=a.updated_by)


def _snippet(body: str) -> str:
    text = " ".join(_TAGS.sub(" ", body).split())
    return text[:200] + ("…" if len(text) > 200 else "")


# ------------------------------------------------------------------ agents


@knowledge.route("/v1/kb/articles", methods=["GET"])
def list_articles() -> Response:
    identity = _agent()
    query = parse_query(knowledge.current_request, ks.ArticleListQuery)
    articles = services().knowledge.articles(identity, query.status, query.locale, query.category)
    return json_response(ks.ArticleList(articles=[
        ks.ArticleSummary(id=a.article_id, title=a.title, locale=a.locale, category=a.category, status=a.status,
                          version=a.version, updated_at=a.updated_at) for a in articles]))


@knowledge.route("/v1/kb/articles", methods=["POST"])
def create_article() -> Response:
    identity = _agent()
    body = parse_body(knowledge.current_request, ks.ArticleCreateIn)
    return json_response(_article_out(services().knowledge.create(identity, _fields(body), body.id)), 201)


@knowledge.route("/v1/kb/articles/{article_id}", methods=["GET"])
def get_article(article_id: str) -> Response:
    return json_response(_article_out(services().knowledge.get(_agent(), article_id)))


@knowledge.route("/v1/kb/articles/{article_id}", methods=["PUT"])
def update_article(article_id: str) -> Response:
    identity = _agent()
    body = parse_body(knowledge.current_request, ks.ArticleUpdateIn)
    return json_response(_article_out(services().knowledge.update(identity, article_id, _fields(body),
                                                                  body.version)))


@knowledge.route("/v1/kb/articles/{article_id}", methods=["DELETE"])
def delete_article(article_id: str) -> Response:
    services().knowledge.delete(_agent(), article_id)
    return Response(body="", status_code=204)


@knowledge.route("/v1/kb/articles/{article_id}/history", methods=["GET"])
def article_history(article_id: str) -> Response:
    versions = services().knowledge.history(_agent(), article_id)
    return json_response(ks.ArticleHistory(id=article_id, versions=[
        ks.ArticleVersionOut(version=v.version, title=v.title, body=v.body, locale=v.locale, category=v.category,
                             phrasings=list(v.phrasings), status=v.status, not_answered=list(v.not_answered),
                             edited_at=v.edited_at,
                             edited_by=v.edited_by) for v in versions]))


@knowledge.route("/v1/kb/search", methods=["GET"])
def search_articles() -> Response:
    identity = _agent()
    query = parse_query(knowledge.current_request, ks.SearchQuery)
    results = services().knowledge.search(identity, query.q, query.locale, query.limit)
    return json_response(ks.SearchResults(results=[
        ks.SearchHit(id=r.article.article_id, title=r.article.title, locale=r.article.locale,
                     category=r.article.category, status=r.article.status, confidence=round(r.confidence, 3),
                     snippet=_snippet(r.article.body)) for r in results]))


@knowledge.route("/v1/kb/import", methods=["POST"])
def import_articles() -> Response:
    identity = _agent()
    body = parse_body(knowledge.current_request, ks.ImportIn)
    items: list[tuple[str | None, Any]] = []
    if body.format == "json":
        items = [(a.id, _fields(a)) for a in body.articles or []]
    else:
        for file in body.files or []:
            raw = markdown.parse_markdown_file(file.content, file.name)
            article = ks.ArticleCreateIn.model_validate(raw)
            items.append((article.id, _fields(article)))
    created, updated = services().knowledge.import_articles(identity, items, dry_run=body.dry_run)
    return json_response(ks.ImportOut(created=created, updated=updated))


@knowledge.route("/v1/kb/export", methods=["GET"])
def export_articles() -> Response:
    identity = _agent()
    query = parse_query(knowledge.current_request, ks.ExportQuery)
    articles = services().knowledge.export(identity)
    if query.format == "json":
        return json_response(ks.ExportOut(format="json", articles=articles))
    return json_response(ks.ExportOut(format="markdown", files=[
        ks.MarkdownFile(name=f"{a['locale']}/{a['id']}.md", content=markdown.to_markdown_file(a)) for a in articles]))


@knowledge.route("/v1/kb/articles/{article_id}/teach", methods=["POST"])
def teach_article(article_id: str) -> Response:
    identity = _agent()
    body = parse_body(knowledge.current_request, ks.TeachIn)
    return json_response(_article_out(services().knowledge.teach(identity, article_id, body.question_ids,
                                                                 body.version, answers=body.answers)))


@knowledge.route("/v1/kb/unanswered", methods=["GET"])
def unanswered_questions() -> Response:
    identity = _agent()
    groups = services().knowledge.unanswered_groups(identity)
    return json_response(ks.UnansweredList(
        groups=[ks.UnansweredGroup(representative=g.representative, count=g.count, locale=g.locale, topic=g.topic, questions=[
            ks.UnansweredOut(question_id=q.question_id, text=q.text, conversation_id=q.conversation_id, reason=q.reason,
                             created_at=q.created_at, article_id=q.article_id) for q in g.questions]) for g in groups],
        counters=services().knowledge.bot_counters(identity)))


def _settings_out(settings: BotSettings) -> Any:
    defaults = BotSettings(settings.tenant_id)
    return ks.BotSettingsOut(
        enabled=settings.enabled, answer_threshold=settings.answer_threshold,
        clarify_threshold=settings.clarify_threshold, margin=settings.margin, greeting_en=settings.greeting_en,
        greeting_zh=settings.greeting_zh, version=settings.version, updated_at=settings.updated_at,
        updated_by=settings.updated_by,
        webhooks=[ks.WebhookOut(name=w.name, pattern=w.pattern, url=w.url, has_secret=bool(w.secret))
                  for w in settings.webhooks],
        defaults=ks.BotDefaults(answer_threshold=defaults.answer_threshold,
                                clarify_threshold=defaults.clarify_threshold, margin=defaults.margin,
                                greeting_en=defaults.greeting_en, greeting_zh=defaults.greeting_zh))


@knowledge.route("/v1/kb/bot", methods=["GET"])
def bot_settings() -> Response:
    return json_response(_settings_out(services().bot.settings(_agent())))


@knowledge.route("/v1/kb/bot", methods=["PUT"])
def change_bot_settings() -> Response:
    identity = _agent()
    body = parse_body(knowledge.current_request, ks.BotSettingsIn)
    data = body.model_dump(exclude_none=True, exclude={"version"})
    if body.webhooks is not None:  # a secret left out (None) is kept: not the same as ""
        data["webhooks"] = [w.model_dump() for w in body.webhooks]
    return json_response(_settings_out(services().bot.save_settings(identity, data, version=body.version)))


@knowledge.route("/v1/kb/bot/try", methods=["POST"])
def try_the_bot() -> Response:
    identity = _agent()
    body = parse_body(knowledge.current_request, ks.BotTryIn)
    trial = services().bot.try_question(identity, body.text, body.answer_threshold, body.clarify_threshold,
                                        body.margin)
    return json_response(ks.BotTryOut(
        action=trial.kind, reason=trial.reason, locale=trial.locale, webhook=trial.webhook,
        model_check=trial.model_check,
        best_confidence=None if trial.best_confidence is None else round(trial.best_confidence, 4),
        articles=[ks.BotTryArticle(id=i, title=t, locale=loc, confidence=round(c, 4))
                  for i, t, loc, c in trial.articles],
        answer_threshold=trial.thresholds.answer, clarify_threshold=trial.thresholds.clarify,
        margin=trial.thresholds.margin))


# ------------------------------------------------------------------ visitors (the widget)


def _public_tenant(site_key: str | None) -> str:
    """The tenant of the visitor token sent, or else of the site key."""
    token = bearer_token(knowledge.current_request)
    if token or not site_key:
        return services().auth.identify(token).tenant_id  # type: ignore[no-any-return]
    tenant = services().knowledge.tenant_by_site_key(site_key)
    if tenant is None:
        raise NotFound("no site has this key")
    return tenant  # type: ignore[no-any-return]


@knowledge.route("/v1/kb/public/articles", methods=["GET"], cors=PUBLIC_CORS)
def public_articles() -> Response:
    query = parse_query(knowledge.current_request, ks.PublicQuery)
    articles = services().knowledge.browse(_public_tenant(query.site_key), query.locale, query.category)
    return json_response(ks.PublicArticleList(articles=[
        ks.PublicArticleSummary(id=a.article_id, title=a.title, locale=a.locale, category=a.category)
        for a in articles]))


@knowledge.route("/v1/kb/public/articles/{article_id}", methods=["GET"], cors=PUBLIC_CORS)
def public_article(article_id: str) -> Response:
    query = parse_query(knowledge.current_request, ks.PublicQuery)
    a = services().knowledge.published(_public_tenant(query.site_key), article_id)
    return json_response(ks.PublicArticle(id=a.article_id, title=a.title, body_html=markdown.render_markdown(a.body),
                                          locale=a.locale, category=a.category))


@knowledge.route("/v1/kb/public/search", methods=["GET"], cors=PUBLIC_CORS)
def public_search() -> Response:
    query = parse_query(knowledge.current_request, ks.PublicSearchQuery)
    results = services().knowledge.search_published(_public_tenant(query.site_key), query.q, query.locale,
                                                    query.limit)
    return json_response(ks.PublicSearchResults(results=[
        ks.PublicSearchHit(id=r.article.article_id, title=r.article.title, locale=r.article.locale,
                           category=r.article.category, confidence=round(r.confidence, 3),
                           snippet=_snippet(r.article.body)) for r in results]))
