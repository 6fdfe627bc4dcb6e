"""The `carecall` console command, run as an operator runs it: a subprocess configured only by
`DATABASE_URL`, in an empty folder (so no `.env` is read)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from carecall.cli import standalone_auth
from carecall.settings import Settings
from tests.api.support import app_state, make_client, on_app_loop
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

CARECALL = Path(sys.executable).parent / "carecall"
EMAIL = "admin@example.org"
PASSWORD = "a long and careful password"
KEY = re.compile(r"^cc_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}$", re.MULTILINE)


@pytest.fixture
def run_carecall(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
        env = {
            name: value
            for name, value in os.environ.items()
            if name in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT"}
        }
        env["DATABASE_URL"] = database_url
        return subprocess.run(
            [str(CARECALL), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


def async_url(database_url: str) -> str:
    """The URL as the server uses it (Settings picks the async driver)."""
    return Settings(_env_file=None, database_url=database_url).database_url  # type: ignore[call-arg]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"  # as an operator might write it


async def test_create_admin_makes_an_operator_who_can_sign_in(
    run_carecall: Callable[..., subprocess.CompletedProcess[str]], database_url: str
) -> None:
    result = run_carecall(
        "create-admin", "--email", EMAIL, "--password", PASSWORD, database_url=database_url
    )

    assert result.returncode == 0, result.stderr
    assert f"Created admin {EMAIL}" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    async with standalone_auth(database_url) as auth:
        operator = await auth.authenticate(EMAIL, PASSWORD, "127.0.0.1")
        assert operator.is_admin
        assert operator.password_hash.startswith("$argon2id$")


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        pytest.param(EMAIL, "short", "at least 10 characters", id="short password"),
        pytest.param("admin", PASSWORD, "valid email", id="bad email"),
    ],
)
async def test_create_admin_refuses_invalid_accounts_with_exit_2(
    run_carecall: Callable[..., subprocess.CompletedProcess[str]],
    sqlite_url: str,
    email: str,
    password: str,
    message: str,
) -> None:
    result = run_carecall(
        "create-admin", "--email", email, "--password", password, database_url=sqlite_url
    )

    assert result.returncode == 2
    assert result.stderr.startswith("carecall: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    async with standalone_auth(async_url(sqlite_url)) as auth:
        assert await auth.operators.count() == 0


def test_a_second_admin_with_the_same_email_is_exit_2(
    run_carecall: Callable[..., subprocess.CompletedProcess[str]], sqlite_url: str
) -> None:
    first = run_carecall(
        "create-admin", "--email", EMAIL, "--password", PASSWORD, database_url=sqlite_url
    )
    assert first.returncode == 0, first.stderr

    again = run_carecall(
        "create-admin",
        "--email",
        EMAIL.upper(),
        "--password",
        "another long password",
        database_url=sqlite_url,
    )

    assert again.returncode == 2
    assert f"carecall: An operator with the email {EMAIL} already exists." in again.stderr
    assert "Traceback" not in again.stderr


def test_missing_arguments_are_a_usage_error(
    run_carecall: Callable[..., subprocess.CompletedProcess[str]], sqlite_url: str
) -> None:
    result = run_carecall("create-admin", "--email", EMAIL, database_url=sqlite_url)

    assert result.returncode == 2
    assert "--password" in result.stderr


def test_create_api_key_prints_a_key_that_opens_the_api(
    run_carecall: Callable[..., subprocess.CompletedProcess[str]],
    sqlite_url: str,
    make_settings: Callable[..., Settings],
) -> None:
    result = run_carecall("create-api-key", "--name", "nightly export", database_url=sqlite_url)

    assert result.returncode == 0, result.stderr
    keys = KEY.findall(result.stdout)
    assert len(keys) == 1, result.stdout
    assert "shown only now" in result.stdout
    assert "Authorization: Bearer" in result.stdout
    second = run_carecall("create-api-key", "--name", "another", database_url=sqlite_url)
    assert KEY.findall(second.stdout) != keys

    settings = make_settings(database_url=sqlite_url)
    for client in make_client(settings, FakeAsyncTwilioHttpClient(), api_key=False):
        response = client.get("/api/calls", headers={"Authorization": f"Bearer {keys[0]}"})
        assert response.status_code == 200, response.text
        assert response.json()["total"] == 0
        assert client.get("/api/calls").status_code == 401
        stored = on_app_loop(client, app_state(client).auth.api_keys.list_all)
        assert [key.name for key in stored] == ["nightly export", "another"]


def test_create_api_key_needs_a_name(
    run_carecall: Callable[..., subprocess.CompletedProcess[str]], sqlite_url: str
) -> None:
    result = run_carecall("create-api-key", "--name", "  ", database_url=sqlite_url)

    assert result.returncode == 2
    assert "name" in result.stderr
    assert not KEY.search(result.stdout)
