"""`make run` (`python -m local`) on a port that is taken, and the stack's own port."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_taken_port_is_a_clear_error_before_anything_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run([sys.executable, "-m", "local"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             env={**os.environ, "KEFU_PORT": str(port)})
    assert run.returncode == 1
    assert f"Port {port} is already in use" in run.stderr and f"KEFU_PORT={port + 1}" in run.stderr
    assert "Kefu is running" not in run.stdout  # no URLs printed for a stack that is not there


def test_the_stack_holds_its_port_from_the_start() -> None:
    """The gateway's port is bound before moto picks a free one, so moto cannot take it."""
    from local.server import reserve_port

    held = reserve_port(0)
    try:
        port = held.getsockname()[1]
        with socket.socket() as other:
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug's server (moto) does
            try:
                other.bind(("127.0.0.1", port))
                taken_twice = True
            except OSError:
                taken_twice = False
        assert not taken_twice
    finally:
        held.close()
