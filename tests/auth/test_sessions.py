"""Sessions end when they should, on SQLite and PostgreSQL: a session cookie copied before
signing out opens nothing after it (nor after a second sign-out and a restart); a password
change or deleting the operator (the `carecall` command, another process) ends their sessions
at once in a running server; a sign-out on one instance ends the session on another; a session
unused for SESSION_IDLE_MINUTES expires, one in use does not; an open live feed is closed soon
after its session ends."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from carecall.api import dashboard_ws
from carecall.server import create_app
from carecall.settings import Settings
from tests.api.support import add_operator, log_in, make_client
from tests.checkins.clocks import FakeClock
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

SESSION_COOKIE = "carecall_session"
CARECALL = Path(sys.executable).parent / "carecall"
OPERATOR_EMAIL = "nurse@example.org"  # tests.api.support's operator


def _signed_in(client: TestClient) -> bool:
    """Whether the client's cookie opens the API and a page."""
    api = client.get("/api/calls")
    page = client.get("/", follow_redirects=False)
    assert (api.status_code == 200) == (page.status_code == 200), (api, page)
    return api.status_code == 200


def _with_cookie(client: TestClient, cookie: str) -> TestClient:
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, cookie)
    return client


def _sign_out(client: TestClient, csrf: str) -> Any:
    return client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)


def _carecall(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The console command, as an operator runs it: another process, only DATABASE_URL set."""
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
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


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    return make_settings(database_url=database_url)


def test_a_cookie_copied_before_sign_out_opens_nothing_after_it_nor_after_a_restart(
    settings: Settings,
) -> None:
    twilio = FakeAsyncTwilioHttpClient()
    for client in make_client(settings, twilio, api_key=False):
        add_operator(client)
        csrf = log_in(client)
        copied = client.cookies[SESSION_COOKIE]
        assert _signed_in(client)

        assert _sign_out(client, csrf).status_code == 303
        assert not _signed_in(_with_cookie(client, copied))
        # Signing out again with the copy changes nothing.
        assert _sign_out(client, csrf).status_code == 303
        assert not _signed_in(_with_cookie(client, copied))
    for restarted in make_client(settings, twilio, api_key=False):
        assert not _signed_in(_with_cookie(restarted, copied))
        with (  # nor the live feed
            restarted.websocket_connect("/ws/dashboard") as feed,
            pytest.raises(WebSocketDisconnect) as closed,
        ):
            feed.receive_json()
        assert closed.value.code == 1008
        log_in(restarted)  # signing in again works
        assert _signed_in(restarted)


def test_signing_out_on_one_instance_ends_the_session_on_another(settings: Settings) -> None:
    twilio = FakeAsyncTwilioHttpClient()
    for first in make_client(settings, twilio, api_key=False):
        add_operator(first)
        csrf = log_in(first)
        copied = first.cookies[SESSION_COOKIE]
        for second in make_client(settings, twilio, api_key=False):
            assert _signed_in(_with_cookie(second, copied))
            assert _sign_out(first, csrf).status_code == 303
            assert not _signed_in(second)


def test_signing_out_ends_only_that_session(settings: Settings) -> None:
    twilio = FakeAsyncTwilioHttpClient()
    for client in make_client(settings, twilio, api_key=False):
        add_operator(client)
        log_in(client)
        laptop = client.cookies[SESSION_COOKIE]
        csrf = log_in(client)  # the same operator on a second browser
        assert _sign_out(client, csrf).status_code == 303
        assert _signed_in(_with_cookie(client, laptop))


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("set-password", "--password", "a brand new long password"), id="password"),
        pytest.param(("delete-operator",), id="deleted"),
    ],
)
def test_a_password_change_or_deleting_the_operator_ends_their_sessions_at_once(
    settings: Settings, database_url: str, tmp_path: Path, command: tuple[str, ...]
) -> None:
    twilio = FakeAsyncTwilioHttpClient()
    for client in make_client(settings, twilio, api_key=False):
        add_operator(client)
        log_in(client)
        copied = client.cookies[SESSION_COOKIE]
        assert _signed_in(client)

        result = _carecall(
            database_url, tmp_path, command[0], "--email", OPERATOR_EMAIL, *command[1:]
        )

        assert result.returncode == 0, result.stderr
        assert "sessions have ended" in result.stdout
        assert not _signed_in(_with_cookie(client, copied))


def test_an_unknown_operator_is_a_clear_error_from_the_command(
    database_url: str, tmp_path: Path
) -> None:
    result = _carecall(database_url, tmp_path, "delete-operator", "--email", "who@example.org")
    assert result.returncode == 2
    assert "There is no operator with the email who@example.org." in result.stderr


def test_a_session_left_idle_expires_and_one_in_use_does_not(settings: Settings) -> None:
    clock = FakeClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC))
    idle = settings.model_copy(update={"session_idle_minutes": 30})
    app = create_app(idle, twilio_http_client=FakeAsyncTwilioHttpClient(), clock=clock)
    with TestClient(app) as client:
        add_operator(client)
        log_in(client)
        for _ in range(4):  # used every 20 minutes: still signed in after 80
            clock.advance(minutes=20)
            assert _signed_in(client)
        clock.advance(minutes=31)
        assert not _signed_in(client)
        clock.advance(minutes=1)
        assert not _signed_in(client)  # ended for good, not only while the clock is late


def test_an_open_live_feed_is_closed_soon_after_its_session_ends(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard_ws, "SESSION_CHECK_SECONDS", 0.2)
    twilio = FakeAsyncTwilioHttpClient()
    for client in make_client(settings, twilio, api_key=False):
        add_operator(client)
        csrf = log_in(client)
        with client.websocket_connect("/ws/dashboard") as feed:
            assert feed.receive_json()["type"] == "snapshot"
            time.sleep(0.5)  # checked while signed in: the feed stays open
            assert _sign_out(client, csrf).status_code == 303
            with pytest.raises(WebSocketDisconnect) as closed:
                feed.receive_json()
        assert closed.value.code == 1008
