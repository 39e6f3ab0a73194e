"""Build the clinic's own spaCy pipeline from the terms in ``knowledge/``.

No pretrained English model can be installed here, so the project builds one:
``spacy.blank("en")`` (the stock English tokenizer), an ``entity_ruler`` whose phrase patterns
are the knowledge terms (matched on the lower-cased token text), and a ``sentencizer``. Only
stock spaCy components are used, so Rasa's ``SpacyNLP`` can ``spacy.load(path)`` it without
importing any project code.

Entity labels and pattern ids:

=================  ==========================================  =====================
label              terms from                                  id
=================  ==========================================  =====================
CONTRAINDICATION   screening.yml ``contraindications[].terms``  ``contraindication:<id>``
URGENT             urgent.yml ``signs[].terms``                 ``urgent:<id>``
TREATMENT          vocabulary.yml ``treatments``                ``treatment:<key>``
CONDITION          vocabulary.yml ``conditions``                ``condition:<key>``
=================  ==========================================  =====================

A term listed under two different ids (for example under two contraindications, or as both a
condition and an urgent sign) is ambiguous: the build stops with a :class:`KnowledgeError`
naming both entries. A term that contains an apostrophe also gets its typographic-apostrophe
spelling ("can't" and "can’t"), because phones type the latter, and a term whose upper- or
title-case spelling tokenizes differently ("CAN'T BREATHE" is two tokens, "can't breathe"
three) gets that spelling too, so capitals typed in alarm are still matched.

Run ``python -m clinic.nlu.spacy_build [--out build/spacy_clinic]``; the output is
deterministic (same knowledge, same bytes) and written atomically.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clinic.knowledge.kb import PROJECT_ROOT, Knowledge, KnowledgeError, load_knowledge

if TYPE_CHECKING:  # spaCy is imported lazily: importing it takes seconds.
    from spacy.language import Language

LABEL_CONTRAINDICATION = "CONTRAINDICATION"
LABEL_URGENT = "URGENT"
LABEL_TREATMENT = "TREATMENT"
LABEL_CONDITION = "CONDITION"
LABELS = (LABEL_CONTRAINDICATION, LABEL_URGENT, LABEL_TREATMENT, LABEL_CONDITION)
ID_PREFIX = {
    LABEL_CONTRAINDICATION: "contraindication",
    LABEL_URGENT: "urgent",
    LABEL_TREATMENT: "treatment",
    LABEL_CONDITION: "condition",
}
DEFAULT_OUTPUT = PROJECT_ROOT / "build" / "spacy_clinic"
PIPELINE_NAME = "clinic"
PIPELINE_VERSION = "1.0.0"
META_PATTERNS_KEY = "clinic_patterns_sha256"
_SOURCES = {
    LABEL_CONTRAINDICATION: "knowledge/screening.yml",
    LABEL_URGENT: "knowledge/urgent.yml",
    LABEL_TREATMENT: "knowledge/vocabulary.yml",
    LABEL_CONDITION: "knowledge/vocabulary.yml",
}
_APOSTROPHES = ("'", "\u2019")


def _knowledge_terms(kb: Knowledge) -> Iterator[tuple[str, str, str]]:
    """(label, pattern id, term) for every knowledge term, in knowledge order."""
    for rule in kb.screening.contraindications:
        for term in rule.terms:
            yield LABEL_CONTRAINDICATION, f"contraindication:{rule.id}", term
    for sign in kb.urgent_signs:
        for term in sign.terms:
            yield LABEL_URGENT, f"urgent:{sign.id}", term
    for group, label in (("treatments", LABEL_TREATMENT), ("conditions", LABEL_CONDITION)):
        for key, terms in kb.vocabulary.get(group, {}).items():
            for term in terms:
                yield label, f"{ID_PREFIX[label]}:{key}", term
    yield from _medicine_terms(kb)


def _medicine_terms(kb: Knowledge) -> Iterator[tuple[str, str, str]]:
    """The dictionary's names of the medicines in knowledge/medicines.yml's screening
    classes (brands and misspellings included), as terms of their contraindication; a
    name some knowledge term already has is left to that term."""
    from clinic.knowledge.medicines import class_terms

    written = {term.lower() for rule in kb.screening.contraindications for term in rule.terms}
    written |= {term.lower() for sign in kb.urgent_signs for term in sign.terms}
    written |= {term.lower() for group in kb.vocabulary.values()
                for terms in group.values() for term in terms}
    ids = {rule.id for rule in kb.screening.contraindications}
    for rule_id, names in class_terms().items():
        if rule_id in ids:
            for name in names:
                if name not in written:
                    yield LABEL_CONTRAINDICATION, f"contraindication:{rule_id}", name


def _spellings(term: str) -> list[str]:
    """The term in lower case, then with the other apostrophe, then in other letter cases.

    The tokenizer's exceptions depend on case ("can't" is "ca" + "n't", but "CAN'T" stays
    one token), so a spelling is kept as a pattern when it tokenizes differently.
    """
    term = term.lower()
    spellings = [term]
    for apostrophe in _APOSTROPHES:
        if apostrophe in term:
            for other in _APOSTROPHES:
                variant = term.replace(apostrophe, other)
                if variant not in spellings:
                    spellings.append(variant)
    for spelling in list(spellings):
        for variant in (
            spelling.upper(),
            spelling[:1].upper() + spelling[1:],
            " ".join(word[:1].upper() + word[1:] for word in spelling.split(" ")),
        ):
            if variant not in spellings:
                spellings.append(variant)
    return spellings


def _tokenizer() -> Language:
    # Lazy: importing spaCy takes seconds (see TYPE_CHECKING above).
    import spacy

    return spacy.blank("en")


def entity_patterns(kb: Knowledge, nlp: Language | None = None) -> list[dict[str, str]]:
    """The entity ruler's phrase patterns for ``kb``, checked for ambiguous terms.

    Terms are compared as the tokenizer sees them in lower case, so "Eliquis" and "eliquis"
    are the same term. A repeated term under the same id is kept once; the same term under
    two ids raises :class:`KnowledgeError`. ``nlp`` supplies the tokenizer (a blank English
    one by default).
    """
    nlp = nlp or _tokenizer()
    owners: dict[tuple[str, ...], tuple[str, str, str]] = {}
    patterns: list[dict[str, str]] = []
    for label, pattern_id, term in _knowledge_terms(kb):
        for spelling in _spellings(term):
            key = tuple(token.lower_ for token in nlp.make_doc(spelling))
            if not key:
                continue
            owner = owners.get(key)
            if owner is not None:
                if owner[1] == pattern_id:
                    continue
                raise KnowledgeError(
                    _SOURCES[label],
                    f"term '{term}' of {pattern_id}",
                    f"the same term is also listed under {owner[1]} (as '{owner[2]}' in "
                    f"{_SOURCES[owner[0]]}), so a mention could not be told apart",
                    "keep the term under one entry only, or make it more specific",
                )
            owners[key] = (label, pattern_id, term)
            patterns.append({"label": label, "pattern": spelling, "id": pattern_id})
    return patterns


def patterns_fingerprint(patterns: list[dict[str, str]]) -> str:
    """A stable hash of the patterns, stored in the pipeline's meta to spot a stale build."""
    payload = json.dumps(patterns, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()


def build_pipeline(kb: Knowledge | None = None) -> Language:
    """The clinic's spaCy pipeline, in memory: blank English, entity ruler, sentencizer."""
    kb = kb or load_knowledge()
    nlp = _tokenizer()
    patterns = entity_patterns(kb, nlp)
    nlp.meta.update({
        "name": PIPELINE_NAME,
        "version": PIPELINE_VERSION,
        "description": "The clinic's terms (contraindications, urgent signs, treatments, "
                       "conditions) from knowledge/, for Rasa's SpacyNLP.",
        META_PATTERNS_KEY: patterns_fingerprint(patterns),
    })
    # spaCy types add_pipe() as returning any pipe; this one is an EntityRuler.
    ruler: Any = nlp.add_pipe(
        "entity_ruler",
        config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True, "validate": True},
    )
    ruler.add_patterns(patterns)
    nlp.add_pipe("sentencizer")
    return nlp


