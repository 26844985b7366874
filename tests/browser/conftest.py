"""Fixtures for the browser tests: one local stack and one headless Chromium per session.

`stack` (from tests/conftest.py) is a `local.server.LocalStack` serving the widget, the demo
site, the console, REST and the WebSocket API in a thread of this process; `tenant` seeds a fresh tenant with one
agent per test so tests never see each other's conversations; `chromium` is Debian's
Chromium driven by Playwright (installed by `make browser`, never by `playwright install`).
"""
from __future__ import annotations

import json
import re
import secrets
import shutil
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Pages that Playwright fulfils (demo_context rewrites the site key) lose their local
    # address space, and Chromium's Local Network Access checks would then block their
    # WebSocket to 127.0.0.1; a real site and its widget host never meet this.
    "--disable-features=LocalNetworkAccessChecks",
]
DEMO_SITE_KEY = "pk_demo_kefu_local"
TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/browser drives a browser: mark it so `-m "not browser"` skips it,
    and run it last. Playwright's sync API keeps an event loop running in the main thread for
    as long as the session-wide `chromium` lives, and anyio's async tests (tests/e2e) cannot
    start their own loop while it does. With two test workers (pytest.ini) files are handed
    out in this order (`--no-loadscope-reorder`), so each worker meets its browser files last."""
    browser = [item for item in items if "tests/browser" in str(item.fspath).replace("\\", "/")]
    for item in browser:
        item.add_marker(pytest.mark.browser)
    chosen = set(browser)
    items[:] = [item for item in items if item not in chosen] + browser


@dataclass(frozen=True)
class TenantInfo:
    """A freshly seeded tenant with one agent."""

    tenant_id: str
    name: str
    site_key: str
    agent_id: str
    agent_email: str
    agent_name: str
    agent_password: str


def http_json(method: str, url: str, body: Any = None, token: str | None = None,
              timeout: float = 10) -> tuple[int, Any]:
    """One JSON request to the local stack; returns (status, parsed body or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw) if raw else None
        except ValueError:
            return error.code, raw.decode("utf-8", "replace")


def agent_token(stack: Any, email: str, password: str) -> str:
    """Log an agent in over REST and return the bearer token (for REST calls or /ws?token=)."""
    status, body = http_json("POST", f"{stack.url}/v1/agent/login", {"email": email, "password": password})
    assert status == 200, (status, body)
    return str(body["token"])


