"""Text handling for the knowledge base: normalisation, English and Chinese tokens."""
from __future__ import annotations

from chalicelib.kb.text import detect_locale, normalize, tokenize, trigrams


def test_full_width_folds_to_half_width_and_case() -> None:
    assert normalize("ＷＨＥＲＥ ｉｓ ｍｙ ｏｒｄｅｒ？１２３") == "where is my order?123"


def test_traditional_chinese_folds_to_simplified() -> None:
    assert normalize("我的訂單什麼時候發貨") == "我的订单什么时候发货"
    assert tokenize("退貨").words == tokenize("退货").words


def test_chinese_is_segmented_into_words_not_characters() -> None:
    words = tokenize("我的订单什么时候发货").words
    assert "订单" in words and "发货" in words
    assert "我" not in words and "的" not in words  # stop words dropped


def test_chinese_bigrams_overlap_across_segmentations() -> None:
    assert "退款" in tokenize("我想要退款").grams


def test_english_words_are_stemmed_and_stop_words_dropped() -> None:
    assert tokenize("Shipping shipped ships").words == ["ship", "ship", "ship"]
    assert tokenize("what is the").words == []


def test_chat_slang_is_expanded() -> None:
    assert tokenize("can u ship 2 canada plz").words == ["ship", "canada"]
    assert tokenize("cant log in").words == tokenize("can not log in").words


def test_typos_keep_most_trigrams() -> None:
    right, typo = set(trigrams("delivery")), set(trigrams("delivrey"))
    assert len(right & typo) / len(right) >= 0.5


def test_mixed_language_keeps_both_parts() -> None:
    words = tokenize("我想 refund 怎么弄").words
    assert "refund" in words


def test_common_words_and_real_words() -> None:
    from chalicelib.kb.lexicon import is_common, is_real_word

    assert is_common("yesterday") and not is_common("furniture")
    assert is_real_word("tree") and not is_real_word("recieve")


def test_locale_detection() -> None:
    assert detect_locale("where is my parcel") == "en"
    assert detect_locale("refund 多久到账") == "zh"
    assert detect_locale("ok 好") == "en"  # one character is not enough
