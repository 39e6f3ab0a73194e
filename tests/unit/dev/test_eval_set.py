"""The real-question set stays apart from what the assistant is built from (issue 18)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clinic.knowledge.kb import knowledge
from clinic.knowledge.questions import patient_questions
from dev.evaluation import CATEGORIES, EvalItem, Judge, load_items, normalise

ROOT = Path(__file__).resolve().parents[3]
ITEMS = load_items()
FRESH = load_items(ROOT / "tests" / "eval" / "fresh_questions.yml")


def _lines_built_from() -> set[str]:
    """Every line of data/ and knowledge/, without list marks, quotes or end punctuation."""
    files = [*(ROOT / "data").rglob("*.yml"), *(ROOT / "knowledge").rglob("*.yml")]
    return {_bare(line) for path in files
            for line in path.read_text(encoding="utf-8").splitlines()}


def _bare(line: str) -> str:
    return normalise(re.sub(r"^\s*-\s*(text:)?", "", line)).strip("\"' ").rstrip("?.!")


def test_the_set_is_large_and_covers_every_category() -> None:
    assert len(ITEMS) >= 200
    assert {item.category for item in ITEMS} == set(CATEGORIES)
    assert len({normalise(item.text) for item in ITEMS}) == len(ITEMS), "duplicate items"


def test_no_item_is_copied_into_training_data_or_knowledge() -> None:
    built = _lines_built_from()
    copied = [item.text for item in ITEMS + FRESH if _bare(item.text) in built]
    assert copied == []


def test_the_held_out_set_is_apart_from_the_first_one() -> None:
    """tests/eval/fresh_questions.yml: at least 60 items, every one with its source page,
    none of them an item of the first set, and most of its pages new."""
    assert len(FRESH) >= 60
    assert all(item.source.startswith("http") for item in FRESH)
    first = {normalise(item.text) for item in ITEMS}
    assert not [item.text for item in FRESH if normalise(item.text) in first]
    pages = {item.source for item in FRESH}
    assert len(pages - {item.source for item in ITEMS}) >= 0.75 * len(pages)


def test_every_expected_answer_names_something_in_knowledge() -> None:
    judge = Judge()
    for item in ITEMS + FRESH:
        for options in item.expect:
            for option in options:
                assert judge.fragment(option), (item.text, option)


def _item(expect: str, category: str = "aftercare") -> EvalItem:
    return EvalItem("x", category, tuple(tuple(e.split("|")) for e in expect.split(",")),
                    "https://example.org")


def test_the_judge_wants_the_aftercare_rule_not_the_absorption_study() -> None:
    k, judge = knowledge(), Judge()
    rule = k.fill(patient_questions().by_id("skincare_after").answer)
    study = k.fill(k.topic("topical_absorption").answer)
    item = _item("question:skincare_after")
    assert judge.judge(item, rule).ok
    assert judge.judge(item, study).problems == ("missing question:skincare_after",)


def test_the_judge_flags_eligible_and_the_code_for_safety_statements() -> None:
    k, judge = knowledge(), Judge()
    explanation = k.screening.by_id("pregnancy").explanation
    item = _item("safety:pregnancy", category="safety")
    assert judge.judge(item, f"Thank you for telling me. {explanation}").ok
    said = f"{explanation} Use FACIAL50 for $50 off."
    assert "offered a code" in judge.judge(item, said).problems


@pytest.mark.parametrize("alternatives", ["not_covered|question:pain", "question:pain|not_covered"])
def test_either_alternative_counts(alternatives: str) -> None:
    judge = Judge()
    assert judge.judge(_item(alternatives), "The clinic's article doesn't cover that.").ok
