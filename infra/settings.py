"""All configuration in one place: environment variables with the CW_ prefix."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Coursewright settings; defaults are the local servers of a developer machine."""

    model_config = SettingsConfigDict(env_prefix="CW_", env_file=".env", extra="ignore")

    env: str = Field("dev", description="dev | test | prod; prod logs JSON")
    log_json: bool | None = Field(None, description="force JSON logs on or off")
    log_level: str = "INFO"

    pg_dsn: str = "postgresql://postgres@127.0.0.1:5432/coursewright"
    pg_pool_min: int = 1
    pg_pool_max: int = 10

    nats_url: str = "nats://127.0.0.1:4222"
    public_nats_url: str = Field(
        "", description="the NATS address(es) machine clients use, the AsyncAPI document's servers; empty: CW_NATS_URL"
    )
    subject_prefix: str = Field("cw", description="first token of every subject we publish on")
    events_stream: str = "CW_EVENTS"
    stream_replicas: int = 1

    redis_url: str = "redis://127.0.0.1:6379/0"

    s3_url: str = Field("http://127.0.0.1:8333", description="S3-compatible object storage for SOP documents")
    s3_access_key: str = "coursewright"
    s3_secret_key: SecretStr = SecretStr("coursewright-dev-secret")
    s3_bucket: str = "coursewright"
    s3_region: str = "us-east-1"
    document_max_bytes: int = Field(20 * 1024 * 1024, description="largest SOP document accepted")
    order_max_bytes: int = Field(100 * 1024 * 1024, description="largest total of one order's documents")
    upload_url_minutes: int = Field(15, description="how long a presigned upload or download URL works")
    upload_orphan_hours: int = Field(24, description="uploads never completed are swept after this")

    data_dir: Path = Path(".coursewright")
    embedded: str = Field("auto", description="auto: start embedded servers for unreachable defaults; never; always")

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    http_workers: int = Field(0, ge=0, description="gateway processes `coursewright up` runs; 0: one per core")

    # -- the HTTP gateway: identity, tokens, limits --------------------------------------------
    jwt_secret: SecretStr = Field(
        SecretStr("dev-only-jwt-secret-do-not-use-in-production-0123456789"),
        description="HS256 key of access tokens (32 bytes or more); prod refuses the default",
    )
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    stream_ticket_seconds: int = Field(
        60, ge=1, le=600, description="how long a ticket for the notification stream (?ticket=) opens it"
    )
    bootstrap_admin_email: str | None = Field(
        None, description="the registration with this address becomes the first platform admin"
    )
    metrics_token: SecretStr | None = Field(
        None, description="when set, /metrics needs it as a bearer token; it also opens /projections"
    )
    rate_limit_per_minute: int = Field(600, description="requests per user and endpoint")
    login_rate_limit_per_minute: int = Field(10, description="login attempts per client address")
    max_body_bytes: int = 1_048_576
    idempotency_hours: int = Field(24, description="how long a command's first reply is kept")

    command_retries: int = Field(25, description="reload-and-decide attempts on a version conflict")
    append_batch_max: int = Field(256, description="commands folded into one store transaction")

    # -- the generation pipeline ---------------------------------------------------------------
    qdrant_url: str = Field("", description="a Qdrant server; empty: local mode in data_dir/qdrant (one process)")
    llm_model: str = Field("", description="litellm model (e.g. openai/gpt-4o-mini); empty: offline writer")
    llm_api_base: str = Field("", description="the LLM's API address, when not the provider's default")
    llm_api_key: SecretStr = Field(SecretStr(""), description="the LLM provider's key")
    embedder: str = Field("minilm", description="minilm (all-MiniLM-L6-v2, offline) | hashing (no model)")
    pipeline_concurrency: int = Field(2, ge=1, le=32, description="orders generated at once per pipeline process")
    pipeline_ack_seconds: float = Field(
        60.0, ge=1, description="an order a dead pipeline process was generating goes to another after this"
    )
    pipeline_attempts: int = Field(5, ge=1, description="deliveries of an order event before it is parked")

    relay_batch: int = 2048
    relay_window: int = Field(4096, description="JetStream publishes in flight at once")
    relay_poll_seconds: float = 0.5

    # -- audit: signed seals of the log ------------------------------------------------------
    audit_seal_key: SecretStr | None = Field(
        None, description="Ed25519 seed (64 hex) of the seal key; unset: <data dir>/audit/seal.key, created once"
    )
    audit_trusted_keys: str = Field("", description="more public keys (hex, comma-separated) whose seals verify")
    audit_seal_seconds: float = Field(60.0, description="how often the sealer seals the log")
    audit_seal_max_events: int = Field(10_000, ge=1, description="positions covered by one seal at most")
    public_url: str = Field(
        "http://127.0.0.1:8000", description="the platform's public address: the base of xAPI activity and account IRIs"
    )
    # -- mail: the outbox and its delivery (infra/outbox.py) ----------------------------------
    smtp_url: str = Field(
        "", description="smtp://[user:password@]host[:port] or smtps://...; empty: mail is written to <data dir>/mail"
    )
    mail_from: str = Field("Coursewright <no-reply@coursewright.local>", description="the From of every mail")
    mail_retry_seconds: float = Field(2.0, gt=0, description="first wait before sending a failed mail again")
    mail_retry_max_seconds: float = Field(300.0, gt=0, description="longest wait between tries of a failed mail")
    mail_poll_seconds: float = Field(1.0, gt=0, description="how often the mail worker looks for due mail")
    mail_keep_sent_days: float = Field(
        7.0, gt=0, description="how long sent mail stays in the outbox before the mail worker deletes it"
    )
    # -- lab sandboxes (labrunner) -------------------------------------------------------------
    docker_url: str | None = Field(
        None,
        description="the lab runner's Docker engine (unix:// or tcp://), or several, comma-separated (each new "
        "sandbox on the least loaded); unset: DOCKER_HOST or the local socket",
    )
    lab_cache_dir: Path = Field(
        Path("~/.cache/coursewright/labs"), description="the labs' image root filesystem, made once per machine"
    )
    lab_runner_name: str = Field("default", description="labels this runner's sandboxes (one runner per name)")
    lab_max_sessions: int = Field(8, ge=1, description="lab sandboxes at once on this host; starts beyond wait")
    lab_per_student: int = Field(2, ge=1, description="live lab sessions per student")
    lab_per_organisation: int = Field(50, ge=1, description="live lab sessions per organisation")
    lab_expiry_warning_seconds: float = Field(
        120.0,
        gt=0,
        description="an idle lab session's student is told this long before the runner stops it (at most half "
        "the lab's idle limit)",
    )

    def environment(self) -> dict[str, str]:
        """These settings as CW_ variables: what a child process needs to run on the same ones."""
        env: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, bool):
                value = "true" if value else "false"
            env[f"CW_{name.upper()}"] = str(value)
        return env

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.env == "prod"

    @property
    def client_nats_url(self) -> str:
        """The NATS address(es) machine clients are told of (credentials are never shown: the
        AsyncAPI document keeps only host and port)."""
        return self.public_nats_url or self.nats_url

    def event_subject(self, category: str, event_type: str) -> str:
        return f"{self.subject_prefix}.evt.{category}.{event_type}"

    def pipeline_ready_subject(self) -> str:
        """Where the pipeline process answers how its dependencies (Qdrant, the LLM) do."""
        return f"{self.subject_prefix}.pipeline.ready"
