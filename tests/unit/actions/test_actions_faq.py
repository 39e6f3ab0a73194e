"""FAQ, contact and fallback actions: answers come from knowledge with their sources."""

from __future__ import annotations

import pytest

from actions.faq import ActionAnswerFaq, ActionFallback, ActionHandoff, ActionOutOfScope
from clinic.knowledge.kb import knowledge
from tests.support.actions import make_tracker, run_action, texts

K = knowledge()


@pytest.mark.parametrize("topic", K.topics, ids=lambda t: t.id)
def test_every_topic_answers_with_its_citation(topic) -> None:
    events, dispatcher = run_action(ActionAnswerFaq(), make_tracker("q", intent=topic.intent))
    assert events == []
    answer = texts(dispatcher)
    assert answer.startswith(K.fill(topic.answer)[:60])
    for source in topic.sources:
        assert K.references[source].short in answer
    if topic.list_references:
        for ref in K.references.values():
            assert ref.citation in answer
    titles = [b["title"] for m in dispatcher.messages for b in m.get("buttons") or []]
    assert titles == [K.topic(r).title for r in topic.related]


def test_acne_scar_answer_cites_majid() -> None:
    _, dispatcher = run_action(ActionAnswerFaq(), make_tracker("acne scars?",
                                                               intent="ask_acne_scars"))
    assert "Source: Majid, 2014." in texts(dispatcher)
    assert "80%" in texts(dispatcher)


def test_unknown_intent_gets_honest_answer_not_invention() -> None:
    _, dispatcher = run_action(ActionAnswerFaq(), make_tracker("?", intent="greet"))
    assert "don't have an answer" in texts(dispatcher)
    assert K.clinic.phone in texts(dispatcher)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("microneedling " * 400, "long message"),
        ("😀😀🎉", "only read words"),
        ("<script>alert(1)</script>", "plain text"),
        ("¿Qué es el microneedling y cuánto cuesta?", "only chat in English"),
        ("Wie lange dauert die Heilung danach", "only chat in English"),
        ("blorp the zingle", "didn't quite understand"),
        ("see [this](javascript:alert(2)) or https://example.org/page.", "didn't quite understand"),
        ("Wie lange dauert die Heilung danach noch", "only chat in English"),
    ],
)
def test_fallback_says_what_went_wrong(message: str, expected: str) -> None:
    _, dispatcher = run_action(ActionFallback(), make_tracker(message, intent="nlu_fallback",
                                                              confidence=0.2))
    assert expected in texts(dispatcher)
    assert dispatcher.messages[0]["buttons"], "offers a way forward"


def test_out_of_scope_is_honest_and_gives_contact() -> None:
    _, dispatcher = run_action(ActionOutOfScope(), make_tracker("what's the weather",
                                                                intent="out_of_scope"))
    text = texts(dispatcher)
    assert "can't help with that here" in text
    assert K.clinic.phone in text and K.clinic.email in text


@pytest.mark.parametrize("message", ["can i drink alcohol afterwards",
                                     "will it make my cellulite go away"])
def test_out_of_scope_about_the_treatment_says_the_article_does_not_cover_it(message) -> None:
    # "can i drink alcohol afterwards" was answered "I can't help with that here".
    from clinic.knowledge.questions import not_covered_text

    _, dispatcher = run_action(ActionOutOfScope(), make_tracker(message, intent="out_of_scope"))
    assert texts(dispatcher).startswith(not_covered_text(K))
    assert "can't help with that here" not in texts(dispatcher)


@pytest.mark.parametrize("message", ["is it vegan", "does this treatment use animal products?"])
def test_an_unclear_question_about_the_treatment_is_not_covered_not_misunderstood(message):
    # "is it vegan" got "Sorry, I didn't quite understand".
    from clinic.knowledge.questions import not_covered_text

    _, dispatcher = run_action(ActionFallback(), make_tracker(message, intent="nlu_fallback",
                                                              confidence=0.3))
    assert texts(dispatcher).startswith(not_covered_text(K))


def test_handoff_gives_clinic_contact() -> None:
    _, dispatcher = run_action(ActionHandoff(), make_tracker("human", intent="human_handoff"))
    assert K.clinic.phone in texts(dispatcher)


def _at(monkeypatch, local: str) -> None:
    import datetime as dt

    from clinic.config.settings import settings
    from clinic.rules import hours

    moment = dt.datetime.fromisoformat(local).replace(tzinfo=settings().tz)
    monkeypatch.setattr(hours, "now", lambda: moment)


def test_handoff_in_opening_hours_offers_staff_reply_here(monkeypatch) -> None:
    _at(monkeypatch, "2026-12-02T11:00")  # a Wednesday morning
    _, dispatcher = run_action(ActionHandoff(), make_tracker("human", intent="human_handoff"))
    text = texts(dispatcher)
    assert "A member of staff can reply here during opening hours" in text
    assert K.clinic.hours in text and K.clinic.phone in text
    assert "closed" not in text


def test_handoff_outside_hours_says_when_and_gives_phone(monkeypatch) -> None:
    _at(monkeypatch, "2026-12-05T20:00")  # Saturday evening: next is Monday 9 am
    _, dispatcher = run_action(ActionHandoff(), make_tracker("human", intent="human_handoff"))
    text = texts(dispatcher)
    assert "closed now" in text and "Monday at 9 am" in text
    assert K.clinic.phone in text
