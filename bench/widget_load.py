"""How fast the widget appears and opens, in headless Chromium on the demo site.

Starts the local stack in this process, then for each run opens the demo home page in a
fresh browser context (empty cache, a new visitor) and reads the loader's performance marks:
`launcher_visible_ms` is from navigation start to the first frame after the launcher is in
the page (`kefu:launcher`), `panel_ready_ms` from the click on the launcher (`kefu:open`) to
the panel reporting its input focused and ready to type (`kefu:panel-ready`). Prints the
median of the runs; targets: launcher <= 300 ms, panel <= 500 ms.

    .venv/bin/python bench/widget_load.py [--runs 7]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from typing import Iterator

from _common import emit_figures, median, progress, use_repo_root

ROOT = use_repo_root()

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 800}
MARK = "(name) => performance.getEntriesByName(name).length > 0"


def one_run(browser, url: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_function(MARK, arg="kefu:launcher", timeout=10_000)
        launcher = page.evaluate("performance.getEntriesByName('kefu:launcher')[0].startTime")
        page.mouse.click(VIEWPORT["width"] - 50, VIEWPORT["height"] - 50)  # the launcher's centre
        page.wait_for_function(MARK, arg="kefu:panel-ready", timeout=10_000)
        panel = page.evaluate("performance.getEntriesByName('kefu:panel-ready')[0].startTime"
                              " - performance.getEntriesByName('kefu:open')[0].startTime")
        return float(launcher), float(panel)
    finally:
        context.close()


@contextmanager
def local_stack() -> Iterator[str]:
    """`python -m local` in its own process, as `make run` starts it, so the browser driver in
    this process does not share a GIL with the gateway; yields its base URL once it has printed
    its URLs (the gateway serves a little earlier, while the demo's articles are imported)."""
    from local.server import free_port

    port = free_port()
    with tempfile.TemporaryFile("w+") as printed:
        server = subprocess.Popen([sys.executable, "-m", "local"], cwd=ROOT,
                                  env={**os.environ, "KEFU_PORT": str(port)}, stdout=printed, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                printed.seek(0)
                if "Press Ctrl+C" in printed.read():
                    urllib.request.urlopen(f"{url}/v1/health", timeout=5).read()
                    break
                if server.poll() is not None or time.monotonic() > deadline:
                    printed.seek(0)
                    raise RuntimeError("the local stack did not start: " + printed.read()[-2000:])
                time.sleep(0.1)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    launchers, panels = [], []
    with local_stack() as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        url = f"{base}/demo/"
        one_run(browser, url)  # warm-up: the first Lambda invocations import the app
        for run in range(args.runs):
            launcher, panel = one_run(browser, url)
            launchers.append(launcher)
            panels.append(panel)
            progress(f"run {run + 1}: launcher visible {launcher:.0f} ms, panel ready {panel:.0f} ms")
        browser.close()
    emit_figures({"launcher_visible_ms": round(median(launchers), 1), "panel_ready_ms": round(median(panels), 1),
                  "runs": args.runs})


if __name__ == "__main__":
    main()
