"""`python -m clinic.knowledge.check`: check every knowledge file, as `make train` and `make test` do.

Loads knowledge/ (clinic.knowledge.kb, which also checks messages.yml against
clinic/knowledge/messages.py) and the patient questions (clinic.knowledge.questions), and says what
is wrong with file, entry and fix.
"""

from __future__ import annotations

import sys

from clinic.knowledge.kb import KnowledgeError, load_knowledge
from clinic.knowledge.medicines import check as check_medicines
from clinic.knowledge.medicines import check_screening_ids, load_medicines
from clinic.knowledge.overlaps import find_overlaps
from clinic.knowledge.questions import load_patient_questions


def main() -> int:
    try:
        k = load_knowledge()
        questions = load_patient_questions(k=k)
        known = load_medicines()
        check_screening_ids(known, {rule.id for rule in k.screening.contraindications})
    except KnowledgeError as error:
        print(f"Knowledge check failed: {error}", file=sys.stderr)
        return 1
    # The clinic's medicine classes against the maintained dictionary (issue 18).
    problems = check_medicines(known)
    for problem in problems:
        print(f"Knowledge check failed: {problem}", file=sys.stderr)
    if problems:
        return 1
    # Overlapping vocabularies: reported, not an error (safety always wins).
    overlaps = find_overlaps(k, questions)
    if overlaps:
        print(f"Overlapping vocabularies ({len(overlaps)}; the safety term wins):")
        for overlap in overlaps:
            print(f"  {overlap.describe()}")
    print(f"Knowledge OK: {len(k.topics)} topics, {len(questions.questions)} patient questions, "
          f"{len(k.references)} references, "
          f"{len(k.screening.contraindications)} screening questions, "
          f"{len(k.promotions)} promotion(s), {len(k.aftercare)} aftercare texts, "
          f"{len(k.messages)} messages, {len(k.responses)} responses, "
          f"{sum(len(c.members) for c in known.classes)} classified medicines.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
