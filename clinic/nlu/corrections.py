"""Taking an answer back after the screening ended (issues 18 and 22).

A slip that decided the outcome ("yep" by mistake to the question that rules someone out)
must not stand when the person says so right after: "wait I meant no", "go back", "I have
NOT had any surgery" (a clear no to the question answered last), "start over" or "redo the
safety questions". :func:`correction` decides, as plain Python over the answers, what the
new answers are; the actions then run the screening again, so the outcome, the booking gate
and the promotion follow the new answers.

Mid-way through the questions the screening form does the same for "go back" and "I meant
yes" (actions/screening.py); this is the same rule for after the last question.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import Enum

from clinic.knowledge.kb import Screening
from clinic.nlu.input_kind import is_go_back, is_restart, meant_answer
from clinic.rules.screening import Answer, coerce_answer


class CorrectionKind(str, Enum):
    RESTART = "restart"  # every answer dropped: the questions start again from the first
    CHANGED = "changed"  # the last answered question now has the answer the person meant
    REOPENED = "reopened"  # the last answered question is asked again


@dataclass(frozen=True)
class Correction:
    kind: CorrectionKind
    answers: dict[str, object]
    question_id: str | None = None
    answer: Answer | None = None


def correction(text: str, answers: Mapping[str, object], last_id: str | None,
               screening: Screening, negated_ids: Collection[str] = ()) -> Correction | None:
    """The answers after a correction typed once the questions ended; None if ``text`` is no
    correction (or there is nothing to correct).

    ``last_id`` is the question answered last (slot ``screen_last``); ``negated_ids`` are the
    contraindications the message clearly denies ("I have NOT had any surgery or botox").
    A denial only corrects the last answered question, and only a "yes" or "not sure": a
    "no" needs no correcting and an earlier answer is not changed by a passing remark.
    """
    new = dict(answers)
    if is_restart(text):
        if not any(coerce_answer(value) is not None for value in answers.values()):
            return None
        return Correction(CorrectionKind.RESTART, {rule.id: None
                                                   for rule in screening.contraindications})
    if not last_id or coerce_answer(answers.get(last_id)) is None:
        return None
    meant = coerce_answer(meant_answer(text))
    if meant is not None:
        if meant is coerce_answer(answers.get(last_id)):
            return None  # "I mean no" to an offer, with "no" already the answer
        new[last_id] = meant.value
        return Correction(CorrectionKind.CHANGED, new, last_id, meant)
    if is_go_back(text):
        new[last_id] = None
        return Correction(CorrectionKind.REOPENED, new, last_id)
    if last_id in negated_ids and coerce_answer(answers.get(last_id)) in (Answer.YES,
                                                                          Answer.UNSURE):
        new[last_id] = Answer.NO.value
        return Correction(CorrectionKind.CHANGED, new, last_id, Answer.NO)
    return None
