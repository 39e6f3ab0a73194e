"""What people ask about their own visit, and what short replies mean at each self-service
prompt (clinic.nlu.visit_request, pure)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinic.nlu import visit_request as V

LA = ZoneInfo("America/Los_Angeles")
NOW = dt.datetime(2031, 3, 3, 8, tzinfo=LA)  # Monday 8 am
OFFERED = [dt.datetime(2031, 3, 7, 14, tzinfo=LA), dt.datetime(2031, 3, 7, 15, tzinfo=LA)]


@pytest.mark.parametrize("text, wanted", [
    ("when is my appointment?", V.WHEN),
    ("what time is my visit tomorrow", V.WHEN),
    ("is my booking confirmed yet", V.WHEN),
    ("can I move it to Friday?", V.MOVE),
    ("can i change my time to friday?", V.MOVE),
    ("need to reschedule, something came up", V.MOVE),
    ("could we push it back a week", V.MOVE),
    ("I can't make it on tuesday, can we do thursday instead?", V.MOVE),
    ("how do I cancel my appointment", V.CANCEL),
    ("please cancel", V.CANCEL),
    ("how do I cancel?", V.CANCEL),
    ("is it possible to reschedule?", V.MOVE),
    ("I won't be able to come", V.CANCEL),
    ("what happens next?", V.NEXT),
    ("ok so what's next", V.NEXT),
    ("I'm running late", V.LATE),
    ("stuck in traffic, be there in 10", V.LATE),
    ("gonna be 5 minutes late sorry", V.LATE),
])
def test_the_change_wanted(text: str, wanted: str) -> None:
    assert V.read_request(text) == wanted


@pytest.mark.parametrize("text", [
    "how do I cancel my appointment", "can i change my time to friday?", "what happens next?",
    "when is my appointment", "do I have an appointment with you", "I'm running late",
    "my appointment needs to be cancelled", "is my visit still on?", "I need to reschedule",
    "I can't make my appointment", "please move my facial booking to monday",
    "when am I booked for", "what time am I coming in",
    # asking how, with no visit named
    "how do I cancel?", "How do I cancel", "how can i reschedule", "is it possible to reschedule?",
    "what if I need to cancel", "ok how do I cancel it?", "can I reschedule?",
    "could we postpone", "how to cancel", "what happens if i have to cancel?",
])
def test_about_ones_own_visit(text: str) -> None:
    assert V.about_own_visit(text)


@pytest.mark.parametrize("text", [
    "what is microneedling", "when can I go back to serum after my session",
    "can I change my skincare after my session", "what should i not do after my appointment",
    "how should i prepare for my appointment", "can I cancel the booking questions",
    "I want to book an appointment", "what happens after microneedling", "stop",
    "can I stop using retinol before my appointment",
    # stopping what is under way, or changing an answer, is not the visit
    "cancel", "can I cancel?", "can I change it?", "can I change my answer",
    "how do I change my skincare routine", "how do I cancel the texts",
])
def test_not_about_ones_own_visit(text: str) -> None:
    assert not V.about_own_visit(text)


@pytest.mark.parametrize("text, after, wanted", [
    ("C", False, V.CONFIRM), ("confirm", False, V.CONFIRM), ("yes", True, V.CONFIRM),
    ("yes", False, None), ("R", False, V.MOVE), ("RESCHEDULE", False, V.MOVE),
    ("x", False, V.CANCEL), ("CANCEL VISIT", False, V.CANCEL),
    # bare CANCEL is an opt-out word for carriers and Twilio: never a visit cancellation
    ("CANCEL", True, None), ("STOP", True, None), ("hello", True, None),
])
def test_reminder_replies(text: str, after: bool, wanted: str | None) -> None:
    assert V.reminder_reply(text, after_reminder=after) == wanted


def test_the_reference_and_number_are_read_together() -> None:
    both = V.read_identity("my ref is mn 7k3q9p and my number is (415) 555-2671")
    assert both == V.Identity("MN-7K3Q9P", "+14155552671")
    assert V.read_identity("7K3Q9P +1 415 555 2671") == V.Identity("MN-7K3Q9P", "+14155552671")
    assert V.read_identity("MN-7K3Q9P") == V.Identity("MN-7K3Q9P", None)
    assert V.read_identity("friday works") == V.Identity(None, None)


@pytest.mark.parametrize("step", V.STEPS)
@pytest.mark.parametrize("text, meaning", [
    ("yes", V.YES), ("ok", V.YES), ("no", V.NO), ("stop", V.STOP), ("?", V.HELP),
    ("/affirm", V.YES), ("/deny", V.NO),
])
def test_short_replies_at_every_prompt(step: str, text: str, meaning: str) -> None:
    reply = V.read_step_reply(step, text, OFFERED, NOW, LA)
    assert reply.meaning == meaning


def test_replies_at_each_step() -> None:
    pick = V.read_step_reply(V.MOVE_PICK, "the second one", OFFERED, NOW, LA)
    assert (pick.meaning, pick.start) == (V.CHOSEN, OFFERED[1])
    other = V.read_step_reply(V.MOVE_PICK, "thursday morning instead", OFFERED, NOW, LA)
    assert other.meaning == V.WINDOW and other.window is not None
    assert other.window.weekdays == frozenset({3})
    assert V.read_step_reply(V.MOVE_PICK, "none of them", OFFERED, NOW, LA).meaning == V.NO
    assert V.read_step_reply(V.MOVE_WHEN, "next week mornings", [], NOW, LA).meaning == V.WINDOW
    assert V.read_step_reply(V.MOVE_WHEN, "blue", [], NOW, LA).meaning == V.UNCLEAR
    assert V.read_step_reply(V.CONFIRM_CANCEL, "yes cancel it", [], NOW, LA).meaning == V.YES
    assert V.read_step_reply(V.CONFIRM_CANCEL, "don't cancel", [], NOW, LA).meaning != V.YES
    # a "yes" turned into the reminder's confirm payload still answers the cancel question
    payload = '/manage_visit{"visit_request": "confirm"}'
    assert V.read_step_reply(V.CONFIRM_CANCEL, payload, [], NOW, LA).meaning == V.YES
    assert V.read_step_reply(V.MOVE_WHEN, payload, [], NOW, LA).meaning == V.UNCLEAR
    verify = V.read_step_reply(V.VERIFY, "MN-7K3Q9P 415 555 2671", [], NOW, LA)
    assert verify.meaning == V.IDENTITY
    assert V.read_step_reply(V.VERIFY, "MN-7K3Q9P", [], NOW, LA).meaning == V.PARTIAL_IDENTITY
