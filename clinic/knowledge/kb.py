"""Load and check the clinic's knowledge base (``knowledge/*.yml``).

The knowledge folder is the single source of truth for everything the assistant says
about microneedling, the screening rules, the promotion and the aftercare texts. This
module is its API: :func:`load_knowledge` runs the loader of each file
(:mod:`clinic.knowledge.loaders`) into the typed knowledge of :mod:`clinic.knowledge.model`
(re-exported here) and refuses a malformed file with a message that names the file, the entry
and the fix (:class:`KnowledgeError`); :func:`knowledge` is the project's, loaded once.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from clinic.knowledge.loaders import aftercare as aftercare_file
from clinic.knowledge.loaders import clinic as clinic_file
from clinic.knowledge.loaders import messages as messages_file
from clinic.knowledge.loaders import promotions as promotions_file
from clinic.knowledge.loaders import references as references_file
from clinic.knowledge.loaders import screening as screening_file
from clinic.knowledge.loaders import topics as topics_file
from clinic.knowledge.loaders import urgent as urgent_file
from clinic.knowledge.loaders import vocabulary as vocabulary_file
from clinic.knowledge.model import (  # the typed knowledge, re-exported: kb is the API
    CONSULTATION_CONTACT_KEY,
    DEFAULT_KNOWLEDGE_DIR,
    OUTCOME_ELIGIBLE,
    OUTCOME_INCOMPLETE,
    OUTCOME_NOT_SUITABLE_NOW,
    OUTCOME_PRACTITIONER_REVIEW,
    PLACEHOLDERS,
    PROJECT_ROOT,
    PROMOTABLE_OUTCOMES,
    SEE_PRACTITIONER_KEY,
    URGENT_LEVELS,
    YES_OUTCOMES,
    AftercareMessage,
    Clinic,
    Contraindication,
    Knowledge,
    KnowledgeError,
    MessageText,
    Outcome,
    Promotion,
    Reference,
    Screening,
    Topic,
    Treatment,
    UrgentSign,
    knowledge_dir,
)

__all__ = [
    "AftercareMessage",
    "CONSULTATION_CONTACT_KEY",
    "Clinic",
    "Contraindication",
    "DEFAULT_KNOWLEDGE_DIR",
    "Knowledge",
    "KnowledgeError",
    "MessageText",
    "OUTCOME_ELIGIBLE",
    "OUTCOME_INCOMPLETE",
    "OUTCOME_NOT_SUITABLE_NOW",
    "OUTCOME_PRACTITIONER_REVIEW",
    "Outcome",
    "PLACEHOLDERS",
    "PROJECT_ROOT",
    "PROMOTABLE_OUTCOMES",
    "Promotion",
    "Reference",
    "SEE_PRACTITIONER_KEY",
    "Screening",
    "Topic",
    "Treatment",
    "URGENT_LEVELS",
    "UrgentSign",
    "YES_OUTCOMES",
    "knowledge_dir",
    "knowledge",
    "load_knowledge",
]


def load_knowledge(directory: Path | str | None = None) -> Knowledge:
    """Read and check every knowledge file; raise KnowledgeError on the first problem."""
    directory = knowledge_dir(directory)
    clinic = clinic_file.load(directory)
    references = references_file.load(directory)
    signs, urgent_messages = urgent_file.load(directory)
    messages, responses = messages_file.load(directory)
    return Knowledge(
        clinic=clinic,
        references=references,
        topics=topics_file.load(directory, references),
        screening=screening_file.load(directory, references),
        urgent_signs=signs,
        urgent_messages=urgent_messages,
        promotions=promotions_file.load(directory, clinic),
        aftercare=aftercare_file.load(directory),
        vocabulary=vocabulary_file.load(directory),
        messages=messages,
        responses=responses,
    )


@lru_cache(maxsize=1)
def knowledge() -> Knowledge:
    """The project's knowledge, loaded once per process."""
    return load_knowledge()
