"""Settings for every Polku process, read from the environment (prefix ``POLKU_``).

The embedded default (``polku dev``) and production differ only in these values.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES: tuple[str, ...] = ("intake", "coaching", "employer", "reporting")
# "platform" holds what every service shares: organisations, users and the audit log.
DATABASES: tuple[str, ...] = ("platform", *SERVICES)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLKU_", extra="ignore")

    data_dir: Path = Field(Path(".polku"), description="Where the embedded stack keeps its files")

    http_host: str = "127.0.0.1"
    http_port: int = Field(8000, description="The single origin of the web UI and every API")
    api_base_url: str | None = Field(
        None, description="Where services reach each other's APIs; default the single origin"
    )
    service_port_base: int = Field(
        8100, description="`polku dev --cluster`: the services listen on this port and the next three"
    )
    service_urls: dict[str, str] = Field(
        default_factory=dict,
        description="Where the proxy origin (`polku serve all --proxy`) reaches each service, JSON "
        '{"intake": "http://intake:8000", ...}; a service left out: http://127.0.0.1:(service_port_base + i)',
    )

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "polku-journeys"
    temporal_ui_port: int = 8233
    temporal_ui_url: str | None = None

    nats_url: str = "nats://127.0.0.1:4222"
    nats_port: int = Field(
        4222, description="The embedded nats-server; `--cluster`: its three nodes use this and the next two"
    )
    nats_cluster_port: int = Field(
        6222, description="`polku dev --cluster`: route port of the first NATS node, the others the next two"
    )
    nats_stream_replicas: int = Field(
        1, description="Replicas of each JetStream stream (3 on a three-node cluster); every process declares the same"
    )
    postgres_port: int = Field(5432, description="`polku dev --cluster`: the PostgreSQL it starts")

    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL. Unset: one SQLite file per service under data_dir. "
        "PostgreSQL (postgresql+asyncpg://...): one schema per service.",
    )

    secret_key: SecretStr | None = Field(
        None, description="Signs tokens and sessions. Unset in dev: generated into data_dir/keys.json"
    )
    field_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Field-encryption keys by key id (base64, 32 bytes). The active one encrypts; "
        "the others still decrypt, so keys can rotate.",
    )
    field_key_active: str | None = None
    blind_index_key: SecretStr | None = None
    blind_index_key_previous: SecretStr | None = Field(
        None,
        description="While the blind-index key rotates: the old key, still searched until "
        "`polku intake reindex` has recomputed every index under POLKU_BLIND_INDEX_KEY.",
    )
    payload_keys: dict[str, dict[str, SecretStr]] = Field(
        default_factory=dict,
        description='Temporal payload keys, JSON {scope: {key id: base64 32 bytes}}; scope "*" is the '
        "deployment's (each organisation encrypts under a key derived from it), an organisation id that "
        "organisation's own. Every key decrypts, so keys can rotate. Keys derived from the field keys "
        "are always there too (see shared/keys.py).",
    )
    payload_key_active: dict[str, str] = Field(
        default_factory=dict, description="JSON {scope: key id}: the key that encrypts; default the greatest id"
    )
    payload_key_file: Path | None = Field(
        None, description='A JSON file {"keys": {scope: {key id: base64}}, "active": {scope: key id}}'
    )

    login_max_failures: int = Field(5, description="Failed logins in a row before the account locks")
    login_lockout_seconds: int = Field(900, description="How long a locked account waits")
    token_ttl_seconds: int = 3600
    session_ttl_seconds: int = 8 * 3600
    cookie_secure: bool = Field(
        True, description="Secure flag on the session cookie (browsers accept it on http://127.0.0.1 too)"
    )

    otlp_endpoint: str | None = Field(None, description="OTLP/HTTP collector, e.g. http://otel:4318")
    log_level: str = "INFO"

    # Journey timers (seconds), shortened by tests.
    employer_contact_due_s: int = 30 * 86400
    disclosure_revisit_s: int = 61 * 86400
    follow_along_first_s: int = 3 * 86400
    follow_along_weekly_s: int = 7 * 86400
    follow_along_first_month_s: int = 30 * 86400
    follow_along_monthly_s: int = 30 * 86400
    silence_outreach_s: int = 30 * 86400
    journey_history_limit: int = 10_000
    retention_year_s: int | None = Field(
        None, description="Seconds a retention year lasts (organisations.retention_years); unset: calendar years. Tests"
    )

    @property
    def origin(self) -> str:
        return f"http://{self.http_host}:{self.http_port}"

    @property
    def internal_api(self) -> str:
        return (self.api_base_url or self.origin).rstrip("/")

    def service_url(self, service: str) -> str:
        """The base URL of one service's own process (proxy mode)."""
        if service in self.service_urls:
            return self.service_urls[service].rstrip("/")
        return f"http://127.0.0.1:{self.service_port_base + SERVICES.index(service)}"

    def sqlite_path(self, database: str) -> Path:
        return self.data_dir / f"{database}.db"


@lru_cache
def get_settings() -> Settings:
    return Settings()
