"""The knowledge-base workbench (/console/kb.html) in headless Chromium: write and publish
an article (HTML in it stays text), a new version with its history, search, a stale save
reloaded instead of overwriting, and the bot's unanswered questions turned into a draft or
taught to the bot as an existing article's wordings."""
from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import TenantInfo, http_json
from .test_tickets_page import _signed_in_page

pytestmark = pytest.mark.browser
XSS = "<img src=x onerror=alert(1)>"


def test_write_publish_edit_search_and_history(chromium: Any, stack: Any, tenant: TenantInfo) -> None:
    page, token = _signed_in_page(chromium, stack, tenant)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{stack.url}/console/kb.html")
    expect(page.get_by_text("No articles.")).to_be_visible()
    page.get_by_role("button", name="New article").click()
    page.fill("input[name=id]", "gift-wrap")
    page.fill("input[name=title]", "Gift wrapping " + XSS)
    page.fill("input[name=category]", "orders")
    page.select_option("select[name=status]", "published")
    page.fill("textarea[name=phrasings]", "can you wrap my present\nis gift wrap available")
    page.fill("textarea[name=not_answered]", " can you wrap it in red paper \n\n" + XSS)
    page.fill("textarea[name=body]", "We wrap any order for **$3**. " + XSS)
    page.get_by_role("button", name="Create").click()
    expect(page.locator(".kb-preview")).to_contain_text("We wrap any order for $3. " + XSS)
    _, created = http_json("GET", f"{stack.url}/v1/kb/articles/gift-wrap", token=token)
    assert created["not_answered"] == ["can you wrap it in red paper", XSS]
    expect(page.locator("textarea[name=not_answered]")).to_have_value("can you wrap it in red paper\n" + XSS)
    expect(page.locator(".tk-row", has_text="Gift wrapping")).to_be_visible()
    page.fill("textarea[name=body]", "We wrap any order for $4.")
    page.get_by_role("button", name="Save new version").click()
    expect(page.locator(".kb-history li")).to_have_count(2)
    expect(page.locator(".kb-history li").first).to_contain_text(f" · {tenant.agent_name} · ")  # by name
    assert tenant.agent_id not in page.locator(".kb-history").inner_text()
    expect(page.locator(".kb-editor")).to_contain_text("version 2")
    page.fill(".kb-search", "wrap my present")
    expect(page.locator(".tk-row .tk-meta", has_text="match")).to_be_visible()
    # someone else saves version 3; our save from version 2 is refused and the page reloads it
    status, article = http_json("GET", f"{stack.url}/v1/kb/articles/gift-wrap", token=token)
    edit = {k: article[k] for k in ("title", "body", "locale", "category", "phrasings", "status")}
    status, _ = http_json("PUT", f"{stack.url}/v1/kb/articles/gift-wrap", {**edit, "body": "theirs", "version": 2}, token)
    assert status == 200
    page.fill("textarea[name=body]", "mine")
    page.get_by_role("button", name="Save new version").click()
    expect(page.locator(".tk-banner")).to_contain_text("Someone saved this article meanwhile")
    expect(page.locator("textarea[name=body]")).to_have_value("theirs")
    assert dialogs == [] and page.locator("img").count() == 0


def test_the_editor_counts_phrasings_and_says_what_few_mean(chromium: Any, stack: Any, tenant: TenantInfo) -> None:
    page, token = _signed_in_page(chromium, stack, tenant)
    phrasings = [f"when will order {i} arrive" for i in range(22)]
    status, _ = http_json("POST", f"{stack.url}/v1/kb/articles", {
        "id": "delivery", "title": "Delivery times", "body": "3-5 working days.", "locale": "en",
        "phrasings": phrasings, "status": "published"}, token)
    assert status == 201
    page.goto(f"{stack.url}/console/kb.html")
    page.locator(".tk-row", has_text="Delivery times").click()
    hint = page.locator(".kb-phrasings-hint")
    expect(hint).to_have_text("22 phrasings.")
    page.get_by_role("button", name="New article").click()
    expect(hint).to_contain_text("0 phrasings. With 20 to 30 the bot understands visitors' own words far better")
    page.fill("textarea[name=phrasings]", "can you wrap my present\n\n  \nis gift wrap available")
    expect(hint).to_contain_text("2 phrasings. With 20 to 30")
    expect(hint).to_have_class("kb-phrasings-hint kb-warn")
    page.fill("textarea[name=phrasings]", "\n".join(f"wording {i}" for i in range(33)))
    expect(hint).to_have_text("33 phrasings: 30 at most — remove 3 before saving.")
    expect(hint).to_have_class("kb-phrasings-hint kb-error")


