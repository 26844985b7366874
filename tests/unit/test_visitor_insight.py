"""Visitor insight from plain data: traffic source, device, page trail, verified identity."""
from __future__ import annotations

import hashlib
import json
import hmac

import pytest

from chalicelib.domain.model import Visitor
from chalicelib.domain.visitors import (
    TRAIL_LENGTH,
    classify_source,
    describe_device,
    record_page_view,
    user_hash_valid,
)

SITE = "shop.example"
T0 = 1_700_000_000_000


@pytest.mark.parametrize(
    "referrer, utm, expected",
    [
        ("https://www.google.com/search?q=kefu", {}, "search"),
        ("https://www.google.com.hk/", {}, "search"),
        ("https://www.bing.com/search?q=x", {}, "search"),
        ("https://www.baidu.com/link?url=abc", {}, "search"),
        ("https://m.baidu.com/s?word=x", {}, "search"),
        ("https://www.sogou.com/web?query=x", {}, "search"),
        ("https://www.so.com/s?q=x", {}, "search"),
        ("https://duckduckgo.com/", {}, "search"),
        ("https://weibo.com/u/123", {}, "social"),
        ("https://www.facebook.com/", {}, "social"),
        ("https://t.co/abc", {}, "social"),
        ("https://www.zhihu.com/question/1", {}, "social"),
        ("https://blog.partner.example/post", {}, "referral"),
        # Look-alike hosts are not the engines they imitate.
        ("https://notbaidu.com/", {}, "referral"),
        ("https://googleusercontent.example/", {}, "referral"),
        (None, {}, "direct"),
        ("", {}, "direct"),
        ("not a url", {}, "direct"),
        (f"https://{SITE}/cart", {}, "direct"),
        # A campaign tag wins over wherever the click came from.
        ("https://www.google.com/", {"source": "newsletter"}, "campaign"),
        (None, {"medium": "email"}, "campaign"),
        (None, {"campaign": "spring"}, "campaign"),
        (None, {"term": "shoes"}, "direct"),
    ],
)
def test_classify_source(referrer: str | None, utm: dict[str, str], expected: str) -> None:
    assert classify_source(referrer, utm, SITE) == expected


def test_mobile_weibo_is_social() -> None:
    assert classify_source("https://m.weibo.cn/status/123", {}, SITE) == "social"


CHROME_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36")
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
SAFARI_IOS = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Version/17.1 Mobile/15E148 Safari/604.1")
SAFARI_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Version/17.1 Safari/605.1.15")
ANDROID_TABLET = ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/119.0.0.0 Safari/537.36")
ANDROID_PHONE = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                 "Chrome/120.0.6099.43 Mobile Safari/537.36")
WECHAT_IOS = ("Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Mobile/15E148 MicroMessenger/8.0.42(0x18002a2f) NetType/WIFI Language/zh_CN")
WECHAT_ANDROID = ("Mozilla/5.0 (Linux; Android 12; V2055A) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/107.0.5304.141 Mobile Safari/537.36 XWEB/5023 MMWEBSDK/20230405 "
                  "MicroMessenger/8.0.35.2360(0x2800235D) WeChat/arm64 Weixin NetType/WIFI")
EDGE_WIN = CHROME_WIN + " Edg/120.0.2210.61"
IPAD = ("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/16.6 Mobile/15E148 Safari/604.1")


@pytest.mark.parametrize(
    "user_agent, expected",
    [
        (CHROME_WIN, "Chrome 120 on Windows, desktop"),
        (FIREFOX_LINUX, "Firefox 121 on Linux, desktop"),
        (SAFARI_IOS, "Safari 17 on iOS, mobile"),
        (SAFARI_MAC, "Safari 17 on macOS, desktop"),
        (ANDROID_TABLET, "Chrome 119 on Android, tablet"),
        (ANDROID_PHONE, "Chrome 120 on Android, mobile"),
        (WECHAT_IOS, "WeChat 8 on iOS, mobile"),
        (WECHAT_ANDROID, "WeChat 8 on Android, mobile"),
        (EDGE_WIN, "Edge 120 on Windows, desktop"),
        (IPAD, "Safari 16 on iOS, tablet"),
        ("curl/8.4.0", "Browser on unknown OS, desktop"),
    ],
)
def test_describe_device(user_agent: str, expected: str) -> None:
    assert describe_device(user_agent) == expected


@pytest.mark.parametrize("user_agent", [None, ""])
def test_no_user_agent_means_no_device(user_agent: str | None) -> None:
    assert describe_device(user_agent) is None


def visitor() -> Visitor:
    return Visitor("t_1", "v_1", created_at=T0, last_seen_at=T0)


def view(v: Visitor, url: str, at: int, referrer: str | None = None, utm: dict[str, str] | None = None,
         title: str = "") -> None:
    record_page_view(v, url, title, referrer, utm or {}, None, None, at)


def test_trail_keeps_the_twenty_most_recent_pages_oldest_first() -> None:
    v = visitor()
    for i in range(TRAIL_LENGTH + 5):
        view(v, f"https://{SITE}/p/{i}", T0 + i)
    assert len(v.trail) == TRAIL_LENGTH == 20
    assert [page.url for page in v.trail] == [f"https://{SITE}/p/{i}" for i in range(5, 25)]
    assert v.last_seen_at == T0 + 24


