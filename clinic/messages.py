"""The registry of every sentence key the code says, with the placeholders the code fills.

The sentences themselves are in ``knowledge/messages.yml`` (grouped by flow); this module
only names them, so that ``python -m clinic.kb`` (run by ``make train`` and ``make test``)
can refuse a missing or misspelled key, or a text whose placeholder the code never fills,
before anyone reads it. Code says a message with the knowledge object::

    from clinic import messages as M
    k.say(M.SCREENING_INTRO, count=3)          # the text
    k.utter(M.SCREENING_INTRO, count=3)        # {"text": ..., "buttons": [...]}

Placeholders that are always filled, without being registered or passed: see
:data:`STANDARD_PLACEHOLDERS`.

One section per group of ``messages.yml``; keep a new key in its group's section.
"""

from __future__ import annotations

from dataclasses import dataclass

# Filled from knowledge/clinic.yml for every message (clinic.kb.Knowledge.fill).
STANDARD_PLACEHOLDERS = frozenset({
    "clinic_name", "clinic_phone", "booking_url", "emergency_number", "clinic_email",
    "clinic_hours", "disclaimer", "consultation_contact",
})

# The groups of knowledge/messages.yml, in the order they are written there. "responses"
# holds the domain's utter_* responses (written into domain.yml by clinic.domain_build).
GROUPS = ("common", "screening", "safety", "booking", "promotion", "conversation", "faq",
          "handover", "sms")
RESPONSES_GROUP = "responses"


@dataclass(frozen=True)
class Message:
    """A sentence the code says: its key in messages.yml and the placeholders it fills."""

    key: str
    placeholders: frozenset[str]

    @property
    def group(self) -> str:
        return self.key.split(".", 1)[0]


REGISTRY: dict[str, Message] = {}

# Values the code passes to a domain response (dispatcher.utter_message(response=...,
# name=value)), besides the domain's slots, which Rasa fills itself.
RESPONSE_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "utter_screening_echo": frozenset({"screen_echo"}),
    "utter_screening_changed": frozenset({"screen_echo"}),
}


def register(key: str, *placeholders: str) -> Message:
    """Name a message of knowledge/messages.yml and the placeholders the code fills in it."""
    group, _, name = key.partition(".")
    if group not in GROUPS or not name or "." in name:
        raise ValueError(f"message key {key!r} must be '<group>.<name>', group one of {GROUPS}")
    if key in REGISTRY:
        raise ValueError(f"message key {key!r} is registered twice")
    clash = STANDARD_PLACEHOLDERS.intersection(placeholders)
    if clash:
        raise ValueError(f"{key}: {sorted(clash)} are filled for every message; don't pass them")
    message = Message(key, frozenset(placeholders))
    REGISTRY[key] = message
    return message


# ---------------------------------------------------------------- common
# How to reach a practitioner; also the standard placeholder {consultation_contact}.
CONSULTATION_CONTACT = register("common.consultation_contact")
# A patient question of knowledge/patient_questions.yml that the article doesn't answer.
NOT_COVERED_SUBJECT = register("common.not_covered_subject", "subject")

# ---------------------------------------------------------------- screening

# ---------------------------------------------------------------- safety

# ---------------------------------------------------------------- booking

# ---------------------------------------------------------------- promotion

# ---------------------------------------------------------------- conversation

# ---------------------------------------------------------------- faq

# ---------------------------------------------------------------- handover
# Told to the patient when a member of staff takes the conversation over, and hands it back.
HANDOVER_STAFF_JOINED = register("handover.staff_joined")
HANDOVER_STAFF_LEFT = register("handover.staff_left")

# ---------------------------------------------------------------- sms
