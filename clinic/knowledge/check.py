"""`python -m clinic.knowledge.check`: check every knowledge file, as `make train` and `make test` do.

Loads knowledge/ (clinic.knowledge.kb, which also checks messages.yml against
clinic/knowledge/messages.py) and the patient questions (clinic.knowledge.questions), and says what
is wrong with file, entry and fix.
"""

from __future__ import annotations

import sys

from clinic.knowledge.kb import KnowledgeError, load_knowledge
from clinic.knowledge.questions import load_patient_questions


def main() -> int:
    try:
        k = load_knowledge()
        questions = load_patient_questions(k=k)
    except KnowledgeError as error:
        print(f"Knowledge check failed: {error}", file=sys.stderr)
        return 1
    print(f"Knowledge OK: {len(k.topics)} topics, {len(questions.questions)} patient questions, "
          f"{len(k.references)} references, "
          f"{len(k.screening.contraindications)} screening questions, "
          f"{len(k.promotions)} promotion(s), {len(k.aftercare)} aftercare texts, "
          f"{len(k.messages)} messages, {len(k.responses)} responses.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
