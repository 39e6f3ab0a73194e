"""The staff inbox's safety net (issue 22): a conversation in which the patient disclosed a
contraindication that the screening answers did not end with is flagged, whatever else
happened; one whose answers hold the disclosure is not flagged for it."""

from __future__ import annotations

import datetime as dt

import pytest
from rasa.shared.core.events import UserUttered

from clinic.console import inbox
from clinic.knowledge.kb import knowledge
from clinic.nlu.safety_mention import MentionKind, MentionStatus, SafetyMention
from clinic.store import rasa_events as tracker
from clinic.store.rasa_events import load_events
from dev.bench.console_seed import Conversation, write

DAY0 = dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.timezone.utc).timestamp()
K = knowledge()


@pytest.fixture()
def console_db(clinic_db, tmp_path):
    tracker.dispose()
    yield f"sqlite:///{tmp_path / 'tracker.db'}"
    tracker.dispose()


def said(conversation: Conversation, text: str, rule_id: str, status: MentionStatus,
         intent: str = "report_contraindication") -> Conversation:
    """A patient message with the safety component's entity for ``rule_id``."""
    mention = SafetyMention(MentionKind.CONTRAINDICATION, rule_id, text, 0, len(text), status)
    conversation.clock += 3.0
    conversation.events.append(UserUttered(
        text, intent={"name": intent, "confidence": 1.0},
        parse_data={"intent": {"name": intent, "confidence": 1.0},
                    "entities": [mention.to_entity()], "text": text},
        input_channel=conversation.channel,
        timestamp=conversation.start + conversation.clock))
    return conversation


def events_of(url: str, conversation: Conversation):
    write(url, [conversation])
    return load_events([conversation.sender_id])[conversation.sender_id]


def all_no() -> dict[str, str]:
    return {rule.id: "no" for rule in K.screening.contraindications}


@pytest.mark.parametrize("rule", K.screening.contraindications, ids=lambda r: r.id)
@pytest.mark.parametrize("status", [MentionStatus.AFFIRMED, MentionStatus.UNCERTAIN])
def test_a_disclosure_the_answers_left_out_is_flagged(console_db, rule, status) -> None:
    c = said(Conversation(f"lost-{rule.id}-{status}", start=DAY0),
             "no. oh btw ...", rule.id, status)
    c.action("action_screening_outcome").slot("screening_answers", all_no()) \
        .slot("screening_outcome", "eligible").action("action_submit_booking")
    events = events_of(console_db, c)
    assert inbox.unrecorded_disclosures(events) == [rule.id]
    assert inbox.DISCLOSURE in inbox.reasons(events)


def test_a_disclosure_the_answers_hold_is_not_flagged_for_it(console_db) -> None:
    rule = K.screening.contraindications[0]
    c = said(Conversation("kept", start=DAY0), "I have it", rule.id, MentionStatus.AFFIRMED)
    c.slot("screening_answers", {**all_no(), rule.id: "yes"})
    assert inbox.unrecorded_disclosures(events_of(console_db, c)) == []


@pytest.mark.parametrize("status", [MentionStatus.NEGATED, MentionStatus.THIRD_PARTY,
                                    MentionStatus.HYPOTHETICAL])
def test_a_no_or_someone_else_or_a_general_question_is_no_disclosure(console_db,
                                                                      status) -> None:
    rule = K.screening.contraindications[0]
    c = said(Conversation(f"not-{status}", start=DAY0), "...", rule.id, status)
    c.slot("screening_answers", all_no())
    events = events_of(console_db, c)
    assert inbox.unrecorded_disclosures(events) == []
    assert inbox.DISCLOSURE not in inbox.reasons(events)


def test_the_inbox_lists_it_even_after_a_hand_back(console_db) -> None:
    from rasa.shared.core.events import ConversationPaused, ConversationResumed

    rule = K.screening.contraindications[0]
    c = said(Conversation("listed", start=DAY0), "I'm expecting", rule.id,
             MentionStatus.AFFIRMED)
    c.slot("screening_answers", all_no())
    c.events += [ConversationPaused(timestamp=DAY0 + 100),
                 ConversationResumed(timestamp=DAY0 + 200)]
    write(console_db, [c])
    rows = inbox.list_conversations("needs", now=dt.datetime.fromtimestamp(
        DAY0 + 300, dt.timezone.utc))
    assert [(row.sender_id, row.reasons) for row in rows] == [("listed", [inbox.DISCLOSURE])]