def _sort_sentencizer_chars(path: Path) -> None:
    # spaCy saves the sentencizer's punctuation as a set, in hash order, which changes from
    # run to run; sorted, the same knowledge gives the same bytes. Loading reads it back
    # into a set, so the order does not matter to spaCy.
    # Lazy: srsly comes with spaCy.
    import srsly

    config = srsly.read_json(path)
    config["punct_chars"] = sorted(config["punct_chars"])
    srsly.write_json(path, config)


def write_pipeline(out: Path | str = DEFAULT_OUTPUT, kb: Knowledge | None = None) -> Path:
    """Build the pipeline and save it to ``out``, replacing any earlier build atomically."""
    out = Path(out)
    nlp = build_pipeline(kb)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.new")
    previous = out.with_name(f".{out.name}.old")
    for leftover in (staging, previous):
        if leftover.exists():
            shutil.rmtree(leftover)
    nlp.to_disk(staging)
    _sort_sentencizer_chars(staging / "sentencizer.json")
    if out.exists():
        out.rename(previous)
    staging.rename(out)
    if previous.exists():
        shutil.rmtree(previous)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: build the pipeline into ``--out`` (default build/spacy_clinic)."""
    parser = argparse.ArgumentParser(
        prog="python -m clinic.nlu.spacy_build",
        description="Build the clinic's spaCy pipeline from the terms in knowledge/.",
    )
    parser.add_argument("--out", default=str(DEFAULT_OUTPUT),
                        help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        kb = load_knowledge()
        out = write_pipeline(args.out, kb)
    except KnowledgeError as error:
        print(f"Cannot build the spaCy pipeline: {error}", file=sys.stderr)
        return 1
    patterns = len(entity_patterns(kb))
    print(f"Wrote the clinic's spaCy pipeline ({patterns} term patterns) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
