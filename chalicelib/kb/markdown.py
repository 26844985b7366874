"""Articles' Markdown: safe HTML rendering, and the Markdown file format of import/export.

Rendering uses markdown-it-py in CommonMark mode with raw HTML off (any HTML in an
article is shown as text) and its link validation (no `javascript:`/`vbscript:`/`data:`
links). The file format is Markdown with a small front matter:

    ---
    id: refund-time
    title: When will I get my refund?
    locale: en
    category: returns
    status: published
    phrasings:
      - How long does a refund take?
    not_answered:
      - Can I get the refund in cash?
    ---
    We refund within **5 working days** ...

(`not_answered`, the questions on its subject the article does not answer, only when it has
some.)
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from ..domain.errors import InvalidFrame

FRONT_MATTER_KEYS = ("id", "title", "locale", "category", "status")
LIST_KEYS = ("phrasings", "not_answered")


@lru_cache(maxsize=1)
def _renderer() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def render_markdown(text: str) -> str:
    """HTML for an article body; raw HTML in `text` is escaped, unsafe links are not linked."""
    return str(_renderer().render(text))


_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]+)[^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|~~|`)(?=\S)(.+?)(?<=\S)\1")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_QUOTE = re.compile(r"^\s{0,3}>\s?", re.MULTILINE)


def markdown_to_text(text: str) -> str:
    """A chat-message version of an article body: emphasis, headings and quote marks
    dropped, links written as "text (url)"; lists and line breaks kept."""
    text = _LINK.sub(lambda m: m.group(1) if m.group(1) == m.group(2) else f"{m.group(1)} ({m.group(2)})", text)
    text = _HEADING.sub("", text)
    text = _QUOTE.sub("", text)
    for _ in range(2):  # nested emphasis (***bold italic***)
        text = _EMPHASIS.sub(r"\2", text)
    return text.strip()


def _plain(value: str) -> str:
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


def to_markdown_file(article: dict[str, Any]) -> str:
    lines = ["---"]
    for key in FRONT_MATTER_KEYS:
        lines.append(f"{key}: {_plain(str(article.get(key, '')))}")
    lines.append("phrasings:")
    lines += [f"  - {_plain(p)}" for p in article.get("phrasings", [])]
    if article.get("not_answered"):
        lines.append("not_answered:")
        lines += [f"  - {_plain(p)}" for p in article["not_answered"]]
    lines += ["---", article.get("body", "").rstrip(), ""]
    return "\n".join(lines)


def parse_markdown_file(content: str, name: str = "") -> dict[str, Any]:
    """The fields of one article file (see the module docstring); raises InvalidFrame."""
    text = content.replace("\r\n", "\n").lstrip("\ufeff")
    if not text.startswith("---\n"):
        raise InvalidFrame(f"{name or 'file'}: an article file starts with a '---' front matter")
    end = text.find("\n---", 3)
    if end < 0:
        raise InvalidFrame(f"{name or 'file'}: the front matter has no closing '---'")
    header, body = text[4:end], text[end + 4:].lstrip("\n")
    fields: dict[str, Any] = {"phrasings": []}
    in_list = ""
    for line in header.split("\n"):
        if not line.strip():
            continue
        if in_list and line.lstrip().startswith("- "):
            fields.setdefault(in_list, []).append(line.lstrip()[2:].strip())
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or key not in (*FRONT_MATTER_KEYS, *LIST_KEYS):
            raise InvalidFrame(f"{name or 'file'}: unexpected front matter line {line[:60]!r}")
        in_list = key if key in LIST_KEYS else ""
        if not in_list:
            fields[key] = value.strip()
    fields["body"] = body.rstrip() + "\n" if body.strip() else ""
    return {k: v for k, v in fields.items() if v != ""}
