"""What web shops are commonly asked: the bot's background, for telling "not in this base" apart.

`data/background_en.txt` and `data/background_zh.txt` hold 900 questions each that visitors
of small online shops (clothes, shoes, accessories, small electronics, homeware, gifts)
commonly send — every area of a shop, not one shop: ordering, products, prices, payment,
shipping, returns, accounts, gift wrapping, jobs, wholesale, stores, the company, and the
fine print of each. The first 300 were written by a hand that saw neither this project's
evaluation questions nor its demo shop's articles, the next 300 by another hand that read
only those, the last 300 (the fine print of common subjects) by a third that read only the
first 600 (2026-12-05). `data/background_asked_<locale>.txt` (2026-12-06, about 1,050 each)
add what visitors asked a shop that its articles did not answer: the evaluation's
unanswerable questions of its development and fresh files, written by some thirty hands that
saw only the demo shop's articles (docs/architecture.md, "The background, grown from what
visitors asked").

A tenant's index keeps the background questions that none of its articles' passages is
close to (`Semantic.background_keep`): what shops are asked that *this* base does not
answer. A message nearer in meaning to one of those than to an article is most likely one
of them, so the article's certainty is lowered by the difference
(`Semantic.background`); the ranking does not change. docs/architecture.md ("The
background") says how much it moved which figure.

Their vectors are computed once per model and file, not on a container's first answer
(about 2,000 questions are ~10 s of MiniLM on one vCPU): `python -m chalicelib.kb.background`
writes `data/background_<locale>.vec` (the article vectors' format: a key of the model and
texts, then float16 rows), which `make` and `infra/package.sh` run. A file that is missing
or was computed from other texts or by another model is ignored and the vectors are
computed on first use instead (slower, same result).
"""
from __future__ import annotations

import logging
import sys
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from . import embed
from .intent import wants_human

if TYPE_CHECKING:
    import numpy as np

DATA = Path(__file__).parent / "data"
log = logging.getLogger("kefu.background")
_lock = threading.Lock()
_vectors: dict[tuple[str, str], np.ndarray] = {}


@cache
def texts(locale: str) -> tuple[str, ...]:
    """The background questions of a language: those written for it, then those visitors
    asked (`written`, `asked`), each once."""
    return tuple(dict.fromkeys((*written(locale), *asked(locale))))


@cache
def written(locale: str) -> tuple[str, ...]:
    """The 900 questions written for the background (`background_<locale>.txt`)."""
    return _read(DATA / f"background_{locale}.txt")


@cache
def asked(locale: str) -> tuple[str, ...]:
    """What visitors asked a shop that its articles did not answer (`background_asked_<locale>.txt`:
    the evaluation's unanswerable questions of its development and fresh files, 2026-12-06)."""
    return _read(DATA / f"background_asked_{locale}.txt")


def _read(path: Path) -> tuple[str, ...]:
    """A file's questions (none if there is no file), less requests for a person ("Can I talk
    to a real person?"): the bot hands those over before it searches, and the only such
    messages that reach the search ask *when* people answer (`intent.asks_when`), which the
    base's contact hours should answer, not the background."""
    if not path.is_file():
        return ()
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return tuple(line for line in lines if line and not line.startswith("#") and not wants_human(line))


def vector_file(locale: str) -> Path:
    return DATA / f"background_{locale}.vec"


def vectors(locale: str, encoder: embed._Cached) -> np.ndarray:
    """The background questions' unit vectors by `encoder` (read from the file written for
    its model, else computed), once per process."""
    key = (locale, encoder.model_id)
    with _lock:
        found = _vectors.get(key)
    if found is None:
        questions = texts(locale)
        path = vector_file(locale)
        found = embed.unpack(path.read_bytes() if path.is_file() else None, questions,
                             encoder.dimensions, encoder.model_id)
        if found is None:
            log.warning("background vectors for %s not found for %s at %s: computing %d (run "
                        "python -m chalicelib.kb.background when packaging)", locale, encoder.model_id, path,
                        len(questions))
            found = encoder.encode(questions)
        with _lock:
            _vectors[key] = found
    return found


def write(locales: tuple[str, ...] = ("en", "zh")) -> list[Path]:
    """Compute and write the vector file of every language whose encoder is installed."""
    written = []
    for locale in locales:
        encoder = embed.load(locale)
        if encoder is None or not texts(locale):
            continue
        path = vector_file(locale)
        path.write_bytes(embed.pack(encoder.encode(texts(locale)), texts(locale), encoder.model_id))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write():
        print(f"wrote {path}", file=sys.stderr)
