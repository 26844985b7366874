"""The bot on the evaluation set (tests/data/kb): top-1 accuracy, hand-off shares, latency.

Prints the figures for the development part, the held-out part and all questions, then
ONE JSON object (all questions, with the held-out figures under "held_out") on its last line.

    .venv/bin/python bench/bot_eval.py [--misses [dev|held]]

The development part is the hash-selected 70 % of tests/data/kb/questions.txt plus
questions_dev.txt; the held-out part the other 30 % plus questions_heldout.txt.
"""
from __future__ import annotations

import argparse
import time

from _common import emit_figures, progress, use_repo_root

use_repo_root()

from tests.kb_eval import figures, load_index, load_questions, run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--misses", nargs="?", const="dev", choices=("dev", "held"),
                        help="list the questions of a part (development by default) it got wrong")
    args = parser.parse_args()
    start = time.perf_counter()
    index = load_index()
    progress(f"index of {len(index)} articles built in {(time.perf_counter() - start) * 1000:.0f} ms")
    questions = load_questions()
    run(questions[:5], index)  # warm the segmenter and caches, as a warm Lambda would be
    dev = run([q for q in questions if not q.held_out], index)
    held = run([q for q in questions if q.held_out], index)
    progress(f"development ({len(dev)}): {figures(dev)}")
    progress(f"held out ({len(held)}): {figures(held)}")
    if args.misses:
        for o in dev if args.misses == "dev" else held:
            ok = (o.kind == "handoff") if not o.answerable else (o.top == o.question.expected and o.kind != "handoff")
            if not ok:
                progress(f"  MISS {o.question.expected:28} {o.kind:8} {o.top}  | {o.question.text}")
    result = figures(dev + held)
    result["held_out"] = figures(held)
    emit_figures(result)


if __name__ == "__main__":
    main()
