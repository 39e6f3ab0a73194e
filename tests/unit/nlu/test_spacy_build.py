"""The clinic's own spaCy pipeline: built from knowledge/, saved, loaded with plain spacy.load."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
import yaml

from clinic.knowledge.kb import DEFAULT_KNOWLEDGE_DIR, KnowledgeError, knowledge, load_knowledge
from clinic.nlu import spacy_build
from clinic.nlu.spacy_build import (
    LABEL_CONDITION,
    LABEL_CONTRAINDICATION,
    LABEL_TREATMENT,
    LABEL_URGENT,
    META_PATTERNS_KEY,
    build_pipeline,
    entity_patterns,
    patterns_fingerprint,
    write_pipeline,
)

KB = knowledge()


@pytest.fixture(scope="module")
def nlp():
    return build_pipeline(KB)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    return write_pipeline(tmp_path_factory.mktemp("spacy") / "spacy_clinic", KB)


def all_terms():
    for rule in KB.screening.contraindications:
        for term in rule.terms:
            yield LABEL_CONTRAINDICATION, f"contraindication:{rule.id}", term
    for sign in KB.urgent_signs:
        for term in sign.terms:
            yield LABEL_URGENT, f"urgent:{sign.id}", term
    for key, terms in KB.vocabulary["treatments"].items():
        for term in terms:
            yield LABEL_TREATMENT, f"treatment:{key}", term
    for key, terms in KB.vocabulary["conditions"].items():
        for term in terms:
            yield LABEL_CONDITION, f"condition:{key}", term


def copy_knowledge(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    shutil.copytree(DEFAULT_KNOWLEDGE_DIR, folder)
    return folder


def add_term(folder: Path, file: str, list_key: str, entry_id: str, term: str) -> None:
    path = folder / file
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if list_key == "vocabulary":
        group, key = entry_id.split(":")
        data[group][key].append(term)
    else:
        entry = next(e for e in data[list_key] if e["id"] == entry_id)
        entry["terms"].append(term)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_pipeline_is_blank_english_with_stock_components_only(nlp):
    assert nlp.lang == "en"
    assert nlp.pipe_names == ["entity_ruler", "sentencizer"]
    assert {nlp.get_pipe_meta(name).factory for name in nlp.pipe_names} == {
        "entity_ruler", "sentencizer"}
    assert nlp.get_pipe("entity_ruler").phrase_matcher_attr == "LOWER"


def test_every_knowledge_term_is_found_with_its_label_and_id(nlp):
    checked = 0
    for label, pattern_id, term in all_terms():
        for text in (term, term.upper(), f"well, {term}."):
            ents = [e for e in nlp(text).ents]
            assert [(e.label_, e.ent_id_, e.text.lower()) for e in ents] == [
                (label, pattern_id, term.lower())], text
        checked += 1
    assert checked > 300


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I take ELIQUIS and xarelto/plavix.",
         [("CONTRAINDICATION", "contraindication:blood_thinners", "ELIQUIS"),
          ("CONTRAINDICATION", "contraindication:blood_thinners", "xarelto"),
          ("CONTRAINDICATION", "contraindication:blood_thinners", "plavix")]),
        ("I can\u2019t breathe", [("URGENT", "urgent:breathing_or_allergy", "can\u2019t breathe")]),
        ("microneedling for my acne scars",
         [("TREATMENT", "treatment:microneedling", "microneedling"),
          ("CONDITION", "condition:acne_scars", "acne scars")]),
        ("acne", []),
        ("I have acne and dry skin", []),
    ],
)
def test_pipeline_entities(nlp, text, expected):
    assert [(e.label_, e.ent_id_, e.text) for e in nlp(text).ents] == expected


def test_sentences_are_split(nlp):
    doc = nlp("I'm pregnant. Is that ok? yes!")
    assert [s.text for s in doc.sents] == ["I'm pregnant.", "Is that ok?", "yes!"]


def test_saved_pipeline_loads_with_plain_spacy_load_and_finds_terms(saved):
    loaded = spacy.load(saved)
    assert loaded.pipe_names == ["entity_ruler", "sentencizer"]
    assert loaded.meta["name"] == "clinic"
    assert loaded.meta[META_PATTERNS_KEY] == patterns_fingerprint(entity_patterns(KB))
    doc = loaded("i'm on acutane and my mum takes warfrin. no fever")
    assert [(e.label_, e.ent_id_) for e in doc.ents] == [
        ("CONTRAINDICATION", "contraindication:isotretinoin"),
        ("CONTRAINDICATION", "contraindication:blood_thinners"),
        ("URGENT", "urgent:infection_signs"),
    ]
    assert len(list(doc.sents)) == 2


def test_saved_pipeline_loads_without_any_project_code(saved, tmp_path):
    # As Rasa's SpacyNLP would: a fresh interpreter where `clinic` cannot be imported.
    # (tensorflow is blocked only to keep the check fast; spaCy does not need it.)
    script = (
        "import sys, json\n"
        "sys.modules['clinic'] = None\n"
        "sys.modules['tensorflow'] = None\n"
        "import spacy\n"
        f"nlp = spacy.load({str(saved)!r})\n"
        "doc = nlp('i take eliquis and i have a fever')\n"
        "print(json.dumps([[e.label_, e.ent_id_] for e in doc.ents]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        ["CONTRAINDICATION", "contraindication:blood_thinners"],
        ["URGENT", "urgent:infection_signs"],
    ]


def test_saved_config_names_only_stock_spacy_functions(saved):
    config = (saved / "config.cfg").read_text(encoding="utf-8")
    assert "clinic" not in config
    references = [line.split("=", 1)[1].strip() for line in config.splitlines()
                  if line.strip().startswith("@") or '"@' in line]
    assert references
    assert all("spacy." in ref or "compounding" in ref or "Adam" in ref for ref in references)


def test_build_is_deterministic(tmp_path):
    first = write_pipeline(tmp_path / "one", KB)
    second = write_pipeline(tmp_path / "two", KB)
    names = sorted(str(p.relative_to(first)) for p in first.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(second)) for p in second.rglob("*") if p.is_file())
    match, mismatch, errors = filecmp.cmpfiles(first, second, names, shallow=False)
    assert mismatch == [] and errors == []
    # spaCy keeps these in a set (hash order); the build sorts them.
    chars = json.loads((first / "sentencizer.json").read_text(encoding="utf-8"))["punct_chars"]
    assert chars == sorted(chars)


def test_rebuilding_replaces_the_old_build_atomically(tmp_path):
    out = tmp_path / "spacy_clinic"
    write_pipeline(out, KB)
    (out / "stale.txt").write_text("from an earlier build")
    write_pipeline(out, KB)
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spacy_clinic"]


def test_typographic_apostrophe_spellings_are_added():
    patterns = entity_patterns(KB)
    spelled = {p["pattern"] for p in patterns}
    assert "can't breathe" in spelled and "can\u2019t breathe" in spelled


def test_repeated_term_under_the_same_entry_is_kept_once(tmp_path):
    folder = copy_knowledge(tmp_path)
    add_term(folder, "screening.yml", "contraindications", "blood_thinners", "Warfarin")
    patterns = entity_patterns(load_knowledge(folder))
    assert [p["pattern"] for p in patterns].count("warfarin") == 1


@pytest.mark.parametrize(
    ("file", "list_key", "entry", "term", "other"),
    [
        ("screening.yml", "contraindications", "keloids", "Eliquis",
         "contraindication:blood_thinners"),
        ("urgent.yml", "signs", "infection_signs", "eczema", "contraindication:skin_conditions"),
        ("vocabulary.yml", "vocabulary", "conditions:acne_scars", "cystic  acne",
         "contraindication:cystic_acne_or_wound"),
    ],
)
def test_a_term_under_two_entries_stops_the_build_with_a_clear_message(
        tmp_path, file, list_key, entry, term, other):
    folder = copy_knowledge(tmp_path)
    add_term(folder, file, list_key, entry, term)
    kb = load_knowledge(folder)
    with pytest.raises(KnowledgeError) as raised:
        entity_patterns(kb)
    message = str(raised.value)
    assert other in message and f"knowledge/{file}" in message
    assert "Fix:" in message


def test_command_line_builds_and_reports(tmp_path, capsys):
    out = tmp_path / "built"
    assert spacy_build.main(["--out", str(out)]) == 0
    assert (out / "meta.json").is_file()
    assert str(out) in capsys.readouterr().out


def test_command_line_fails_clearly_on_ambiguous_knowledge(tmp_path, capsys, monkeypatch):
    folder = copy_knowledge(tmp_path)
    add_term(folder, "screening.yml", "contraindications", "pregnancy", "lupus")
    monkeypatch.setenv("CLINIC_KNOWLEDGE_DIR", str(folder))
    out = tmp_path / "built"
    assert spacy_build.main(["--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert "contraindication:autoimmune_or_low_immunity" in error
    assert "lupus" in error
    assert not out.exists()
