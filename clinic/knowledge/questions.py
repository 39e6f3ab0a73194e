"""Questions patients commonly ask (knowledge/patient_questions.yml): loaded, answered.

:func:`load_patient_questions` reads and checks the file; :func:`render_answer` gives the
answer: the article's words with their citation where the article says something, otherwise
"the clinic's article doesn't cover ..." with the clinic's own note and how to ask the
clinic. Worries after a treatment also list the warning signs to watch for. Which question a
message asks is read in :mod:`clinic.nlu.questions`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from clinic.knowledge import messages as M
from clinic.knowledge.kb import Knowledge, KnowledgeError, knowledge, knowledge_dir
from clinic.knowledge.loaders.reading import Entry, entry_list, read_yaml, unique

FILE = "patient_questions.yml"
@dataclass(frozen=True)
class PatientQuestion:
    id: str
    title: str
    patterns: tuple[re.Pattern[str], ...]
    not_when: tuple[re.Pattern[str], ...]
    answer: str
    sources: tuple[str, ...]
    subject: str
    clinic_note: str
    after_treatment: bool

    @property
    def covered(self) -> bool:
        """True when the clinic's article says something about it."""
        return bool(self.answer)


@dataclass(frozen=True)
class PatientQuestions:
    questions: tuple[PatientQuestion, ...]
    how_to_ask: str
    not_covered_generic: str
    watch_for: str

    def by_id(self, question_id: str) -> PatientQuestion:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)


def load_patient_questions(directory: Path | str | None = None,
                           k: Knowledge | None = None) -> PatientQuestions:
    directory = knowledge_dir(directory)
    k = k or knowledge()
    data, label = read_yaml(directory, FILE)
    top = Entry(data, label, "file")
    questions = []
    for index, raw in enumerate(entry_list(data, "questions", label)):
        item = Entry(raw, label, f"questions[{index}]")
        question_id = item.ident()
        item.entry = f"question '{question_id}'"
        patterns = _compile(item, "patterns")
        not_when = _compile(item, "not_when", required=False)
        answer = item.text("answer", required=False)
        sources = item.text_list("sources", required=False)
        subject = item.text("subject", required=False)
        if bool(answer) == bool(subject):
            raise item.fail("give either 'answer' (the article covers it) or 'subject' (it "
                            "does not)", "keep one of the two fields")
        if answer and not sources:
            raise item.fail("an answer from the article needs its sources",
                            "list the reference ids behind it")
        for source in sources:
            if source not in k.references:
                raise item.fail(f"source '{source}' is not in knowledge/references.yml",
                                "add the reference there or correct the id")
        questions.append(PatientQuestion(
            id=question_id, title=item.text("title"), patterns=patterns, not_when=not_when,
            answer=answer,
            sources=sources, subject=subject,
            clinic_note=item.text("clinic_note", required=False),
            after_treatment=item.flag("after_treatment"),
        ))
    unique([q.id for q in questions], label, "question")
    return PatientQuestions(tuple(questions), top.text("how_to_ask"),
                            top.text("not_covered_generic"), top.text("watch_for"))


def _compile(item: Entry, field: str, required: bool = True) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in item.text_list(field, required=required):
        try:
            compiled.append(re.compile(pattern, re.IGNORECASE))
        except re.error as error:
            raise item.fail(f"{field} {pattern!r} is not a valid regular expression "
                            f"({error})", "correct the pattern") from None
    return tuple(compiled)


@lru_cache(maxsize=1)
def patient_questions() -> PatientQuestions:
    return load_patient_questions()


def _citation(sources: tuple[str, ...], k: Knowledge) -> str:
    names = [k.references[s].short for s in sources]
    return ("Source: " if len(names) == 1 else "Sources: ") + "; ".join(names) + "."


def render_answer(question: PatientQuestion, k: Knowledge | None = None,
                  questions: PatientQuestions | None = None) -> str:
    k = k or knowledge()
    questions = questions or patient_questions()
    if question.covered:
        parts = [k.fill(question.answer)]
    else:
        parts = [k.say(M.NOT_COVERED_SUBJECT, subject=question.subject)]
        if question.clinic_note:
            parts.append(k.fill(question.clinic_note))
        parts.append(k.fill(questions.how_to_ask))
    if question.after_treatment:
        parts.append(k.fill(questions.watch_for))
    text = " ".join(parts)
    if question.covered:
        text += "\n" + _citation(question.sources, k)
    return text


def not_covered_text(k: Knowledge | None = None,
                     questions: PatientQuestions | None = None) -> str:
    """For a microneedling question nothing recognises: honest, with how to ask."""
    k = k or knowledge()
    questions = questions or patient_questions()
    return f"{k.fill(questions.not_covered_generic)} {k.fill(questions.how_to_ask)}"


def main() -> int:  # pragma: no cover - a check for the command line
    try:
        questions = load_patient_questions()
    except KnowledgeError as error:
        print(f"Knowledge check failed: {error}")
        return 1
    print(f"{len(questions.questions)} patient questions OK")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