@pytest.fixture(scope="session")
def demo_tenant(stack: Any) -> Any:
    """The demo shop's tenant under the site key the demo pages embed, seeded once per session.

    `stack` is the root conftest's session-wide LocalStack (one per pytest process: a second
    one would rebind the global pynamodb and environment settings); it seeds no tenant itself.
    """
    from local.seed import seed_tenant

    return seed_tenant("Demo Shop", [(f"alice-{secrets.token_hex(4)}@demo.kefu.dev", "Alice")],
                       f"pw-{secrets.token_urlsafe(9)}", site_key=DEMO_SITE_KEY)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's chromium is not installed ({CHROMIUM}); run `make browser`")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)  # 5 s by default: too tight on a busy 2-core machine

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def tenant(stack: Any) -> TenantInfo:
    from local.seed import seed_tenant

    suffix = secrets.token_hex(4)
    password = f"pw-{secrets.token_urlsafe(9)}"
    seeded = seed_tenant(f"Shop {suffix}", [(f"agent-{suffix}@test.kefu.dev", f"Agent {suffix}")], password)
    agent = seeded.agents[0]
    return TenantInfo(seeded.tenant_id, seeded.name, seeded.site_key, agent["agent_id"], agent["email"],
                      agent["display_name"], password)


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """test-artifacts/<test name>/ (emptied first) for screenshots and logs; git-ignored."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:120]
    folder = ARTIFACTS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def demo_context(chromium: Any, site_key: str, **options: Any) -> Any:
    """A browser context in which the demo site embeds `site_key` instead of the demo tenant's key.

    The demo pages hard-code `pk_demo_kefu_local`; rewriting the HTML on the way in lets each
    test use its own tenant without changing what a person running `make run` sees.
    """
    context = chromium.new_context(**options)
    if site_key != DEMO_SITE_KEY:
        def rewrite(route: Any) -> None:
            response = route.fetch()
            body = response.text()
            if "text/html" in (response.headers.get("content-type") or ""):
                body = body.replace(DEMO_SITE_KEY, site_key)
            route.fulfill(response=response, body=body)

        context.route(re.compile(r"/demo/([^?#]*\.html|[^.?#]*/?)(\?.*)?$"), rewrite)
    return context


class AgentSocket:
    """An agent's WebSocket (websockets' sync client, so it mixes with Playwright's sync API).

    A reader thread keeps every frame in `frames`; `wait_for` returns the first one at index
    `since` or later that matches. Use as a context manager; it says hello on entry.
    """

    def __init__(self, stack: Any, token: str) -> None:
        from websockets.sync.client import connect

        self.socket = connect(f"{stack.ws_url}?token={token}", open_timeout=10)
        self.frames: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="agent-socket", daemon=True)
        self._reader.start()
        self.send({"action": "hello"})
        self.welcome = self.wait_for(lambda f: f["action"] == "welcome")

    def _read(self) -> None:
        try:
            for raw in self.socket:
                with self._changed:
                    self.frames.append(json.loads(raw))
                    self._changed.notify_all()
        except Exception:  # closed: the test is over or the gateway dropped us
            pass

    def send(self, frame: dict[str, Any]) -> None:
        self.socket.send(json.dumps(frame))

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10,
                 since: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for frame in self.frames[since:]:
                    if predicate(frame):
                        return frame
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching frame in {timeout} s; got {self.frames[since:]}")
                self._changed.wait(left)

    def reply(self, conversation_id: str, text: str, **extra: Any) -> dict[str, Any]:
        """Send a message as the agent and wait for its ack."""
        client_msg_id = f"agent-{secrets.token_hex(6)}"
        mark = len(self.frames)
        self.send({"action": "message.send", "client_msg_id": client_msg_id, "conversation_id": conversation_id,
                   "text": text, **extra})
        ack = self.wait_for(lambda f: f.get("client_msg_id") == client_msg_id or f.get("ref") == client_msg_id,
                            since=mark)
        assert ack["action"] == "message.ack", ack
        return ack

    def close(self) -> None:
        self.socket.close()

    def __enter__(self) -> "AgentSocket":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


FRAME_URL = re.compile(r"/widget/frame\.html")


class Visitor:
    """A visitor on the demo site: one page, the widget's launcher and its chat panel.

    The launcher lives in a closed shadow root, which no selector can pierce; it is reached
    the way a person reaches it: by its place on the screen (bottom-right) or by keyboard.
    The panel is an iframe, reached as a Playwright frame.
    """

    def __init__(self, stack: Any, context: Any, site_key: str) -> None:
        self.stack = stack
        self.context = context
        self.site_key = site_key
        self.page = context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def goto(self, path: str = "") -> "Visitor":
        self.page.goto(f"{self.stack.url}/demo/{path}")
        self.page.wait_for_selector("kefu-widget", state="attached", timeout=10_000)
        return self

    @property
    def launcher_point(self) -> tuple[float, float]:
        size = self.page.viewport_size or {"width": 1280, "height": 720}
        return size["width"] - 50.0, size["height"] - 50.0

    def element_at_launcher(self) -> str | None:
        """The element hit at the launcher's place (a closed shadow root answers with its host)."""
        return self.page.evaluate("([x, y]) => document.elementFromPoint(x, y)?.localName ?? null",
                                  list(self.launcher_point))

    def click_launcher(self) -> None:
        self.page.mouse.click(*self.launcher_point)

    def frame(self, timeout: float = 10) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = self.page.frame(url=FRAME_URL)
            if frame is not None:
                return frame
            self.page.wait_for_timeout(20)
        raise AssertionError("the chat panel iframe never appeared")

    def open(self) -> Any:
        """Click the launcher; return the panel's frame once its input has focus and it is online."""
        self.click_launcher()
        frame = self.frame()
        frame.wait_for_selector("#input:focus", timeout=10_000)
        frame.wait_for_selector('#status[data-state="online"]', timeout=10_000)
        return frame

    def panel_box(self, frame: Any) -> Any:
        """The open panel's box once its opening slide (0.16 s) is over: read until it stops moving."""
        element = frame.frame_element()
        box = element.bounding_box()
        for _ in range(40):
            self.page.wait_for_timeout(50)
            again = element.bounding_box()
            if again == box:
                break
            box = again
        return box

    def send(self, text: str) -> None:
        frame = self.frame()
        frame.fill("#input", text)
        frame.press("#input", "Enter")

    def bubbles(self) -> list[dict[str, Any]]:
        """The messages on screen, oldest first: text, whose (me/them), pending or not."""
        return self.frame().eval_on_selector_all("#log li.m", """items => items.map(li => ({
            text: li.querySelector('.bubble').textContent, mine: li.classList.contains('me'),
            pending: li.hasAttribute('data-pending'), seq: li.dataset.seq ? Number(li.dataset.seq) : null}))""")

    def wait_for_text(self, text: str, timeout: float = 10, confirmed: bool = True) -> None:
        """Wait until a message with exactly `text` is on screen (and acknowledged, if `confirmed`)."""
        selector = "#log li.m:not([data-pending])" if confirmed else "#log li.m"
        self.frame().wait_for_function(
            "([selector, text]) => [...document.querySelectorAll(selector)]"
            ".some(li => li.querySelector('.bubble').textContent === text)",
            arg=[selector, text], timeout=timeout * 1000)

    def session(self) -> dict[str, Any]:
        """The visitor session the loader keeps in the host page's localStorage (waits for it)."""
        handle = self.page.wait_for_function("key => localStorage.getItem('kefu:' + key + ':session')",
                                             arg=self.site_key, timeout=10_000)
        return dict(json.loads(handle.json_value()))

    def conversation_id(self) -> str:
        """The conversation the panel shows (from its cache in the widget origin's localStorage)."""
        key = f"kefu:{self.site_key}:{self.session()['visitor_id']}:chat"
        handle = self.frame().wait_for_function("key => JSON.parse(localStorage.getItem(key) || 'null')?.conv",
                                                arg=key, timeout=5000)
        return str(handle.json_value())

    def shot(self, folder: Path, name: str) -> None:
        self.page.screenshot(path=str(folder / f"{name}.png"))


