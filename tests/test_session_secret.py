"""SESSION_SECRET outside production: the server warns at start when it is the built-in default
(or too short), and `./scripts/run` gives a new installation a random one in `.env` on its first
run (`scripts/_session_secret.sh`, run here as scripts/run sources it), keeping one already set."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from loguru import logger

from carecall.server import create_app
from carecall.settings import DEFAULT_SESSION_SECRET, Settings
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "_session_secret.sh"
GOOD_SECRET = "an-installations-own-secret-of-enough-length-0123456789"


def _warnings_at_start(settings: Settings) -> list[str]:
    """The warnings logged while the app starts (its logging is set up by `create_app`)."""
    app = create_app(settings, twilio_http_client=FakeAsyncTwilioHttpClient())
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m.record["message"])), level="WARNING")
    try:
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
    finally:
        logger.remove(sink)
    return lines


@pytest.mark.parametrize("secret", [DEFAULT_SESSION_SECRET, "short-but-not-default"])
def test_a_weak_session_secret_gets_a_clear_warning_at_start(
    make_settings: Callable[..., Settings], secret: str
) -> None:
    warnings = _warnings_at_start(make_settings(session_secret=secret))

    (warning,) = [w for w in warnings if "SESSION_SECRET" in w]
    assert "could be forged" in warning and "./scripts/run" in warning
    assert secret not in warning  # never the secret itself


def test_an_own_session_secret_gets_no_warning(make_settings: Callable[..., Settings]) -> None:
    warnings = _warnings_at_start(make_settings(session_secret=GOOD_SECRET))

    assert any("operator account" in w for w in warnings)  # the sink heard the start's warnings
    assert not [w for w in warnings if "SESSION_SECRET" in w]


# --- scripts/run's first run ---------------------------------------------------------------------


def _first_run(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Source the script as scripts/run does (strict mode, in the checkout's folder)."""
    clean = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail; source {SCRIPT}"],
        cwd=folder,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )


def _secret_in(folder: Path) -> str:
    settings = Settings(_env_file=folder / ".env")  # type: ignore[call-arg]
    return settings.session_secret.get_secret_value()


def test_the_first_run_writes_a_random_secret_to_a_private_env_file(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()

    assert "wrote a new random SESSION_SECRET" in _first_run(first).stdout
    _first_run(second)

    secret = _secret_in(first)
    assert secret != DEFAULT_SESSION_SECRET and len(secret) >= 32
    assert secret != _secret_in(second)
    assert stat.S_IMODE((first / ".env").stat().st_mode) == 0o600
    assert Settings(_env_file=first / ".env").session_secret_warning() is None  # type: ignore[call-arg]
    # The next run keeps it.
    assert _first_run(first).stdout == ""
    assert _secret_in(first) == secret


def test_a_copied_env_example_gets_its_default_replaced_and_the_rest_kept(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[1] / ".env.example"
    (tmp_path / ".env").write_text(example.read_text())
    assert _secret_in(tmp_path) == DEFAULT_SESSION_SECRET

    _first_run(tmp_path)

    assert _secret_in(tmp_path) not in (DEFAULT_SESSION_SECRET, "")
    text = (tmp_path / ".env").read_text()
    assert text.count("SESSION_SECRET=") == 1
    kept = [line for line in example.read_text().splitlines() if "SESSION_SECRET=" not in line]
    assert all(line in text.splitlines() for line in kept)


def test_a_secret_already_set_is_kept(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"LOG_LEVEL=INFO\nSESSION_SECRET={GOOD_SECRET}\n")
    _first_run(tmp_path)
    assert (tmp_path / ".env").read_text() == f"LOG_LEVEL=INFO\nSESSION_SECRET={GOOD_SECRET}\n"

    elsewhere = tmp_path / "from-the-environment"
    elsewhere.mkdir()
    _first_run(elsewhere, SESSION_SECRET=GOOD_SECRET)
    assert not (elsewhere / ".env").exists()
