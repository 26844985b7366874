"""Settings, read from the environment once per Lambda container."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class TableNames:
    tenants: str
    agents: str
    visitors: str
    connections: str
    conversations: str
    messages: str
    settings: str
    idempotency: str
    tickets: str
    knowledge: str


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Secrets come from the environment (on AWS: from Secrets
    Manager through the CloudFormation template), never from code."""

    region: str
    tables: TableNames
    token_secret: str
    dynamodb_endpoint: str | None = None
    ws_callback_url: str | None = None  # overrides the @connections endpoint (local gateway)
    lambda_endpoint: str | None = None  # overrides the Lambda Invoke endpoint (local gateway)
    dispatch_function: str = "kefu-dispatch"
    vectors_function: str = "kefu-kb_vectors"  # computes the vectors an import had no time for
    uploads_bucket: str = "kefu-uploads"
    s3_endpoint: str | None = None  # the local gateway's S3 proxy
    visitor_token_ttl: int = 30 * 24 * 3600
    agent_token_ttl: int = 12 * 3600
    visitor_burst: int = 10
    visitor_per_second: float = 1.0
    sla_state_machine_arn: str | None = None  # the SLA timer (infra/statemachines/sla.asl.json)
    mail_from: str = "support@kefu.local"  # the SES identity ticket mails come from
    public_url: str = ""  # where links in mails point (the REST API's base URL)
    llm_model_id: str = ""  # a Bedrock model that checks the bot's article (adapters/llm.py); empty: off
    llm_endpoint: str | None = None  # overrides the Bedrock runtime endpoint (e.g. a VPC endpoint)
    extra: dict[str, str] = field(default_factory=dict)


def _table_names() -> TableNames:
    prefix = _env("KEFU_TABLE_PREFIX", "kefu-")
    return TableNames(
        tenants=_env("KEFU_TABLE_TENANTS", prefix + "tenants"),
        agents=_env("KEFU_TABLE_AGENTS", prefix + "agents"),
        visitors=_env("KEFU_TABLE_VISITORS", prefix + "visitors"),
        connections=_env("KEFU_TABLE_CONNECTIONS", prefix + "connections"),
        conversations=_env("KEFU_TABLE_CONVERSATIONS", prefix + "conversations"),
        messages=_env("KEFU_TABLE_MESSAGES", prefix + "messages"),
        settings=_env("KEFU_TABLE_SETTINGS", prefix + "settings"),
        idempotency=_env("KEFU_TABLE_IDEMPOTENCY", prefix + "idempotency"),
        tickets=_env("KEFU_TABLE_TICKETS", prefix + "tickets"),
        knowledge=_env("KEFU_TABLE_KNOWLEDGE", prefix + "knowledge"),
    )


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    secret = os.environ.get("KEFU_TOKEN_SECRET", "")
    if len(secret) < 32:
        raise RuntimeError("KEFU_TOKEN_SECRET must be set to at least 32 characters")
    return Settings(
        region=_env("AWS_REGION", _env("AWS_DEFAULT_REGION", "us-east-1")),
        tables=_table_names(),
        token_secret=secret,
        dynamodb_endpoint=os.environ.get("KEFU_DYNAMODB_ENDPOINT") or None,
        ws_callback_url=os.environ.get("KEFU_WS_CALLBACK_URL") or None,
        lambda_endpoint=os.environ.get("KEFU_LAMBDA_ENDPOINT") or None,
        dispatch_function=_env("KEFU_DISPATCH_FUNCTION", "kefu-dispatch"),
        vectors_function=_env("KEFU_VECTORS_FUNCTION", "kefu-kb_vectors"),
        uploads_bucket=_env("KEFU_UPLOADS_BUCKET", "kefu-uploads"),
        s3_endpoint=os.environ.get("KEFU_S3_ENDPOINT") or None,
        visitor_token_ttl=int(_env("KEFU_VISITOR_TOKEN_TTL", str(30 * 24 * 3600))),
        agent_token_ttl=int(_env("KEFU_AGENT_TOKEN_TTL", str(12 * 3600))),
        visitor_burst=int(_env("KEFU_VISITOR_BURST", "10")),
        visitor_per_second=float(_env("KEFU_VISITOR_PER_SECOND", "1")),
        sla_state_machine_arn=os.environ.get("KEFU_SLA_STATE_MACHINE_ARN") or None,
        mail_from=_env("KEFU_MAIL_FROM", "support@kefu.local"),
        public_url=_env("KEFU_PUBLIC_URL", ""),
        llm_model_id=_env("KEFU_LLM_MODEL_ID", "").strip(),
        llm_endpoint=os.environ.get("KEFU_LLM_ENDPOINT") or None,
    )
