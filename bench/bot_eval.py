"""The bot on the evaluation set (tests/data/kb): top-1 accuracy, hand-off shares, latency.

Prints the figures for the development, held-out and fresh parts, then ONE JSON object
(all questions, with the held-out figures under "held_out" and the fresh ones under
"fresh") on its last line.

    .venv/bin/python bench/bot_eval.py [--misses [dev|held|fresh]]

The development part is the hash-selected 70 % of tests/data/kb/questions.txt plus
questions_dev.txt; the held-out part the other 30 % plus questions_heldout.txt; the fresh
part questions_fresh5.txt to questions_fresh38.txt (each written later by a new hand that saw
only the articles; reported together and per file; the earlier such batches,
questions_fresh1-4.txt, are in the development part since they were measured; each new file is
measured once, for a change or as a plain reading, before it joins: tests/kb_eval.py).
Since session 19 the unanswerable questions of the development files and of fresh 1-32 are
also in the bot's background (chalicelib/kb/data/background_asked_*.txt), so those figures are
seen ones; the held-out part and each new batch's first run measure questions it has not seen.
"""
from __future__ import annotations

import argparse
import time

from _common import emit_figures, progress, use_repo_root

use_repo_root()

from chalicelib.kb import embed  # noqa: E402
from tests.kb_eval import figures, load_index, load_questions, run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--misses", nargs="?", const="dev", choices=("dev", "held", "fresh"),
                        help="list the questions of a part (development by default) it got wrong")
    args = parser.parse_args()
    load_ms = {}
    for locale in ("en", "zh"):  # what a cold Lambda pays once, on its first bot decision in that language
        start = time.perf_counter()
        if embed.load(locale) is None:
            progress(f"no sentence encoder for {locale} is installed: words alone for it")
        load_ms[locale] = round((time.perf_counter() - start) * 1000, 1)
    start = time.perf_counter()
    index = load_index()
    questions = load_questions()
    run(questions[:5], index)  # warm the segmenter and caches, as a warm Lambda would be
    index_ms = (time.perf_counter() - start) * 1000
    progress(f"encoders loaded in {load_ms} ms; index of {len(index)} articles built and warmed in "
             f"{index_ms:.0f} ms (passages embedded here; stored with the articles in the product)")
    dev = run([q for q in questions if not q.held_out and not q.fresh], index)
    held = run([q for q in questions if q.held_out], index)
    fresh = run([q for q in questions if q.fresh], index)
    progress(f"development ({len(dev)}): {figures(dev)}")
    progress(f"held out ({len(held)}): {figures(held)}")
    progress(f"fresh ({len(fresh)}): {figures(fresh)}")
    by_file = {name: figures([o for o in fresh if o.question.source == name])
               for name in sorted({o.question.source for o in fresh})}
    for name, part in by_file.items():
        progress(f"  {name} ({part['questions']}): {part}")
    if args.misses:
        for o in {"dev": dev, "held": held, "fresh": fresh}[args.misses]:
            ok = (o.kind == "handoff") if not o.answerable else (o.top == o.question.expected and o.kind != "handoff")
            if not ok:
                progress(f"  MISS {o.question.expected:28} {o.kind:8} {o.top}  | {o.question.text}")
    result = figures(dev + held + fresh)
    result["held_out"] = figures(held)
    result["fresh"] = figures(fresh)
    result["fresh_by_file"] = by_file
    result["encoders"] = {locale: getattr(embed.load(locale), "model_id", None) for locale in ("en", "zh")}
    result["encoder_load_ms"] = load_ms
    result["index_build_ms"] = round(index_ms, 1)
    emit_figures(result)


if __name__ == "__main__":
    main()
