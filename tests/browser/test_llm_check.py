"""The optional language-model check of the bot's article, end to end in headless Chromium.

The settings `KEFU_LLM_MODEL_ID` and `KEFU_LLM_ENDPOINT` (chalicelib/config.py) reach the bot
through bootstrap (`_article_judge`), and the model's word reaches the workbench's "Try a
question" (POST /v1/kb/bot/try: "Checked by the language model: …", a hand-off where it says
NO) and the visitor's chat (a hand-off instead of the article the bot would have sent; the
answer where it says YES).

The session's `stack` runs in this process without the model and must stay so; this module
starts its own `python -m local` (the demo shop, as `make run` serves it) in a subprocess,
configured to ask a local server that speaks Bedrock's Converse API (tests/fake_bedrock.py).
That server decides each reply from the visitor's message in the prompt and records every
request, so the tests see that the model was really asked, by a signed request. Since that
stack is `make run`'s, one test also checks its start: the URLs are printed once the demo's
articles are in, and their vectors job was started once.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import expect

from tests.fake_bedrock import Converse, converse_server

from .conftest import DEMO_SITE_KEY, TenantInfo, Visitor, agent_token, demo_context, http_json
from .test_tickets_page import _signed_in_page

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
MODEL = "amazon.nova-micro-v1:0"
# The demo shop's start: ~12 s on a 2-core machine, more beside the other worker.
START_TIMEOUT_S = 150
# The bot's first question builds its index, computing the vectors the seed's job has not stored yet.
FIRST_QUESTION_TIMEOUT_S = 90
REFUND = "how long does a refund take"
REFUND_TITLE = "When will I get my refund?"
HANDOFF = "I'm bringing in a member of our team"


@dataclass(frozen=True)
class DemoStack:
    """The stack started by this module: where it serves, and the demo tenant's supervisor."""

    url: str
    supervisor: TenantInfo


def _wait_until_running(process: subprocess.Popen[str]) -> str:
    """Everything `python -m local` printed up to its last line of start-up ("Press Ctrl+C to
    stop."); fails with that output if it exits or takes longer than START_TIMEOUT_S."""
    assert process.stdout is not None
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:  # drains the pipe for as long as it runs, so the stack never blocks on it
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if line.startswith("Press Ctrl+C"):
                ready.set()
        ready.set()  # it exited: wake the waiter

    threading.Thread(target=read, name="kefu-output", daemon=True).start()
    if not ready.wait(START_TIMEOUT_S) or process.poll() is not None:
        pytest.fail(f"`python -m local` did not start in {START_TIMEOUT_S} s (exit code {process.poll()}):\n"
                    + "".join(output))
    return "".join(output)


def _printed(pattern: str, output: str) -> re.Match[str]:
    found = re.search(pattern, output)
    assert found is not None, f"{pattern!r} not in the output of `python -m local`:\n{output}"
    return found


def _demo_supervisor(url: str, output: str) -> TenantInfo:
    """The first demo agent the start-up names (a supervisor: local/seed.py), as a TenantInfo."""
    site_key = _printed(r"site key: (\S+)", output).group(1)
    email, password = _printed(r"agent login: (\S+) / (\S+)", output).groups()
    status, body = http_json("POST", f"{url}/v1/agent/login", {"email": email, "password": password})
    assert status == 200, body
    agent = body["agent"]
    assert agent["role"] == "supervisor", agent
    return TenantInfo(agent["tenant_id"], "Demo Shop", site_key, agent["agent_id"], email, agent["display_name"],
                      password)


