"""A local HTTP server that answers as Amazon Bedrock's Converse API does (moto's
bedrock-runtime has no Converse), for the optional language-model check of the bot's article
(chalicelib/adapters/llm.py). Used by tests/integration/test_llm.py (the adapter) and
tests/browser/test_llm_check.py (the whole stack)."""
from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

_MESSAGE = re.compile(r"<message>\n(.*)\n</message>", re.DOTALL)


class Converse:
    """What the local server answers next, and what it was sent.

    `reply` answers every request, unless the visitor's message in the prompt contains one of
    the keys of `replies`: then that key's reply. Each request is kept in `requests` as its
    path, its JSON body, its Authorization header and the visitor's message (or "").
    """

    def __init__(self) -> None:
        self.reply: str = "YES"
        self.replies: dict[str, str] = {}
        self.status = 200
        self.delay_s = 0.0
        self.requests: list[dict[str, Any]] = []

    def answer_for(self, message: str) -> str:
        return next((reply for marker, reply in self.replies.items() if marker in message), self.reply)


def _message(body: dict[str, Any]) -> str:
    """The visitor's message, as the prompt quotes it between <message> tags."""
    try:
        prompt = "".join(part.get("text", "") for part in body["messages"][0]["content"])
    except (KeyError, IndexError, TypeError):
        return ""
    found = _MESSAGE.search(prompt)
    return found.group(1) if found else ""


@contextmanager
def converse_server() -> Iterator[tuple[Converse, str]]:
    """Serve Converse on a free port of 127.0.0.1; yields the script and the endpoint URL."""
    script = Converse()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            message = _message(body)
            script.requests.append({"path": urllib.parse.unquote(self.path), "body": body, "message": message,
                                    "authorization": self.headers.get("Authorization", "")})
            time.sleep(script.delay_s)
            if script.status != 200:
                payload: dict[str, Any] = {"message": "the model is overloaded"}
            else:
                text = script.answer_for(message)
                payload = {"output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                           "stopReason": "end_turn", "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
                           "metrics": {"latencyMs": 1}}
            raw = json.dumps(payload).encode()
            self.send_response(script.status)
            self.send_header("Content-Type", "application/json")
            if script.status != 200:
                self.send_header("x-amzn-ErrorType", "ServiceUnavailableException")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="converse", daemon=True)
    thread.start()
    try:
        yield script, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
