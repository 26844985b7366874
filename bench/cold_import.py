"""Cold start: the time to import the Chalice app (`app.py`) in a fresh interpreter,
beside the time to import boto3 alone.

Each sample is a new interpreter that times only the import statement (wall clock,
interpreter start-up excluded); the two imports alternate so drift in the machine's load
hits both alike, and each figure is the median of the runs. Then `python -X importtime`
shows which modules under `app` cost the most, for deciding what to import lazily.

    .venv/bin/python bench/cold_import.py [--runs 7]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

from _common import ROOT, emit_figures, median, progress, use_repo_root

use_repo_root()

TARGET_RATIO = 1.5
TOP = 15
# Runs in the child: the repo root on sys.path (as in the Lambda package), then one timed import.
_TIMED_IMPORT = """
import sys, time, json
sys.path.insert(0, sys.argv[2])
started = time.perf_counter()
__import__(sys.argv[1])
elapsed = time.perf_counter() - started
heavy = [m for m in ("boto3", "botocore", "pynamodb", "pydantic", "chalice", "aws_lambda_powertools")
         if m in sys.modules]
print(json.dumps({"ms": elapsed * 1000, "modules": len(sys.modules), "heavy": heavy}))
"""
_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


def child_environment() -> dict[str, str]:
    """The caller's environment minus what would skew a cold import."""
    env = dict(os.environ)
    for name in ("PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE", "PYTHONSTARTUP"):
        env.pop(name, None)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return env


def timed_import(module: str) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", _TIMED_IMPORT, module, str(ROOT)], cwd=ROOT,
                            env=child_environment(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"`import {module}` failed in a fresh interpreter:\n{result.stderr}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def import_profile(module: str) -> list[tuple[str, int, int, int]]:
    """(module, self µs, cumulative µs, depth) for every module `import module` loads."""
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import {module}"
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=ROOT,
                            env=child_environment(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"`import {module}` failed under -X importtime:\n{result.stderr}")
    rows = []
    for line in result.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            self_us, cumulative_us, indent, name = match.groups()
            rows.append((name, int(self_us), int(cumulative_us), len(indent) // 2))
    return rows


def print_profile(module: str, runs: int) -> None:
    """The top modules by cumulative import time, then by self time, then self time summed by
    top-level package (medians over `runs` profiles; -X importtime adds some overhead)."""
    cumulative: dict[str, list[int]] = defaultdict(list)
    own: dict[str, list[int]] = defaultdict(list)
    self_time: dict[str, list[int]] = defaultdict(list)
    depth: dict[str, int] = {}
    for _ in range(runs):
        by_package: dict[str, int] = defaultdict(int)
        for name, self_us, cumulative_us, level in import_profile(module):
            cumulative[name].append(cumulative_us)
            own[name].append(self_us)
            depth.setdefault(name, level)
            by_package[name.split(".", 1)[0]] += self_us
        for package, total in by_package.items():
            self_time[package].append(total)
    top = sorted(cumulative, key=lambda n: median(cumulative[n]), reverse=True)[:TOP]
    progress(f"\ntop {TOP} modules by cumulative import time under `import {module}` "
             f"(python -X importtime, median of {runs}; indentation = nesting):")
    for name in top:
        progress(f"  {median(cumulative[name]) / 1000:8.1f} ms  {'  ' * depth[name]}{name}")
    progress("\nwhere that time is spent: modules by self time")
    for name in sorted(own, key=lambda n: median(own[n]), reverse=True)[:10]:
        progress(f"  {median(own[name]) / 1000:8.1f} ms  {name}")
    progress("\n... and by top-level package (self time summed)")
    for package in sorted(self_time, key=lambda n: median(self_time[n]), reverse=True)[:10]:
        progress(f"  {median(self_time[package]) / 1000:8.1f} ms  {package}")
    progress("")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed imports of each module")
    args = parser.parse_args()

    progress(f"warming the bytecode caches, then {args.runs} alternating cold imports of boto3 and app")
    timed_import("boto3")
    app_sample = timed_import("app")
    samples: dict[str, list[float]] = {"boto3": [], "app": []}
    for run in range(args.runs):
        for module in ("boto3", "app"):
            samples[module].append(float(timed_import(module)["ms"]))  # type: ignore[arg-type]
        progress(f"  run {run + 1}: boto3 {samples['boto3'][-1]:6.1f} ms   app {samples['app'][-1]:6.1f} ms")

    app_ms, boto3_ms = median(samples["app"]), median(samples["boto3"])
    ratio = app_ms / boto3_ms
    progress(f"`import app` loads {app_sample['modules']} modules, including "
             f"{', '.join(app_sample['heavy']) or 'none'} of the heavy ones")  # type: ignore[arg-type]
    print_profile("app", runs=3)
    progress(f"app {app_ms:.1f} ms, boto3 {boto3_ms:.1f} ms: {ratio:.2f}x (target <= {TARGET_RATIO}x)")
    emit_figures({
        "app_import_ms": round(app_ms, 1),
        "boto3_import_ms": round(boto3_ms, 1),
        "app_to_boto3_ratio": round(ratio, 2),
        "meets_target": ratio <= TARGET_RATIO,
        "target_ratio": TARGET_RATIO,
        "runs": args.runs,
        "app_samples_ms": [round(s, 1) for s in samples["app"]],
        "boto3_samples_ms": [round(s, 1) for s in samples["boto3"]],
        "app_modules_loaded": app_sample["modules"],
        "app_heavy_packages_loaded": app_sample["heavy"],
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
