"""Pydantic models of the knowledge base's and the bot's REST bodies (merged into
`schemas.ENDPOINTS`, so they are in docs/openapi.json)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Locale = Literal["en", "zh"]
Status = Literal["draft", "published"]
ARTICLE_ID = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArticleIn(Body):
    title: str = Field(min_length=1, max_length=300)
    body: str = Field(default="", max_length=20_000, description="Markdown; raw HTML is shown as text")
    locale: Locale = "en"
    category: str = Field(default="", max_length=60)
    phrasings: list[Annotated[str, Field(max_length=300)]] = Field(
        default_factory=list, max_length=30, description="other ways visitors ask this question")
    status: Status = "draft"
    not_answered: list[Annotated[str, Field(max_length=300)]] = Field(
        default_factory=list, max_length=30, description=(
            "questions on this article's subject that it does not answer: the bot hands those over "
            "rather than answering with this article"))


class ArticleCreateIn(ArticleIn):
    id: str | None = Field(default=None, pattern=ARTICLE_ID, description="chosen id (slug); generated if absent")


class ArticleUpdateIn(ArticleIn):
    version: int = Field(ge=1, description="the version this edit started from (409 article_changed if stale)")


class ArticleOut(BaseModel):
    id: str
    title: str
    body: str
    body_html: str = Field(description="the body rendered safely (raw HTML escaped, unsafe links dropped)")
    locale: Locale
    category: str
    phrasings: list[str]
    status: Status
    not_answered: list[str]
    version: int
    created_at: int
    updated_at: int
    updated_by: str


class ArticleSummary(BaseModel):
    id: str
    title: str
    locale: Locale
    category: str
    status: Status
    version: int
    updated_at: int


class ArticleList(BaseModel):
    articles: list[ArticleSummary]


class ArticleListQuery(Body):
    status: Status | None = None
    locale: Locale | None = None
    category: str | None = Field(default=None, max_length=60)


class ArticleVersionOut(BaseModel):
    version: int
    title: str
    body: str
    locale: Locale
    category: str
    phrasings: list[str]
    status: Status
    not_answered: list[str]
    edited_at: int
    edited_by: str


class ArticleHistory(BaseModel):
    id: str
    versions: list[ArticleVersionOut] = Field(description="newest first")


class SearchQuery(Body):
    q: str = Field(min_length=1, max_length=500)
    locale: Locale | None = Field(default=None, description="preferred locale; detected from q when absent")
    limit: int = Field(default=5, ge=1, le=20)


class SearchHit(BaseModel):
    id: str
    title: str
    locale: Locale
    category: str
    status: Status
    confidence: float = Field(description="0-1: the share of the question the article covers")
    snippet: str


class SearchResults(BaseModel):
    results: list[SearchHit]


class MarkdownFile(Body):
    name: str = Field(min_length=1, max_length=200)
    content: str = Field(max_length=30_000)


class ImportIn(Body):
    format: Literal["json", "markdown"]
    articles: list[ArticleCreateIn] | None = Field(default=None, max_length=500)
    files: list[MarkdownFile] | None = Field(default=None, max_length=500)
    dry_run: bool = Field(default=False, description=(
        "check only: answer what would be created and updated, write nothing (a file too big for "
        "one request is checked part by part before any part is imported)"))


class ImportOut(BaseModel):
    created: int
    updated: int


class ExportQuery(Body):
    format: Literal["json", "markdown"] = "json"


class ExportOut(BaseModel):
    format: Literal["json", "markdown"]
    articles: list[ArticleCreateIn] | None = None
    files: list[MarkdownFile] | None = None


class PublicQuery(Body):
    site_key: str | None = Field(default=None, min_length=8, max_length=64,
                                 description="the site's key, when no visitor token is sent")
    locale: Locale | None = None
    category: str | None = Field(default=None, max_length=60)


class PublicSearchQuery(Body):
    q: str = Field(min_length=1, max_length=500)
    site_key: str | None = Field(default=None, min_length=8, max_length=64)
    locale: Locale | None = None
    limit: int = Field(default=3, ge=1, le=10)


class PublicArticle(BaseModel):
    id: str
    title: str
    body_html: str
    locale: Locale
    category: str


class PublicArticleSummary(BaseModel):
    id: str
    title: str
    locale: Locale
    category: str


class PublicArticleList(BaseModel):
    articles: list[PublicArticleSummary]


class PublicSearchHit(BaseModel):
    id: str
    title: str
    locale: Locale
    category: str
    confidence: float
    snippet: str


class PublicSearchResults(BaseModel):
    results: list[PublicSearchHit]


class UnansweredOut(BaseModel):
    question_id: str
    text: str
    conversation_id: str
    reason: str
    created_at: int
    article_id: str = Field("", description="the article the bot answered it with, when the visitor said that "
                                            "did not help (reason not_helpful); empty otherwise")


class UnansweredGroup(BaseModel):
    representative: str
    count: int
    locale: str
    questions: list[UnansweredOut]
    topic: str = Field("", description="a question web shops are commonly asked (the bot's background) that "
                                       "the group means nearly the same as: a name for what the base lacks; "
                                       "empty when none is close")


class TeachIn(Body):
    question_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=50, description="unanswered questions (from GET /v1/kb/unanswered) this article answers")
    version: int = Field(ge=1, description="the article's version the agent saw (409 article_changed if stale)")
    answers: bool = Field(True, description="false: the article does NOT answer these questions; they join its "
                                            "not_answered list (the bot hands such questions over) instead of its "
                                            "phrasings")


class UnansweredList(BaseModel):
    groups: list[UnansweredGroup]
    counters: dict[str, int] = Field(description="bot figures: answers, helpful, not_helpful, handoffs, ...")


class WebhookIn(Body):
    name: str = Field(pattern=r"^[a-z0-9_-]{1,32}$")
    pattern: str = Field(min_length=1, max_length=200,
                         description="regular expression on the visitor's message; group 1 is sent as `value`")
    url: str = Field(pattern=r"^(https://|http://(127\.0\.0\.1|localhost)(:\d+)?/)", max_length=500)
    secret: str | None = Field(default=None, max_length=200,
                               description="signs the body: X-Kefu-Signature (HMAC-SHA256). Left out: the secret "
                                           "stored for a webhook of this name is kept; \"\": none")


class WebhookOut(BaseModel):
    name: str
    pattern: str
    url: str
    has_secret: bool = Field(description="a secret is stored (secrets are never sent back)")


class BotSettingsIn(Body):
    """Fields left out (or null) keep their current values."""

    enabled: bool | None = None
    answer_threshold: float | None = Field(default=None, ge=0, le=1,
                                           description="confidence to answer outright (0.45 by default)")
    clarify_threshold: float | None = Field(
        default=None, ge=0, le=1, description="least confidence to offer articles to choose from; below it the bot "
                                              "hands over (0.37 by default; not above answer_threshold)")
    margin: float | None = Field(default=None, ge=0, le=1,
                                 description="how far the best article must lead the second to answer without "
                                             "asking (0.1 by default)")
    greeting_en: str | None = Field(default=None, max_length=500, description='"": the default greeting')
    greeting_zh: str | None = Field(default=None, max_length=500, description='"": the default greeting')
    webhooks: list[WebhookIn] | None = Field(default=None, max_length=10,
                                             description="the whole list (left out: unchanged)")
    version: int | None = Field(default=None, ge=0, description="the settings' version the editor saw (409 "
                                "settings_changed if someone saved since); left out: merged into the current ones")


class BotDefaults(BaseModel):
    answer_threshold: float
    clarify_threshold: float
    margin: float
    greeting_en: str
    greeting_zh: str


class BotSettingsOut(BaseModel):
    enabled: bool
    answer_threshold: float
    clarify_threshold: float
    margin: float
    greeting_en: str
    greeting_zh: str
    webhooks: list[WebhookOut]
    version: int = Field(description="0 until first saved")
    updated_at: int
    updated_by: str
    defaults: BotDefaults


class BotTryIn(Body):
    text: str = Field(min_length=1, max_length=2000, description="a question as a visitor would write it")
    answer_threshold: float | None = Field(default=None, ge=0, le=1, description="left out: the stored one")
    clarify_threshold: float | None = Field(default=None, ge=0, le=1, description="left out: the stored one")
    margin: float | None = Field(default=None, ge=0, le=1, description="left out: the stored one")


class BotTryArticle(BaseModel):
    id: str
    title: str
    locale: str
    confidence: float


class BotTryOut(BaseModel):
    action: Literal["answer", "clarify", "handoff", "greet", "thanks", "integration", "nothing_to_answer_from"] = \
        Field(description="what the bot would do with it as a visitor's question")
    reason: str | None = Field(default=None, description="why it would hand over (as the agent's hand-off note says)")
    locale: str
    best_confidence: float | None = Field(default=None, description="the closest article's confidence, 0-1")
    articles: list[BotTryArticle] = Field(description="the answer; the articles it would offer to choose from; or, "
                                                      "handing over, those it would offer to read while waiting")
    webhook: str | None = Field(default=None, description="the site integration whose pattern matches")
    model_check: Literal["answers", "does_not_answer"] | None = Field(
        default=None, description="the optional language model's word on the article (stack parameter LlmModelId); "
                                  "it overrules the bot: yes answers with the article, no hands over")
    answer_threshold: float
    clarify_threshold: float
    margin: float


AGENT = "agent"
PUBLIC = "visitor token, or site_key"
KB_ENDPOINTS: dict[tuple[str, str], tuple[type[BaseModel] | None, type[BaseModel] | None, str, str]] = {
    ("GET", "/v1/kb/articles"): (ArticleListQuery, ArticleList, "The tenant's articles (drafts included)", AGENT),
    ("POST", "/v1/kb/articles"): (ArticleCreateIn, ArticleOut, "Create an article (version 1)", AGENT),
    ("GET", "/v1/kb/articles/{article_id}"): (None, ArticleOut, "One article, with its body rendered", AGENT),
    ("PUT", "/v1/kb/articles/{article_id}"): (ArticleUpdateIn, ArticleOut,
                                              "Save a new version of an article", AGENT),
    ("DELETE", "/v1/kb/articles/{article_id}"): (None, None, "Delete an article (204)", AGENT),
    ("GET", "/v1/kb/articles/{article_id}/history"): (None, ArticleHistory, "An article's edit history", AGENT),
    ("GET", "/v1/kb/search"): (SearchQuery, SearchResults, "Agents' search over every article", AGENT),
    ("POST", "/v1/kb/import"): (ImportIn, ImportOut,
                                "Import articles from JSON or Markdown files (created or overwritten by id)", AGENT),
    ("GET", "/v1/kb/export"): (ExportQuery, ExportOut, "Every article as JSON or Markdown files", AGENT),
    ("GET", "/v1/kb/unanswered"): (None, UnansweredList,
                                   "Questions the bot could not answer, grouped by similarity", AGENT),
    ("POST", "/v1/kb/articles/{article_id}/teach"): (
        TeachIn, ArticleOut, "Teach the bot: unanswered questions become the article's alternate phrasings "
                             "(a new version) and leave the unanswered list", AGENT),
    ("GET", "/v1/kb/bot"): (None, BotSettingsOut, "The bot's settings: thresholds, greetings, webhooks", AGENT),
    ("PUT", "/v1/kb/bot"): (BotSettingsIn, BotSettingsOut,
                            "Change the bot's settings (supervisors and admins; fields left out are kept)", AGENT),
    ("POST", "/v1/kb/bot/try"): (BotTryIn, BotTryOut, "What the bot would do with a question, at the stored "
                                                      "thresholds or at trial ones (nothing is written)", AGENT),
    ("GET", "/v1/kb/public/articles"): (PublicQuery, PublicArticleList, "Published articles (FAQ browse)", PUBLIC),
    ("GET", "/v1/kb/public/articles/{article_id}"): (PublicQuery, PublicArticle, "One published article", PUBLIC),
    ("GET", "/v1/kb/public/search"): (PublicSearchQuery, PublicSearchResults,
                                      "Search published articles (the widget's suggestions)", PUBLIC),
}
