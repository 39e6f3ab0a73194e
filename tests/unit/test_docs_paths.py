"""Every path, link and dotted name the README and docs/ give a reader exists.

A newcomer follows the README's table to a file, or a doc's `python -m clinic...` to a module: when
code moves and the docs don't, this fails and names the doc, the line and the missing thing.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Top-level folders and files of the project a backticked path may start with.
TOP = ("actions/", "dev/bench/", "clinic/", "data/", "deploy/", "dev/", "docs/", "knowledge/", "tests/",
       "tools/", "widget/", ".ci/")
TOP_FILES = {"config.yml", "domain.yml", "credentials.yml", "endpoints.yml", "settings.yml", "Makefile",
             "pyproject.toml", "requirements.txt", "requirements.lock", "README.md"}
# Paths that exist only after a build or a run, named on purpose.
BUILT = ("widget/dist/", "tests/test_screening_walkthroughs.yml")

# `clinic.target` is a systemd unit, `clinic.db` a file: names with these endings are not modules.
FILE_SUFFIXES = {"target", "service", "db", "yml", "yaml", "py", "md", "json", "env", "cfg", "log"}
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\n]+)`")
DOTTED = re.compile(r"^(?:python -m )?((?:clinic|actions|dev|bench)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)$")


def _lines(doc: Path) -> list[tuple[int, str]]:
    return list(enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1))


def _cases(kind: str) -> list[tuple[str, int, str]]:
    cases = []
    for doc in DOCS:
        for number, line in _lines(doc):
            found = LINK.findall(line) if kind == "link" else CODE.findall(line)
            cases += [(doc.relative_to(ROOT).as_posix(), number, item) for item in found]
    return cases


def _path_of(token: str) -> str | None:
    """The repository path a backticked token names, or None when it names none."""
    token = token.split()[0].rstrip(".,:;")
    token = re.sub(r":\d+(-\d+)?$", "", token)  # file.py:12
    if token in TOP_FILES:
        return token
    if not token.startswith(TOP) or any(ch in token for ch in "*{}<>$"):
        return None
    if token.startswith(BUILT):
        return None
    return token


@pytest.mark.parametrize(("doc", "line", "target"), _cases("link"))
def test_every_relative_link_resolves(doc: str, line: int, target: str) -> None:
    if re.match(r"^[a-z]+:", target) or target.startswith("#"):
        return
    path = (ROOT / doc).parent / target.split("#", 1)[0]
    missing = path.relative_to(ROOT)
    assert path.exists(), f"{doc}:{line}: the link ({target}) points at {missing}, which is not there"


@pytest.mark.parametrize(("doc", "line", "token"), _cases("code"))
def test_every_named_path_exists(doc: str, line: int, token: str) -> None:
    path = _path_of(token)
    if path is None:
        return
    assert (ROOT / path).exists(), f"{doc}:{line}: `{token}` names {path}, which is not in the repository"


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            spec = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            spec = None
        if spec is None:
            continue
        if cut == len(parts):
            return True
        obj: object = importlib.import_module(module)
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


@pytest.mark.parametrize(("doc", "line", "token"), _cases("code"))
def test_every_named_module_exists(doc: str, line: int, token: str) -> None:
    match = DOTTED.match(token.strip())
    if match is None or match.group(1).rsplit(".", 1)[1] in FILE_SUFFIXES:
        return
    assert _resolves(match.group(1)), f"{doc}:{line}: `{token}` names a module or name that does not exist"


def test_the_readme_is_a_front_door() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 210, f"README.md has {len(lines)} lines: move detail into docs/"
    assert "make run" in "\n".join(lines) and "make test" in "\n".join(lines)
