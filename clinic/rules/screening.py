"""The pre-screening decision rules, as plain Python over the rules in ``knowledge/screening.yml``.

The rules (also written at the top of ``knowledge/screening.yml``):

1. any "yes" to a question whose outcome is ``not_suitable_now``  -> not suitable now;
2. otherwise any "yes" or "not sure"                               -> practitioner review;
3. otherwise any question without an answer                        -> incomplete;
4. otherwise (a clear "no" to every question)                      -> eligible.

So a person is eligible if and only if every question has a clear "no". "Not sure" and a
missing or unreadable answer never lead to eligible. Answers are keyed by contraindication id;
unknown keys are ignored and a value :func:`coerce_answer` cannot read counts as no answer.

Nothing clinical is written here: questions, explanations and outcome texts all come from the
knowledge files, so a clinician can change them without touching code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from clinic.knowledge.kb import Contraindication, Knowledge, Outcome, Screening
from clinic.knowledge.medicines import NOTED_KEY

# The conversation keeps every answer in one slot: {contraindication id: "yes" | "no" | "unsure"}.
ANSWERS_SLOT = "screening_answers"


class Answer(str, Enum):
    """A person's answer to one screening question ("yes" means the situation applies)."""

    YES = "yes"
    NO = "no"
    UNSURE = "unsure"


# Stored spellings of "not sure" that other parts of the system may use (button payloads,
# older slot values). Only exact stored values: free text goes through clinic.nlu.answers.
_STORED_UNSURE = frozenset({"unsure", "not_sure", "not sure", "notsure"})

# Labels of the staff summary (interface words, not clinical text).
_STAFF_LABELS = {Answer.YES: "Yes", Answer.NO: "No", Answer.UNSURE: "Not sure"}
_STAFF_NO_ANSWER = "(no answer)"


def coerce_answer(value: object) -> Answer | None:
    """Read a stored answer: an :class:`Answer` or its value ("yes", "no", "unsure").

    Case and surrounding spaces do not matter, and "not_sure" / "not sure" mean unsure.
    Anything else (None, booleans, numbers, free text) gives None, which the rules treat as
    "no answer": a value that cannot be read must never count as a "no".
    """
    if isinstance(value, Answer):
        return value
    # bool is rejected on purpose: a slot's default False must not read as a clear "no".
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text == Answer.YES.value:
        return Answer.YES
    if text == Answer.NO.value:
        return Answer.NO
    if text in _STORED_UNSURE:
        return Answer.UNSURE
    return None


@dataclass(frozen=True)
class Finding:
    """One answer that kept the person from "eligible"."""

    rule: Contraindication
    answer: Answer  # YES or UNSURE


@dataclass(frozen=True)
class ScreeningResult:
    """The outcome of a screening, with the answers that led to it."""

    outcome: Outcome
    findings: tuple[Finding, ...]
    unanswered: tuple[str, ...]

    @property
    def eligible(self) -> bool:
        """True only when every question was answered with a clear "no"."""
        return self.outcome is Outcome.ELIGIBLE

    def reasons(self, kb: Knowledge) -> list[str]:
        """One plain-words reason per finding, in question order, from the knowledge."""
        reasons: list[str] = []
        for finding in self.findings:
            parts = [finding.rule.explanation]
            if finding.answer is Answer.UNSURE:
                parts.append(kb.screening.unsure_reason)
            elif finding.rule.outcome is Outcome.NOT_SUITABLE_NOW:
                parts.append(finding.rule.what_would_change)
            reasons.append(kb.fill(" ".join(parts)))
        return reasons

    def patient_message(self, kb: Knowledge) -> str:
        """What the person is told: the outcome text with its reasons, and the disclaimer.

        Every sentence comes from ``knowledge/``: the outcome text of screening.yml with
        ``{reasons}`` filled by each finding's explanation (plus what would change it for a
        "not suitable now" answer, or the "not sure" sentence), then the clinic disclaimer
        wherever suitability is discussed.
        """
        reasons = self.reasons(kb)
        listed = "".join(f"\n- {reason}" for reason in reasons)
        text = kb.fill(kb.screening.outcomes[self.outcome], reasons=listed)
        if self.outcome is Outcome.INCOMPLETE:
            # No suitability statement is made, so no disclaimer is needed.
            return text
        return f"{text}\n\n{kb.clinic.disclaimer}"

    def staff_summary(self, kb: Knowledge, answers: Mapping[str, object]) -> str:
        """Every question with the person's answer, then the outcome, for the clinic's staff."""
        lines: list[str] = []
        for number, rule in enumerate(kb.screening.contraindications, start=1):
            answer = coerce_answer(answers.get(rule.id))
            label = _STAFF_LABELS[answer] if answer is not None else _STAFF_NO_ANSWER
            lines.append(f"{number}. {rule.question} — {label}")
        lines.append(f"Outcome: {self.outcome.value.replace('_', ' ')}")
        if self.findings:
            noted = ", ".join(
                f"{f.rule.id} ({_STAFF_LABELS[f.answer].lower()})" for f in self.findings
            )
            lines.append(f"Needs attention: {noted}")
        if self.unanswered:
            lines.append(f"Not answered: {', '.join(self.unanswered)}")
        to_note = answers.get(NOTED_KEY)
        if isinstance(to_note, list) and to_note:
            lines.append(f"Noted for the practitioner: {', '.join(str(n) for n in to_note)}")
        return "\n".join(lines)


