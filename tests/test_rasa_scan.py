"""Plain `rasa test` looks for stories in `.`: it must not wander into build folders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_project_venv_installs_the_scan_fix() -> None:
    import rasa.shared.data as data

    assert data._find_data_files_in_directory.__module__ == "clinic.rasa_scan"


def test_discovery_skips_build_folders_and_bare_json(tmp_path: Path) -> None:
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
    from rasa.shared.data import get_data_files, is_nlu_file

    (tmp_path / "data").mkdir()
    story = 'version: "3.1"\nstories:\n- story: s\n  steps:\n  - intent: greet\n'
    (tmp_path / "data" / "stories.yml").write_text(story)
    for folder in (".venv/lib/rasa/cli/initial_project/data", ".rasa/cache/tmp1", "node_modules/x"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "stories.yml").write_text(story)
        (tmp_path / folder / "fingerprint.json").write_text(json.dumps(3))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        stories = get_data_files(["."], YAMLStoryReader.is_stories_file)
        nlu = get_data_files(["."], is_nlu_file)  # would crash on the bare-number JSON
        found = [Path(os.path.relpath(os.path.abspath(p))).as_posix() for p in stories]
    finally:
        os.chdir(cwd)
    assert found == ["data/stories.yml"]
    assert nlu == []


@pytest.mark.parametrize("folder", [".venv", ".rasa", "node_modules", "models", "results"])
def test_build_folders_are_git_ignored(folder: str) -> None:
    ignored = (ROOT / ".gitignore").read_text().split()
    assert f"{folder}/" in ignored
