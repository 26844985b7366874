"""The benches still run and still measure what they claim, in a tiny configuration.

`make bench` is not part of `make test` (its figures are for notes, not pass/fail), so
without this a protocol change could leave a bench waiting forever for a frame that no
longer comes. Each runs as `make bench` would run it (a subprocess, last line JSON)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def run_bench(name: str, *args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / name), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def test_message_path_bench_counts_one_invocation_and_every_delivery() -> None:
    figures = run_bench("message_path.py", "--conversations", "2", "--messages", "3")
    assert figures["messages"] == 6 and figures["deliveries"] == 12
    assert (figures["missing_deliveries"], figures["duplicate_deliveries"], figures["out_of_order_deliveries"]) == (0, 0, 0)
    assert figures["handler_invocations_per_message"] == 1.0
    assert figures["ddb_write_requests_per_message"] <= 2.0
    # Two reads per message, plus the bot's settings and index revision, re-read once per
    # 10 s per container (a slow machine may cross that boundary during the run).
    assert figures["ddb_read_requests_per_message"] * 6 <= 2 * 6 + 4
    assert 0 < figures["latency_p50_ms"] <= figures["latency_p99_ms"]


def test_dispatch_bench_assigns_every_arrival() -> None:
    figures = run_bench("dispatch.py", "--visitors", "4", "--agents", "2", "--capacity", "2")
    assert (figures["assigned"], figures["arrivals"]) == (4, 4)
    # Agents with room and nobody waiting: born assigned, in the creation transaction.
    assert 0 < figures["born_assigned"] <= 4
    assert 0 <= figures["assign_p50_ms"] <= figures["assign_p99_ms"]
    assert 0 < figures["ddb_requests_per_assignment"] <= 10
