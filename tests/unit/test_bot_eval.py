"""The bot's figures on the evaluation set (tests/data/kb) must not regress.

Targets (issue 6): top-1 ≥ 0.90, unanswerable handed off ≥ 0.90, answerable handed off
≤ 0.10. With the sentence encoders (questions matched by meaning, chalicelib/kb/embed.py)
and 16 phrasings per article (since 2026-12-05), every part meets top-1. Since the
background (chalicelib/kb/background.py) the held-out and development parts and all
questions together meet all three; since session 15 (the not_answered lines' reach) the fresh
part (questions_fresh5-21.txt, each written by a new hand that saw only the articles, first
measured once, for a change or, fresh 13, 18 and 19, with none) does too: 0.961 / 0.902 /
0.052. Measured once each: questions_fresh17.txt, for that change, 0.961 / 0.918 / 0.045; 18,
19 and 20, with the bot's figures unchanged after it, 0.978 / 0.842 / 0.045, 0.968 / 0.898 /
0.038 and 0.983 / 0.864 / 0.092; 21, for written Cantonese read as Mandarin, 0.994 / 0.873 /
0.038 — on unseen questions the unanswerable hand-off is near the target (230 of 262 over the
five, 0.878), not safely over it. Session 17 raised the clarify threshold 0.36 → 0.39 (the bot
hands over below it), for the most room to both hand-off targets on the first runs of 22-26:
more unanswerable questions handed off, more answerable ones too, the answers unchanged
(architecture.md, "Where the bot hands over"); session 20 lowered it to 0.37, chosen the same way
on the first runs of 33-35 and measured once on 36. Read unseen at 0.37 (36, 37 and 38, 810
questions): 0.960 / 0.922 / 0.078, all three targets met. Those figures are
guarded by floors a little below what was measured (docs/architecture.md, "Meaning
matching", "The background", "How near a line must come"); the cut-offs were chosen on the
development part only, before any fresh measurement, and the reach on every part then seen.
"""
from __future__ import annotations

import pytest

from tests.kb_eval import figures, load_articles, load_index, load_questions, run

# The module's fixture decides every question of the set (about 200 s in one test worker on the
# 2-core machines, more when the machine is busy; its setup counts towards its first test's
# time): pytest.ini's 300 s per test is too near for it.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict[str, float]]:
    index = load_index()
    questions = load_questions()
    dev = run([q for q in questions if not q.held_out and not q.fresh], index)
    held = run([q for q in questions if q.held_out], index)
    fresh = run([q for q in questions if q.fresh], index)
    return {"dev": figures(dev), "held_out": figures(held), "fresh": figures(fresh),
            "all": figures(dev + held + fresh)}


def test_the_set_is_big_enough_and_bilingual() -> None:
    articles = load_articles()
    questions = load_questions()
    assert len(articles) >= 40 and {a["locale"] for a in articles} == {"en", "zh"}
    assert len(questions) >= 300
    assert len({q.text for q in questions}) == len(questions)  # no question in both parts
    assert sum(q.expected == "handoff" for q in questions) >= 40
    assert sum(q.expected.endswith(".zh") for q in questions) >= 80


def test_files_that_fix_their_part_keep_it() -> None:
    questions = load_questions()
    assert all(q.held_out for q in questions if q.part == "held_out")
    assert not any(q.held_out for q in questions if q.part == "dev")
    assert sum(q.part == "held_out" for q in questions) >= 100 and sum(q.part == "dev" for q in questions) >= 500
    assert not any(q.held_out for q in questions if q.fresh) and sum(q.fresh for q in questions) >= 200


def test_development_part(outcomes: dict[str, dict[str, float]]) -> None:
    dev = outcomes["dev"]
    """Measured 0.971 / 0.989 / 0.052 with the clarify threshold at 0.37 (session 20); 0.971 /
    0.989 / 0.063, answered wrong 0.003 (1,607 questions), since this part's
    unanswerable questions are in the bot's background (session 19: a seen figure, not a test of
    the method; before, 0.971 / 0.964 / 0.058; 0.971 / 0.964 / 0.059
    before English shop words in Chinese were read as Mandarin; 0.971 / 0.962 / 0.042
    with the clarify threshold at 0.36; 0.971 / 0.956 / 0.041 before the Chinese background's cover; 0.971 / 0.947 /
    0.033 before the not_answered lines' reach, 0.965 / 0.941 /
    0.060 with 16 phrasings an article, 0.965 / 0.939 / 0.056 before the articles' lists of what
    they do not answer, 0.961 / 0.894 / 0.085 before the background)."""
    assert dev["top1_accuracy"] >= 0.94
    assert dev["handoff_correct"] >= 0.97
    assert dev["wrong_handoff"] <= 0.08
    assert dev["answered_wrong"] <= 0.01


