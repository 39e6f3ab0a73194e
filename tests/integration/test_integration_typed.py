"""Typed, not clicked: whole conversations through the real servers (issue 11)."""

from __future__ import annotations

import uuid

import pytest

from clinic.knowledge.kb import knowledge

pytestmark = pytest.mark.integration
K = knowledge()
QUESTIONS = len(K.screening.contraindications)


def sender() -> str:
    return f"ty-{uuid.uuid4().hex[:10]}"


def screen_all_no(s, who: str, first: str = "am I a good candidate?") -> str:
    s.texts(who, first)
    last = ""
    for _ in range(QUESTIONS):
        last = s.texts(who, "no")
    return last


def test_typed_yes_after_the_outcome_starts_the_booking(assistant_servers) -> None:
    s, who = assistant_servers, sender()
    assert "request an appointment" in screen_all_no(s, who)
    assert "name" in s.texts(who, "yes please").lower()


def test_typed_not_now_after_the_outcome_declines(assistant_servers) -> None:
    s, who = assistant_servers, sender()
    screen_all_no(s, who)
    assert "No problem" in s.texts(who, "not now")


def test_pause_then_typed_continue_and_yes_resume_the_questions(assistant_servers) -> None:
    s, who = assistant_servers, sender()
    s.texts(who, "am I a good candidate?")
    assert "Got it: no." in s.texts(who, "no")
    assert "carry on" in s.texts(who, "pause").lower()
    assert "Question 2 of" in s.texts(who, "sure")
    s.texts(who, "pause")
    s.texts(who, "what is microneedling?")
    assert "Question 2 of" in s.texts(who, "continue")


def test_continue_with_nothing_started_says_so(assistant_servers) -> None:
    assert "haven't started" in assistant_servers.texts(sender(), "continue")


def test_go_back_and_i_meant_yes_change_the_last_answer(assistant_servers) -> None:
    s, who = assistant_servers, sender()
    s.texts(who, "am I a good candidate?")
    s.texts(who, "no")
    text = s.texts(who, "go back")
    assert "Question 1 of" in text
    s.texts(who, "no")
    s.texts(who, "no")  # question 2
    text = s.texts(who, "no, I meant yes")
    assert "changed that answer" in text and '"yes"' in text


def test_codes_typed_before_screening_get_an_answer_about_that_code(assistant_servers) -> None:
    s = assistant_servers
    assert "don't recognise the code SAVE10" in s.texts(sender(), "SAVE10")
    assert "don't recognise the code FACIAL20" in s.texts(sender(), "i have code FACIAL20")
    who = sender()
    replies = s.chat(who, "FACIAL50")
    assert "suitability questions first" in replies[0]["text"]
    assert any(b["payload"] == "/check_eligibility" for b in replies[0].get("buttons", []))
    assert "Question 1 of" in s.texts(who, "ok")


def test_other_scripts_and_gibberish_are_never_a_yes(assistant_servers) -> None:
    s = assistant_servers
    for message in ("你好，我想预约", "안녕하세요", "Здравствуйте, сколько стоит"):
        text = s.texts(sender(), message)
        assert "only chat in English" in text and K.clinic.phone in text
    for message in ("aaaaaa", "asdfgh", "x"):
        text = s.texts(sender(), message)
        assert "didn't catch that" in text and "Great!" not in text


def test_common_questions_answered_honestly(assistant_servers) -> None:
    s = assistant_servers
    assert "doesn't cover" in s.texts(sender(), "will the needles hurt a lot")
    assert "Aust et al., 2008" in s.texts(sender(), "how many treatments would I have to get")
    text = s.texts(sender(), "my cheeks are still quite red the day after, normal?")
    assert "doesn't cover" in text and "urgent medical care" in text


def _book_to_summary(s, who: str, phone: str) -> str:
    screen_all_no(s, who, "I want to book")
    s.texts(who, "Ana Lee")
    s.texts(who, phone)
    s.texts(who, "skip")
    assert "days and times" in s.texts(who, "the facial one")
    return _finish_details(s, who)


def _finish_details(s, who: str) -> str:
    text = s.texts(who, "yes")  # "yes" is no time: asked again with an example
    assert "as soon as possible" in text
    text = s.texts(who, "FACIAL20")
    assert "FACIAL20" in text
    s.texts(who, "asap")
    return s.texts(who, "no")  # no aftercare texts -> the summary


def test_summary_and_confirmation_agree_when_the_number_already_redeemed(assistant_servers) -> None:
    s, phone = assistant_servers, "(628) 555-0142"
    first = sender()
    summary = _book_to_summary(s, first, phone)
    offer = f"{K.promotion('FACIAL50').description} with FACIAL50"
    assert offer in summary
    confirmation = s.texts(first, "yes")
    assert "applied to your request" in confirmation

    again = sender()
    summary = _book_to_summary(s, again, phone)
    assert offer not in summary
    assert "already been used" in summary
    confirmation = s.texts(again, "yes")
    assert "already been used" in confirmation and "applied to your request" not in confirmation


def test_booking_treatment_in_everyday_words(assistant_servers) -> None:
    s, who = assistant_servers, sender()
    screen_all_no(s, who, "I want to book")
    s.texts(who, "Sam Park")
    s.texts(who, "(415) 555-0188")
    s.texts(who, "skip")
    assert "days and times" in s.texts(who, "scalp")