def evaluate(answers: Mapping[str, object], screening: Screening) -> ScreeningResult:
    """Apply the screening rules to answers keyed by contraindication id.

    Values may be anything :func:`coerce_answer` reads; unreadable values and missing keys
    are "no answer", unknown keys are ignored. See the module docstring for the rules.
    """
    findings: list[Finding] = []
    unanswered: list[str] = []
    outcome: Outcome
    for rule in screening.contraindications:
        answer = coerce_answer(answers.get(rule.id))
        if answer is None:
            unanswered.append(rule.id)
        elif answer is not Answer.NO:
            findings.append(Finding(rule, answer))
    if any(f.answer is Answer.YES and f.rule.outcome is Outcome.NOT_SUITABLE_NOW
           for f in findings):
        outcome = Outcome.NOT_SUITABLE_NOW
    elif findings:
        outcome = Outcome.PRACTITIONER_REVIEW
    elif unanswered:
        outcome = Outcome.INCOMPLETE
    else:
        outcome = Outcome.ELIGIBLE
    return ScreeningResult(outcome, tuple(findings), tuple(unanswered))


def is_decided(answers: Mapping[str, object], screening: Screening) -> bool:
    """True once an answer makes microneedling "not suitable now": no further answer can
    change that outcome, so the questions stop early (rule 1 of :func:`evaluate`)."""
    return evaluate(answers, screening).outcome is Outcome.NOT_SUITABLE_NOW


def next_question(answers: Mapping[str, object], screening: Screening) -> Contraindication | None:
    """The first question, in the clinic's order, that has no readable answer yet."""
    for rule in screening.contraindications:
        if coerce_answer(answers.get(rule.id)) is None:
            return rule
    return None


def question_to_ask(answers: Mapping[str, object],
                    screening: Screening) -> Contraindication | None:
    """The question the screening asks next: None once it is decided or fully answered."""
    if is_decided(answers, screening):
        return None
    return next_question(answers, screening)


def position(rule: Contraindication, screening: Screening) -> int:
    """The question's number in the clinic's order (1 for the first)."""
    return screening.contraindications.index(rule) + 1


def answers_from_slots(slots: Mapping[str, object], screening: Screening) -> dict[str, object]:
    """Answers keyed by contraindication id, read from the conversation's slots.

    They are kept in one slot, ``screening_answers`` (a mapping of id to answer); ids
    unknown to ``screening`` are dropped and a missing or malformed slot means no answers.
    """
    stored = slots.get(ANSWERS_SLOT)
    if not isinstance(stored, Mapping):
        return {rule.id: None for rule in screening.contraindications}
    answers = {rule.id: stored.get(rule.id) for rule in screening.contraindications}
    # What was noted for the practitioner (clinic.knowledge.medicines) travels with the answers.
    if isinstance(stored.get(NOTED_KEY), list):
        answers[NOTED_KEY] = stored[NOTED_KEY]
    return answers
