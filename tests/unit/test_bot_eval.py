"""The bot's figures on the evaluation set (tests/data/kb) must not regress.

Targets (issue 6): top-1 ≥ 0.90, unanswerable handed off ≥ 0.90, answerable handed off
≤ 0.10. Top-1 meets its target on the held-out part; the development part, since its
third batch of long, chatty questions (questions_dev.txt), is a little below, and the
fresh part (questions_fresh.txt, written by a hand that saw only the articles) far below
(0.76), which takes all questions below too. The hand-off targets are not met on any
part: those figures are guarded by floors a little below what was measured (see
docs/architecture.md), so a regression is caught; the threshold was chosen on the
development part only.
"""
from __future__ import annotations

import pytest

from tests.kb_eval import figures, load_articles, load_index, load_questions, run


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
    assert dev["top1_accuracy"] >= 0.88
    assert dev["handoff_correct"] >= 0.84
    assert dev["wrong_handoff"] <= 0.19
    assert dev["answered_wrong"] <= 0.02


def test_all_questions_and_held_out_floors(outcomes: dict[str, dict[str, float]]) -> None:
    everything, held = outcomes["all"], outcomes["held_out"]
    assert everything["top1_accuracy"] >= 0.87
    assert everything["wrong_handoff"] <= 0.25
    assert everything["handoff_correct"] >= 0.86
    assert held["top1_accuracy"] >= 0.92
    assert held["handoff_correct"] >= 0.82
    assert held["wrong_handoff"] <= 0.12
    assert held["answered_wrong"] <= 0.02


def test_fresh_part_floors(outcomes: dict[str, dict[str, float]]) -> None:
    """Measured once before any change (2026-12-04): top-1 0.758, hand-off 0.955 / 0.621."""
    fresh = outcomes["fresh"]
    assert fresh["top1_accuracy"] >= 0.74
    assert fresh["handoff_correct"] >= 0.93
    assert fresh["wrong_handoff"] <= 0.64
    assert fresh["answered_wrong"] <= 0.03
