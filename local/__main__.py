"""`make run`: the whole of Kefu on this machine, no AWS account and no Docker."""
from __future__ import annotations

import errno
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import LocalStack


def main() -> None:
    port = int(os.environ.get("KEFU_PORT", "8000"))
    print("Starting Kefu locally (moto standing in for AWS; the demo shop's bot embeds its 52 articles: "
          "about 10 s)...", flush=True)
    from .server import LocalStack

    try:
        stack = LocalStack(port=port)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        print(f"Port {port} is already in use: stop what is using it, or pick another port, "
              f"e.g. KEFU_PORT={port + 1} make run", file=sys.stderr, flush=True)
        sys.exit(1)

    def ready() -> None:  # called once the gateway serves and the demo's articles are in
        print(_running(stack), flush=True)

    try:
        stack.serve_forever(ready)
    except KeyboardInterrupt:
        pass
    finally:
        stack.moto.stop()
    sys.exit(0)


def _running(stack: "LocalStack") -> str:
    """What `make run` prints once everything serves: the URLs and the demo's logins."""
    demo = stack.demo
    lines = [
        "",
        "Kefu is running:",
        f"  Home            {stack.url}/",
        f"  Demo site       {stack.url}/demo/",
        f"  Agent console   {stack.url}/console/",
        f"  REST API        {stack.url}/v1/health   (every route is under /v1/: docs/rest-api.md)",
        f"  WebSocket API   {stack.ws_url}",
        "",
        f"Demo tenant '{demo['name']}'  site key: {demo['site_key']}",
    ]
    lines += [f"  agent login: {a['email']} / {demo['password']}" for a in demo["agents"]]
    if demo.get("demo_ticket"):
        lines += ["", f"Demo ticket #{demo['demo_ticket']} (high priority, nobody answers): its first response is due "
                      "30 s after start, then the SLA timer escalates it every 10 s.",
                  f"  watch it at {stack.url}/console/tickets.html (after signing in at the console);",
                  f"  mails that would have been sent: {stack.url}/_local/mails"]
    if demo.get("kb_articles"):
        lines += ["", f"The demo shop's bot answers from {demo['kb_articles']} articles (English and Chinese) while no "
                      "agent has the conversation: ask the widget e.g. \"how long does a refund take?\", "
                      "\"退款多久到账\", \"where is order 12345?\", or \"talk to a human\".",
                  f"  edit its articles and see unanswered questions at {stack.url}/console/kb.html"]
    lines += ["", "Embed on a page:",
              f'  <script src="{stack.url}/widget/widget.js" data-site-key="{demo["site_key"]}" async></script>',
              "", "Press Ctrl+C to stop."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
