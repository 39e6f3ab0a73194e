"""The knowledge base: schema errors name file, entry and fix; every topic renders with its source."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from clinic.knowledge.kb import DEFAULT_KNOWLEDGE_DIR, KnowledgeError, load_knowledge

ARTICLE = Path(__file__).resolve().parents[4] / "shared" / "clinic-article.md"


# The id the "order" test removes: the last question of the clinic's order, whichever it is.
LAST_QUESTION = yaml.safe_load((DEFAULT_KNOWLEDGE_DIR / "screening.yml").read_text())["order"][-1]


@pytest.fixture()
def kdir(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(DEFAULT_KNOWLEDGE_DIR, target)
    return target


def edit(kdir: Path, name: str, change) -> None:
    path = kdir / name
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def test_project_knowledge_loads() -> None:
    k = load_knowledge()
    data = yaml.safe_load((DEFAULT_KNOWLEDGE_DIR / "screening.yml").read_text())
    assert [rule.id for rule in k.screening.contraindications] == data["order"]
    assert {t.intent for t in k.topics} >= {"ask_acne_scars", "ask_hair_loss", "ask_references"}
    written = yaml.safe_load((DEFAULT_KNOWLEDGE_DIR / "promotions.yml").read_text())
    facial50 = next(p for p in written["promotions"] if p["code"] == "FACIAL50")
    assert k.promotion("facial50").amount_usd == facial50["amount_usd"]  # case-blind lookup


@pytest.mark.parametrize("requires", ["eligible", ["eligible"],
                                      ["eligible", "practitioner_review"]])
def test_promotion_requires_one_outcome_or_a_list(kdir, requires) -> None:
    edit(kdir, "promotions.yml", lambda d: d["promotions"][0].update(requires=requires))
    expected = (requires,) if isinstance(requires, str) else tuple(requires)
    assert load_knowledge(kdir).promotion("FACIAL50").requires == expected


def test_the_promotion_amount_is_changed_in_one_place(kdir) -> None:
    from clinic.rules.promotion import APPLIED, decision

    changed = load_knowledge(kdir).promotion("FACIAL50").amount_usd + 25  # not the current one
    edit(kdir, "promotions.yml", lambda d: d["promotions"][0].update(amount_usd=changed))
    k = load_knowledge(kdir)
    promotion = k.promotion("FACIAL50")
    assert promotion.description == f"${changed} off a facial treatment"
    assert f"${changed} off" in decision(APPLIED, k, promotion,
                                         treatment="facial_microneedling").message


@pytest.mark.parametrize(
    ("name", "change", "where", "words"),
    [
        ("topics.yml", lambda d: d["topics"][3].update(sources=["majid2015"]),
         "topic 'acne_scars'", "majid2015"),
        ("topics.yml", lambda d: d["topics"][0].pop("answer"), "topic 'what_is'", "'answer'"),
        ("topics.yml", lambda d: d["topics"][1].update(intent=d["topics"][0]["intent"]),
         "intent 'ask_what_is'", "used twice"),
        ("screening.yml", lambda d: d["contraindications"][0].update(outcome="maybe"),
         "contraindication 'pregnancy'", "not_suitable_now"),
        ("screening.yml", lambda d: d["contraindications"][0].pop("what_would_change"),
         "contraindication 'pregnancy'", "what_would_change"),
        ("screening.yml", lambda d: d["order"].pop(), "order", LAST_QUESTION),
        ("screening.yml", lambda d: d["contraindications"][1].update(
            after_treatment_worry=["spots"]), "contraindication 'cystic_acne_or_wound'",
         "not terms"),
        ("screening.yml", lambda d: d["contraindications"][8].update(descriptions=[["scar"]]),
         "contraindication 'keloids'", "two word groups"),
        ("references.yml", lambda d: d["references"].append(dict(d["references"][1])),
         "reference 'alster2018'", "used twice"),
        ("promotions.yml", lambda d: d["promotions"][0].update(valid_until="soon"),
         "promotion 'FACIAL50'", "YYYY-MM-DD"),
        ("promotions.yml", lambda d: d["promotions"][0].update(treatments=["massage"]),
         "promotion 'FACIAL50'", "massage"),
        ("promotions.yml", lambda d: d["promotions"][0].update(requires=["eligble"]),
         "promotion 'FACIAL50'", "eligble"),
        ("promotions.yml", lambda d: d["promotions"][0].update(requires=["eligible",
                                                                         "not_suitable_now"]),
         "promotion 'FACIAL50'", "remove 'not_suitable_now'"),
        ("promotions.yml", lambda d: d["promotions"][0].update(requires="incomplete"),
         "promotion 'FACIAL50'", "remove 'incomplete'"),
        ("promotions.yml", lambda d: d["promotions"][0].update(requires=[]),
         "promotion 'FACIAL50'", "requires: [eligible]"),
        ("promotions.yml", lambda d: d["promotions"][0].update(description="$50 off a facial"),
         "promotion 'FACIAL50'", "{amount}"),
        ("aftercare_plan.yml", lambda d: d["messages"][1].update(at="25:00"),
         "message 'next_day'", "HH:MM"),
        ("urgent.yml", lambda d: d["signs"][0].update(level="later"),
         "sign 'breathing_or_allergy'", "emergency"),
        ("clinic.yml", lambda d: d.update(phone=""), "clinic", "'phone'"),
        ("topics.yml", lambda d: d["topics"][0].update(answer="Call {clinic_fax}"),
         "topic 'what_is'", "clinic_fax"),
    ],
)
def test_broken_file_names_file_entry_and_fix(kdir, name, change, where, words) -> None:
    edit(kdir, name, change)
    with pytest.raises(KnowledgeError) as error:
        load_knowledge(kdir)
    message = str(error.value)
    assert f"knowledge/{name}" in message or name in message
    assert where in message
    assert words in message
    assert "Fix:" in message


def test_unreadable_yaml_gives_line_and_fix(kdir) -> None:
    (kdir / "topics.yml").write_text("topics:\n  - id: what_is\n    answer: [unclosed\n")
    with pytest.raises(KnowledgeError) as error:
        load_knowledge(kdir)
    assert "topics.yml" in str(error.value) and "line" in str(error.value)


def test_missing_file(kdir) -> None:
    (kdir / "promotions.yml").unlink()
    with pytest.raises(KnowledgeError, match="promotions.yml.*missing"):
        load_knowledge(kdir)


def test_check_command_reports_broken_file(kdir, monkeypatch, capsys) -> None:
    from clinic.knowledge import check

    edit(kdir, "topics.yml", lambda d: d["topics"][0].update(sources=[]))
    monkeypatch.setenv("CLINIC_KNOWLEDGE_DIR", str(kdir))
    assert check.main() == 1
    assert "topic 'what_is'" in capsys.readouterr().err


def test_check_command_reports_a_broken_patient_questions_file(kdir, monkeypatch,
                                                                capsys) -> None:
    # The check read patient_questions.yml from knowledge/ whatever CLINIC_KNOWLEDGE_DIR said,
    # so a broken copy passed as "Knowledge OK".
    from clinic.knowledge import check

    with open(kdir / "patient_questions.yml", "a", encoding="utf-8") as file:
        file.write("questions:\n  - id: [broken\n")
    monkeypatch.setenv("CLINIC_KNOWLEDGE_DIR", str(kdir))
    assert check.main() == 1
    assert "patient_questions.yml" in capsys.readouterr().err


def test_environment_overrides_clinic_details(monkeypatch) -> None:
    monkeypatch.setenv("CLINIC_PHONE", "(555) 010-9999")
    assert load_knowledge().clinic.phone == "(555) 010-9999"


def test_figures_match_the_article() -> None:
    """Every number an answer states appears in the clinic's article."""
    if not ARTICLE.exists():
        pytest.skip("the clinic's article is not beside the project")
    article = ARTICLE.read_text()
    for topic in load_knowledge().topics:
        for number in re.findall(r"\d+(?:\.\d+)?", topic.answer):
            assert number in article, f"topic {topic.id} states {number}, not in the article"


def test_references_match_the_article() -> None:
    if not ARTICLE.exists():
        pytest.skip("the clinic's article is not beside the project")
    article = " ".join(ARTICLE.read_text().split())
    for ref in load_knowledge().references.values():
        if ref.id != "clinic_article":
            assert ref.citation in article, ref.id
