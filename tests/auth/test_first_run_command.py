"""The command the server's log gives for the first account works as shown, on a machine where
`uv` went to pip's user folder (~/.local/bin) and is not on PATH: what a new user has after
`./scripts/run`. It finds that uv instead of installing it again, and creates the account; once
one exists the log no longer asks for it."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from loguru import logger

from carecall.cli import standalone_auth
from carecall.server import create_app
from carecall.settings import Settings
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long and careful password"
_COMMAND_LINE = re.compile(r"^\s+(\S.*create-admin.*)$", re.MULTILINE)


def _installed_uv() -> Path:
    """The uv this machine has (scripts/test puts pip's user folder on PATH; a developer's
    shell may not have it there)."""
    user_bin = Path(
        subprocess.run(
            [sys.executable, "-m", "site", "--user-base"], capture_output=True, text=True
        ).stdout.strip()
    )
    found = shutil.which("uv") or shutil.which("uv", path=str(user_bin / "bin"))
    if found is None:
        pytest.fail("uv is not installed: scripts/test installs it")
    return Path(found).resolve()


def _a_new_users_machine(home: Path) -> dict[str, str]:
    """The environment after `./scripts/run`: uv in ~/.local/bin, which is not on PATH."""
    uv = _installed_uv()
    (home / ".local" / "bin").mkdir(parents=True)
    (home / ".local" / "bin" / "uv").symlink_to(uv)
    path = [
        folder
        for folder in os.environ["PATH"].split(os.pathsep)
        if folder and not (Path(folder) / "uv").exists()
    ]
    cache = subprocess.run([str(uv), "cache", "dir"], capture_output=True, text=True, check=True)
    return {
        "PATH": os.pathsep.join(path),
        "HOME": str(home),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        # The packages are in uv's cache already; and pip may not reach an index from a test.
        "UV_CACHE_DIR": cache.stdout.strip(),
        "UV_OFFLINE": "1",
        "PIP_NO_INDEX": "1",
    }


def _startup_log(settings: Settings) -> str:
    """What the server logs as it starts (the app sets up logging as it is made)."""
    app = create_app(settings, twilio_http_client=FakeAsyncTwilioHttpClient())
    lines: list[str] = []
    sink = logger.add(lines.append, format="{message}", level="INFO")
    try:
        with TestClient(app):
            pass
    finally:
        logger.remove(sink)
    return "".join(lines)


async def _signs_in(database_url: str, email: str) -> bool:
    async with standalone_auth(database_url) as auth:
        operator = await auth.authenticate(email, PASSWORD, "127.0.0.1")
        return operator.is_admin


def test_the_logged_create_admin_command_works_as_shown(
    make_settings: Callable[..., Settings], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url=database_url)
    log = _startup_log(settings)
    assert "No operator account yet" in log
    shown = _COMMAND_LINE.search(log)
    assert shown, log
    command = shlex.split(shown.group(1).replace("<a long password>", PASSWORD))

    env = _a_new_users_machine(tmp_path / "home")
    env["DATABASE_URL"] = database_url
    ran = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )

    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output
    assert "Installing uv" not in output  # found in ~/.local/bin, not installed again
    assert asyncio.run(_signs_in(settings.database_url, "you@example.org"))
    # With an account, the log no longer asks for one.
    log = _startup_log(settings)
    assert "No operator account yet" not in log and "create-admin" not in log
