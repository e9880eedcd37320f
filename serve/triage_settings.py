"""Settings of the triage pages and ``POST /v1/submissions``, from ``SIGNALS_TRIAGE_*`` variables.

Kept apart from ``serve.settings`` (the scoring service's) so each feature documents its own knobs.
Tests put a ``TriageSettings(...)`` on ``app.state.triage_settings``; otherwise ``get_triage_settings()``
reads the environment once.
"""

from __future__ import annotations

from functools import lru_cache

from fastapi import Request
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TriageSettings(BaseSettings):
    """Every triage knob, each from ``SIGNALS_TRIAGE_<FIELD NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SIGNALS_TRIAGE_", extra="ignore")

    redact: bool = Field(
        default=True, description="Redact personal data from submissions before storing them."
    )
    second_review: bool = Field(
        default=False, description="High-risk items (any signal at the flag threshold) need a second analyst."
    )
    session_hours: float = Field(default=12.0, gt=0, description="How long an analyst's login lasts.")
    cookie_secure: bool | None = Field(
        default=None,
        description="Mark cookies Secure (HTTPS only). Default: when the request came over HTTPS "
        "(behind a proxy, run uvicorn with --proxy-headers).",
    )
    labels_dir: str = Field(
        default="data/labels", description="Where the page's 'Export labels' writes versions."
    )
    page_size: int = Field(default=50, ge=1, le=500, description="Items per queue page.")


@lru_cache(maxsize=1)
def get_triage_settings() -> TriageSettings:
    return TriageSettings()


def triage_settings(request: Request) -> TriageSettings:
    """The app's triage settings (``app.state.triage_settings`` if a test set one)."""
    found = getattr(request.app.state, "triage_settings", None)
    return found if isinstance(found, TriageSettings) else get_triage_settings()
