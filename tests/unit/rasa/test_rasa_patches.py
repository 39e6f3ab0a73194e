"""Plain `rasa test` looks for stories in `.`: it must not wander into build folders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def test_project_venv_installs_the_scan_fix() -> None:
    import rasa.shared.data as data

    assert data._find_data_files_in_directory.__module__ == "clinic.rasa.patches"  # noqa: SLF001 - the patched private name


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


def test_action_replies_are_checked_with_a_validator_built_once() -> None:
    from jsonschema import ValidationError
    from rasa.core.actions.action import RemoteAction

    from clinic.rasa import patches as rasa_patches

    assert RemoteAction._validate_action_result is rasa_patches.validate_action_result  # noqa: SLF001 - the patched private name
    action = RemoteAction("action_answer_faq", None)
    good = {"events": [{"event": "slot", "name": "x", "value": 1}],
            "responses": [{"text": "hi"}]}
    assert action._validate_action_result(good) is True  # noqa: SLF001 - the patched private name
    assert rasa_patches.action_result_validator() is rasa_patches.action_result_validator()
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": [{"event": 42}], "responses": "nope"})  # noqa: SLF001 - the patched private name


def test_validator_agrees_with_jsonschema_validate() -> None:
    """Same verdicts as Rasa's original check on valid and invalid replies."""
    from jsonschema import ValidationError, validate
    from rasa.core.actions.action import RemoteAction

    from clinic.rasa import patches as rasa_patches

    schema = RemoteAction.action_response_format_spec()
    samples = [
        {"events": [], "responses": []},
        {"events": [{"event": "active_loop", "name": None}], "responses": [{"text": "a"}]},
        {"events": "x"},
        {"events": [{"no_event_key": 1}]},
        {"responses": [{"buttons": "not a list"}]},
    ]
    for sample in samples:
        try:
            validate(sample, schema)
            expected = True
        except ValidationError:
            expected = False
        try:
            got = rasa_patches.validate_action_result(None, dict(sample))
        except ValidationError:
            got = False
        assert got == expected, sample


def test_secrets_from_the_file_are_named_so_a_test_session_can_forget_them(
        tmp_path: Path, monkeypatch) -> None:
    from clinic.rasa import patches

    secrets = tmp_path / "secrets.env"
    secrets.write_text("CLINIC_TEST_FROM_FILE=abc\nCLINIC_TEST_SET_BEFORE=file\n# CLINIC_NOT=1\n")
    monkeypatch.setenv("CLINIC_SECRETS_FILE", str(secrets))
    monkeypatch.setenv("CLINIC_TEST_SET_BEFORE", "environment")
    monkeypatch.delenv("CLINIC_TEST_FROM_FILE", raising=False)
    monkeypatch.setattr(patches, "SECRETS_FROM_FILE", set())
    patches._secret_defaults()  # noqa: SLF001
    import os

    try:
        assert os.environ["CLINIC_TEST_FROM_FILE"] == "abc"
        assert os.environ["CLINIC_TEST_SET_BEFORE"] == "environment"  # the environment wins
        assert patches.SECRETS_FROM_FILE == {"CLINIC_TEST_FROM_FILE"}
    finally:
        os.environ.pop("CLINIC_TEST_FROM_FILE", None)


def test_rasa_accepts_the_projects_graph_with_every_patch_installed() -> None:
    """Rasa validates each component's method signatures and type hints before it trains or
    loads a model: a patched method must look to it exactly like the one it replaces."""
    from rasa.engine import validation
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.shared.data import TrainingType
    from rasa.shared.importers.importer import TrainingDataImporter

    import clinic.rasa.patches as patches

    patches.install()
    root = Path(__file__).resolve().parents[3]
    importer = TrainingDataImporter.load_from_config(
        str(root / "config.yml"), str(root / "domain.yml"), [str(root / "data")])
    model_configuration = DefaultV1Recipe().graph_config_for_recipe(
        importer.get_config(), {}, training_type=TrainingType.BOTH)
    validation.validate(model_configuration)
