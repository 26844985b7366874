"""How common an English word is in general use, for words a knowledge base never uses.

A question's word the tenant's articles never mention is either filler ("yesterday",
"window", "come") or the very subject the base does not cover ("furniture", "vegan",
"bitcoin"). General-language frequency tells them apart without any knowledge of the
tenant: common words carry little information about what is asked, rare ones a lot.
The frequencies are pyspellchecker's English word list (word counts from a large
subtitle corpus, shipped inside the package: nothing is fetched at run time), loaded on
first use (150–250 ms, once per container) and also used to leave real words
alone when correcting typos ("tree" is not a typo of "true").
"""
from __future__ import annotations

import gzip
import json
import math
from functools import lru_cache

# A word seen at least this often (per the list's ~1.6 billion words) counts as common.
COMMON_COUNT = 15_000
# Seen at least this often: a real word, never "corrected" into another one.
REAL_WORD_COUNT = 50


@lru_cache(maxsize=1)
def _counts() -> dict[str, int]:
    from importlib.resources import files

    data = (files("spellchecker") / "resources" / "en.json.gz").read_bytes()
    counts: dict[str, int] = json.loads(gzip.decompress(data))
    return counts


def count(word: str) -> int:
    """How often `word` (lower case, unstemmed) occurs in general English (0 when unknown)."""
    return _counts().get(word, 0)


def is_common(word: str) -> bool:
    return count(word) >= COMMON_COUNT


def is_real_word(word: str) -> bool:
    return count(word) >= REAL_WORD_COUNT


def rarity(word: str) -> float:
    """log(total / count): about 6 for "come", 10 for "window", 12 for "furniture"; 20 for
    an unknown string (a typo, a brand, a new word)."""
    c = count(word)
    return math.log(1.6e9 / c) if c else 20.0
