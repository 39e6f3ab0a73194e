"""What a message is about and what it asks of it: the answer is the pair (issue 18).

Subjects come from vocabularies in knowledge/ (subjects.yml: products, activities,
sensations, lay words for conditions; vocabulary.yml: the article's conditions) and from
the medicine dictionary (clinic.knowledge.medicines). Question types are a few shapes of asking:
"can I <use/do> X after?", "is X normal after?", "does it help X?", a statement about
oneself ("I'm on X"). The pair picks the answer:

- a product after a treatment: the aftercare rule for products (make-up: the make-up rule,
  sunscreen and every other product: no skin products for 24 hours), never a benefit;
- an activity after a treatment: its aftercare rule (exercise, sun);
- a sensation or change after a treatment: what the article says about it, with the
  warning signs (patient questions marked after_treatment);
- a condition the article covers, asked "does it help" or said of oneself: its study;
- a medicine or condition the clinic has not classified: noted for the practitioner.

Several subjects give several answers ("I'm 19 with acne scars": age and acne scars).
Safety terms are not read here: the safety recogniser runs after and always wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from clinic.knowledge.kb import knowledge_dir
from clinic.knowledge.loaders.reading import read_yaml as _read_yaml

# The answer of a subject: a patient question id, or "topic:<id>" for an article topic.
TOPIC_PREFIX = "topic:"
NOTED_QUESTION = "other_health"
_OTHER_AFTER = "other_after"
_PREPARATION = "preparation"
_AREAS = "treatment_areas"

_AFTER = re.compile(
    r"\b(after|afterwards?|post[- ]?(?:treatment|procedure|care|session|microneedling)|"
    r"following|since|the (?:day|night|morning|evening) after|"
    r"same day|right after|once it'?s done|day \d+|\d+ days? (?:after|later|out))\b",
    re.IGNORECASE)
_TREATMENT = re.compile(r"\b(micro ?-?needl\w*|derma ?-?(?:roll|pen|stamp)\w*|treatment|"
                        r"session|procedure|appointment)\b", re.IGNORECASE)
_CAN_USE = re.compile(
    r"\b(can|could|should|may|when|how (?:long|soon)|ok|okay|safe|fine|alright|allowed|"
    r"wait|put|use|apply|wear|go back|start|restart|resume|get back)\b", re.IGNORECASE)
_HELP = re.compile(
    r"\b(help|helps|work|works|fix|improve|treat|get rid of|reduce|good for|shrink|fade|"
    r"tighten|even out|reverse|lighten|smooth|firm)\b", re.IGNORECASE)
# "how <long/often/many/deep/much>?" and "does it hurt?" by what they ask about
# (knowledge/subjects.yml, asked_about): (question type, subject group, answer).
_HOW: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), group, answer) for pattern, group, answer in (
        (r"\b(how (?:often|frequently|far apart|soon can i (?:have|get|do) (?:another|"
         r"the next|my next))|sooner than|(?:how long|time|wait) between|maintenance|"
         r"every \d+ (?:weeks?|months?))\b", "session", "frequency"),
        (r"\bhow many (?:minutes|mins|hours|hrs)\b", "session", "session_length"),
        (r"\b(how many|number of|one (?:session|treatment)|just one|a series)\b", "session",
         "sessions"),
        (r"\b(last|lasts|lasting|stay|stays|permanent|forever|wear off|long term)\b", "results",
         "results_duration"),
        (r"\b(when|how (?:soon|long|quickly)|notice|start to see|until)\b", "results",
         "results_timing"),
        (r"\b(how deep|what size|how long are|depth|length|penetrat\w*)\b", "needles",
         "needle_depth"),
        (r"\b(hurt|hurts|painful|pain|sore during|feel (?:like|them|it|anything)|numbing|"
         r"numb(?:ed)? before|scared of needles|afraid of needles)\b", "session", "pain"),
        (r"\b(scared|afraid|nervous|anxious|phobia|terrified|fear|feel them)\b", "needles",
         "pain"),
        (r"\bhow (?:is|does|do you do) (?:it|this|the treatment|the procedure|a session|"
         r"microneedling) (?:\w+ )?(?:done|performed|carried out)\b", "session",
         TOPIC_PREFIX + "what_is"),
        (r"\b(?:is|are) (?:it|this|microneedling|the treatment) (?:\w+ )?(?:safe|suitable|"
         r"ok|okay|right) for (?:everyone|everybody|all|anyone|most people)\b|"
         r"\bsuitable for all\b", "session", TOPIC_PREFIX + "contraindications"),
        (r"\b(how (?:long|fast|quickly|soon)|when)\b.*\b(heal\w*|recover\w*|back to normal)\b|"
         r"\bdowntime\b", "session",
         TOPIC_PREFIX + "recovery"),
        (r"\b(how long|how much time|duration|length of)\b", "session", "session_length"),
    ))
_BEFORE = re.compile(r"\b(before|beforehand|prior to|ahead of|leading up to|the day of)\b",
                     re.IGNORECASE)
_AREA_QUESTION = re.compile(
    r"\b(what|which) (?:areas?|parts?|body parts?)\b|\b(?:done|used|do it|work|works|"
    r"treat|have it|get it) on (?:my|the|your)\b|\bwhere (?:on|can)\b", re.IGNORECASE)
_ABOUT_ME = re.compile(r"\b(i|i'm|im|i've|ive|my|me|we|we're|with|taking|on)\b",
                       re.IGNORECASE)


@dataclass(frozen=True)
class Vocabularies:
    # phrase -> answer id, longest phrases first within each group
    products: tuple[tuple[str, str], ...]
    areas: tuple[tuple[str, str], ...]
    asked_about: tuple[tuple[str, str], ...]
    activities: tuple[tuple[str, str], ...]
    sensations: tuple[tuple[str, str], ...]
    conditions: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Reading:
    answers: tuple[str, ...]  # patient question ids and "topic:<id>", in order

    @property
    def entity_value(self) -> str:
        return "+".join(self.answers)

    @property
    def only_topic(self) -> str | None:
        """The article topic id when that is the one answer (its own intent answers it)."""
        if len(self.answers) == 1 and self.answers[0].startswith(TOPIC_PREFIX):
            return self.answers[0][len(TOPIC_PREFIX):]
        return None


# Which answer each vocabulary group gives.
_PRODUCT_ANSWER = {"coverups": "makeup_after"}
_PRODUCT_DEFAULT = "skincare_after"
_ACTIVITY_ANSWER = {"exercise": "exercise_after", "sun": "sun_after"}
_CONDITION_TOPIC = {"acne_scars": "acne_scars", "hyperpigmentation": "hyperpigmentation",
                    "hair_loss": "hair_loss", "wrinkles": "skin_rejuvenation"}


def _phrases(groups: Mapping[str, Any], answer_of: Mapping[str, str], default: str | None,
             ) -> tuple[tuple[str, str], ...]:
    pairs = []
    for group, terms in (groups or {}).items():
        answer = answer_of.get(group, default or group)
        pairs += [(str(term).lower().replace("-", " "), answer) for term in terms or []]
    return tuple(sorted(pairs, key=lambda pair: -len(pair[0])))


def load_vocabularies(directory: Path | str | None = None) -> Vocabularies:
    folder = knowledge_dir(directory)
    subjects, _ = _read_yaml(folder, "subjects.yml")
    vocabulary, _ = _read_yaml(folder, "vocabulary.yml")
    conditions: dict[str, list[str]] = {}
    for source in (vocabulary.get("conditions") or {}, subjects.get("conditions") or {}):
        for group, terms in source.items():
            if group in _CONDITION_TOPIC:
                conditions.setdefault(group, []).extend(terms or [])
    return Vocabularies(
        products=_phrases(subjects.get("products") or {}, _PRODUCT_ANSWER, _PRODUCT_DEFAULT),
        areas=_phrases({"areas": subjects.get("areas") or []}, {"areas": "treatment_areas"},
                       None),
        asked_about=_phrases(subjects.get("asked_about") or {}, {}, None),
        activities=_phrases(subjects.get("activities") or {}, _ACTIVITY_ANSWER, None),
        sensations=_phrases(subjects.get("sensations") or {}, {}, None),
        conditions=_phrases(conditions, {g: TOPIC_PREFIX + t for g, t in
                                         _CONDITION_TOPIC.items()}, None),
    )


@lru_cache(maxsize=1)
def vocabularies() -> Vocabularies:
    return load_vocabularies()


def _find(text: str, phrases: tuple[tuple[str, str], ...]) -> list[str]:
    """Answers of the phrases in the text, each once, longest phrase first; a shorter
    phrase inside a longer one already found does not count."""
    found: list[str] = []
    taken: list[tuple[int, int]] = []
    for phrase, answer in phrases:
        for match in re.finditer(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text):
            span = match.span()
            if any(s <= span[0] and span[1] <= e for s, e in taken):
                continue
            taken.append(span)
            if answer not in found:
                found.append(answer)
    return found


def read(text: str, vocab: Vocabularies | None = None,
         noted: bool | None = None) -> Reading | None:
    """The answers for the subjects of a message and how it asks about them, or None.

    ``noted``: whether the message names a medicine or condition to note for the
    practitioner (clinic.knowledge.medicines); looked up when not given.
    """
    vocab = vocab or vocabularies()
    lowered = " ".join(text.lower().replace("-", " ").split())
    after = bool(_AFTER.search(lowered))
    answers: list[str] = []
    if after:
        if _CAN_USE.search(lowered):
            answers += _find(lowered, vocab.products) + _find(lowered, vocab.activities)
        if not answers:
            answers += _find(lowered, vocab.sensations)
    # A medicine said of oneself or asked about with the treatment ("is ibuprofen better
    # for cramps" is no question for the clinic).
    if not answers and (_ABOUT_ME.search(lowered) or _TREATMENT.search(lowered)) and \
            _noted(text, noted):
        answers.append(NOTED_QUESTION)
    if not answers and not after and _BEFORE.search(lowered) and \
            (_find(lowered, vocab.products) or _find(lowered, vocab.activities)):
        # "should I stop retinol before?", "can I get a spray tan beforehand?"
        answers.append(_PREPARATION)
    if not answers and not after and _AREA_QUESTION.search(lowered) and \
            (_find(lowered, vocab.areas) or re.search(r"\b(areas?|parts?)\b", lowered)):
        answers.append(_AREAS)
    if not answers and not after:
        answers += _how(lowered, vocab)
    conditions = _find(lowered, vocab.conditions)
    helps = bool(_HELP.search(lowered))
    # "my fine lines look worse after it" is a worry after a treatment, not "does it help".
    if conditions and not (after and not helps) and (helps or _ABOUT_ME.search(lowered)) and \
            (_TREATMENT.search(lowered) or helps or " it" in f" {lowered}"):
        answers += [c for c in conditions if c not in answers]
    elif conditions and after and not answers:
        answers.append(_OTHER_AFTER)
    return Reading(tuple(answers)) if answers else None


def _how(text: str, vocab: Vocabularies) -> list[str]:
    """The first "how ...?" question type whose subject the message names."""
    about = set(_find(text, vocab.asked_about))
    for pattern, group, answer in _HOW:
        if group in about and pattern.search(text):
            return [answer]
    return []


def _noted(text: str, noted: bool | None) -> bool:
    if noted is not None:
        return noted
    from clinic.knowledge.medicines import find_medicines

    return any(medicine.to_note for medicine in find_medicines(text))