def test_all_questions_and_held_out_floors(outcomes: dict[str, dict[str, float]]) -> None:
    everything, held = outcomes["all"], outcomes["held_out"]
    # Since session 19 the unanswerable questions of every part but the held-out one are in the
    # bot's background (chalicelib/kb/data/background_asked_*.txt): these are seen figures.
    assert everything["top1_accuracy"] >= 0.95  # 0.962 over all 10,374 (0.946 with 16 phrasings)
    assert everything["wrong_handoff"] <= 0.085  # 0.070 (the clarify threshold at 0.37, fresh 36-38 joined; 0.090 with fresh 35 at 0.39; 0.089 with fresh 34; the background grown from what visitors asked, fresh 33 joined; 0.081 before, fresh 32 joined; 0.080 on the 8,408 before it; fresh 30 and 31 joined; on the 7,840 before them 0.076, 0.077 before English shop words in Chinese as Mandarin, 0.080 before regional words; 0.054 with the clarify threshold at 0.36; 0.050 before the Chinese background's cover; 0.057 before Cantonese as Mandarin; 0.084 with 16 phrasings)
    assert everything["handoff_correct"] >= 0.955  # 0.966 (the clarify threshold at 0.37, fresh 36-38 joined; 0.974 with fresh 34 and 35 at 0.39; 0.976 with the background grown from what visitors asked, fresh 33 joined; 0.926 before, fresh 32 joined; 0.927 on the 8,408 before it; fresh 30 and 31 joined; 0.932 on the 7,840 before them, 0.931 before regional words; 0.919 with the clarify threshold at 0.36; 0.915 before the Chinese background's cover; 0.903 before the reach; 0.884 before the background)
    assert held["answered_wrong"] <= 0.01


def test_held_out_part(outcomes: dict[str, dict[str, float]]) -> None:
    """Measured 0.983 / 0.949 / 0.045 with the clarify threshold at 0.37 (session 20; 56 of 59
    unanswerable); 0.983 / 0.966 / 0.062 since English shop words in Chinese are read as Mandarin
    (0.977 / 0.966 / 0.062 before) with the clarify threshold at 0.39 (57 of 59 unanswerable;
    answered wrong 1 of 176); 0.977 / 0.949 / 0.045 with the Chinese background's cover; 0.977 / 0.932 / 0.045 with 28 phrasings an article (the
    same with the not_answered lines' reach);
    0.977 / 0.932 / 0.051 since the background's third hand (0.977 / 0.932 / 0.045
    with two, 0.977 / 0.915 / 0.062 with the first, 0.977 / 0.864 / 0.028 before it; 0.955 /
    0.864 / 0.102 with words alone): all three targets met."""
    held = outcomes["held_out"]
    assert held["top1_accuracy"] >= 0.95
    assert held["handoff_correct"] >= 0.90
    assert held["wrong_handoff"] <= 0.08


def test_the_next_fresh_batch_is_ready_and_not_yet_in_the_set() -> None:
    """questions_fresh39.txt waits, unmeasured, for the next change of the bot: well formed,
    every label an article topic or "handoff", and no question of the set (read, not run)."""
    from tests.kb_eval import DATA

    topics = {a["topic"] for a in load_articles()} | {"handoff"}
    text = (DATA / "questions_fresh39.txt").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    pairs = [tuple(part.strip() for part in line.split("|", 1)) for line in lines]
    assert len(pairs) >= 180 and all(len(p) == 2 and p[0] in topics and p[1] for p in pairs)
    texts = {p[1] for p in pairs}
    assert len(texts) == len(pairs) and not texts & {q.text for q in load_questions()}
    assert "NOT YET MEASURED" in text


def test_the_evaluation_runs_the_bot_with_its_encoders() -> None:
    assert set(load_index().encoders) == {"en", "zh"}


