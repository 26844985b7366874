"""The bot's figures on the evaluation set (tests/data/kb) must not regress.

Targets (issue 6): top-1 ≥ 0.90, unanswerable handed off ≥ 0.90, answerable handed off
≤ 0.10. With the sentence encoders (questions matched by meaning, chalicelib/kb/embed.py)
the held-out part meets all three, asserted as such. The development part (which holds
the first two fresh batches, questions_fresh1/2.txt, since they were measured) meets
top-1, not the hand-off targets; the fresh part (questions_fresh3.txt and
questions_fresh4.txt, each written by a new hand that saw only the articles) hands off 97 %
of unanswerable questions but also about half of the answerable ones, and its top-1 is
0.85: questions worded far from the articles stay below the hand-off cut-off. Those figures are guarded by floors a little below what was
measured (docs/architecture.md, "Meaning matching"); the cut-offs were chosen on the
development part only, before any fresh measurement.
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
    assert dev["top1_accuracy"] >= 0.92
    assert dev["handoff_correct"] >= 0.86
    assert dev["wrong_handoff"] <= 0.25
    assert dev["answered_wrong"] <= 0.01


def test_all_questions_and_held_out_floors(outcomes: dict[str, dict[str, float]]) -> None:
    everything, held = outcomes["all"], outcomes["held_out"]
    assert everything["top1_accuracy"] >= 0.91
    assert everything["wrong_handoff"] <= 0.29  # 0.272 over all 1,842 (0.258 before questions_fresh4.txt)
    assert everything["handoff_correct"] >= 0.88
    assert held["answered_wrong"] <= 0.01


def test_held_out_part_meets_the_targets(outcomes: dict[str, dict[str, float]]) -> None:
    """Measured 0.989 / 0.915 / 0.068 (was 0.955 / 0.864 / 0.102 with words alone)."""
    held = outcomes["held_out"]
    assert held["top1_accuracy"] >= 0.90
    assert held["handoff_correct"] >= 0.90
    assert held["wrong_handoff"] <= 0.10


@pytest.mark.parametrize("name", ["questions_fresh5.txt", "questions_fresh6.txt"])
def test_the_next_fresh_batches_are_ready_and_not_yet_in_the_set(name: str) -> None:
    """questions_fresh5.txt and questions_fresh6.txt wait, unmeasured, for the next change of
    the bot: well formed, every label an article topic or "handoff", and no question of the
    set or of the other batch (read, not run)."""
    from tests.kb_eval import DATA

    topics = {a["topic"] for a in load_articles()} | {"handoff"}

    def pairs_of(file: str) -> list[tuple[str, ...]]:
        lines = [line for line in (DATA / file).read_text(encoding="utf-8").splitlines()
                 if line.strip() and not line.startswith("#")]
        return [tuple(part.strip() for part in line.split("|", 1)) for line in lines]

    pairs = pairs_of(name)
    other = "questions_fresh6.txt" if name == "questions_fresh5.txt" else "questions_fresh5.txt"
    assert len(pairs) >= 180 and all(len(p) == 2 and p[0] in topics and p[1] for p in pairs)
    texts = {p[1] for p in pairs}
    assert len(texts) == len(pairs) and not texts & {q.text for q in load_questions()}
    assert not texts & {p[1] for p in pairs_of(other)}
    assert "NOT YET MEASURED" in (DATA / name).read_text(encoding="utf-8")


def test_the_evaluation_runs_the_bot_with_its_encoders() -> None:
    assert set(load_index().encoders) == {"en", "zh"}


def test_fresh_part_floors(outcomes: dict[str, dict[str, float]]) -> None:
    """Each fresh file measured once with the bot as it was then, both on 2026-12-04:
    questions_fresh3.txt top-1 0.819, hand-off 1.000 / 0.604 (words alone 0.611 / 0.947 /
    0.725); questions_fresh4.txt (209) 0.885 / 0.942 / 0.376; together (415) 0.853 / 0.973 /
    0.487, nothing answered wrong. The earlier fresh batches (now development) showed the
    same: unseen wording is handed off too often."""
    fresh = outcomes["fresh"]
    assert fresh["top1_accuracy"] >= 0.83
    assert fresh["handoff_correct"] >= 0.95
    assert fresh["wrong_handoff"] <= 0.50
    assert fresh["answered_wrong"] <= 0.01