@pytest.fixture(scope="module")
def model_stack() -> Iterator[tuple[Converse, DemoStack, dict[str, Any]]]:
    """The local Converse server and a `python -m local` that asks it; both stopped afterwards."""
    with converse_server() as (script, endpoint):
        # Not the session stack's settings (its moto, its tables): only what is set here.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KEFU_", "AWS_"))}
        env.update({"KEFU_PORT": "0", "KEFU_LLM_MODEL_ID": MODEL, "KEFU_LLM_ENDPOINT": endpoint,
                    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "OPENBLAS_NUM_THREADS": "1"})  # as tests/conftest.py: two workers share two cores
        process = subprocess.Popen([sys.executable, "-m", "local"], cwd=ROOT, env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            output = _wait_until_running(process)
            url = _printed(r"Home\s+(http://\S+?)/?\n", output).group(1)
            stack = DemoStack(url, _demo_supervisor(url, output))
            started = _started(stack)
            _first_question(stack, script)
            yield script, stack, started
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _started(stack: DemoStack) -> dict[str, Any]:
    """What was in place the moment the URLs were printed: the demo's articles (GET
    /v1/kb/articles) and the gateway's invocations so far."""
    status, articles = http_json("GET", f"{stack.url}/v1/kb/articles", token=_token(stack))
    assert status == 200, articles
    with urllib.request.urlopen(f"{stack.url}/_local/stats", timeout=10) as response:
        stats = json.loads(response.read())
    return {"articles": articles, "invocations": stats["invocations"]}


def test_make_run_prints_its_urls_once_the_demos_articles_are_in_and_starts_their_job_once(
        model_stack: tuple[Converse, DemoStack, dict[str, Any]]) -> None:
    # The import starts the vectors job through the gateway's Lambda Invoke API, so it runs once
    # the gateway serves: before, it ran first, the invoke waited 4 x 5 s for an answer and the
    # job then ran four times.
    _, _, started = model_stack
    assert len(started["articles"]["articles"]) == 52
    assert started["invocations"]["kb_vectors"] == 1


def _token(stack: DemoStack) -> str:
    """The demo supervisor's bearer token, for REST."""
    return agent_token(stack, stack.supervisor.agent_email, stack.supervisor.agent_password)


def _first_question(stack: DemoStack, script: Converse) -> None:
    """Ask the bot once, so that no test waits for its index; the model's word is forgotten."""
    status, body = http_json("POST", f"{stack.url}/v1/kb/bot/try", {"text": REFUND}, _token(stack),
                             timeout=FIRST_QUESTION_TIMEOUT_S)
    assert status == 200, body
    script.requests.clear()


def _asked(script: Converse, since: int) -> list[str]:
    """The visitor's messages the model was asked about since request `since`; every request
    went to the configured model's Converse path, signed with SigV4 for Bedrock."""
    sent = script.requests[since:]
    for request in sent:
        assert request["path"] == f"/model/{MODEL}/converse", request["path"]
        assert request["authorization"].startswith("AWS4-HMAC-SHA256 "), request["authorization"]
        assert "/us-east-1/bedrock/aws4_request" in request["authorization"], request["authorization"]
    return [request["message"] for request in sent]


def test_the_workbench_shows_the_models_word_on_a_tried_question(
        chromium: Any, model_stack: tuple[Converse, DemoStack, dict[str, Any]]) -> None:
    script, stack, _ = model_stack
    since = len(script.requests)
    page, _ = _signed_in_page(chromium, stack, stack.supervisor)
    try:
        page.goto(f"{stack.url}/console/kb.html")
        page.get_by_role("button", name="Bot settings").click()
        expect(page.locator(".kb-bot h2")).to_have_text("The bot")
        # The demo's settings (its order-status webhook) say when and by whom they were written.
        saved = page.locator(".kb-bot p.muted").first
        expect(saved).to_contain_text("Version 1 · saved ")
        expect(saved).to_contain_text(" by Demo set-up")
        expect(saved).not_to_contain_text("1970")
        page.fill("input[name=try]", REFUND)
        action, verdict = page.locator(".kb-try-action"), page.locator(".kb-try-model")

        script.reply = "Maybe"  # no opinion: the bot decides alone, and answers
        page.get_by_role("button", name="Try", exact=True).click()
        expect(action).to_have_text("Answers with:")
        expect(page.locator(".kb-try-articles li").first).to_contain_text(REFUND_TITLE)
        expect(verdict).to_have_count(0)

        script.reply = "YES"
        page.get_by_role("button", name="Try", exact=True).click()
        expect(verdict).to_have_text("Checked by the language model: the article answers it.")
        expect(action).to_have_text("Answers with:")

        script.reply = "NO"  # overrules the bot: a person is brought in
        page.get_by_role("button", name="Try", exact=True).click()
        expect(verdict).to_have_text("Checked by the language model: the article does not answer it.")
        expect(action).to_have_text("Hands over to a person: no article comes close enough.")
        expect(action).to_have_attribute("data-action", "handoff")
    finally:
        script.reply = "YES"
        page.context.close()
    assert _asked(script, since) == [REFUND] * 3
    prompt = script.requests[-1]["body"]["messages"][0]["content"][0]["text"]
    assert f"<article>\n{REFUND_TITLE}" in prompt  # asked about the article the bot chose


def test_a_visitor_gets_a_person_where_the_model_says_the_article_does_not_answer(
        chromium: Any, model_stack: tuple[Converse, DemoStack, dict[str, Any]]) -> None:
    script, stack, _ = model_stack
    typed = f"<b>{REFUND}</b>? <img src=x onerror=alert(1)>"
    script.reply = "Maybe"  # without the model's word, the bot would answer this question
    status, alone = http_json("POST", f"{stack.url}/v1/kb/bot/try", {"text": typed}, _token(stack))
    assert status == 200 and alone["action"] == "answer", alone
    assert alone["articles"][0]["title"] == REFUND_TITLE, alone

    script.reply, script.replies = "YES", {"refund": "NO"}
    since = len(script.requests)
    visitor = Visitor(stack, demo_context(chromium, DEMO_SITE_KEY), DEMO_SITE_KEY)
    try:
        visitor.goto()
        frame = visitor.open()
        replies = frame.locator("#log li.m.them")

        visitor.send("where is my parcel")  # YES: answered with the article ("did this help?")
        expect(replies.last.get_by_role("button", name="Yes", exact=True)).to_be_visible()
        expect(replies.last.locator(".bubble")).to_have_text(re.compile(r"^Track your order"))

        visitor.send(typed)  # NO: a person instead of the refund article
        expect(replies.filter(has_text=HANDOFF)).to_have_count(1)
        visitor.wait_for_text(typed)
        theirs = [b["text"] for b in visitor.bubbles() if not b["mine"]]
        assert not any(REFUND_TITLE in text.split("\n")[0] for text in theirs), theirs
        assert frame.locator("#log img, #log b").count() == 0  # the visitor's words stay text
        assert visitor.dialogs == [] and visitor.errors == []
    finally:
        script.replies = {}
        visitor.context.close()
    assert _asked(script, since) == ["where is my parcel", typed]
