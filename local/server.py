"""Starts moto, creates the tables from infra/template.yaml, seeds a demo tenant and
serves the local gateway with uvicorn."""
from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from dataclasses import asdict
from typing import Any, Callable

from .aws import MotoServer, create_tables, provision_state_machines, verify_mail_sender


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reserve_port(port: int) -> socket.socket:
    """A socket bound to `port` (0: any free one), kept until uvicorn serves on it, so that
    nothing started meanwhile (moto's server binds a free port of its own) can take it, and
    a port already in use fails here, at once, with the OS's error."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(128)  # listening: no other socket can bind it, SO_REUSEADDR or not
    except OSError:
        sock.close()
        raise
    return sock


def configure_environment(port: int, moto_url: str) -> None:
    """Point the handlers at moto and at this gateway; never at a real AWS account."""
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "KEFU_DYNAMODB_ENDPOINT": moto_url,
        "AWS_ENDPOINT_URL": moto_url,
        "KEFU_WS_CALLBACK_URL": f"http://127.0.0.1:{port}/_aws/ws",
        # The chat handlers start the dispatch function through the gateway's Lambda Invoke API.
        "KEFU_LAMBDA_ENDPOINT": f"http://127.0.0.1:{port}/_aws/lambda",
        # Browsers upload and download attachments through the gateway's S3 proxy (same origin).
        "KEFU_S3_ENDPOINT": f"http://127.0.0.1:{port}/_aws/s3",
        "KEFU_UPLOADS_BUCKET": os.environ.get("KEFU_UPLOADS_BUCKET", "kefu-uploads"),
        # Ticket mails go to moto's SES; /_local/mails lists them. Their links point here.
        "KEFU_MAIL_FROM": os.environ.get("KEFU_MAIL_FROM", "support@kefu.local"),
        "KEFU_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
    })
    os.environ.pop("AWS_PROFILE", None)
    # A fresh secret per run unless one is configured: tokens die with the in-memory data.
    os.environ.setdefault("KEFU_TOKEN_SECRET", secrets.token_urlsafe(48))


def _warm_clients() -> None:
    """Build each pynamodb model's botocore client now, in one thread.

    On Lambda a container serves one invocation at a time, so it builds each client once.
    Here 32 handler threads start together, and each would build its own copy of every
    client (pynamodb gives each thread its own botocore session, so nothing is cached
    between them) before the first one is stored: seconds of CPU spent on parsing JSON.
    """
    from chalicelib.adapters.repositories import _transaction_connection
    from chalicelib.adapters.tables import ALL_MODELS

    for model in ALL_MODELS.values():
        model._get_connection().connection.client  # noqa: B018  (the property builds it)
    _transaction_connection().client  # noqa: B018
    from chalicelib import bootstrap

    bootstrap.services().routing._trigger._get_client()  # the Lambda Invoke client


class LocalStack:
    """Everything `make run` starts, usable from tests (in a thread) too."""

    def __init__(self, port: int = 0, seed_demo: bool = True) -> None:
        self._socket = reserve_port(port)
        self.port = int(self._socket.getsockname()[1])
        self.moto = MotoServer().start()
        configure_environment(self.port, self.moto.url)
        import boto3

        from chalicelib import bootstrap
        from chalicelib.config import load_settings

        load_settings.cache_clear()
        bootstrap.reset()
        settings = load_settings()
        dynamodb = boto3.client("dynamodb", endpoint_url=self.moto.url, region_name=settings.region)
        create_tables(dynamodb, {k: getattr(settings.tables, k) for k in vars(settings.tables)})
        s3 = boto3.client("s3", endpoint_url=self.moto.url, region_name=settings.region)
        s3.create_bucket(Bucket=settings.uploads_bucket)
        # The SLA timer: infra/statemachines/sla.asl.json run by moto, its Lambda task in-process.
        import app as chalice_app

        machines = provision_state_machines(self.moto.url, self.moto.port, settings.region, chalice_app.app)
        os.environ["KEFU_SLA_STATE_MACHINE_ARN"] = machines["sla"]
        verify_mail_sender(self.moto.url, settings.region, settings.mail_from)
        load_settings.cache_clear()
        bootstrap.reset()
        bootstrap.services()  # binds the pynamodb models to moto
        _warm_clients()

        from .gateway import LocalGateway, build_asgi

        self.demo: dict[str, Any] = {}
        if seed_demo:
            from .seed import seed_demo_routing, seed_tenant

            seeded = seed_tenant(
                "Demo Shop",
                [("alice@demo.kefu.dev", "Alice"), ("bob@demo.kefu.dev", "Bob")],
                os.environ.get("KEFU_DEMO_PASSWORD", "kefu-demo"),
                site_key=os.environ.get("KEFU_DEMO_SITE_KEY", "pk_demo_kefu_local"),
            )
            seed_demo_routing(seeded.tenant_id, seeded.agents)
            self.demo = asdict(seeded)
            from .seed import seed_ticket_demo

            self.demo["demo_ticket"] = seed_ticket_demo(seeded.tenant_id, seeded.agents[0]["agent_id"],
                                                        seeded.agents[-1]["agent_id"])
        # The demo shop's articles are imported once the gateway serves (`_seed_knowledge`): the
        # import starts the vectors job through the gateway's Lambda Invoke API, which only
        # answers then (before, start-up waited 4 x 5 s for it, and the job then ran 4 times).
        self._knowledge_pending = seed_demo
        self.gateway = LocalGateway()
        self.gateway.host = f"127.0.0.1:{self.port}"
        self.asgi = build_asgi(self.gateway, self.moto.stats.snapshot, self.moto.stats.reset, self.demo,
                               self.moto.url)
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def _uvicorn(self) -> Any:
        import uvicorn

        config = uvicorn.Config(self.asgi, host="127.0.0.1", port=self.port, log_level="warning",
                                ws_max_size=1024 * 1024, lifespan="off", ws="websockets-sansio")
        return uvicorn.Server(config)

    def _seed_knowledge(self) -> None:
        """The demo shop's knowledge base, imported through the serving gateway (see __init__)."""
        if not self._knowledge_pending:
            return
        self._knowledge_pending = False
        from .seed import seed_knowledge_demo

        agent = self.demo["agents"][0]["agent_id"]
        self.demo["kb_articles"] = seed_knowledge_demo(self.demo["tenant_id"], agent, self.url)

    def _wait_until_serving(self, timeout_s: float = 15) -> None:
        deadline = time.time() + timeout_s
        while not self._server.started:
            if time.time() > deadline or self._server.should_exit:
                raise RuntimeError("the local gateway did not start")
            time.sleep(0.02)

    def serve_forever(self, ready: Callable[[], None] | None = None) -> None:
        """Serves in this thread (Ctrl+C stops it); once it serves, the demo's articles are
        imported and then `ready` is called (`make run` prints its URLs there). If either fails,
        the gateway stops and the error is raised here."""
        self._server = self._uvicorn()
        failed: list[BaseException] = []

        def when_serving() -> None:
            try:
                self._wait_until_serving()
                self._seed_knowledge()
                if ready is not None:
                    ready()
            except BaseException as error:  # noqa: BLE001 (raised again below, in the caller's thread)
                failed.append(error)
                self._server.should_exit = True

        threading.Thread(target=when_serving, name="demo-knowledge", daemon=True).start()
        self._server.run(sockets=[self._socket])
        if failed:
            raise failed[0]

    def start_in_thread(self) -> "LocalStack":
        self._server = self._uvicorn()
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="gateway", daemon=True)
        self._thread.start()
        self._wait_until_serving()
        self._seed_knowledge()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.moto.stop()
