"""The free-text safety recogniser: contraindications and urgent signs, and who / how sure."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic.knowledge.kb import DEFAULT_KNOWLEDGE_DIR, knowledge, load_knowledge
from clinic.nlu.safety import SafetyRecognizer, load_recognizer
from clinic.nlu.safety_mention import (
    AFFIRMED,
    HYPOTHETICAL,
    KIND_CONTRAINDICATION,
    KIND_URGENT,
    NEGATED,
    THIRD_PARTY,
    UNCERTAIN,
    Mention,
)
from clinic.nlu.safety_phrasing import HEDGED_TERM_WORDS
from clinic.nlu.spacy_build import build_pipeline, write_pipeline

KB = knowledge()
RULE_IDS = {rule.id for rule in KB.screening.contraindications}


@pytest.fixture(scope="module")
def nlp():
    return build_pipeline(KB)


@pytest.fixture(scope="module")
def recognizer(nlp) -> SafetyRecognizer:
    return SafetyRecognizer(nlp, KB)


def found(recognizer: SafetyRecognizer, text: str) -> list[tuple[str, str]]:
    return [(m.id, m.status) for m in recognizer.mentions(text)]


# --------------------------------------------------------------------------- affirmed, per rule

AFFIRMED_CASES = {
    "pregnancy": [
        "I'm pregnant", "im pregant lol", "I'm 12 weeks pregnant", "we're expecting!",
        "I am PREGNENT", "preggers", "I'm expecting a baby in June",
    ],
    "cystic_acne_or_wound": [
        "I have a cystic acne breakout right now", "my cistic acne is flaring",
        "I've got an open wound on my chin", "there's a scab on my cheek",
        "i'm breaking out really badly",
    ],
    "recent_facial_procedure": [
        "I had lip filler last week", "got botox 2 weeks ago", "I had bottox on Monday",
        "I had a facelift", "juvederm in my cheeks last month", "had a nose job recently",
    ],
    "unavoidable_sun": [
        "I work outdoors all day", "I'm a lifeguard", "going on a beach holiday after",
        "I can't avoid the sun at work", "I\u2019m in the sun all day for my job",
    ],
    "blood_thinners": [
        "I take warfarin", "I'm on Eliquis", "on xarelto for my heart", "I take Plavix daily",
        "aspirin therapy", "I take warfrin", "prescribed elliquis", "I have a bleeding disorder",
        "I take blood thiners",
    ],
    "isotretinoin": [
        "on acutane", "I'm on Accutane", "I take Absorica", "I was prescribed claravis",
        "taking isotretinoin", "stopped accutane last month", "accutaine",
    ],
    "autoimmune_or_low_immunity": [
        "I have lupus", "I'm immunocompromised", "I have an autoimune disease",
        "I have rheumatoid arthritis", "I'm on immunosuppressants",
    ],
    "skin_conditions": [
        "my eczema flares", "I have psoriasis", "I get rashes a lot", "I have exzema",
        "my soriasis is bad in winter", "I have a rash",
    ],
    "keloids": [
        "I form keloids", "I have a keloid on my ear", "I get keliod scars", "keloids",
    ],
    "cancer_or_chemo": [
        "finished chemo in the spring", "I have leukemia", "I had breast cancer last year",
        "I'm having chemotheraphy", "kemo ended in May",
    ],
    "moles_or_skin_tags": [
        "I have a mole on my cheek", "I have skin tags", "there is a mole where I want it done",
        "I have a skintag on my neck",
    ],
}


def affirmed_cases(rule_id: str) -> list[str]:
    """The hand-written phrasings of a contraindication; for one added to screening.yml since
    (nobody has written its phrasings here yet), "I have <term>" for its first three terms."""
    if rule_id in AFFIRMED_CASES:
        return AFFIRMED_CASES[rule_id]
    return [f"I have {term}" for term in KB.screening.by_id(rule_id).terms[:3]]


AFFIRMED_TABLE = [(rule.id, text) for rule in KB.screening.contraindications
                  for text in affirmed_cases(rule.id)]


def test_every_contraindication_has_at_least_three_affirmed_phrasings():
    assert set(AFFIRMED_CASES) <= RULE_IDS, "phrasings for an id screening.yml no longer has"
    assert all(len(affirmed_cases(rule_id)) >= 3 for rule_id in RULE_IDS)


@pytest.mark.parametrize(("rule_id", "text"), AFFIRMED_TABLE)
def test_affirmed_mentions(recognizer, rule_id, text):
    mentions = recognizer.mentions(text)
    assert mentions
    assert {(m.kind, m.id, m.status) for m in mentions} == {
        (KIND_CONTRAINDICATION, rule_id, AFFIRMED)}


@pytest.mark.parametrize(
    "brand",
    ["warfarin", "Eliquis", "Xarelto", "Plavix", "aspirin therapy", "Coumadin", "apixaban",
     "clopidogrel"],
)
def test_blood_thinner_brand_names(recognizer, brand):
    assert found(recognizer, f"I take {brand}") == [("blood_thinners", AFFIRMED)]


@pytest.mark.parametrize(
    "brand", ["Accutane", "Absorica", "Claravis", "isotretinoin", "Roaccutane", "Amnesteem"])
def test_isotretinoin_brand_names(recognizer, brand):
    assert found(recognizer, f"I'm on {brand}") == [("isotretinoin", AFFIRMED)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm pregnant and I take warfarin",
         [("pregnancy", AFFIRMED), ("blood_thinners", AFFIRMED)]),
        ("I'm not pregnant, I take warfarin",
         [("pregnancy", NEGATED), ("blood_thinners", AFFIRMED)]),
        ("I have lupus but I'm not pregnant",
         [("autoimmune_or_low_immunity", AFFIRMED), ("pregnancy", NEGATED)]),
        ("Not pregnant. No blood thinners. I have psoriasis though.",
         [("pregnancy", NEGATED), ("blood_thinners", NEGATED), ("skin_conditions", AFFIRMED)]),
        ("I want microneedling for my acne scars, I'm on accutane",
         [("isotretinoin", AFFIRMED)]),
        ("neither pregnant nor on warfarin", [("pregnancy", NEGATED), ("blood_thinners", NEGATED)]),
        ("I have not had botox or fillers",
         [("recent_facial_procedure", NEGATED), ("recent_facial_procedure", NEGATED)]),
        ("my wife is pregnant and I take warfarin",
         [("pregnancy", THIRD_PARTY), ("blood_thinners", AFFIRMED)]),
        ("How long after botox can I do it? I had botox 2 weeks ago",
         [("recent_facial_procedure", HYPOTHETICAL), ("recent_facial_procedure", AFFIRMED)]),
    ],
)
def test_several_mentions_in_one_message(recognizer, text, expected):
    assert found(recognizer, text) == expected


# --------------------------------------------------------------------------- must not trigger

@pytest.mark.parametrize(
    "text",
    [
        "I have acne scars", "I have acne", "my acne scarring is bad", "how long is recovery?",
        "I'd like microneedling for hair loss", "can I book for Tuesday?", "I have melasma",
        "I'm feeling great", "what is collagen induction therapy?", "I have dry skin",
        "I had a baby three years ago", "my molecule homework", "I love the sun",
    ],
)
def test_ordinary_messages_mention_nothing(recognizer, text):
    assert recognizer.mentions(text) == []


# --------------------------------------------------------------------------- other statuses

STATUS_TABLE = [
    # negated: a clear negation scoped to the term
    ("I'm not pregnant", "pregnancy", NEGATED),
    ("I am NOT pregnant", "pregnancy", NEGATED),
    ("no eczema", "skin_conditions", NEGATED),
    ("never had keloids", "keloids", NEGATED),
    ("I don't take blood thinners", "blood_thinners", NEGATED),
    ("I dont take warfarin", "blood_thinners", NEGATED),
    ("I DON'T TAKE ELIQUIS", "blood_thinners", NEGATED),
    ("I don\u2019t take xarelto", "blood_thinners", NEGATED),
    ("no rash", "skin_conditions", NEGATED),
    ("I've never had cancer", "cancer_or_chemo", NEGATED),
    ("no history of cancer", "cancer_or_chemo", NEGATED),
    ("I haven't had any botox", "recent_facial_procedure", NEGATED),
    ("I'm HIV negative", "autoimmune_or_low_immunity", NEGATED),
    ("my pregnancy test was negative", "pregnancy", NEGATED),
    ("I dont have any moles", "moles_or_skin_tags", NEGATED),
    # not a negation: when unsure, it is NOT negated
    ("No I'm pregnant", "pregnancy", AFFIRMED),
    ("no, I'm pregnant", "pregnancy", AFFIRMED),
    ("I can't stop taking warfarin", "blood_thinners", AFFIRMED),
    ("I don't like being on warfarin", "blood_thinners", AFFIRMED),
    ("Nope I'm on warfarin", "blood_thinners", AFFIRMED),
    ("I never miss my warfarin", "blood_thinners", AFFIRMED),
    ("not without my blood thinners", "blood_thinners", AFFIRMED),
    ("I'm not off accutane yet", "isotretinoin", AFFIRMED),
    ("I haven't stopped taking eliquis", "blood_thinners", AFFIRMED),
    ("I have no problems with my eczema", "skin_conditions", AFFIRMED),
    ("I don't take my warfarin on weekends", "blood_thinners", AFFIRMED),
    ("I'm not taking anything for eczema", "skin_conditions", AFFIRMED),
    ("I have eczema and a negative attitude", "skin_conditions", AFFIRMED),
    ("I have never not taken warfarin", "blood_thinners", AFFIRMED),
    ("I tested negative for HIV", "autoimmune_or_low_immunity", NEGATED),
    ("my HIV test came back negative", "autoimmune_or_low_immunity", NEGATED),
    ("not sure if I'm pregnant", "pregnancy", UNCERTAIN),
    ("I'm not on accutane anymore", "isotretinoin", UNCERTAIN),
    ("I no longer take accutane", "isotretinoin", UNCERTAIN),
    ("I haven't had botox recently", "recent_facial_procedure", UNCERTAIN),
    ("I'm not currently on accutane", "isotretinoin", UNCERTAIN),
    # uncertain: hedges win over negation
    ("I might be pregnant", "pregnancy", UNCERTAIN),
    ("maybe eczema?", "skin_conditions", UNCERTAIN),
    ("I think I have psoriasis?", "skin_conditions", UNCERTAIN),
    ("I don't think I'm pregnant", "pregnancy", UNCERTAIN),
    ("I'm probably not pregnant", "pregnancy", UNCERTAIN),
    ("I could be pregnant", "pregnancy", UNCERTAIN),
    ("I'm not positive I'm pregnant", "pregnancy", UNCERTAIN),
    ("I'm trying to get pregnant", "pregnancy", UNCERTAIN),
    ("I wonder if I'm pregnant", "pregnancy", UNCERTAIN),
    ("I'm not sure whether I'm on blood thinners", "blood_thinners", UNCERTAIN),
    ("I might have a cut on my face", "cystic_acne_or_wound", UNCERTAIN),
    ("I used to have eczema as a kid", "skin_conditions", UNCERTAIN),
    ("I had botox years ago", "recent_facial_procedure", UNCERTAIN),
    ("when I was pregnant I had melasma", "pregnancy", UNCERTAIN),
    ("I took a pregnancy test", "pregnancy", UNCERTAIN),
    ("I have scars from cystic acne", "cystic_acne_or_wound", UNCERTAIN),
    ("my cystic acne scars", "cystic_acne_or_wound", UNCERTAIN),
    # third party: about someone else (a check-back question, not recorded)
    ("my mum takes warfarin", "blood_thinners", THIRD_PARTY),
    ("my husband had cancer", "cancer_or_chemo", THIRD_PARTY),
    ("my sister has lupus", "autoimmune_or_low_immunity", THIRD_PARTY),
    ("she's pregnant", "pregnancy", THIRD_PARTY),
    ("I think my mom is on eliquis", "blood_thinners", THIRD_PARTY),
    ("family history of cancer", "cancer_or_chemo", THIRD_PARTY),
    ("my mum doesn't take warfarin", "blood_thinners", NEGATED),
    # ... unless the person is included
    ("my mum and I both take warfarin", "blood_thinners", AFFIRMED),
    ("My sister and I have lupus", "autoimmune_or_low_immunity", AFFIRMED),
    ("my mum has eczema and so do I", "skin_conditions", AFFIRMED),
    ("my doctor put me on warfarin", "blood_thinners", AFFIRMED),
    ("my GP says I have eczema", "skin_conditions", AFFIRMED),
    ("me and my mum both have eczema", "skin_conditions", AFFIRMED),
    # hypothetical: a general or conditional question (explained, not recorded)
    ("can you do microneedling if you're pregnant?", "pregnancy", HYPOTHETICAL),
    ("what if I had botox?", "recent_facial_procedure", HYPOTHETICAL),
    ("is it safe with eczema?", "skin_conditions", HYPOTHETICAL),
    ("Is microneedling safe during pregnancy?", "pregnancy", HYPOTHETICAL),
    ("is it ok for people on blood thinners?", "blood_thinners", HYPOTHETICAL),
    ("Are blood thinners a problem?", "blood_thinners", HYPOTHETICAL),
    ("Does accutane matter?", "isotretinoin", HYPOTHETICAL),
    ("what about accutane?", "isotretinoin", HYPOTHETICAL),
    # Issue 22: said of the person ("I'm"), so a maybe, never "if this applies to you".
    ("What happens if I'm on eliquis", "blood_thinners", UNCERTAIN),
    ("I was wondering if you can treat eczema", "skin_conditions", HYPOTHETICAL),
    ("I read that accutane is bad for it", "isotretinoin", HYPOTHETICAL),
    # an aside is not a condition; a statement with a question after it is a statement
    ("if it matters I'm pregnant", "pregnancy", AFFIRMED),
    ("in case it helps, I'm on accutane", "isotretinoin", AFFIRMED),
    ("I'm on accutane, can I do it?", "isotretinoin", AFFIRMED),
    ("I have eczema, is that ok?", "skin_conditions", AFFIRMED),
    ("Is my eczema a problem?", "skin_conditions", AFFIRMED),
]


@pytest.mark.parametrize(("text", "rule_id", "status"), STATUS_TABLE)
def test_status(recognizer, text, rule_id, status):
    assert found(recognizer, text) == [(rule_id, status)]


def test_status_table_covers_every_status():
    assert {status for _, _, status in STATUS_TABLE} == {
        AFFIRMED, NEGATED, UNCERTAIN, THIRD_PARTY, HYPOTHETICAL}


# --------------------------------------------------------------------------- urgent signs

URGENT_TABLE = [
    ("the redness is spreading", "infection_signs", AFFIRMED),
    ("I have spreading redness on my cheek", "infection_signs", AFFIRMED),
    ("my face is hot to the touch", "infection_signs", AFFIRMED),
    ("there's pus coming out", "infection_signs", AFFIRMED),
    ("is pus normal after microneedling?", "infection_signs", AFFIRMED),
    ("Is it normal to have a fever after microneedling?", "infection_signs", AFFIRMED),
    ("I have a fever", "infection_signs", AFFIRMED),
    ("i have a feaver", "infection_signs", AFFIRMED),
    ("severe swelling since yesterday", "infection_signs", AFFIRMED),
    ("I think it's infected", "infection_signs", UNCERTAIN),
    ("my son has a fever", "infection_signs", THIRD_PARTY),
    ("I can't breathe", "breathing_or_allergy", AFFIRMED),
    ("I CAN'T BREATHE", "breathing_or_allergy", AFFIRMED),
    ("I can\u2019t breathe", "breathing_or_allergy", AFFIRMED),
    ("I'm having trouble breathing", "breathing_or_allergy", AFFIRMED),
    ("my throat feels tight", "breathing_or_allergy", AFFIRMED),
    ("I have a tight throat", "breathing_or_allergy", AFFIRMED),
    ("facial swelling and hives", "breathing_or_allergy", AFFIRMED),
    ("my face is swelling", "breathing_or_allergy", AFFIRMED),
    ("what if my face swells up?", "breathing_or_allergy", AFFIRMED),
    # general risk questions
    ("is there a risk of infection?", "infection_signs", HYPOTHETICAL),
    ("can it cause infection?", "infection_signs", HYPOTHETICAL),
    ("what are the signs of infection?", "infection_signs", HYPOTHETICAL),
    ("how do I avoid infection?", "infection_signs", HYPOTHETICAL),
    ("can you get an infection from microneedling?", "infection_signs", HYPOTHETICAL),
    # negated
    ("I don't have a fever", "infection_signs", NEGATED),
    ("there's no pus", "infection_signs", NEGATED),
    ("my husband doesn't have a fever", "infection_signs", NEGATED),
    ("no trouble breathing", "breathing_or_allergy", NEGATED),
    ("swelling but without fever", "infection_signs", NEGATED),
    # a negated sign in a worried question is not a clear "no"
    ("It's not infected, is it?", "infection_signs", UNCERTAIN),
]


@pytest.mark.parametrize(("text", "sign_id", "status"), URGENT_TABLE)
def test_urgent_signs(recognizer, text, sign_id, status):
    mentions = recognizer.mentions(text)
    assert [(m.kind, m.id, m.status) for m in mentions] == [(KIND_URGENT, sign_id, status)]
    level = next(s.level for s in KB.urgent_signs if s.id == sign_id)
    assert mentions[0].level == level
    assert mentions[0].needs_urgent_answer == (status not in (NEGATED, HYPOTHETICAL))


def test_urgent_levels_come_from_knowledge(recognizer):
    breathing, infection = recognizer.mentions("trouble breathing and a fever")
    assert (breathing.level, infection.level) == ("emergency", "urgent")


def test_a_worried_question_with_a_symptom_still_warns(recognizer):
    mentions = recognizer.mentions("my face is oozing, is that a sign of infection?")
    assert [(m.text, m.needs_urgent_answer) for m in mentions] == [
        ("oozing", True), ("infection", True)]


def test_several_negated_signs(recognizer):
    assert found(recognizer, "no fever, no pus, no spreading redness") == [
        ("infection_signs", NEGATED)] * 3


def test_contraindications_have_no_level_and_never_need_the_urgent_answer(recognizer):
    (mention,) = recognizer.mentions("I'm pregnant")
    assert mention.level == ""
    assert not mention.needs_urgent_answer


# --------------------------------------------------------------------------- every term


def test_every_knowledge_term_alone_is_an_affirmed_mention(recognizer):
    for kind, term_id, term in all_terms():
        # A term that is itself a "may be" ("trying to conceive") is not sure, not affirmed.
        hedged = bool(set(term.lower().split()) & HEDGED_TERM_WORDS)
        for text in (term, term.upper(), f"{term[:1].upper()}{term[1:]}."):
            mentions = recognizer.mentions(text)
            assert [(m.kind, m.id, m.status, m.text.lower()) for m in mentions] == [
                (kind, term_id, UNCERTAIN if hedged else AFFIRMED, term.lower())], text


def all_terms():
    for rule in KB.screening.contraindications:
        for term in rule.terms:
            yield KIND_CONTRAINDICATION, rule.id, term
    for sign in KB.urgent_signs:
        for term in sign.terms:
            yield KIND_URGENT, sign.id, term


def test_every_knowledge_term_after_a_plain_no_or_never_is_negated(recognizer):
    for kind, term_id, term in all_terms():
        for text in (f"no {term}", f"Never {term}."):
            assert [(m.kind, m.id, m.status) for m in recognizer.mentions(text)] == [
                (kind, term_id, NEGATED)], text


NOT_NEGATIONS = ["No. ", "Nope, ", "no, ", "No! ", "Not really. ", "I don't know, ",
                 "Never mind. ", "No worries, ", "Not sure, but ", "nah - "]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(AFFIRMED_TABLE), st.sampled_from(NOT_NEGATIONS))
def test_property_a_no_before_a_statement_does_not_negate_it(recognizer, case, prefix):
    rule_id, text = case
    mentions = recognizer.mentions(prefix + text)
    assert {(m.id, m.status) for m in mentions} == {(rule_id, AFFIRMED)}


# --------------------------------------------------------------------------- offsets and docs


def test_offsets_and_text_refer_to_the_original_text(recognizer):
    text = "  Hello!! I'm on ELIQUIS, and Im PREGNANT."
    mentions = recognizer.mentions(text)
    assert [m.text for m in mentions] == ["ELIQUIS", "PREGNANT"]
    assert all(text[m.start:m.end] == m.text for m in mentions)


def test_offsets_survive_lower_casing_that_changes_length(recognizer):
    text = "\u0130 take Warfarin"  # "İ" lower-cases to two characters
    (mention,) = recognizer.mentions(text)
    assert (mention.text, text[mention.start:mention.end]) == ("Warfarin", "Warfarin")


@pytest.mark.parametrize(
    "text",
    [text for _, text in AFFIRMED_TABLE]
    + [text for text, _, _ in STATUS_TABLE] + [text for text, _, _ in URGENT_TABLE],
)
def test_a_lower_cased_doc_from_rasa_gives_the_same_mentions(recognizer, nlp, text):
    # Rasa's SpacyNLP (case_sensitive: false) runs the pipeline on text.lower().
    from_doc = recognizer.mentions_in_doc(nlp(text.lower()), text)
    assert from_doc == recognizer.mentions(text)


def test_a_doc_from_a_separately_loaded_pipeline_is_read(recognizer, tmp_path):
    # Rasa's SpacyNLP loads its own copy of the pipeline: another Vocab, same tokenizer.
    import spacy

    rasa_nlp = spacy.load(write_pipeline(tmp_path / "spacy_clinic", KB))
    assert rasa_nlp.vocab is not recognizer.nlp.vocab
    text = "I take Eliquis and I CANT BREATHE"
    mentions = recognizer.mentions_in_doc(rasa_nlp(text.lower()), text)
    assert [(m.id, m.text, m.status) for m in mentions] == [
        ("blood_thinners", "Eliquis", AFFIRMED), ("breathing_or_allergy", "CANT BREATHE", AFFIRMED)]


def test_a_doc_in_original_case_and_one_without_sentences_are_read_too(recognizer, nlp):
    text = "I'm not pregnant. I DON'T take Eliquis. My mum has a FEVER"
    expected = [("pregnancy", NEGATED), ("blood_thinners", NEGATED),
                ("infection_signs", THIRD_PARTY)]
    assert [(m.id, m.status) for m in recognizer.mentions_in_doc(nlp(text), text)] == expected
    bare = nlp.make_doc(text.lower())  # no sentence boundaries
    assert [(m.id, m.status) for m in recognizer.mentions_in_doc(bare, text)] == expected
    assert [m.text for m in recognizer.mentions_in_doc(bare)] == [
        "pregnant", "eliquis", "fever"]


# --------------------------------------------------------------------------- overlaps


def copy_knowledge(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    shutil.copytree(DEFAULT_KNOWLEDGE_DIR, folder)
    return folder


def test_an_urgent_sign_is_never_hidden_by_a_longer_term(tmp_path):
    folder = copy_knowledge(tmp_path)
    path = folder / "screening.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    wound = next(r for r in data["contraindications"] if r["id"] == "cystic_acne_or_wound")
    wound["terms"].append("infected wound")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    kb = load_knowledge(folder)
    recognizer = SafetyRecognizer(build_pipeline(kb), kb)
    mentions = recognizer.mentions("I have an infected wound")
    assert sorted((m.kind, m.text) for m in mentions) == [
        (KIND_CONTRAINDICATION, "infected wound"), (KIND_URGENT, "infected")]


def test_the_longest_term_wins_between_a_condition_and_a_contraindication(recognizer):
    assert recognizer.mentions("acne scars") == []
    assert found(recognizer, "skin rash") == [("skin_conditions", AFFIRMED)]
    assert found(recognizer, "a spreading rash") == [("infection_signs", AFFIRMED)]


# --------------------------------------------------------------------------- loading


def test_a_stale_pipeline_is_reported_and_knowledge_terms_still_found(tmp_path, caplog):
    folder = copy_knowledge(tmp_path)
    path = folder / "screening.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    blood = next(r for r in data["contraindications"] if r["id"] == "blood_thinners")
    # Not a medicine: medicine brands also come from the dictionary (clinic.knowledge.medicines).
    blood["terms"].remove("hemophilia")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    stale = build_pipeline(load_knowledge(folder))
    with caplog.at_level(logging.WARNING, logger="clinic.nlu.safety"):
        recognizer = SafetyRecognizer(stale, KB)
    assert "stale" in caplog.text
    assert found(recognizer, "I have hemophilia") == [("blood_thinners", AFFIRMED)]


def test_a_current_pipeline_gives_no_warning(nlp, caplog):
    with caplog.at_level(logging.WARNING, logger="clinic.nlu.safety"):
        SafetyRecognizer(nlp, KB)
    assert caplog.text == ""


def test_the_recogniser_logs_no_message_text(recognizer, caplog):
    with caplog.at_level(logging.DEBUG):
        recognizer.mentions("I'm pregnant and on warfarin, call me on 555 0100")
    assert "pregnant" not in caplog.text and "555" not in caplog.text


def test_load_recognizer_from_a_saved_pipeline_and_without_one(tmp_path, caplog):
    saved = write_pipeline(tmp_path / "spacy_clinic", KB)
    with caplog.at_level(logging.WARNING, logger="clinic.nlu.safety"):
        from_disk = load_recognizer(saved)
    assert caplog.text == ""  # the saved build is current
    assert from_disk.nlp.meta["name"] == "clinic"
    in_memory = load_recognizer(tmp_path / "missing")
    for recognizer in (from_disk, in_memory):
        assert found(recognizer, "on acutane") == [("isotretinoin", AFFIRMED)]


def test_mention_is_a_frozen_value():
    mention = Mention("urgent", "infection_signs", "pus", 0, 3, AFFIRMED, "urgent")
    with pytest.raises(AttributeError):
        mention.status = NEGATED  # type: ignore[misc]


# --------------------------------------------------------------------------- described, issue 18


@pytest.mark.parametrize("text", [
    "my scars tend to get raised", "I get a raised scar after every cut",
    "any scar I get grows bigger than the cut was", "scarring on my chest that is thick",
    "I've had a scar that kept growing for years",
])
def test_a_keloid_described_in_other_words_is_recognised(recognizer, text) -> None:
    assert ("keloids", AFFIRMED) in found(recognizer, text)


@pytest.mark.parametrize(("text", "status"), [
    ("my sister's scars get raised", THIRD_PARTY),
    ("do scars get raised after microneedling?", HYPOTHETICAL),
])
def test_a_described_keloid_gets_the_status_of_its_sentence(recognizer, text, status) -> None:
    assert ("keloids", status) in found(recognizer, text)


@pytest.mark.parametrize("text", [
    "the scar on my knee is flat and pale", "acne scars", "my skin got raised bumps",
    "I grew up with scars from chickenpox, they are flat",
])
def test_words_of_a_description_far_apart_or_alone_are_not_a_keloid(recognizer, text) -> None:
    assert "keloids" not in {rule for rule, _ in found(recognizer, text)}


def test_a_description_is_read_from_knowledge(tmp_path) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(DEFAULT_KNOWLEDGE_DIR, folder)
    path = folder / "screening.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rule = next(r for r in data["contraindications"] if r["id"] == "blood_thinners")
    rule["descriptions"] = [["bruise", ["easily", "easy"]]]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    kb = load_knowledge(folder)
    recognizer = SafetyRecognizer(build_pipeline(kb), kb)
    assert ("blood_thinners", AFFIRMED) in found(recognizer, "I bruise really easily")
    assert ("blood_thinners", AFFIRMED) in found(recognizer, "bruising comes easy to me")


# ------------------------------------------------------- a breakout after a treatment (docs/safety.md)


@pytest.mark.parametrize("text", [
    "I'm breaking out after microneedling", "I've been breaking out since my treatment",
    "breaking out the week after my session, is that normal?",
    "I'm breaking out post-treatment",
])
def test_a_breakout_after_a_treatment_is_no_contraindication(recognizer, text) -> None:
    assert "cystic_acne_or_wound" not in {rule for rule, _ in found(recognizer, text)}


@pytest.mark.parametrize("text", [
    "I'm breaking out right now", "I'm breaking out, can I still have my session next week",
    "I'm breaking out before my treatment", "I have cystic acne since my last treatment",
    "I've had an acne breakout after my treatment and my next session is tomorrow",
    "cystic breakout after microneedling",
])
def test_a_breakout_before_a_treatment_or_cystic_acne_stays_a_contraindication(
        recognizer, text) -> None:
    assert "cystic_acne_or_wound" in {rule for rule, _ in found(recognizer, text)}


def test_an_urgent_sign_after_a_treatment_is_still_urgent(recognizer) -> None:
    kinds = {m.kind for m in recognizer.mentions(
        "I'm breaking out after microneedling and there's pus and a fever")}
    assert KIND_URGENT in kinds
