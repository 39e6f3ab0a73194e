"""knowledge/messages.yml: every sentence the code says, checked against clinic/knowledge/messages.py,
and domain.yml's responses written from it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from clinic.knowledge import domain_build
from clinic.knowledge import messages as M
from clinic.knowledge.kb import DEFAULT_KNOWLEDGE_DIR, PROJECT_ROOT, KnowledgeError, load_knowledge

MESSAGES = "messages.yml"


@pytest.fixture()
def kdir(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(DEFAULT_KNOWLEDGE_DIR, target)
    return target


def edit_messages(kdir: Path, change) -> None:
    path = kdir / MESSAGES
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def any_key() -> M.Message:
    return next(iter(M.REGISTRY.values()))


def test_every_registered_message_is_written() -> None:
    k = load_knowledge()
    assert set(k.messages) == set(M.REGISTRY)
    for message in M.REGISTRY.values():
        values = {name: f"<{name}>" for name in message.placeholders}
        text = k.say(message, **values)
        assert text.strip() and "{" not in text, message.key


def test_a_misspelled_key_is_refused_with_file_entry_and_fix(kdir: Path) -> None:
    message = any_key()
    group, name = message.key.split(".")

    def misspell(data: dict) -> None:
        data[group][name + "x"] = data[group].pop(name)

    edit_messages(kdir, misspell)
    with pytest.raises(KnowledgeError) as error:
        load_knowledge(kdir)
    text = str(error.value)
    assert MESSAGES in text and f"{message.key}x" in text and "clinic/knowledge/messages.py" in text


def test_a_missing_key_is_refused(kdir: Path) -> None:
    message = any_key()
    group, name = message.key.split(".")
    edit_messages(kdir, lambda data: data[group].pop(name))
    with pytest.raises(KnowledgeError, match=f"{message.key}.*missing"):
        load_knowledge(kdir)


def test_a_placeholder_the_code_does_not_fill_is_refused(kdir: Path) -> None:
    message = any_key()
    group, name = message.key.split(".")

    def add_placeholder(data: dict) -> None:
        entry = data[group][name]
        if isinstance(entry, dict):
            entry["text"] += " {patient_secret}"
        else:
            data[group][name] = entry + " {patient_secret}"

    edit_messages(kdir, add_placeholder)
    with pytest.raises(KnowledgeError, match=r"doesn't fill the placeholder '\{patient_secret\}'"):
        load_knowledge(kdir)


def test_an_unknown_group_is_refused(kdir: Path) -> None:
    edit_messages(kdir, lambda data: data.update(bookings={"x": "y"}))
    with pytest.raises(KnowledgeError, match="bookings.*unknown group"):
        load_knowledge(kdir)


def test_say_refuses_wrong_keywords_and_fills_clinic_details() -> None:
    k = load_knowledge()
    contact = k.say(M.CONSULTATION_CONTACT)
    assert k.clinic.phone in contact and k.clinic.email in contact
    with pytest.raises(TypeError, match="fills"):
        k.say(M.CONSULTATION_CONTACT, extra="x")
    assert k.fill("{consultation_contact}") == contact
    assert k.fill("{disclaimer}") == k.clinic.disclaimer


def test_register_refuses_bad_keys() -> None:
    with pytest.raises(ValueError, match="group"):
        M.register("nogroup")
    with pytest.raises(ValueError, match="twice"):
        M.register(any_key().key)
    with pytest.raises(ValueError, match="every message"):
        M.register("common.test_only_key", "clinic_phone")


def test_committed_domain_responses_match_the_knowledge() -> None:
    """domain.yml in git is what `make domain` writes (its responses come from knowledge)."""
    current = (PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8")
    assert domain_build.build(load_knowledge(), current) == current


def test_a_changed_response_reaches_the_domain_with_clinic_details_filled(kdir: Path) -> None:
    def change(data: dict) -> None:
        data["responses"]["utter_goodbye"] = [{"text": "Bye from {clinic_name}!"}]

    edit_messages(kdir, change)
    k = load_knowledge(kdir)
    built = yaml.safe_load(domain_build.build(k, (PROJECT_ROOT / "domain.yml").read_text()))
    assert built["responses"]["utter_goodbye"] == [{"text": f"Bye from {k.clinic.name}!"}]
    # the hand-written part is kept
    assert built["intents"] == yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())["intents"]


def test_a_response_placeholder_that_is_no_slot_is_refused(kdir: Path) -> None:
    def change(data: dict) -> None:
        data["responses"]["utter_goodbye"] = [{"text": "Bye {nobody_fills_this}"}]

    edit_messages(kdir, change)
    with pytest.raises(domain_build.DomainBuildError, match="nobody_fills_this"):
        domain_build.build(load_knowledge(kdir), (PROJECT_ROOT / "domain.yml").read_text())


def test_check_mode_reports_a_stale_domain(tmp_path: Path, capsys) -> None:
    stale = tmp_path / "domain.yml"
    text = (PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8")
    stale.write_text(text.replace("Take care!", "Bye!"), encoding="utf-8")
    assert domain_build.main(["--check", "--domain", str(stale)]) == 1
    assert "make domain" in capsys.readouterr().err
    assert domain_build.main(["--domain", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == text
