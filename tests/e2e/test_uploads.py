"""Attachments (A3, H6): the server enforces type and size limits at every step — the upload
grant, the storage policy and the message that carries the file — whatever the widget checks."""
from __future__ import annotations

import pytest

from tests.e2e.clients import message_new, new_client_msg_id, reply_to, start_chat

pytestmark = pytest.mark.anyio
MAX_BYTES = 10 * 1024 * 1024


async def grant(api, token: str, conversation_id: str, **meta):
    body = {"conversation_id": conversation_id, "name": "photo.png", "content_type": "image/png", "size": 68, **meta}
    return await api.http.post("/v1/uploads", json=body, headers={"Authorization": f"Bearer {token}"})


async def upload(api, granted: dict, content: bytes, content_type: str):
    """The browser's step: a multipart POST straight to storage with the granted fields."""
    fields = dict(granted["upload"]["fields"])
    fields["Content-Type"] = content_type
    return await api.http.post(granted["upload"]["url"], data=fields, files={"file": ("f", content, content_type)})


async def send_attachment(chat, file_id: str, name: str, content_type: str, size: int):
    cmid = new_client_msg_id("att")
    frame = {"action": "message.send", "client_msg_id": cmid, "conversation_id": chat.conversation_id, "text": "",
             "attachment": {"file_id": file_id, "name": name, "content_type": content_type, "size": size}}
    return await chat.visitor.request(frame, reply_to(cmid))


async def test_upload_grants_refuse_bad_types_and_sizes(api, tenant) -> None:
    chat = await start_chat(api, tenant)
    try:
        for meta in ({"content_type": "text/html", "name": "x.html"}, {"content_type": "application/x-msdownload"},
                     {"size": MAX_BYTES + 1}):
            response = await grant(api, chat.visitor_token, chat.conversation_id, **meta)
            assert response.status_code == 400, response.text
            assert response.json()["error"]["code"] == "invalid_upload"
        response = await grant(api, chat.visitor_token, chat.conversation_id, size=0)
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_frame"
        # A visitor gets no grant for a conversation that is not theirs.
        other_token = await api.visitor_token(tenant)
        response = await grant(api, other_token, chat.conversation_id)
        assert response.status_code in (403, 404), response.text
    finally:
        await chat.close()


async def test_a_message_carries_only_a_file_that_was_stored_with_its_real_size(api, tenant) -> None:
    chat = await start_chat(api, tenant)
    try:
        # Never uploaded: refused.
        error = await send_attachment(chat, "f_" + "0" * 26, "ghost.png", "image/png", 68)
        assert error["action"] == "error" and error["code"] == "invalid_upload", error

        response = await grant(api, chat.visitor_token, chat.conversation_id, name="notes.txt",
                               content_type="text/plain", size=5)
        assert response.status_code == 201, response.text
        granted = response.json()
        assert granted["max_bytes"] == MAX_BYTES
        stored = await upload(api, granted, b"twelve bytes", "text/plain")
        assert stored.status_code in (200, 201, 204), stored.text
        # The message claims 5 bytes; what is delivered is what storage holds.
        ack = await send_attachment(chat, granted["file_id"], "notes.txt", "text/plain", 5)
        assert ack["action"] == "message.ack", ack
        got = await chat.agent.wait_for(message_new(chat.conversation_id, ack["client_msg_id"]))
        attachment = got["message"]["attachment"]
        assert attachment["size"] == 12 and attachment["content_type"] == "text/plain"
        download = await api.http.get(attachment["url"])
        assert download.status_code == 200 and download.content == b"twelve bytes"
    finally:
        await chat.close()