def test_a_view_recorded_after_a_later_one_goes_in_its_place() -> None:
    """Overlapping invocations: the view received at T0+2 is recorded after the one at T0+3."""
    v = visitor()
    view(v, f"https://{SITE}/a", T0 + 1, utm={"campaign": "spring"})
    view(v, f"https://{SITE}/c", T0 + 3, utm={"campaign": "summer"})
    record_page_view(v, f"https://{SITE}/b", "", None, {"campaign": "stale"}, "zh-CN", None, T0 + 2)
    assert [page.url.rsplit("/", 1)[1] for page in v.trail] == ["a", "b", "c"]
    assert v.utm == {"campaign": "summer"}  # a later view's campaign is not overwritten
    assert v.language == "zh-CN"  # but what no later view said is filled in
    assert v.last_seen_at == T0 + 3
    view(v, f"https://{SITE}/c", T0 + 2)  # the same page as the later visit next to it: not twice
    assert [page.url.rsplit("/", 1)[1] for page in v.trail] == ["a", "b", "c"]


def test_reloading_the_same_page_does_not_grow_the_trail_but_updates_its_title() -> None:
    v = visitor()
    view(v, f"https://{SITE}/", T0, title="Loading…")
    view(v, f"https://{SITE}/", T0 + 1, title="Home")
    assert [(page.url, page.title, page.at) for page in v.trail] == [(f"https://{SITE}/", "Home", T0)]


def test_first_external_referrer_is_kept_and_internal_ones_ignored() -> None:
    v = visitor()
    view(v, f"https://{SITE}/", T0, referrer="https://www.baidu.com/s?wd=x")
    view(v, f"https://{SITE}/a", T0 + 1, referrer=f"https://{SITE}/")
    view(v, f"https://{SITE}/b", T0 + 2, referrer="https://weibo.com/post")
    assert v.referrer == "https://www.baidu.com/s?wd=x"
    assert v.source == "search"


def test_internal_referrer_first_then_external_is_recorded() -> None:
    v = visitor()
    view(v, f"https://{SITE}/", T0, referrer=f"https://{SITE}/x")
    assert v.referrer is None and v.source == "direct"
    view(v, f"https://{SITE}/a", T0 + 1, referrer="https://partner.example/")
    assert v.referrer == "https://partner.example/" and v.source == "referral"


def test_latest_campaign_wins_and_a_page_without_tags_keeps_it() -> None:
    v = visitor()
    view(v, f"https://{SITE}/", T0, utm={"source": "mail", "campaign": "spring"})
    view(v, f"https://{SITE}/a", T0 + 1, utm={"source": "ads", "campaign": "summer"})
    view(v, f"https://{SITE}/b", T0 + 2)
    assert v.utm == {"source": "ads", "campaign": "summer"}
    assert v.source == "campaign"


def test_language_and_screen_are_kept_when_a_later_view_omits_them() -> None:
    v = visitor()
    record_page_view(v, f"https://{SITE}/", "", None, {}, "zh-CN", "390x844", T0)
    record_page_view(v, f"https://{SITE}/a", "", None, {}, None, None, T0 + 1)
    assert (v.language, v.screen) == ("zh-CN", "390x844")


def sign(secret: str, email: str) -> str:
    return hmac.new(secret.encode(), email.encode(), hashlib.sha256).hexdigest()


def test_user_hash_is_the_hmac_of_the_normalised_email() -> None:
    good = sign("s3cret", "ann@example.com")
    assert user_hash_valid("s3cret", good, "ann@example.com")
    assert user_hash_valid("s3cret", good.upper(), "  Ann@Example.com ")


@pytest.mark.parametrize(
    "secret, user_hash, email",
    [
        ("s3cret", sign("other", "ann@example.com"), "ann@example.com"),
        ("s3cret", sign("s3cret", "ann@example.com"), "ben@example.com"),
        ("s3cret", "", "ann@example.com"),
        ("s3cret", None, "ann@example.com"),
        ("s3cret", sign("s3cret", ""), None),
        ("", sign("", "ann@example.com"), "ann@example.com"),  # no secret: nothing verifies
        ("s3cret", "zz", "ann@example.com"),
    ],
)
def test_user_hash_rejected(secret: str, user_hash: str | None, email: str | None) -> None:
    assert not user_hash_valid(secret, user_hash, email)


def test_identify_keeps_per_field_the_value_of_the_frame_received_last() -> None:
    """Frames of one socket run as overlapping invocations: here the frame received at
    t=300 is handled before the ones received at t=100 and t=200."""
    from tests.fakes import build_services

    world = build_services()
    tenant = world.add_tenant("Shop", identity_secret="s3cret")
    visitor = world.add_visitor(tenant)
    tab = world.connect_visitor(visitor)

    def identify(received_ms: int, **fields: object) -> None:
        world.chat.handle_raw(tab.connection_id, json.dumps({"action": "identify", **fields}), received_ms)

    now = world.clock.now_ms()
    identify(now + 300, name="Third", attributes={"plan": "gold"},
             email="li@example.com", user_hash=sign("s3cret", "li@example.com"))
    identify(now + 100, name="First", phone="+1 555 0100", attributes={"plan": "free", "lang": "zh"})
    identify(now + 200, name="Second", email="old@example.com")  # no user_hash: would clear verified
    stored = world.visitor_repo.get(tenant.tenant_id, visitor.visitor_id)
    assert stored is not None
    assert (stored.name, stored.email, stored.verified) == ("Third", "li@example.com", True)
    assert stored.phone == "+1 555 0100"  # only the earlier frame set it: kept
    assert stored.attributes == {"plan": "gold", "lang": "zh"}
    identify(now + 400, name="Fourth")  # a later frame without user_hash decides verified afresh
    stored = world.visitor_repo.get(tenant.tenant_id, visitor.visitor_id)
    assert stored is not None and (stored.name, stored.verified) == ("Fourth", False)
