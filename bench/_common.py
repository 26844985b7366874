"""Helpers shared by the bench scripts: the repo root on sys.path, order statistics, and
the one-JSON-object-on-the-last-line convention `make bench` relies on."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parent.parent


def use_repo_root() -> Path:
    """Make `import app`, `chalicelib` and `local` work when run as `python bench/x.py`."""
    root = str(ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)
    return ROOT


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile (`pct` in 0..100) of `values`; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def progress(text: str) -> None:
    """Human-readable progress; flushed so it interleaves correctly with subprocess output."""
    print(text, flush=True)


def emit_figures(figures: dict[str, Any]) -> None:
    """Print the figures as ONE JSON object on the last line of stdout."""
    sys.stdout.flush()
    print(json.dumps(figures, sort_keys=False, separators=(", ", ": ")), flush=True)
