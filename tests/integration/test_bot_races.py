"""Knowledge-base and bot races, raced for real through the local gateway (parallel
handler threads) against moto: one hand-off however many presses, one winner per article
version."""
from __future__ import annotations

import asyncio

import pytest

from tests.e2e.clients import Api, Tenant, WsClient
from tests.e2e.test_bot import auth, bot_says, handoff_note, import_shop

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_many_tabs_pressing_handoff_at_once_hand_over_once(api: Api, tenant: Tenant) -> None:
    agent_token = await import_shop(api, tenant)
    token, first = await api.visitor(tenant)
    ack = await first.send_message("where is my parcel")
    conversation_id = ack["conversation_id"]
    await first.wait_for(bot_says)
    tabs = [first] + [await WsClient.connect(api.ws_url, token) for _ in range(5)]
    frame = {"action": "bot.handoff", "conversation_id": conversation_id}
    await asyncio.gather(*(tab.send(frame) for tab in tabs))
    note = await handoff_note(api, agent_token, conversation_id)
    assert "asked for a person" in note["text"]
    await asyncio.sleep(1.0)  # let every press finish
    history = await api.messages(conversation_id, agent_token)
    assert len([m for m in history if m["internal"]]) == 1
    assert len([m for m in history if m["text"].startswith("I'm bringing in")]) == 1
    for tab in tabs:
        await tab.close()


async def test_two_editors_saving_one_version_one_wins(api: Api, tenant: Tenant) -> None:
    tokens = [await api.agent_token(tenant, 0), await api.agent_token(tenant, 1)]
    created = await api.http.post("/v1/kb/articles", headers=auth(tokens[0]), json={
        "id": "hours", "title": "Opening hours", "body": "9-5", "locale": "en"})
    assert created.status_code == 201
    for round_ in range(3):
        version = round_ + 1
        saves = await asyncio.gather(*(api.http.put("/v1/kb/articles/hours", headers=auth(token), json={
            "title": "Opening hours", "body": f"edit {round_} by {i}", "locale": "en", "version": version})
            for i, token in enumerate(tokens)))
        assert sorted(r.status_code for r in saves) == [200, 409], [r.text for r in saves]
    history = (await api.get("/v1/kb/articles/hours/history", tokens[0])).json()["versions"]
    assert [v["version"] for v in history] == [4, 3, 2, 1]
