"""Client frames: every action parses from a minimal example; bad input gets a stable error."""
from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain import protocol as p
from chalicelib.domain.errors import (
    FrameTooLarge,
    InvalidFrame,
    KefuError,
    MalformedJson,
    UnknownAction,
)

FILE_ID = "f_" + "a" * 26

MINIMAL: dict[str, tuple[dict[str, Any], type[p.Frame]]] = {
    "hello": ({"action": "hello"}, p.Hello),
    "message.send": ({"action": "message.send", "client_msg_id": "m-1", "text": "hi"}, p.SendMessage),
    "typing": ({"action": "typing", "state": "start"}, p.Typing),
    "read": ({"action": "read", "conversation_id": "c_1", "seq": 3}, p.MarkRead),
    "sync": ({"action": "sync", "conversation_id": "c_1"}, p.Sync),
    "ping": ({"action": "ping"}, p.Ping),
    "page.view": ({"action": "page.view", "url": "https://shop.example/"}, p.PageView),
    "identify": ({"action": "identify", "email": "a@b.example"}, p.Identify),
    "conversation.resolve": ({"action": "conversation.resolve", "conversation_id": "c_1"},
                             p.ResolveConversation),
    "conversation.reopen": ({"action": "conversation.reopen", "conversation_id": "c_1"},
                            p.ReopenConversation),
    "presence.set": ({"action": "presence.set", "state": "away"}, p.SetPresence),
    "bot.handoff": ({"action": "bot.handoff"}, p.BotHandoff),
    "bot.feedback": ({"action": "bot.feedback", "conversation_id": "c_1", "seq": 2, "helpful": False},
                     p.BotFeedback),
    "bot.choose": ({"action": "bot.choose", "conversation_id": "c_1", "article_id": None}, p.BotChoose),
    "bot.solved": ({"action": "bot.solved", "conversation_id": "c_1", "article_id": "restock.en"}, p.BotSolved),
    "conversation.pickup": ({"action": "conversation.pickup", "conversation_id": "c_1"}, p.PickUp),
    "conversation.transfer": ({"action": "conversation.transfer", "conversation_id": "c_1", "to_group_id": "g_1"},
                              p.Transfer),
    "message.leave": ({"action": "message.leave", "email": "a@b.example", "text": "call me"}, p.LeaveMessage),
}


def send(**fields: Any) -> str:
    return json.dumps({"action": "message.send", "client_msg_id": "m-1", "text": "hi", **fields})


def test_every_client_action_has_a_minimal_example() -> None:
    assert set(MINIMAL) == set(p.CLIENT_ACTIONS)


@pytest.mark.parametrize("action", sorted(MINIMAL))
def test_minimal_frame_parses_to_its_model(action: str) -> None:
    data, model = MINIMAL[action]
    frame = p.parse_client_frame(json.dumps(data))
    assert type(frame) is model
    assert frame.v == p.PROTOCOL_VERSION
    assert getattr(frame, "action") == action


def test_bytes_are_accepted_like_text() -> None:
    frame = p.parse_client_frame(send(text="你好").encode())
    assert isinstance(frame, p.SendMessage) and frame.text == "你好"


def test_message_with_only_an_attachment_is_valid() -> None:
    attachment = {"file_id": FILE_ID, "name": "a.png", "content_type": "image/png", "size": 10}
    frame = p.parse_client_frame(send(text="", attachment=attachment))
    assert isinstance(frame, p.SendMessage) and frame.attachment is not None


def test_defaults_are_filled_in() -> None:
    frame = p.parse_client_frame(json.dumps(MINIMAL["sync"][0]))
    assert isinstance(frame, p.Sync) and (frame.after_seq, frame.limit) == (0, 100)


@pytest.mark.parametrize(
    "raw, error, code",
    [
        (None, MalformedJson, "malformed_json"),
        ("", MalformedJson, "malformed_json"),
        ("{not json", MalformedJson, "malformed_json"),
        (b"\xff\xfe{", MalformedJson, "malformed_json"),
        ("[1, 2]", InvalidFrame, "invalid_frame"),
        ('"hello"', InvalidFrame, "invalid_frame"),
        ("{}", UnknownAction, "unknown_action"),
        ('{"action": "message.delete"}', UnknownAction, "unknown_action"),
        ('{"action": ["hello"]}', UnknownAction, "unknown_action"),
        ("x" * (p.MAX_FRAME_BYTES + 1), FrameTooLarge, "frame_too_large"),
        # Size counts bytes, not characters: 11 000 three-byte characters are over 32 KiB.
        (send(text="字" * 11_000), FrameTooLarge, "frame_too_large"),
        (send(text="   \n\t "), InvalidFrame, "invalid_frame"),
        (send(text="bell\x07"), InvalidFrame, "invalid_frame"),
        (send(text="nul\x00"), InvalidFrame, "invalid_frame"),
        (send(text="x" * (p.MAX_TEXT_CHARS + 1)), InvalidFrame, "invalid_frame"),
        (send(admin=True), InvalidFrame, "invalid_frame"),
        (send(v=2), InvalidFrame, "invalid_frame"),
        (send(client_msg_id=""), InvalidFrame, "invalid_frame"),
        (send(client_msg_id="has space"), InvalidFrame, "invalid_frame"),
        (send(client_msg_id="x" * 65), InvalidFrame, "invalid_frame"),
        (send(client_msg_id=7), InvalidFrame, "invalid_frame"),
        (send(attachment={"file_id": "../etc/passwd", "name": "a", "content_type": "text/plain",
                          "size": 1}), InvalidFrame, "invalid_frame"),
        (json.dumps({"action": "read", "conversation_id": "c", "seq": -1}), InvalidFrame, "invalid_frame"),
        (json.dumps({"action": "sync", "conversation_id": "c", "limit": 201}), InvalidFrame, "invalid_frame"),
        (json.dumps({"action": "typing", "state": "start", "draft": "d" * 1001}), InvalidFrame,
         "invalid_frame"),
        (json.dumps({"action": "presence.set", "state": "busy"}), InvalidFrame, "invalid_frame"),
        (json.dumps({"action": "identify", "attributes": {"bad key": "v"}}), InvalidFrame, "invalid_frame"),
        (json.dumps({"action": "identify", "attributes": {f"k{i}": "v" for i in range(51)}}), InvalidFrame,
         "invalid_frame"),
    ],
    ids=lambda value: None if not isinstance(value, (str, bytes)) or len(value) > 40 else repr(value)[:40],
)
def test_bad_frames_raise_the_right_error(raw: Any, error: type[KefuError], code: str) -> None:
    with pytest.raises(error) as caught:
        p.parse_client_frame(raw)
    assert type(caught.value) is error
    assert caught.value.code == code


