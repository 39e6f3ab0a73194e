"""The typed knowledge: what every knowledge file becomes once read and checked.

Plain frozen dataclasses (the clinic, references, topics, screening rules, urgent signs,
promotions, aftercare texts, messages) and :class:`Knowledge` that holds them all; the
loaders of :mod:`clinic.knowledge.loaders` build them, :mod:`clinic.knowledge.kb` is the API.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from clinic.knowledge.messages import Message

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_KNOWLEDGE_DIR = PROJECT_ROOT / "knowledge"


def knowledge_dir(directory: Path | str | None = None) -> Path:
    """The knowledge folder: ``directory``, else ``$CLINIC_KNOWLEDGE_DIR``, else knowledge/."""
    return Path(directory or os.environ.get("CLINIC_KNOWLEDGE_DIR") or DEFAULT_KNOWLEDGE_DIR)


class Outcome(str, Enum):
    """A screening outcome (the stored slot value is the string)."""

    ELIGIBLE = "eligible"
    NOT_SUITABLE_NOW = "not_suitable_now"
    PRACTITIONER_REVIEW = "practitioner_review"
    INCOMPLETE = "incomplete"

    def __str__(self) -> str:
        return self.value


OUTCOME_NOT_SUITABLE_NOW = Outcome.NOT_SUITABLE_NOW
OUTCOME_PRACTITIONER_REVIEW = Outcome.PRACTITIONER_REVIEW
OUTCOME_ELIGIBLE = Outcome.ELIGIBLE
OUTCOME_INCOMPLETE = Outcome.INCOMPLETE
YES_OUTCOMES = (OUTCOME_NOT_SUITABLE_NOW, OUTCOME_PRACTITIONER_REVIEW)
URGENT_LEVELS = ("emergency", "urgent")
PLACEHOLDERS = ("clinic_name", "clinic_phone", "booking_url", "emergency_number", "reasons",
                "clinic_email", "clinic_hours")


class KnowledgeError(ValueError):
    """A knowledge file is missing, unreadable or does not follow its schema."""

    def __init__(self, file: str, entry: str, problem: str, fix: str) -> None:
        self.file, self.entry, self.problem, self.fix = file, entry, problem, fix
        super().__init__(f"{file}: {entry}: {problem}. Fix: {fix}")


@dataclass(frozen=True)
class Reference:
    id: str
    short: str
    citation: str


@dataclass(frozen=True)
class Topic:
    id: str
    intent: str
    title: str
    answer: str
    sources: tuple[str, ...]
    related: tuple[str, ...] = ()
    list_references: bool = False


@dataclass(frozen=True)
class Contraindication:
    id: str
    question: str
    explanation: str
    outcome: Outcome  # NOT_SUITABLE_NOW or PRACTITIONER_REVIEW
    terms: tuple[str, ...]
    what_would_change: str = ""
    # Descriptions in patients' words: groups of words that must all appear close together
    # in one sentence, in any order and any inflection ("my scars get raised" is a keloid).
    descriptions: tuple[tuple[tuple[str, ...], ...], ...] = ()
    # Terms that, said about the time after a treatment ("breaking out since my
    # treatment"), are a worry about that treatment, not this contraindication.
    after_treatment_worry: tuple[str, ...] = ()


@dataclass(frozen=True)
class Screening:
    source: str
    contraindications: tuple[Contraindication, ...]
    outcomes: dict[Outcome, str]
    unsure_reason: str

    def by_id(self, rule_id: str) -> Contraindication:
        for rule in self.contraindications:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


@dataclass(frozen=True)
class UrgentSign:
    id: str
    level: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Treatment:
    id: str
    label: str
    facial: bool


@dataclass(frozen=True)
class Clinic:
    name: str
    phone: str
    email: str
    booking_url: str
    address: str
    hours: str
    emergency_number: str
    disclaimer: str
    treatments: tuple[Treatment, ...]
    sms_consent_wording: str
    # Said when a message cannot be handled now (conversation or lock store unavailable).
    unavailable_message: str = ""

    def treatment(self, treatment_id: str) -> Treatment:
        for treatment in self.treatments:
            if treatment.id == treatment_id:
                return treatment
        raise KeyError(treatment_id)


@dataclass(frozen=True)
class Promotion:
    code: str
    description: str
    amount_usd: int
    treatments: tuple[str, ...]
    valid_from: dt.date
    valid_until: dt.date
    once_per_person: bool
    # The screening outcomes that may get it (never not_suitable_now: the loader refuses it).
    requires: tuple[str, ...]


@dataclass(frozen=True)
class AftercareMessage:
    id: str
    text: str
    after_hours: float | None = None
    days_after: int | None = None
    at: str | None = None


@dataclass(frozen=True)
class Knowledge:
    clinic: Clinic
    references: dict[str, Reference]
    topics: tuple[Topic, ...]
    screening: Screening
    urgent_signs: tuple[UrgentSign, ...]
    urgent_messages: dict[str, str]
    promotions: tuple[Promotion, ...]
    aftercare: tuple[AftercareMessage, ...]
    vocabulary: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    messages: dict[str, MessageText] = field(default_factory=dict)
    responses: dict[str, Any] = field(default_factory=dict)

    def topic_for_intent(self, intent: str) -> Topic | None:
        for topic in self.topics:
            if topic.intent == intent:
                return topic
        return None

    def topic(self, topic_id: str) -> Topic:
        for topic in self.topics:
            if topic.id == topic_id:
                return topic
        raise KeyError(topic_id)

    def promotion(self, code: str) -> Promotion | None:
        wanted = code.strip().upper()
        for promotion in self.promotions:
            if promotion.code == wanted:
                return promotion
        return None

    def fill(self, text: str, **extra: object) -> str:
        """Fill the clinic placeholders ({clinic_name}, ...) of a knowledge text."""
        values: dict[str, object] = {
            "clinic_name": self.clinic.name,
            "clinic_phone": self.clinic.phone,
            "booking_url": self.clinic.booking_url,
            "emergency_number": self.clinic.emergency_number,
            "clinic_email": self.clinic.email,
            "clinic_hours": self.clinic.hours,
            "disclaimer": self.clinic.disclaimer,
        }
        # The two sentences every flow shares (knowledge/messages.yml, group common).
        for name, key in (("consultation_contact", CONSULTATION_CONTACT_KEY),
                          ("see_practitioner", SEE_PRACTITIONER_KEY)):
            shared = self.messages.get(key)
            if shared is not None:
                values[name] = shared.text.format(**values)
        values.update(extra)
        return text.format(**values)

    def say(self, message: Message, **values: object) -> str:
        """The text of a registered message (clinic.knowledge.messages), its placeholders filled.

        The keywords must be exactly the placeholders the message was registered with.
        """
        return self._text(message, values).text_filled

    def utter(self, message: Message, **values: object) -> dict[str, Any]:
        """``dispatcher.utter_message(**k.utter(M.X, ...))``: the text and its buttons."""
        rendered = self._text(message, values)
        reply: dict[str, Any] = {"text": rendered.text_filled}
        if rendered.buttons:
            reply["buttons"] = [dict(button) for button in rendered.buttons]
        return reply

    def buttons(self, message: Message) -> list[dict[str, str]]:
        """The buttons written with a message (titles in knowledge, payloads as written)."""
        return [dict(button) for button in self._entry(message).buttons]

    def _entry(self, message: Message) -> MessageText:
        try:
            return self.messages[message.key]
        except KeyError:
            raise KeyError(f"message {message.key!r} is not in knowledge/messages.yml") from None

    def _text(self, message: Message, values: dict[str, object]) -> _Rendered:
        given = set(values)
        if given != message.placeholders:
            raise TypeError(f"message {message.key!r} fills {sorted(message.placeholders)}, "
                            f"was given {sorted(given)}")
        entry = self._entry(message)
        return _Rendered(self.fill(entry.text, **values), entry.buttons)


@dataclass(frozen=True)
class MessageText:
    """One entry of knowledge/messages.yml: a text and the buttons shown with it."""

    text: str
    buttons: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class _Rendered:
    text_filled: str
    buttons: tuple[dict[str, str], ...]


CONSULTATION_CONTACT_KEY = "common.consultation_contact"
SEE_PRACTITIONER_KEY = "common.see_practitioner"


# Outcomes a promotion may require. not_suitable_now (and an unfinished screening) can
# never be: nobody the screening rules out is offered or given a promotion.
PROMOTABLE_OUTCOMES = (OUTCOME_ELIGIBLE, OUTCOME_PRACTITIONER_REVIEW)