def _unanswered_page(chromium: Any, stack: Any, tenant: TenantInfo, texts: list[str]) -> Any:
    """The workbench's unanswered questions, after the bot could not answer `texts`."""
    from chalicelib import bootstrap
    from chalicelib.domain.knowledge import UnansweredQuestion

    repo = bootstrap.services().knowledge._bot
    for i, text in enumerate(texts):
        repo.add_unanswered(UnansweredQuestion(tenant.tenant_id, f"q_{len(text)}_{i}", text, "en", "c_x",
                                               "no_answer", 1000 + i))
    page, _token = _signed_in_page(chromium, stack, tenant)
    page.goto(f"{stack.url}/console/kb.html")
    page.get_by_role("button", name="Unanswered questions").click()
    return page


def test_unanswered_questions_become_a_draft(chromium: Any, stack: Any, tenant: TenantInfo) -> None:
    page = _unanswered_page(chromium, stack, tenant, ["do you sell garden furniture", "garden furniture?"])
    group = page.locator(".kb-group").first
    expect(group).to_contain_text("2 ×")
    group.get_by_role("button", name="Write an article for this").click()
    expect(page.locator("textarea[name=phrasings]")).to_have_value("garden furniture?\ndo you sell garden furniture")


def test_an_unanswered_group_is_named_by_what_shops_are_commonly_asked(chromium: Any, stack: Any,
                                                                       tenant: TenantInfo) -> None:
    page = _unanswered_page(chromium, stack, tenant, ["can you gift wrap my order", "could you wrap it as a present please"])
    group = page.locator(".kb-group", has_text="gift wrap")
    expect(group).to_contain_text("2 ×")
    expect(group.locator(".kb-topic")).to_have_text("Shops are often asked: “Do you offer gift wrapping?”")
    group.get_by_role("button", name="Write an article for this").click()
    expect(page.locator("input[name=title]")).to_have_value("Do you offer gift wrapping?")


def test_teaching_the_bot_that_an_article_answers_an_unanswered_question(chromium: Any, stack: Any,
                                                                        tenant: TenantInfo) -> None:
    from chalicelib import bootstrap
    from chalicelib.domain.knowledge import UnansweredQuestion

    page, token = _signed_in_page(chromium, stack, tenant)
    status, _ = http_json("POST", f"{stack.url}/v1/kb/articles", {
        "id": "tracking", "title": "Where is my order?", "body": "Follow your parcel with the link in the e-mail.",
        "locale": "en", "phrasings": ["how do i track my order"], "status": "published"}, token)
    assert status == 201
    repo = bootstrap.services().knowledge._bot
    repo.add_unanswered(UnansweredQuestion(tenant.tenant_id, "q_box", "where can i watch my box travel", "en", "c_x",
                                           "no_answer", 2000))
    page.goto(f"{stack.url}/console/kb.html")
    page.get_by_role("button", name="Unanswered questions").click()
    group = page.locator(".kb-group", has_text="where can i watch my box travel")
    group.get_by_role("button", name="An article answers this…").click()
    group.locator(".kb-teach").get_by_role("button", name="Where is my order?").click()
    expect(page.locator(".kb-notice")).to_contain_text("“Where is my order?” now has them (version 2)")
    expect(page.locator(".kb-group", has_text="where can i watch my box travel")).to_have_count(0)
    status, article = http_json("GET", f"{stack.url}/v1/kb/articles/tracking", token=token)
    assert article["phrasings"] == ["how do i track my order", "where can i watch my box travel"]


