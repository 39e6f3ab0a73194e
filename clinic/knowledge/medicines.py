"""Medicines named in a message, from a maintained dictionary, and the clinic's classes.

Which word is a medicine (generic, brand, misspelling) comes from the
``drug-named-entity-recognition`` package, which ships its data; the clinic's reviewed list
(knowledge/medicines.yml) only says which generics matter for the screening. A medicine in
no class, or in a class the article says nothing about, is *noted* for the practitioner: it
goes into the screening summary and the staff console, and the patient hears what the
assistant is not sure about, never "didn't understand" (issue 18).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from clinic.knowledge.kb import KnowledgeError, knowledge_dir
from clinic.knowledge.loaders.reading import Entry as _Entry
from clinic.knowledge.loaders.reading import entry_list as _entries
from clinic.knowledge.loaders.reading import read_yaml as _read_yaml

FILE = "medicines.yml"
SUBJECTS_FILE = "subjects.yml"
# Kept in the screening_answers slot next to the answers (never a contraindication id).
NOTED_KEY = "_noted"
_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


@dataclass(frozen=True)
class MedicineClass:
    id: str
    label: str
    contraindication: str  # a screening.yml id, or "" when the article says nothing
    members: tuple[str, ...]


@dataclass(frozen=True)
class FoundMedicine:
    said: str  # the words as the person wrote them
    generic: str  # the dictionary's name, lower case
    medicine_class: MedicineClass | None

    @property
    def to_note(self) -> bool:
        """True when the screening has no question for it: the practitioner is told."""
        return self.medicine_class is None or not self.medicine_class.contraindication


@dataclass(frozen=True)
class Medicines:
    classes: tuple[MedicineClass, ...]
    # Words the dictionary calls a medicine but the clinic reads as something else: skin
    # products ("vitamin c", "hyaluronic acid") and procedures ("botox").
    not_medicines: frozenset[str]
    # Health conditions the screening has no question for (subjects.yml, to_note), longest
    # first: "high blood pressure" before "blood pressure".
    conditions_to_note: tuple[str, ...] = ()

    def class_of(self, generic: str) -> MedicineClass | None:
        generic = generic.lower()
        for medicine_class in self.classes:
            # "isotretinoin capsules" (Roaccutane) is isotretinoin.
            if any(generic == m or generic.startswith(m + " ") for m in medicine_class.members):
                return medicine_class
        return None


@lru_cache(maxsize=1)
def _name_index() -> dict[str, str]:
    """Every name the dictionary knows (generic, brand, misspelling; lower case) -> the
    generic's name, read from the data file the package ships.

    The package's own ``find_drugs`` builds fuzzy-matching indexes on import (about 360 MB
    and 4 s per process); exact names are all the assistant needs (about 60 MB, 0.5 s)."""
    import bz2
    import importlib.util
    import pickle  # the data file of the pinned PyPI package (requirements.lock)

    spec = importlib.util.find_spec("drug_named_entity_recognition")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("drug-named-entity-recognition is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "drug_ner_dictionary.pkl.bz2"
    with bz2.open(path, "rb") as handle:
        data = pickle.load(handle)
    canonical = data["drug_canonical_to_data"]
    return {variant: str(canonical.get(sorted(names)[0], {}).get("name") or sorted(names)[0])
            for variant, names in data["drug_variant_to_canonical"].items() if names}


def _dictionary_find(tokens: list[str]) -> list[tuple[dict[str, Any], int, int]]:
    """Exact dictionary names in the tokens, two words before one, as the package reads
    them: (``{"name": generic}``, start, end)."""
    from clinic.nlu.input_kind import english_words

    index, common = _name_index(), english_words()
    found: list[tuple[dict[str, Any], int, int]] = []
    taken: set[int] = set()
    for size in (3, 2, 1):
        for start in range(len(tokens) - size + 1):
            span = range(start, start + size)
            if taken.intersection(span):
                continue
            words = tokens[start:start + size]
            if size == 1 and words[0] in common:
                continue
            name = index.get(" ".join(words).lower())
            if name is not None:
                found.append(({"name": name}, start, start + size))
                taken.update(span)
    return sorted(found, key=lambda hit: hit[1])


def load_medicines(directory: Path | str | None = None) -> Medicines:
    """knowledge/medicines.yml and the product and procedure words of subjects.yml."""
    folder = knowledge_dir(directory)
    data, file = _read_yaml(folder, FILE)
    classes = []
    for raw in _entries(data, "classes", file):
        item = _Entry(raw, file, str(raw.get("id", "?")) if isinstance(raw, dict) else "?")
        members = tuple(m.lower() for m in item.text_list("members"))
        classes.append(MedicineClass(item.ident(), item.text("label"),
                                     item.text("contraindication", required=False),
                                     members))
    subjects, _ = _read_yaml(folder, SUBJECTS_FILE)
    to_note = sorted({str(t).lower() for t in subjects.get("to_note") or []}, key=len,
                     reverse=True)
    return Medicines(tuple(classes), frozenset(_words_of(subjects, ("products", "procedures"))),
                     tuple(to_note))


def _words_of(subjects: Mapping[str, Any], groups: tuple[str, ...]) -> list[str]:
    words: list[str] = []
    for group in groups:
        for terms in (subjects.get(group) or {}).values():
            words += [str(term).lower() for term in terms]
    return words


@lru_cache(maxsize=1)
def medicines() -> Medicines:
    return load_medicines()


def find_medicines(text: str, known: Medicines | None = None) -> list[FoundMedicine]:
    """The medicines a message names, each once, in the order said."""
    known = known or medicines()
    lowered = text.lower()
    tokens = _WORD.findall(lowered)
    found: dict[str, FoundMedicine] = {}
    for drug, start, end in _dictionary_find(tokens):
        said = " ".join(tokens[start:end])
        generic = str(drug.get("name", said)).lower()
        medicine_class = known.class_of(generic)
        # A product or procedure word is a medicine only when the clinic classes it
        # ("tretinoin" is a retinoid; "vitamin c" and "botox" are not medicines here).
        if medicine_class is None and (said in known.not_medicines or
                                       _inside_other_word(lowered, said, known)):
            continue
        found.setdefault(generic, FoundMedicine(said, generic, medicine_class))
    return list(found.values())


def _inside_other_word(text: str, said: str, known: Medicines) -> bool:
    """True when the medicine's words are part of a product or procedure named in the text
    ("vitamin c serum", "tranexamic acid serum")."""
    return any(said in phrase and re.search(rf"\b{re.escape(phrase)}\b", text)
               for phrase in known.not_medicines if len(phrase) > len(said))


def say_list(names: list[str]) -> str:
    """"spironolactone", "doxycycline and metformin": names to say back."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def things_to_note(text: str, known: Medicines | None = None) -> list[str]:
    """Medicines and health conditions in the message that the practitioner should hear of
    because the screening has no question for them (as the person wrote them)."""
    known = known or medicines()
    names = [medicine.said for medicine in find_medicines(text, known) if medicine.to_note]
    lowered = " ".join(text.lower().replace("-", " ").split())
    for phrase in known.conditions_to_note:
        if re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", lowered) and \
                not any(phrase in name or name in phrase for name in names):
            names.append(phrase)
    return names