def test_validation_errors_name_the_fields_at_fault() -> None:
    with pytest.raises(InvalidFrame) as caught:
        p.parse_client_frame(send(client_msg_id="bad id", extra=1))
    fields = {problem["field"] for problem in caught.value.details["problems"]}
    assert {"client_msg_id", "extra"} <= fields


def test_frame_too_large_reports_the_limit() -> None:
    with pytest.raises(FrameTooLarge) as caught:
        p.parse_client_frame("x" * (p.MAX_FRAME_BYTES + 10))
    assert caught.value.details == {"limit_bytes": p.MAX_FRAME_BYTES, "size_bytes": p.MAX_FRAME_BYTES + 10}


def test_unknown_action_lists_the_known_ones() -> None:
    with pytest.raises(UnknownAction) as caught:
        p.parse_client_frame('{"action": "nope"}')
    assert caught.value.details["known_actions"] == list(p.CLIENT_ACTIONS)


@pytest.mark.parametrize(
    "raw, ref",
    [
        (send(client_msg_id="bad id"), "bad id"),
        ('{"action": "sync"}', "sync"),
        ("{not json", None),
        ("[1]", None),
        (None, None),
        (json.dumps({"client_msg_id": "x" * 65}), None),
    ],
)
def test_client_ref_names_what_the_error_answers(raw: str | None, ref: str | None) -> None:
    assert p.client_ref(raw) == ref


# ------------------------------------------------------------------ fuzzing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children,
                                                                      max_size=3),
    max_leaves=6,
)
FRAME_KEYS = ("v", "client_msg_id", "conversation_id", "text", "internal", "attachment", "state", "draft",
              "seq", "after_seq", "limit", "url", "utm", "attributes", "email", "user_hash")
# Objects shaped like frames (a known action, known field names, values of any JSON type),
# so the fuzzing reaches the models' validators, plus objects of any shape at all.
frame_like = st.tuples(
    st.sampled_from(p.CLIENT_ACTIONS + ("nope",)),
    st.dictionaries(st.sampled_from(FRAME_KEYS), json_values, max_size=5),
).map(lambda pair: {**pair[1], "action": pair[0]})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=frame_like | st.dictionaries(st.text(max_size=8), json_values, max_size=4))
def test_arbitrary_json_objects_raise_only_kefu_errors(data: dict[str, Any]) -> None:
    raw = json.dumps(data)
    try:
        frame = p.parse_client_frame(raw)
    except KefuError as error:
        assert error.code
        ref = p.client_ref(raw)
        assert ref is None or isinstance(ref, str)
    else:
        assert getattr(frame, "action") in p.CLIENT_ACTIONS


@settings(max_examples=100, deadline=None)
@given(raw=st.text(max_size=200) | st.binary(max_size=200))
def test_arbitrary_text_raises_only_kefu_errors(raw: str | bytes) -> None:
    try:
        p.parse_client_frame(raw)
    except KefuError:
        pass


def test_deeply_nested_json_is_a_malformed_frame_not_a_crash() -> None:
    raw = "[" * 20_000  # 20 KB: under the frame limit
    with pytest.raises(KefuError):
        p.parse_client_frame(raw)


def test_client_ref_of_deeply_nested_json_is_none() -> None:
    assert p.client_ref("[" * 20_000) is None


def test_text_with_a_lone_surrogate_is_a_malformed_frame() -> None:
    with pytest.raises(KefuError):
        p.parse_client_frame('{"action": "ping"}\ud800')


def test_server_frames_round_trip_as_json() -> None:
    ack = p.MessageAck(client_msg_id="m-1", conversation_id="c_1", seq=1, created_at=5)
    assert json.loads(ack.model_dump_json()) == {
        "v": 1, "action": "message.ack", "client_msg_id": "m-1", "conversation_id": "c_1", "seq": 1,
        "created_at": 5, "duplicate": False,
    }


@pytest.mark.parametrize("frame", [
    {"action": "conversation.transfer", "conversation_id": "c_1"},
    {"action": "conversation.transfer", "conversation_id": "c_1", "to_agent_id": "a_1", "to_group_id": "g_1"},
    {"action": "conversation.transfer", "conversation_id": "c_1", "to_agent_id": "a 1"},
    {"action": "message.leave", "email": "not-an-email", "text": "x"},
    {"action": "message.leave", "email": "a@b.example", "text": ""},
])
def test_routing_frames_are_validated(frame: dict[str, Any]) -> None:
    with pytest.raises(InvalidFrame):
        p.parse_client_frame(json.dumps(frame))