def history(stack: Any, token: str, conversation_id: str) -> list[dict[str, Any]]:
    """Every message of a conversation, over REST, oldest first."""
    messages: list[dict[str, Any]] = []
    after = 0
    while True:
        status, body = http_json("GET", f"{stack.url}/v1/conversations/{conversation_id}/messages"
                                        f"?after_seq={after}&limit=100", token=token)
        assert status == 200, (status, body)
        messages += body["messages"]
        if not body["has_more"] or not body["messages"]:
            return messages
        after = body["messages"][-1]["seq"]


@pytest.fixture
def visitor(stack: Any, chromium: Any, tenant: TenantInfo, artifacts: Path) -> Iterator[Visitor]:
    """A fresh visitor (new browser context) on the demo site of this test's tenant.

    A screenshot of the last state is saved as `final.png` in the test's artifacts.
    """
    context = demo_context(chromium, tenant.site_key, viewport={"width": 1280, "height": 800})
    person = Visitor(stack, context, tenant.site_key)
    yield person
    try:
        person.shot(artifacts, "final")
    except Exception:  # the page may be gone; the test's own result matters, not this
        pass
    context.close()


@pytest.fixture
def agent(stack: Any, tenant: TenantInfo) -> Iterator[AgentSocket]:
    """The tenant's agent, online over a real WebSocket."""
    with AgentSocket(stack, agent_token(stack, tenant.agent_email, tenant.agent_password)) as socket:
        yield socket


def login(page: Any, tenant: TenantInfo, password: str | None = None) -> None:
    """Fill in and submit the console's sign-in form."""
    page.fill("#login-email", tenant.agent_email)
    page.fill("#login-password", password or tenant.agent_password)
    page.click(".login-form button[type=submit]")


def signed_in(page: Any, tenant: TenantInfo) -> None:
    """Sign in on /console/ and wait until the inbox is shown and the socket is online."""
    from playwright.sync_api import expect

    login(page, tenant)
    expect(page.locator(".inbox .tabs")).to_be_visible()
    expect(page.locator("#connection")).to_have_attribute("data-state", "online")
