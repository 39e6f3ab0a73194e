"""A contraindication or urgent sign found in a text (:class:`SafetyMention`): what it is
(:class:`MentionKind`), how it was said (:class:`MentionStatus`), and its form as a Rasa entity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class MentionKind(str, Enum):
    """What a mention is about; the Rasa entity name is :attr:`entity`."""

    CONTRAINDICATION = "contraindication"
    URGENT = "urgent"

    def __str__(self) -> str:
        return self.value

    @property
    def entity(self) -> str:
        """The entity name the NLU component writes (domain.yml ``entities``)."""
        return _ENTITY_OF_KIND[self]

    @classmethod
    def from_entity_name(cls, name: str) -> MentionKind | None:
        """The kind written as entity ``name``; None for an entity that is no safety term."""
        return next((kind for kind, entity in _ENTITY_OF_KIND.items() if entity == name), None)


_ENTITY_OF_KIND = {MentionKind.CONTRAINDICATION: "contraindication",
                   MentionKind.URGENT: "urgent_sign"}


class MentionStatus(str, Enum):
    """How a term was said (the entity's role in Rasa): see the module docstring."""

    AFFIRMED = "affirmed"
    NEGATED = "negated"
    UNCERTAIN = "uncertain"
    THIRD_PARTY = "third_party"
    HYPOTHETICAL = "hypothetical"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def read(cls, value: object) -> MentionStatus:
        """A stored role; a missing or unknown one reads as affirmed (over-warn)."""
        try:
            return cls(value)
        except ValueError:
            return cls.AFFIRMED


# Aliases of the enum members, for readers of the rules below.
KIND_CONTRAINDICATION = MentionKind.CONTRAINDICATION
KIND_URGENT = MentionKind.URGENT
AFFIRMED = MentionStatus.AFFIRMED
NEGATED = MentionStatus.NEGATED
UNCERTAIN = MentionStatus.UNCERTAIN
THIRD_PARTY = MentionStatus.THIRD_PARTY
HYPOTHETICAL = MentionStatus.HYPOTHETICAL
STATUSES = tuple(MentionStatus)
EXTRACTOR_NAME = "SafetyTermsClassifier"


@dataclass(frozen=True)
class SafetyMention:
    """One contraindication or urgent sign found in a text.

    The recogniser makes them, the NLU component writes them as Rasa entities
    (:meth:`to_entity`) and the actions read them back (:meth:`from_entity`).
    """

    kind: MentionKind
    id: str  # contraindication id (screening.yml) or urgent sign id (urgent.yml)
    text: str  # the matched words as typed
    start: int  # character offsets in the original text
    end: int
    status: MentionStatus
    level: str = ""  # urgent only: "emergency" | "urgent" (not written to the entity)

    @property
    def needs_urgent_answer(self) -> bool:
        """An urgent sign that is not negated and not a general risk question."""
        return self.kind is MentionKind.URGENT and self.status not in (
            MentionStatus.NEGATED, MentionStatus.HYPOTHETICAL)

    @property
    def is_recorded(self) -> bool:
        """Said of the person themself, as a yes or a maybe: it counts as an answer."""
        return self.status in RECORDED_ANSWERS

    @property
    def recorded_answer(self) -> str | None:
        """The screening answer this mention gives ("yes" / "unsure"), if any."""
        return RECORDED_ANSWERS.get(self.status)

    def to_entity(self) -> dict[str, Any]:
        """The Rasa entity: the id as value, how it was said as the role."""
        return {
            "entity": self.kind.entity,
            "value": self.id,
            "role": self.status.value,
            "start": self.start,
            "end": self.end,
            "confidence_entity": 1.0,
            "extractor": EXTRACTOR_NAME,
        }

    @classmethod
    def from_entity(cls, entity: Mapping[str, Any], text: str = "") -> SafetyMention | None:
        """Read an entity of the latest message back; None if it is no safety mention.

        ``text`` is the message the entity was found in (for :attr:`text`).
        """
        kind = MentionKind.from_entity_name(str(entity.get("entity") or ""))
        value = entity.get("value")
        if kind is None or not isinstance(value, str):
            return None
        start, end = int(entity.get("start") or 0), int(entity.get("end") or 0)
        return cls(kind=kind, id=value, text=text[start:end], start=start, end=end,
                   status=MentionStatus.read(entity.get("role")))


Mention = SafetyMention  # the recogniser's name for it

# A mention in these ways is recorded as the person's answer to its question.
RECORDED_ANSWERS: dict[MentionStatus, str] = {MentionStatus.AFFIRMED: "yes",
                                              MentionStatus.UNCERTAIN: "unsure"}
