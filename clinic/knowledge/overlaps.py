"""Vocabularies that overlap, found before a test conversation fails (issue 18).

A safety term (screening.yml) that a patient question's pattern (patient_questions.yml) or a
subject word (subjects.yml) also reads is reported by `python -m clinic.knowledge.check`: both entries
are named, the safety term wins (the safety recogniser runs last and overrides), and the
test conversations whose messages contain the term are listed, as those are the ones whose
expected answer changes. A report, not an error: an overlap can be intended.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from clinic.knowledge.kb import Knowledge, knowledge_dir
from clinic.knowledge.loaders.reading import read_yaml as _read_yaml
from clinic.knowledge.questions import PatientQuestions

TESTS_DIR = Path(__file__).resolve().parents[2] / "tests"
_SUBJECT_GROUPS = ("products", "activities", "sensations", "conditions", "to_note")


@dataclass(frozen=True)
class Overlap:
    rule: str  # the screening.yml contraindication
    term: str
    other: str  # "patient_questions.yml: rosacea" or "subjects.yml: sensations/redness_after"
    stories: tuple[str, ...]
    # The term is in the rule's after_treatment_worry (a clinician decision): said about
    # the time after a treatment, the worry wins; otherwise the safety term does.
    worry_after: bool = False

    def describe(self) -> str:
        where = ("; update the test conversation(s): " + ", ".join(self.stories)
                 if self.stories else "; no test conversation uses it")
        wins = ("said about the time after a treatment the worry wins (after_treatment_worry),"
                " otherwise the safety term wins" if self.worry_after else
                "the safety term wins")
        return (f"screening.yml {self.rule} term '{self.term}' overlaps {self.other}: "
                f"{wins}{where}")


def _subject_words(directory: Path | str | None) -> list[tuple[str, str]]:
    subjects, _ = _read_yaml(knowledge_dir(directory), "subjects.yml")
    pairs: list[tuple[str, str]] = []
    for group in _SUBJECT_GROUPS:
        value = subjects.get(group) or {}
        items = value.items() if isinstance(value, dict) else [(group, value)]
        for name, terms in items:
            label = f"subjects.yml: {group}" + ("" if name == group else f"/{name}")
            pairs += [(str(term).lower(), label) for term in terms or []]
    return pairs


def _stories(tests_dir: Path) -> list[tuple[str, str]]:
    """(story name, a user message) of every test conversation."""
    found: list[tuple[str, str]] = []
    for path in sorted(tests_dir.glob("test_*.yml")):
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for story in data.get("stories") or [] if isinstance(data, dict) else []:
            for step in story.get("steps") or []:
                if isinstance(step, dict) and isinstance(step.get("user"), str):
                    text = re.sub(r"\[([^\]]*)\]\{[^}]*\}", r"\1", step["user"]).lower()
                    found.append((f"{path.name}: {story.get('story')}", text))
    return found


def _contains(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None


def find_overlaps(k: Knowledge, questions: PatientQuestions,
                  directory: Path | str | None = None,
                  tests_dir: Path = TESTS_DIR) -> list[Overlap]:
    subjects = _subject_words(directory)
    stories = _stories(tests_dir) if tests_dir.is_dir() else []
    overlaps = []
    for rule in k.screening.contraindications:
        for term in rule.terms:
            low = term.lower()
            others = [f"patient_questions.yml: {q.id}" for q in questions.questions
                      if any(p.search(low) for p in q.patterns)]
            others += sorted({label for word, label in subjects
                              if _contains(low, word) or _contains(word, low)})
            if not others:
                continue
            used = tuple(sorted({name for name, text in stories if _contains(text, low)}))
            overlaps += [Overlap(rule.id, term, other, used,
                                 low in rule.after_treatment_worry) for other in others]
    return overlaps
