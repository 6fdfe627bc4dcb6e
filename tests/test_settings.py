from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from carecall.settings import DEFAULT_SESSION_SECRET, MissingConfiguration, Settings


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_starts_without_any_keys_and_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "SERVICES",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_PHONE_NUMBER",
        "WEBHOOK_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = _settings()
    # No key needed: without one, speech runs on this machine.
    assert settings.services == "auto"
    assert settings.missing_for_calls() == [
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_PHONE_NUMBER",
        "WEBHOOK_URL",
    ]
    with pytest.raises(MissingConfiguration, match="WEBHOOK_URL"):
        _ = settings.media_stream_url


def test_openai_services_name_the_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("SERVICES", "openai")
    settings = _settings(webhook_url="https://x.org", twilio_account_sid="AC1")
    assert settings.missing_for_calls() == [
        "TWILIO_AUTH_TOKEN",
        "TWILIO_PHONE_NUMBER",
        "OPENAI_API_KEY",
    ]


@pytest.mark.parametrize(
    ("values", "speech", "llm"),
    [
        # auto: OpenAI's services when there is a key, as before (at OPENAI_BASE_URL if set)...
        ({"openai_api_key": "sk-x"}, "openai", "openai"),
        ({"openai_api_key": "sk-x", "openai_base_url": "http://h/v1"}, "openai", "openai"),
        # ...else speech on this machine, with a compatible server's model, or none.
        ({}, "local", None),
        ({"openai_base_url": "http://127.0.0.1:11434/v1"}, "local", "compatible"),
        # local: this machine's speech whatever the keys; the model as available.
        ({"services": "local"}, "local", None),
        ({"services": "local", "openai_api_key": "sk-x"}, "local", "openai"),
        ({"services": "local", "openai_api_key": "sk-x", "openai_base_url": "http://h/v1"},
         "local", "compatible"),
        # openai: OpenAI's services even without a key (the key is then named as missing).
        ({"services": "openai"}, "openai", "openai"),
    ],
)  # fmt: skip
def test_the_services_setting_resolves_against_the_keys(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, Any], speech: str, llm: str | None
) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SERVICES"):
        monkeypatch.delenv(name, raising=False)
    choice = _settings(**values).service_choice
    assert (choice.speech, choice.llm) == (speech, llm)


def test_services_must_be_one_of_the_known_values() -> None:
    with pytest.raises(ValidationError, match="services"):
        _settings(services="cloud")


def test_reads_the_briefs_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "tok")
    monkeypatch.setenv("TWILIO_PHONE_NUMBER", "+15005550006")
    monkeypatch.setenv("WEBHOOK_URL", "https://calls.example.org/")
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/carecall")
    monkeypatch.setenv("SESSION_SECRET", "s" * 40)
    settings = _settings()
    assert settings.missing_for_calls() == []
    assert settings.database_url == "postgresql+asyncpg://u@db/carecall"
    assert settings.media_stream_url == "wss://calls.example.org/ws"
    assert settings.public_url("/twilio/status") == "https://calls.example.org/twilio/status"
    # Secrets never show in reprs or logs.
    assert "sk-live" not in repr(settings) and "tok" not in str(settings.twilio_auth_token)


def test_sqlite_urls_get_the_async_driver() -> None:
    assert _settings(database_url="sqlite:///./x.db").database_url == "sqlite+aiosqlite:///./x.db"


def test_production_refuses_the_default_session_secret() -> None:
    with pytest.raises(ValidationError, match="SESSION_SECRET"):
        _settings(carecall_env="production", session_secret=DEFAULT_SESSION_SECRET)
    with pytest.raises(ValidationError, match="SESSION_SECRET"):
        _settings(carecall_env="production", session_secret="short")
    ok = _settings(carecall_env="production", session_secret="x" * 48)
    assert ok.carecall_env == "production"


def test_production_requires_https_webhooks() -> None:
    with pytest.raises(ValidationError, match="https"):
        _settings(carecall_env="production", session_secret="x" * 48, webhook_url="http://x.org")


def test_webhook_url_must_be_a_url() -> None:
    with pytest.raises(ValidationError, match="WEBHOOK_URL"):
        _settings(webhook_url="calls.example.org")


def test_wrap_up_must_come_before_the_end() -> None:
    with pytest.raises(ValidationError, match="WRAP_UP_SECONDS"):
        _settings(max_call_seconds=60, wrap_up_seconds=60)


def test_a_refused_setting_never_echoes_the_values_given() -> None:
    """Settings come from the environment, secrets included: a validation error names the
    problem, not what was set (pydantic would otherwise print every input)."""
    with pytest.raises(ValidationError) as refused:
        _settings(
            carecall_env="production",
            session_secret="short-secret-value-XYZ",
            twilio_auth_token="tok-SECRET-123",
        )
    text = str(refused.value)
    assert "SESSION_SECRET must be set" in text
    assert "short-secret-value-XYZ" not in text and "tok-SECRET-123" not in text
