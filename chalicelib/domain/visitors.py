"""Visitor insight computed from plain data: page trail, traffic source, device, identity."""
from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import urlsplit

from .model import PageVisit, Visitor

TRAIL_LENGTH = 20

_SEARCH = ("google.", "bing.com", "baidu.com", "yahoo.", "duckduckgo.com", "sogou.com", "so.com",
           "yandex.", "ecosia.org", "naver.com")
_SOCIAL = ("facebook.com", "fb.com", "twitter.com", "x.com", "t.co", "linkedin.com", "lnkd.in",
           "weibo.com", "weibo.cn", "t.cn", "weixin.qq.com", "douyin.com", "instagram.com", "reddit.com", "youtube.com",
           "tiktok.com", "pinterest.com", "xiaohongshu.com", "zhihu.com", "bilibili.com")


def _host(url: str | None) -> str:
    if not url:
        return ""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _matches(host: str, patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        if pattern.endswith("."):
            if host.startswith(pattern) or f".{pattern}" in f".{host}":
                return True
        elif host == pattern or host.endswith("." + pattern):
            return True
    return False


def classify_source(referrer: str | None, utm: dict[str, str], site_host: str) -> str:
    """campaign / search / social / referral / direct, the way analytics tools bucket traffic."""
    if utm.get("source") or utm.get("medium") or utm.get("campaign"):
        return "campaign"
    host = _host(referrer)
    if not host or host == site_host:
        return "direct"
    if _matches(host, _SEARCH):
        return "search"
    if _matches(host, _SOCIAL):
        return "social"
    return "referral"


def describe_device(user_agent: str | None) -> str | None:
    """A short human description such as "Chrome 120 on Windows, desktop"."""
    if not user_agent:
        return None
    ua = user_agent
    browser = "Browser"
    for name, pattern in (
        ("WeChat", r"MicroMessenger/(\d+)"), ("Edge", r"Edg(?:e|A|iOS)?/(\d+)"),
        ("Opera", r"OPR/(\d+)"), ("Samsung Internet", r"SamsungBrowser/(\d+)"),
        ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"), ("Chrome", r"(?:Chrome|CriOS)/(\d+)"),
        ("Safari", r"Version/(\d+).*Safari"),
    ):
        match = re.search(pattern, ua)
        if match:
            browser = f"{name} {match.group(1)}"
            break
    if "HeadlessChrome" in ua:
        browser = browser.replace("Chrome", "Headless Chrome", 1)
    os_name = "unknown OS"
    for name, pattern in (("iOS", r"iPhone|iPad|iPod"), ("Android", r"Android"), ("Windows", r"Windows"),
                          ("macOS", r"Mac OS X|Macintosh"), ("ChromeOS", r"CrOS"), ("Linux", r"Linux")):
        if re.search(pattern, ua):
            os_name = name
            break
    if re.search(r"iPad|Tablet", ua) or ("Android" in ua and "Mobile" not in ua):
        form = "tablet"
    elif re.search(r"Mobi|iPhone|iPod", ua):
        form = "mobile"
    else:
        form = "desktop"
    return f"{browser} on {os_name}, {form}"


def record_page_view(
    visitor: Visitor, url: str, title: str, referrer: str | None, utm: dict[str, str],
    language: str | None, screen: str | None, now_ms: int,
) -> None:
    """Add a page to the trail at its time; keep the first external referrer and the latest campaign.

    `now_ms` is when the view was received. Page views sent in a row run as overlapping
    invocations, so one may be recorded after a later one: it goes in its place in the
    trail, and it only fills in what the later ones left unset (campaign, language, screen)."""
    site_host = _host(url)
    place = len(visitor.trail)
    while place and visitor.trail[place - 1].at > now_ms:
        place -= 1
    latest = place == len(visitor.trail)
    before = visitor.trail[place - 1] if place else None
    after = visitor.trail[place] if not latest else None
    if after is not None and after.url == url:
        pass  # the same page again a moment later: that later visit stands for both
    elif before is None or before.url != url:
        visitor.trail = (visitor.trail[:place] + [PageVisit(url, title, now_ms)] + visitor.trail[place:])[-TRAIL_LENGTH:]
    elif title and before.title != title:
        before.title = title
    external = referrer if _host(referrer) not in ("", site_host) else None
    if utm and (latest or not visitor.utm):
        visitor.utm = utm
    if external and not visitor.referrer:
        visitor.referrer = external
    visitor.source = classify_source(visitor.referrer, visitor.utm, site_host)
    if language and (latest or not visitor.language):
        visitor.language = language
    if screen and (latest or not visitor.screen):
        visitor.screen = screen
    visitor.last_seen_at = max(visitor.last_seen_at, now_ms)


def user_hash_valid(identity_secret: str, user_hash: str | None, email: str | None) -> bool:
    """Identity verification as Intercom and Crisp do it: the site's backend signs the
    visitor's email with the tenant's secret (HMAC-SHA256, hex) and the widget passes it on."""
    if not identity_secret or not user_hash or not email:
        return False
    expected = hmac.new(identity_secret.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, user_hash.lower())
