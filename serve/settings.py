"""Server settings: one pydantic-settings object read from ``SIGNALS_*`` environment variables.

``get_settings()`` is cached so every request sees the same object; tests build a ``Settings(...)``
and hand it to ``create_app(settings)`` (or override ``get_settings`` in ``app.dependency_overrides``).
Every field is documented in the README's "Scoring service" section.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can tune, each from ``SIGNALS_<FIELD NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SIGNALS_", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Interface `signals serve` binds to.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `signals serve` listens on.")
    model: str | None = Field(
        default=None,
        description="Model directory or MLflow URI to serve [registry champion, else models/default].",
    )
    model_roots: str | None = Field(
        default=None,
        description="Folders `/admin/reload` may load model directories from, separated by `:` "
        "[the repository's models/ and the MLflow artifact folder]; registry URIs are always allowed.",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the key/feedback database; default sqlite:///signals.db."
    )
    max_items: int = Field(default=256, ge=1, description="Most items in one /v1/score call (413 beyond).")
    max_text_chars: int = Field(default=10_000, ge=1, description="Longest text in characters (413 beyond).")
    max_body_bytes: int = Field(
        default=1_000_000, ge=1, description="Largest request body in bytes (413 beyond)."
    )
    rate_limit: int = Field(
        default=6000,
        ge=0,
        description="Units a key may spend per minute (0 = unlimited); a key's own limit wins. A scoring "
        "request costs one unit per text or sentence window the model scores, any other request one.",
    )
    max_segments: int = Field(
        default=4096,
        ge=1,
        description="Most texts plus sentence windows one request may send to the model (413 beyond).",
    )
    auth_failure_limit: int = Field(
        default=30,
        ge=1,
        description="Failed authentications (unknown or revoked keys) per minute per client address "
        "before 429.",
    )
    auth: bool = Field(default=True, description="Require API keys. Turn off only for local experiments.")
    public_metrics: bool = Field(
        default=False, description="Serve /metrics without a key (else `admin` scope)."
    )
    public_url: str | None = Field(
        default=None,
        description="Root URL advertised in the Perspective discovery document; default: "
        "http://SIGNALS_HOST:SIGNALS_PORT/ (never the request's Host header).",
    )
    log_text: bool = Field(
        default=False, description="Log the text of scored comments (off: logs carry no text)."
    )
    window_chars: int = Field(
        default=1000, ge=50, description="Sentence-window size for long texts and spans."
    )
    batch_items: int = Field(
        default=64, ge=1, description="Most texts that waiting requests may pool into one model call."
    )
    workers: int = Field(default=1, ge=1, description="uvicorn worker processes for `signals serve`.")
    limits_url: str = Field(
        default="memory://",
        description="Where rate limits and login throttles count: `memory://` (this process), or "
        "`redis://HOST:PORT/DB`, shared by every worker and host (needed with SIGNALS_WORKERS > 1).",
    )
    reload_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        le=3600,
        description="How often each worker checks the database for a model reloaded by another worker.",
    )

    def root_url(self) -> str:
        """The URL the server advertises: ``public_url``, else ``http://host:port/`` (never taken from a
        request's ``Host`` header, which the client chooses)."""
        if self.public_url:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read from the environment once)."""
    return Settings()
