"""What a new user finds in the repository matches what its documents say: the licence the README
names is there, SQLite's files stay out of git, and every file a document points to is part of
the repository (not of some other checkout)."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [
    "README.md",
    "bench/README.md",
    *(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")),
]

# Paths in the documents that are not files of this repository, on purpose.
NOT_OURS = {
    "tests/processors/test_transcript_logger.py": "README's Extending: the test you would add",
    "twilio-chatbot/inbound/bot.py": "bench/README: a file of pipecat's examples repository",
}
# A link's target, and a path with a folder written as code (a bare `pages.py` in a row about
# its folder is left alone).
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_FILE_IN_CODE = re.compile(
    r"`([\w.\-]+(?:/[\w.\-]+)+\.(?:md|py|sh|toml|json|js|html|css|txt|ini))`"
)


def test_the_licence_the_readme_names_is_shipped() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "carecall itself is MIT" in readme
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in licence
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "MIT"}


@pytest.mark.parametrize(
    "path", ["carecall.db", "carecall.db-journal", "carecall.db-wal", "carecall.db-shm"]
)
def test_the_sqlite_database_and_its_side_files_stay_out_of_git(path: str) -> None:
    """carecall runs SQLite in WAL mode: next to `carecall.db` live `-wal` and `-shm` files."""
    ignored = subprocess.run(
        ["git", "check-ignore", "--quiet", "--no-index", path], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0, f"{path} is not ignored by .gitignore"


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_file_a_document_points_to_is_in_the_repository(document: str) -> None:
    source = ROOT / document
    text = source.read_text()
    missing = []
    for target in _LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        if not (source.parent / target.split("#")[0]).exists():
            missing.append(target)
    for path in _FILE_IN_CODE.findall(text):
        if path in NOT_OURS:
            continue
        if not ((ROOT / path).exists() or (source.parent / path).exists()):
            missing.append(path)
    assert missing == [], f"{document} points to files that are not in the repository: {missing}"
