"""SMS keywords (STOP/START/HELP, plain-language stop requests) and SMS formatting."""

from __future__ import annotations

import pytest

from clinic.knowledge.kb import knowledge
from clinic.nlu import sms_keywords as keywords
from clinic.nlu.sms_keywords import Keyword
from clinic.sms.format import button_for_reply, number_reply, plain_text, sms_bodies

STOP_TEXTS = [
    "STOP", "stop", "Stop.", " stop! ", "STOPALL", "stop all", "UNSUBSCRIBE", "Cancel",
    "END", "quit", "Stop please", "please STOP", "stop, thank you",
    "please stop texting me", "Stop texting me!!", "stop sending me these messages",
    "no more texts please", "Please stop the reminders", "don't text me again",
    "Do not message me", "I don't want these texts anymore", "unsubscribe me",
    "opt me out", "How do I opt out?", "remove me from your list", "take me off this list",
    "Stop messaging me, thanks", "leave me alone", "stop it", "Please stop this!",
]
START_TEXTS = ["START", "start", "Unstop", "UNSTOP please"]
HELP_TEXTS = ["HELP", "help", "Info", "INFO please", "help!"]
ASSISTANT_TEXTS = [
    "can I stop using my serum?",
    "When can I stop wearing sunscreen every day?",
    "should I stop my retinol before the treatment?",
    "how do I stop the redness?",
    "cancel my appointment",
    "I want to cancel my booking",
    "what happens at the end of the treatment?",
    "can I quit smoking before it?",
    "I need help with redness",
    "can I wear makeup yet?",
    "Please don't stop the reminders, they help",
    "how long until the swelling will stop? it itches",
    "can I stop it with ice?",
    "yes",
    "1",
]


@pytest.mark.parametrize("text", STOP_TEXTS)
def test_stop_requests_opt_out(text: str) -> None:
    assert keywords.classify(text) is Keyword.STOP
    assert keywords.classify(text, opted_out=True) is Keyword.STOP


@pytest.mark.parametrize("text", START_TEXTS)
def test_start_words_opt_in(text: str) -> None:
    assert keywords.classify(text) is Keyword.START
    assert keywords.classify(text, opted_out=True) is Keyword.START


@pytest.mark.parametrize("text", HELP_TEXTS)
def test_help_words(text: str) -> None:
    assert keywords.classify(text) is Keyword.HELP


@pytest.mark.parametrize("text", ASSISTANT_TEXTS)
def test_questions_that_mention_stopping_are_not_opt_outs(text: str) -> None:
    assert keywords.classify(text) is Keyword.NONE


@pytest.mark.parametrize("text", ["YES", "yes", "Yes please"])
def test_yes_opts_in_only_an_opted_out_number(text: str) -> None:
    # For everyone else "yes" is an answer to the assistant's question.
    assert keywords.classify(text, opted_out=True) is Keyword.YES
    assert keywords.classify(text, opted_out=False) is Keyword.NONE


def test_keyword_replies_name_the_clinic_and_how_to_stop() -> None:
    clinic = knowledge().clinic
    help_text = keywords.help_text()
    assert clinic.name in help_text and clinic.phone in help_text and "STOP" in help_text
    stopped = keywords.opt_out_confirmation()
    assert clinic.name in stopped and "START" in stopped and "no more" in stopped
    assert clinic.name in keywords.opt_in_confirmation()
    for text in (help_text, stopped, keywords.opt_in_confirmation()):
        assert "{" not in text and len(text) <= 320


# --------------------------------------------------------------------------- formatting

YES_NO = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]


def test_buttons_become_numbered_options_across_a_turn() -> None:
    bodies = sms_bodies([
        {"recipient_id": "x", "text": "Are you pregnant?", "buttons": YES_NO},
        {"recipient_id": "x", "text": "Or pick a topic",
         "buttons": [{"title": "**Costs**", "payload": "/ask_cost"}]},
    ])
    assert bodies == ["Are you pregnant?\nReply 1 for Yes, 2 for No.",
                      "Or pick a topic\nReply 3 for Costs."]


def test_number_replies_pick_the_button_payload() -> None:
    turn = YES_NO + [{"title": "Costs", "payload": "/ask_cost"}]
    assert button_for_reply("1", turn) == "/affirm"
    assert button_for_reply(" 2. ", turn) == "/deny"
    assert button_for_reply("#3", turn) == "/ask_cost"
    assert button_for_reply("4", turn) is None
    assert button_for_reply("0", turn) is None
    assert button_for_reply("1 more question", turn) is None
    assert button_for_reply("1", []) is None
    assert number_reply("12") == 12 and number_reply("one") is None


def test_markdown_links_are_readable_in_sms() -> None:
    assert plain_text("Book at [our page](https://example.com/book), **today**") == \
        "Book at our page: https://example.com/book, today"