def test_saying_the_answer_given_does_not_answer_a_question(chromium: Any, stack: Any, tenant: TenantInfo) -> None:
    """A question whose answer the visitor said did not help: the workbench offers the article
    given first; one click lists the question as one that article does not answer."""
    from chalicelib import bootstrap
    from chalicelib.domain.knowledge import UnansweredQuestion

    page, token = _signed_in_page(chromium, stack, tenant)
    for article_id, title in (("delivery", "How long does delivery take?"), ("express", "Express delivery")):
        status, _ = http_json("POST", f"{stack.url}/v1/kb/articles", {
            "id": article_id, "title": title, "body": "Standard 3-5 working days; express 1-2.", "locale": "en",
            "phrasings": [f"{title} please"], "status": "published"}, token)
        assert status == 201
    repo = bootstrap.services().knowledge._bot
    repo.add_unanswered(UnansweredQuestion(tenant.tenant_id, "q_sat", "does express <b>deliver</b> on saturdays",
                                           "en", "c_x", "not_helpful", 3000, "express"))
    page.goto(f"{stack.url}/console/kb.html")
    page.get_by_role("button", name="Unanswered questions").click()
    group = page.locator(".kb-group", has_text="does express <b>deliver</b> on saturdays")  # as text, not HTML
    expect(group.locator("li")).to_contain_text("the bot's answer did not help")
    group.get_by_role("button", name="An article does not answer this…").click()
    chips = group.locator(".kb-teach .tk-chip")
    expect(chips.first).to_have_text("Express delivery (the answer given)")
    chips.first.click()
    expect(page.locator(".kb-notice")).to_contain_text(
        "“Express delivery” now lists them as questions it does not answer (version 2): the bot hands them over.")
    expect(page.locator(".kb-group", has_text="saturdays")).to_have_count(0)
    status, article = http_json("GET", f"{stack.url}/v1/kb/articles/express", token=token)
    assert article["not_answered"] == ["does express <b>deliver</b> on saturdays"]
    assert article["phrasings"] == ["Express delivery please"]


@pytest.mark.parametrize("page_name, what", [("kb.html", "the knowledge base"), ("tickets.html", "the tickets"),
                                             ("supervisor.html", "the supervisor view")])
def test_side_pages_without_a_session_point_back_to_the_console(chromium: Any, stack: Any, page_name: str,
                                                                 what: str) -> None:
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{stack.url}/console/{page_name}")
    expect(page.get_by_text(f"Sign in to the console first, then come back to {what}.")).to_be_visible()
    expect(page.get_by_role("link", name="Open the console")).to_have_attribute("href", "./")
    context.close()


def _import(page: Any, path: Any) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Import…").click()
    chooser.value.set_files(str(path))


