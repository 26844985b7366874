"""Take out of the Lambda layer what the python3.11 runtime already provides: botocore.

pynamodb depends on botocore, so Chalice packages it into the layer (20 MiB). There it
would shadow the runtime's own botocore (layers come first on sys.path) while boto3 still
comes from the runtime: a boto3 and a botocore of different releases. Without it, boto3 and
botocore are the runtime's pair, as requirements.txt says, and the layer has room.

    python infra/slim_layer.py build/package/dev/layer-deployment.zip   (rewrites it in place)
"""
from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

RUNTIME_PROVIDED = re.compile(r"^python/lib/python3\.\d+/site-packages/(botocore|botocore-[^/]+\.dist-info)/")


def slim(layer: Path) -> int:
    """Rewrite `layer` without the runtime's packages; return how many bytes (unzipped) left."""
    kept = layer.with_suffix(".slim.zip")
    removed = 0
    with zipfile.ZipFile(layer) as source, zipfile.ZipFile(kept, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if RUNTIME_PROVIDED.match(info.filename):
                removed += info.file_size
                continue
            target.writestr(info, source.read(info.filename))
    kept.replace(layer)
    return removed


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: python infra/slim_layer.py <layer-deployment.zip>")
    removed = slim(Path(argv[1]))
    print(f"slim_layer.py: {removed / 2**20:.1f} MiB the runtime provides (botocore) taken out of the layer")


if __name__ == "__main__":
    main(sys.argv)