def test_fresh_part_floors(outcomes: dict[str, dict[str, float]]) -> None:
    """Each file measured once for a change, 2026-12-05. questions_fresh5.txt (229) and
    questions_fresh6.txt (189), for the articles' 16 phrasings and cut-offs chosen again:
    0.941 / 0.938 / 0.178 together (the bot before: 0.888 / 0.979 / 0.399).
    questions_fresh7.txt (237, written after the articles had 16 phrasings), for products
    named as items: 0.928 / 0.825 / 0.239 (the bot before: 0.928 / 0.825 / 0.256).
    questions_fresh8.txt (228), for a change that did not land: 0.900 / 0.938 / 0.261.
    questions_fresh9.txt (213), for the articles' centroid passage: 0.934 / 0.935 / 0.180 →
    0.946 / 0.935 / 0.180. questions_fresh10.txt (228), for the neighbours' agreement
    (English): 0.923 / 0.809 / 0.276 → 0.923 / 0.830 / 0.249 (fresh 5-9 0.935 / 0.907 / 0.190 →
    0.935 / 0.903 / 0.191); the six then (1,324): 0.933 / 0.891 / 0.201. questions_fresh11.txt
    (244), for the background: 0.923 / 0.760 / 0.129 → 0.923 / 0.860 / 0.077 (fresh 5-10 0.933 /
    0.892 / 0.201 → 0.933 / 0.942 / 0.108); the seven then (1,568): 0.931 / 0.930 / 0.103.
    questions_fresh12.txt (265), for the background's second hand and questions about when people
    answer: 0.926 / 0.672 / 0.162 → 0.931 / 0.689 / 0.113 (fresh 5-11 0.931 / 0.930 / 0.103 →
    0.936 / 0.922 / 0.081); the eight then (1,833): 0.935 / 0.887 / 0.086. questions_fresh13.txt
    (252), with no change of the bot: 0.910 / 0.755 / 0.126; the nine then (2,085): 0.932 / 0.872 /
    0.090. questions_fresh14.txt (246), for the background's third hand: 0.926 / 0.696 / 0.095 →
    0.926 / 0.768 / 0.111 (fresh 5-13 0.932 / 0.872 / 0.090 → 0.932 / 0.898 / 0.103); the ten then
    (2,331): 0.932 / 0.884 / 0.104. questions_fresh15.txt (238), for the articles' lists of what
    they do not answer and the anger rule's precision: 0.923 / 0.789 / 0.099 → 0.923 / 0.842 /
    0.099 (fresh 5-14 0.932 / 0.884 / 0.104 → 0.936 / 0.909 / 0.104); the eleven then (2,569):
    0.934 / 0.902 / 0.104. questions_fresh16.txt (237), for 12 more phrasings an article:
    0.935 / 0.698 / 0.054 → 0.967 / 0.679 / 0.033 (fresh 5-15 0.934 / 0.902 / 0.104 → 0.954 /
    0.885 / 0.060); the twelve then (2,806): 0.955 / 0.867 / 0.057. questions_fresh17.txt (228), for
    the not_answered lines' reach (session 15; chosen on every part then seen, fresh 5-16 too):
    0.961 / 0.837 / 0.028 → 0.961 / 0.918 / 0.045 (fresh 5-16 0.955 / 0.867 / 0.057 → 0.955 /
    0.914 / 0.067); the thirteen then (3,034): 0.956 / 0.914 / 0.065. questions_fresh18.txt (235)
    and questions_fresh19.txt (234, its hand asked for a shop's week as it comes rather than for
    many near-subject details), with no change of the bot: 0.978 / 0.842 / 0.045 and 0.968 /
    0.898 / 0.038 (19: 0.973 / 0.898 / 0.032 with the spam folder's 垃圾 no longer anger).
    questions_fresh20.txt (218), for a change that did not land (answer cut-offs chosen on every
    seen part; these figures are the same with and without it): 0.983 / 0.864 / 0.092; the
    sixteen then (3,721): 0.960 / 0.905 / 0.064. questions_fresh21.txt (223), for written
    Cantonese read as Mandarin: 0.994 / 0.873 / 0.081 → 0.994 / 0.873 / 0.038 (fresh 5-20
    0.960 / 0.905 / 0.064 → 0.959 / 0.904 / 0.053); the seventeen then (3,944): 0.961 / 0.902 /
    0.052. questions_fresh22.txt (262), for a change that did not land (Chinese background
    questions near an article kept when its words leave them out; 0.965 / 0.953 / 0.045 → 0.965 /
    0.953 / 0.056): a plain reading 0.965 / 0.953 / 0.045. questions_fresh23.txt (223), for a
    change that did not land (the hand-off cut-offs chosen for the most room to both targets:
    0.964 / 0.873 / 0.042 → 0.964 / 0.891 / 0.054, answered wrong 0.006 → 0.012): a plain reading
    0.964 / 0.873 / 0.042. questions_fresh24.txt (269), for traditional characters read as
    simplified too: 0.970 / 0.819 / 0.102 → 0.970 / 0.833 / 0.102 (fresh 5-23 0.961 / 0.904 / 0.051
    → 0.961 / 0.906 / 0.049); the twenty then (4,698): 0.962 / 0.901 / 0.052. questions_fresh25.txt
    (255), for a change that did not land (English in plain spelling; no decision changed): a plain
    reading 0.962 / 0.847 / 0.077; the twenty-one then (4,953): 0.962 / 0.897 / 0.053.
    questions_fresh26.txt (245), for keeping Chinese background questions near an article whose
    words leave them out (22's change, measured again): 0.959 / 0.905 / 0.047 → 0.959 / 0.919 /
    0.047 (fresh 5-25 0.962 / 0.897 / 0.053 → 0.962 / 0.909 / 0.057); the twenty-two then (5,198):
    0.962 / 0.909 / 0.056. questions_fresh27.txt (244), for the clarify threshold 0.36 → 0.39
    (session 17, chosen on the first runs of 22-26): 0.960 / 0.771 / 0.080 → 0.960 / 0.843 / 0.132,
    answered wrong 0 → 0 (fresh 5-26 0.962 / 0.909 / 0.056 → 0.962 / 0.929 / 0.081); the
    twenty-three then (5,442): 0.962 / 0.924 / 0.083. questions_fresh28.txt (288), with no change:
    0.943 / 0.818 / 0.147 (at 0.36 it would have read 0.943 / 0.766 / 0.076). questions_fresh29.txt
    (268), for regional words (Cantonese and Taiwan usage) read as the articles write them: 0.963 /
    0.935 / 0.079 → 0.963 / 0.948 / 0.073, answered wrong 0 (fresh 5-28 0.961 / 0.918 / 0.086 →
    0.961 / 0.919 / 0.083); the twenty-five then (5,998): 0.961 / 0.921 / 0.083. questions_fresh30.txt
    (278), with no change (session 18): 0.940 / 0.910 / 0.165. questions_fresh31.txt (290), for
    English shop words in a Chinese message read as the articles' Mandarin: 0.967 / 0.808 / 0.156 →
    0.967 / 0.795 / 0.137, answered wrong 1 → 1 (fresh 5-30 0.960 / 0.920 / 0.086 → 0.961 / 0.920 /
    0.083); the twenty-seven then (6,566): 0.962 / 0.914 / 0.085. questions_fresh32.txt (277), with
    no change of the bot's decisions (session 19, a plain reading): 0.950 / 0.922 / 0.105, answered
    wrong 0; the twenty-eight then (6,843): 0.961 / 0.914 / 0.086. questions_fresh33.txt (286), for
    the background grown from what visitors asked (the unanswerable questions of fresh 1-32 and the
    development part added to it; chosen on fresh 26-32 with 1-25 added: summed miss 0.225 ->
    0.202): 0.938 / 0.880 / 0.114 -> 0.938 / 0.933 / 0.133, answered wrong 1 -> 1. questions_fresh34.txt
    (291), for the clarify threshold 0.38, which did not land (room to both targets unchanged):
    the bot as it is read 0.958 / 0.910 / 0.070 unseen, both targets met. questions_fresh35.txt
    (302), with no change (a plain reading): 0.951 / 0.962 / 0.129, answered wrong 0.
    questions_fresh36.txt (288), for the clarify threshold 0.39 -> 0.37 (session 20, chosen on the
    first runs of 33-35): 0.944 / 0.932 / 0.098 -> 0.944 / 0.932 / 0.084, answered wrong 0 -> 0.
    questions_fresh37.txt (260) and questions_fresh38.txt (262), with no change (plain readings of
    0.37): 0.967 / 0.855 / 0.082 and 0.972 / 0.976 / 0.067, answered wrong 0; 36-38 together
    0.960 / 0.922 / 0.078. All thirty-four now (8,532): 0.960 / 0.962 / 0.073, answered wrong
    0.002 — seen figures (fresh 5-32's unanswerable questions are in the background, and 33 onwards
    were read), so the floors only guard against regressions."""
    fresh = outcomes["fresh"]
    assert fresh["top1_accuracy"] >= 0.94
    assert fresh["handoff_correct"] >= 0.95
    assert fresh["wrong_handoff"] <= 0.09
    assert fresh["answered_wrong"] <= 0.01
