"""Typed replies to a yes / no screening question."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinic.nlu.answers import parse_answer
from clinic.rules.screening import Answer

YES, NO, UNSURE = Answer.YES, Answer.NO, Answer.UNSURE

TABLE = [
    # yes
    ("yes", YES), ("Yes", YES), ("YES!!!", YES), ("yes.", YES), ("  yes  ", YES),
    ("yeah I am", YES), ("Yeah, I am.", YES), ("yep", YES), ("yup", YES), ("yesss", YES),
    ("ya", YES), ("I do", YES), ("I do.", YES), ("yes I have", YES), ("Yes I am", YES),
    ("absolutely", YES), ("sure", YES), ("correct", YES), ("y", YES), ("yes please", YES),
    ("yes, I take warfarin", YES),
    ("\U0001f44d", YES), ("\U0001f44d\U0001f3fd", YES), ("\u2705", YES), ("\u2714\ufe0f", YES),
    ("sí", YES), ("si", YES), ("Oui", YES),
    # no
    ("no", NO), ("No.", NO), ("NO!", NO), ("nope", NO), ("Nope!", NO), ("nah", NO),
    ("noooo", NO), ("n", NO), ("never", NO), ("Never.", NO), ("not that I know of", NO),
    ("Not that I know of.", NO), ("no, not that I know of", NO), ("I'm not", NO),
    ("I am not pregnant", NO), ("not pregnant", NO), ("I don't", NO), ("I don\u2019t take any", NO),
    ("I haven't", NO), ("I have not", NO), ("of course not", NO), ("definitely not", NO),
    ("no way", NO), ("none", NO), ("neither", NO), ("Nope, never had any of those", NO),
    ("nah I'm good", NO), ("no, but I take vitamins", NO), ("not true", NO),
    ("\U0001f44e", NO), ("\u274c", NO), ("non", NO),
    # unsure, including hedged negatives
    ("not sure", UNSURE), ("Not sure.", UNSURE), ("I'm not sure", UNSURE),
    ("I\u2019m not sure", UNSURE), ("maybe", UNSURE), ("Maybe?", UNSURE), ("idk", UNSURE),
    ("IDK", UNSURE), ("I don't know", UNSURE), ("dunno", UNSURE), ("possibly", UNSURE),
    ("can't remember", UNSURE), ("I cannot remember", UNSURE), ("I don't remember", UNSURE),
    ("I don't think so", UNSURE), ("probably not", UNSURE), ("probably", UNSURE),
    ("I think so", UNSURE), ("not really", UNSURE), ("no idea", UNSURE), ("no clue to be honest", UNSURE),
    ("i haven't a clue", UNSURE), ("not a clue", UNSURE), ("no tbh", NO),
    ("not as far as I know", UNSURE), ("Not to my knowledge", UNSURE),
    ("I'm pretty sure", UNSURE), ("kind of", UNSURE), ("sometimes", UNSURE),
    ("not anymore", UNSURE), ("I stopped last month", UNSURE), ("I used to", UNSURE),
    ("not right now", UNSURE), ("no, not sure", UNSURE), ("yes maybe", UNSURE),
    ("\U0001f937", UNSURE), ("\U0001f937\u200d\u2640\ufe0f", UNSURE), ("\U0001f914", UNSURE),
    ("no?", UNSURE), ("nope??", UNSURE),
    # not an answer
    ("", None), ("   ", None), ("?", None), ("hmm", None), ("ok", None), ("whatever", None),
    ("yes no", None), ("Yes... no", None), ("no wait yes", None), ("\U0001f44d\U0001f44e", None),
    ("how long is recovery?", None), ("How long is recovery", None),
    ("is it safe if I'm not pregnant?", None), ("what do you mean", None),
    ("maybe later, how long is recovery?", None), ("I'm fine", None),
    ("can I ask something first?", None), ("never mind", None), ("Nevermind!", None),
    ("nvm", None), ("no thanks", None), ("forget it", None), ("quit", None), ("stop", None),
    ("never mind, no", NO), ("no thanks, I'm not pregnant", NO), ("I quit", UNSURE),
]


@pytest.mark.parametrize(("text", "expected"), TABLE)
def test_parse_answer_table(text, expected):
    assert parse_answer(text) is expected


def test_the_table_covers_every_answer_and_none():
    assert {expected for _, expected in TABLE} == {YES, NO, UNSURE, None}


@pytest.mark.parametrize("value", [None, 3, ["yes"], b"yes"])
def test_parse_answer_rejects_non_text(value):
    assert parse_answer(value) is None


HEDGES = ["maybe", "not sure", "I think", "probably", "idk", "possibly", "I don't know"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["yes", "no", "yeah", "nope", "never", "I do", "I'm not"]),
             max_size=3),
    st.sampled_from(HEDGES),
    st.integers(min_value=0, max_value=3),
    st.sampled_from(["", ".", "!", "?", "..."]),
)
def test_property_a_hedge_is_never_read_as_a_clear_no(words, hedge, position, end):
    parts = list(words)
    parts.insert(min(position, len(parts)), hedge)
    text = " ".join(parts) + end
    assert parse_answer(text) in (UNSURE, None)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["yes", "yeah", "yep", "I do", "sure"]),
       st.sampled_from(["no", "nope", "nah", "never", "I don't"]),
       st.booleans())
def test_property_yes_and_no_together_are_not_an_answer(yes, no, yes_first):
    text = f"{yes}, {no}" if yes_first else f"{no}... {yes}"
    assert parse_answer(text) is None
