"""Which intent the safety mentions force: a warning sign said of the person becomes
``report_urgent_symptoms``, otherwise a contraindication mentioned in any way but a clear
negation becomes ``report_contraindication`` (the component in clinic.rasa.components.safety_terms
writes it)."""

from __future__ import annotations

from typing import Any

from clinic.nlu.safety_mention import MentionKind, MentionStatus, SafetyMention

URGENT_INTENT = "report_urgent_symptoms"
CONTRAINDICATION_INTENT = "report_contraindication"
# Statuses that make the assistant react (record, explain or check back).
CONTRAINDICATION_TRIGGERS = frozenset(MentionStatus) - {MentionStatus.NEGATED}
# Warning signs: over-warn rather than under-warn; only a clear "no" or a general question
# about risks does not trigger the urgent answer.
URGENT_TRIGGERS = frozenset(MentionStatus) - {MentionStatus.NEGATED, MentionStatus.HYPOTHETICAL}


def mentions_to_entities(mentions: list[SafetyMention]) -> list[dict[str, Any]]:
    """Rasa entity dicts for the recogniser's mentions."""
    return [m.to_entity() for m in mentions]


def safety_intent(mentions: list[SafetyMention]) -> str | None:
    """The intent the mentions force, if any (warning signs first)."""
    if any(m.kind is MentionKind.URGENT and m.status in URGENT_TRIGGERS for m in mentions):
        return URGENT_INTENT
    if any(m.kind is MentionKind.CONTRAINDICATION and m.status in CONTRAINDICATION_TRIGGERS
           for m in mentions):
        return CONTRAINDICATION_INTENT
    return None
