"""First-person disclosures generated from knowledge/screening.yml (issue 22).

Every not-now and review contraindication, said by the person about themself, in every
form (a statement, a question, an aside after an answer, hedged), to be placed at every
position of a conversation (before the screening, at each question, at the booking
summary). Nothing here names a contraindication: the terms and questions come from the
knowledge the tests are given, so a 12th contraindication added in screening.yml alone is
covered as it stands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clinic.knowledge.kb import Contraindication, Knowledge, Outcome

# How a person says it; {term} is one of the contraindication's own terms.
FORMS: dict[str, tuple[str, ...]] = {
    "statement": ("just so you know, I have {term}", "I have {term}.",
                  "I HAVE {term}"),
    "question": ("I have {term}, does that matter?", "is it a problem that I have {term}?",
                 "can I still get it if I have {term}?", "my {term} - is that ok?"),
    "aside": ("no. oh btw I have {term}", "no, but I have {term}",
              "nope. also I have {term}, does that matter?"),
    "hedged": ("I think I might have {term}", "maybe I have {term}, not sure",
               "I'm not sure, I might have {term}"),
}
FORM_NAMES = tuple(FORMS)
BEFORE = "before the screening"
SUMMARY = "at the booking summary"
# Words that make a term a poor fit for "I have ...": it already names the person.
_NAMES_THE_PERSON = frozenset({"i", "im", "my", "we", "me", "our", "us"})


def ruled_out_by(k: Knowledge) -> list[Contraindication]:
    """The contraindications a "yes" to which rules a person out of booking as eligible."""
    return [rule for rule in k.screening.contraindications
            if rule.outcome in (Outcome.NOT_SUITABLE_NOW, Outcome.PRACTITIONER_REVIEW)]


def positions(k: Knowledge) -> list[str | int]:
    """Before the screening, each question by its number (1-based), the booking summary."""
    return [BEFORE, *range(1, len(k.screening.contraindications) + 1), SUMMARY]


def terms_for(rule: Contraindication) -> list[str]:
    """The rule's terms that read naturally after "I have" (no person named inside)."""
    usable = [term for term in rule.terms
              if not set(re.findall(r"[a-z]+", term.lower())) & _NAMES_THE_PERSON]
    return usable or list(rule.terms)


@dataclass(frozen=True)
class Disclosure:
    rule: Contraindication
    form: str
    text: str

    def __str__(self) -> str:
        return f"{self.rule.id}/{self.form}: {self.text!r}"


def disclosures(rule: Contraindication, rotate: int = 0) -> list[Disclosure]:
    """Every frame of every form, each with another of the rule's terms (rotated)."""
    terms = terms_for(rule)
    found = []
    index = rotate
    for form, frames in FORMS.items():
        for frame in frames:
            found.append(Disclosure(rule, form, frame.format(term=terms[index % len(terms)])))
            index += 1
    return found


def one_disclosure(rule: Contraindication, form: str, rotate: int = 0) -> Disclosure:
    """One frame of ``form`` for ``rule`` (frame and term chosen by ``rotate``)."""
    frames = FORMS[form]
    terms = terms_for(rule)
    frame = frames[rotate % len(frames)]
    return Disclosure(rule, form, frame.format(term=terms[rotate % len(terms)]))