def test_import_checks_a_file_too_big_for_one_request_whole_then_imports_it_in_parts(
        chromium: Any, stack: Any, tenant: TenantInfo, tmp_path: Any) -> None:
    """80 articles (~100 kB; a request takes 64 kB): one bad article at the end and nothing is
    imported, with a message that says where and what; fixed, all 80 go in, in parts; a
    Markdown file (as the export writes it) updates one."""
    import json

    page, token = _signed_in_page(chromium, stack, tenant)
    page.goto(f"{stack.url}/console/kb.html")
    expect(page.get_by_text("No articles.")).to_be_visible()
    # Chinese: its encoder is fast, so the test waits for the import, not for embedding.
    articles = [{"id": f"faq-{i:03d}", "title": f"Question number {i}", "body": "这是一个足够长的回答，" * 35,
                 "locale": "zh", "category": "faq", "phrasings": [f"第{i}个问题怎么办"], "status": "published"}
                for i in range(80)]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "json", "articles": [*articles, {**articles[0], "id": "faq-fr", "locale": "fr"}]}))
    assert bad.stat().st_size > 64 * 1024
    _import(page, bad)
    expect(page.locator(".kb-error")).to_have_text(
        "Nothing was imported. article 81 (faq-fr), locale: Input should be 'en' or 'zh'", timeout=20_000)
    status, listed = http_json("GET", f"{stack.url}/v1/kb/articles", token=token)
    assert status == 200 and listed["articles"] == []  # the first parts were checked, not written
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"format": "json", "articles": articles}))
    # as one request (UTF-8, as the page sends it) the server would refuse it: too large
    assert len(json.dumps({"format": "json", "articles": articles}, ensure_ascii=False).encode()) > 64 * 1024
    _import(page, good)
    expect(page.locator(".kb-notice")).to_have_text("Imported 80 articles: 80 new, 0 updated.", timeout=30_000)
    expect(page.locator(".tk-row", has_text="Question number 79")).to_be_visible()
    status, listed = http_json("GET", f"{stack.url}/v1/kb/articles", token=token)
    assert sorted(a["id"] for a in listed["articles"]) == [a["id"] for a in articles]
    # A Markdown file as the export writes it, edited: the article is updated, not duplicated.
    status, exported = http_json("GET", f"{stack.url}/v1/kb/export?format=markdown", token=token)
    first = next(f for f in exported["files"] if f["name"].endswith("faq-000.md"))
    markdown = tmp_path / "faq-000.md"
    markdown.write_text(first["content"].replace("Question number 0", "Question number zero"))
    _import(page, markdown)
    expect(page.locator(".kb-notice")).to_have_text("Imported 1 article: 0 new, 1 updated.")
    status, article = http_json("GET", f"{stack.url}/v1/kb/articles/faq-000", token=token)
    assert article["title"] == "Question number zero" and article["version"] == 2
    # Parts hold at most 500 articles (the API's limit) however small: 600 tiny ones, the last
    # one bad, are checked as 500 + 100 and the bad one is named by its number.
    tiny = [{"id": f"tiny-{i:03d}", "title": "t", "body": "b"} for i in range(600)]
    tiny[-1]["locale"] = "fr"
    many = tmp_path / "many.json"
    many.write_text(json.dumps(tiny))
    assert many.stat().st_size < 56 * 1024
    _import(page, many)
    expect(page.locator(".kb-error")).to_have_text(
        "Nothing was imported. article 600 (tiny-599), locale: Input should be 'en' or 'zh'")
    # What cannot be imported says so.
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    _import(page, other)
    expect(page.locator(".kb-error")).to_have_text("Nothing was imported. notes.txt: only .json and .md files can be imported.")


def test_export_markdown_downloads_a_zip_whose_files_import_back(
        chromium: Any, stack: Any, tenant: TenantInfo, tmp_path: Any) -> None:
    import zipfile

    page, token = _signed_in_page(chromium, stack, tenant)
    for article in ({"id": "refunds", "title": "When is my refund paid?", "body": "Within **5** days.",
                     "locale": "en", "phrasings": ["refund time"], "status": "published"},
                    {"id": "refunds-zh", "title": "退款多久到账？", "body": "5 天内到账。", "locale": "zh",
                     "phrasings": ["退款时间"], "status": "draft"}):
        status, _ = http_json("POST", f"{stack.url}/v1/kb/articles", article, token)
        assert status == 201
    page.goto(f"{stack.url}/console/kb.html")
    expect(page.locator(".tk-row")).to_have_count(2)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export Markdown").click()
    assert download.value.suggested_filename == "knowledge-base-markdown.zip"
    path = tmp_path / "kb.zip"
    download.value.save_as(str(path))
    status, exported = http_json("GET", f"{stack.url}/v1/kb/export?format=markdown", token=token)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None  # every file's CRC-32 checks
        assert sorted(archive.namelist()) == sorted(f["name"] for f in exported["files"]) == [
            "en/refunds.md", "zh/refunds-zh.md"]
        for file in exported["files"]:
            assert archive.read(file["name"]).decode() == file["content"]
        (tmp_path / "refunds-zh.md").write_bytes(archive.read("zh/refunds-zh.md").replace(
            "5 天内到账".encode(), "3 天内到账".encode()))
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Import…").click()
    chooser.value.set_files(str(tmp_path / "refunds-zh.md"))
    expect(page.locator(".kb-notice")).to_have_text("Imported 1 article: 0 new, 1 updated.")
    status, article = http_json("GET", f"{stack.url}/v1/kb/articles/refunds-zh", token=token)
    assert article["body"].startswith("3 天内到账") and article["version"] == 2 and article["status"] == "draft"
