"""The walk-through test stories are written from the knowledge (tests/support/story_build.py)."""

from __future__ import annotations

import pytest
import yaml

from clinic.knowledge.kb import OUTCOME_NOT_SUITABLE_NOW, OUTCOME_PRACTITIONER_REVIEW, load_knowledge
from tests.support import story_build
from tests.support.knowledge_copy import with_extra_contraindication
from tests.support.story_build import StoryBuildError, answer_steps, build


def stories(k) -> dict[str, list[dict]]:
    text = build(k, story_build.TEMPLATE.read_text(encoding="utf-8"))
    return {s["story"]: s["steps"] for s in yaml.safe_load(text)["stories"]}


def answers_in(steps: list[dict]) -> list[str]:
    return [s["intent"] for s in steps if s.get("intent") in ("affirm", "deny", "unsure")]


def test_the_committed_stories_are_current() -> None:
    assert story_build.main(["--check"]) == 0


def test_a_walk_through_answers_every_question() -> None:
    k = load_knowledge()
    steps = answer_steps({}, k, "t")
    assert answers_in(steps) == ["deny"] * len(k.screening.contraindications)
    assert steps[1] == {"action": "screening_form"}


def test_one_branch_story_per_contraindication_and_early_stop() -> None:
    k = load_knowledge()
    built = stories(k)
    for rule in k.screening.contraindications:
        steps = built[f"branch {rule.id} answered yes"]
        given = answers_in(steps)
        position = [r.id for r in k.screening.contraindications].index(rule.id)
        assert given[position] == "affirm"
        if rule.outcome == OUTCOME_NOT_SUITABLE_NOW:
            assert len(given) == position + 1  # the questions stop there
        else:
            assert rule.outcome == OUTCOME_PRACTITIONER_REVIEW
            assert len(given) == len(k.screening.contraindications)


def test_a_12th_contraindication_lengthens_every_walk_through(tmp_path) -> None:
    before = stories(load_knowledge())
    k12 = load_knowledge(with_extra_contraindication(tmp_path))
    after = stories(k12)
    new = k12.screening.contraindications[-1]
    assert f"branch {new.id} answered yes" in after
    walk = "eligible walk-through with typed answers"
    assert len(answers_in(after[walk])) == len(answers_in(before[walk])) + 1


def test_unknown_fields_and_ids_are_refused() -> None:
    k = load_knowledge()
    with pytest.raises(StoryBuildError, match="unknown"):
        answer_steps({"answerd": 1}, k, "t")
    with pytest.raises(StoryBuildError, match="not a contraindication"):
        answer_steps({"affirm": "nothing_like_this"}, k, "t")
