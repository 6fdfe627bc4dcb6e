"""What installing carecall puts into `site-packages`: one package, `carecall` (and its
dist-info), with everything it reads from disk inside it; and the checkout's documented entry,
`uvicorn server:app`, is that package's app."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What the package reads from its own folder at run time (templates, scripts and styles, the
# check-in prompts, the red-flag model, Alembic's files), one example of each.
PACKAGE_DATA = [
    "carecall/alembic.ini",
    "carecall/migrations/env.py",
    "carecall/migrations/script.py.mako",
    "carecall/migrations/versions/0001_calls_and_turns.py",
    "carecall/web/templates/base.html",
    "carecall/web/static/app.css",
    "carecall/web/package.json",
    "carecall/bot/prompts/system.md",
    "carecall/wellbeing/data/red_flag_model.json",
]


def _uv() -> str:
    """uv, where scripts/_uv.sh looks for it: `uv run` names itself in $UV; else PATH, else
    pip's user folder."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found:
        return found
    user_uv = Path(site.getuserbase()) / "bin" / "uv"
    assert user_uv.is_file(), (
        "uv is needed to build the wheel: run ./scripts/test, which installs it"
    )
    return str(user_uv)


def test_the_wheel_installs_only_the_carecall_package(tmp_path: Path) -> None:
    built = subprocess.run(
        [_uv(), "build", "--wheel", "--offline", "--quiet", "--out-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("carecall-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()

    assert {name.split("/")[0] for name in names} == {"carecall", dist_info}
    assert dist_info.startswith("carecall-")
    missing = [path for path in PACKAGE_DATA if path not in names]
    assert missing == [], f"the wheel lacks files the package reads: {missing}"
    assert not [n for n in names if "/node_modules/" in n or "__pycache__" in n]
    assert "carecall = carecall.cli:main" in entry_points


def test_the_documented_entry_serves_the_package_app() -> None:
    import server  # the checkout's `uvicorn server:app`
    from carecall import server as package_server

    assert server.app is package_server.app
    assert server.create_app is package_server.create_app
