"""How many bytes the widget costs a site: gzip -9 of each file under widget/.

`before_open_gzip_bytes` is what the host page downloads before the visitor opens the chat
(the loader, widget.js: the launcher, the socket and the API; the browser test
`test_widget_loads_only_the_loader_before_open` checks that nothing else is fetched), and
`total_gzip_bytes` is every file of the widget. Targets: <= 10 KB and <= 40 KB.

    .venv/bin/python bench/widget_size.py
"""
from __future__ import annotations

import gzip
from pathlib import Path

from _common import emit_figures, progress

WIDGET = Path(__file__).resolve().parent.parent / "widget"
BEFORE_OPEN = ("widget.js",)
SHIPPED = ("*.js", "*.css", "*.html")


def gzip_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


def main() -> None:
    files = sorted({p for pattern in SHIPPED for p in WIDGET.glob(pattern)})
    sizes = {p.name: (p.stat().st_size, gzip_size(p)) for p in files}
    for name, (raw, packed) in sizes.items():
        progress(f"{name:<14} {raw:>7} bytes  {packed:>6} gzip -9")
    before = sum(sizes[name][1] for name in BEFORE_OPEN)
    total = sum(packed for _, packed in sizes.values())
    progress(f"before open: {before} bytes gzipped (target 10240); all: {total} (target 40960)")
    emit_figures({"before_open_gzip_bytes": before, "total_gzip_bytes": total,
                  "files": {name: packed for name, (_, packed) in sizes.items()}})


if __name__ == "__main__":
    main()