def add_noted(stored: object, names: list[str]) -> dict[str, Any]:
    """The screening_answers slot with these names added to what is noted."""
    answers = dict(stored) if isinstance(stored, Mapping) else {}
    noted = [str(n) for n in answers.get(NOTED_KEY) or [] if isinstance(n, str)]
    noted += [name for name in names if name not in noted]
    answers[NOTED_KEY] = noted
    return answers


def noted_in(answers: Mapping[str, object]) -> list[str]:
    """What is noted for the practitioner in a screening_answers mapping."""
    value = answers.get(NOTED_KEY)
    return [str(n) for n in value] if isinstance(value, list) else []


def check(known: Medicines | None = None) -> list[str]:
    """Problems of knowledge/medicines.yml against the dictionary, for `clinic.knowledge.check`."""
    known = known or medicines()
    problems = []
    for medicine_class in known.classes:
        for member in medicine_class.members:
            hits = _dictionary_find(_WORD.findall(member))
            if not hits:
                problems.append(f"medicines.yml: {medicine_class.id}: the dictionary does not "
                                f"know '{member}' (check the spelling, or use the generic name)")
                continue
            generic = str(hits[0][0].get("name", "")).lower()
            if generic != member and not generic.startswith(member):
                problems.append(f"medicines.yml: {medicine_class.id}: '{member}' is "
                                f"{generic} in the dictionary: list the generic name")
    return problems


def check_screening_ids(known: Medicines, contraindication_ids: set[str]) -> None:
    """Every class that answers a screening question names one that exists."""
    for medicine_class in known.classes:
        if medicine_class.contraindication and \
                medicine_class.contraindication not in contraindication_ids:
            raise KnowledgeError(FILE, medicine_class.id,
                                 f"contraindication '{medicine_class.contraindication}' is not "
                                 "in screening.yml",
                                 "use an id of screening.yml, or leave it out to note it")


def class_terms(known: Medicines | None = None) -> dict[str, list[str]]:
    """Every dictionary name (brand, misspelling, generic) of the medicines in a class that
    answers a screening question, by that question's id: the safety recogniser's extra
    terms, so "I take Lixiana" is a blood thinner (edoxaban) though no one listed the brand.

    Names of two words or fewer and four letters or more, no common English word."""
    from clinic.nlu.input_kind import english_words

    known = known or medicines()
    common = english_words()
    members = {m: c.contraindication for c in known.classes if c.contraindication
               for m in c.members}
    terms: dict[str, list[str]] = {}
    for variant, generic in _name_index().items():
        generic = generic.lower()
        rule = members.get(generic) or next(
            (r for m, r in members.items() if generic.startswith(m + " ")), None)
        if rule is None or len(variant) < 4 or len(variant.split()) > 2 or \
                not re.fullmatch(r"[a-z][a-z -]*[a-z]", variant) or variant in common or \
                variant in known.not_medicines:
            continue
        terms.setdefault(rule, []).append(variant)
    return {rule: sorted(names) for rule, names in terms.items()}
