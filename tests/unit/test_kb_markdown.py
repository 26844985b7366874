"""Articles' Markdown: safe HTML, chat text, and the import/export file format."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidFrame
from chalicelib.kb.markdown import markdown_to_text, parse_markdown_file, render_markdown, to_markdown_file


def test_raw_html_is_escaped_and_unsafe_links_are_not_linked() -> None:
    html = render_markdown("**hi** <script>alert(1)</script> <img src=x onerror=alert(1)> "
                           "[x](javascript:alert(1)) [ok](https://shop.example/help)")
    assert "<strong>hi</strong>" in html
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html
    assert '<a href="https://shop.example/help">ok</a>' in html


def test_chat_text_drops_markup_but_keeps_lists_and_links() -> None:
    text = markdown_to_text("# Returns\n\nWithin **30 days**.\n\n1. Open `Orders`\n- see [help](https://h.example)")
    assert text == "Returns\n\nWithin 30 days.\n\n1. Open Orders\n- see help (https://h.example)"
    assert markdown_to_text("order_id stays") == "order_id stays"


def test_markdown_file_round_trip() -> None:
    article = {"id": "refund-time.en", "title": "When: refunds", "locale": "en", "category": "returns",
               "status": "published", "phrasings": ["How long?", "退款多久"], "body": "We refund in **5 days**.\n"}
    text = to_markdown_file(article)
    assert text.startswith("---\nid: refund-time.en\n")
    assert parse_markdown_file(text) == article


@pytest.mark.parametrize("content", ["no front matter", "---\ntitle: x\n", "---\nweird: 1\n---\nbody"])
def test_bad_markdown_files_are_refused(content: str) -> None:
    with pytest.raises(InvalidFrame):
        parse_markdown_file(content, "a.md")
