"""Which patient question a message asks (the patterns of knowledge/patient_questions.yml,
first match in file order: :func:`match_question`), and whether a message is about the
treatment at all: microneedling named, or "it" asked about (:func:`about_microneedling`,
:func:`asks_about_it`, :func:`asks_what_it_does`)."""

from __future__ import annotations

import re

from clinic.knowledge.kb import Knowledge, knowledge
from clinic.knowledge.questions import PatientQuestion, PatientQuestions, patient_questions

# Words that make a message about microneedling (vocabulary.yml adds its treatment terms).
_MICRONEEDLING = re.compile(r"\b(micro ?-?needl\w*|derma ?-?(roller|pen|stamp)\w*|needling|"
                            r"collagen induction|treatment|procedure|session)\b", re.IGNORECASE)


def match_question(text: str, questions: PatientQuestions | None = None) -> PatientQuestion | None:
    """The first question one of whose patterns matches the message and none of whose
    ``not_when`` patterns does, or None."""
    questions = questions or patient_questions()
    text = text or ""
    for question in questions.questions:
        if any(p.search(text) for p in question.patterns) and \
                not any(p.search(text) for p in question.not_when):
            return question
    return None


# A question opening on the treatment being talked about: "so, is it ...", "can this ...".
_IT_LEAD = r"^\W*(?:(?:so|and|but|ok|okay|hmm|um|also)[\s,]+)?"

# "can it help my saggy jawline", "will this hurt": a question about what "it" (the
# treatment being talked about) does is about the clinic's subject, whatever the other words.
_ABOUT_IT = re.compile(
    _IT_LEAD + r"(?:can|could|will|would|does|do|did|might|may|is) (?:it|this|that|"
    r"this treatment|the treatment|they|these|those) "
    r"(?:\w+ ){0,2}?(?:help|work|fix|reduce|improve|get rid|treat|make|tighten|lift|clear|"
    r"fade|remove|smooth|firm|plump|even out|shrink|minimi[sz]e|lighten|hurt|sting|bleed|"
    r"last|cause|affect|do anything)\b", re.IGNORECASE)

# "can I drink alcohol afterwards", "after my session": the time around a treatment.
_AROUND_IT = re.compile(
    r"\b(?:afterwards|beforehand|(?:after|before) (?:it|this|microneedling|treatment|"
    r"(?:the|my|a|each|every|your) (?:treatment|session|procedure|appointment|microneedling|"
    r"visit))|post ?-?(?:treatment|procedure|care|session))\b", re.IGNORECASE)

# "is it vegan?", "does this treatment contain anything animal?": a question whose subject is
# the treatment being talked about.
_IT_QUESTION = re.compile(
    _IT_LEAD + r"(?:is|are|does|do|did|will|would|can|could|should|has|have) (?:it|this|that|"
    r"this treatment|the treatment|microneedling|they)\b", re.IGNORECASE)


def asks_about_it(text: str) -> bool:
    """A question whose subject is "it" (the treatment in the conversation), or about what
    it does or the time around it."""
    return bool(_IT_QUESTION.search(text or "")) or asks_what_it_does(text)


def asks_what_it_does(text: str) -> bool:
    """A question about what "it" (the treatment in the conversation) does, or about the
    time before or after it."""
    return bool(_ABOUT_IT.search(text or "") or _AROUND_IT.search(text or ""))


def about_microneedling(text: str, k: Knowledge | None = None) -> bool:
    """True if the message is about microneedling (its name, a device or "the treatment")."""
    if _MICRONEEDLING.search(text or ""):
        return True
    k = k or knowledge()
    lowered = (text or "").lower()
    terms = k.vocabulary.get("treatments", {}).get("microneedling", ())
    return any(re.search(r"\b" + re.escape(term.lower()) + r"\b", lowered) for term in terms)
