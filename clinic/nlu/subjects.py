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
_PAIN = "pain"

_AFTER = re.compile(
    r"\b(after|afterwards?|post[- ]?(?:treatment|procedure|care|session|microneedling)|"
    r"following|since|the (?:day|night|morning|evening) after|"
    r"same day|right after|once it'?s done|day \d+|\d+ days? (?:after|later|out))\b",
    re.IGNORECASE)
_TREATMENT = re.compile(r"\b(micro ?-?needl\w*|derma ?-?(?:roll|pen|stamp)\w*|treatment|"
                        r"session|procedure|appointment)\b", re.IGNORECASE)
_CAN_USE = re.compile(
    r"\b(can|could|should|may|when|how (?:long|soon)|ok|okay|safe|fine|alright|allowed|"
    r"wait|put|use|apply|wear|go back|start|restart|resume|get back|need to|have to|"
    r"supposed to)\b", re.IGNORECASE)
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
        (r"\b(when|how (?:soon|long|quickly)|notice|start to see|until|see (?:a |any )?"
         r"(?:difference|results?|change|improvements?))\b", "results",
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


# A statement about one's own body or health ("I have ...", "I suffer from ...", "my skin
# is ...") that no vocabulary knows: noted for the practitioner in the person's own words,
# never "didn't understand". Not about an appointment, a question or a code.
_OWN_HEALTH = re.compile(
    r"\b(?:i(?: suffer from| suffered from| was diagnosed with| am diagnosed with|"
    r"'m diagnosed with| have been diagnosed with|'ve been diagnosed with| live with|"
    r" am prone to|'m prone to|m prone to)|i'?m (?:allergic|sensitive|intolerant) to|allergic to|"
    r"diagnosed with|my (?:skin|face|body|immune system|health|doctor|dermatologist|gp) "
    r"(?:is|has|gets|says|told|can|tends|reacts|always|often|flares|breaks)|my skin'?s)\b",
    re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|never|no|none|nothing|n't|dont|didnt|havent|hasnt|isnt|"
                       r"don't|didn't|haven't|hasn't|isn't|wasn't|aren't)\b|n't\b",
                       re.IGNORECASE)
# "I have / I've got / I get <something>" is about one's health only with a cue: a body area
# or skin word, or the shape of a medical word (-itis, -osis, -oma, disease, disorder ...).
_I_HAVE = re.compile(r"\bi(?: have|'ve got|ve got| got| get| keep getting| tend to get|"
                     r"'ve had|ve had| have had)\b", re.IGNORECASE)
_HEALTH_CUE = re.compile(
    r"\b(?:\w+(?:itis|osis|oma|emia|aemia|pathy|algia|ectomy|plasty)|\w*(?:derm|cyst)\w*|"
    r"disease|disorder|syndrome|condition|infection|allerg\w*|deficiency|cancer|tumou?r|"
    r"virus|chronic|flare\w*|rash\w*|lesions?|patch(?:es)?|bumps?|lumps?|sores?|spots?|"
    r"tattoos?|piercings?|implants?|surgery|operation|transplant|pain|migraines?|fever|"
    r"blisters?|skin|face|cheeks?|chin|forehead|temples?|nose|lips?|jaw|neck|scalp|"
    r"body|eyes?|eyelids?)\b", re.IGNORECASE)
_NOT_HEALTH = re.compile(
    r"\b(?:questions?|query|queries|appointments?|bookings?|booked|time|a slot|codes?|"
    r"vouchers?|coupons?|discounts?|promo\w*|account|email|phone|number|idea|minute|"
    r"session|sessions|treatment|treatments|results?|a few|couple of)\b", re.IGNORECASE)
# "can I still have it if / with <something>": the something is noted when no rule knows it.
_STILL_HAVE_IT = re.compile(
    r"\b(?:can|could|may|should) i (?:still )?(?:have|get|do|book) (?:it|this|microneedling|"
    r"micro needling|the treatment|a session|the procedure|treatment)\b.*\b(?:if|with|while|"
    r"though|even)\b|\b(?:is|would) (?:it|microneedling|this) still (?:be )?(?:an option|ok|"
    r"okay|safe|possible|suitable)\b|\b(?:is|would) (?:it|microneedling|this) (?:be )?"
    r"(?:an option|ok|okay|safe|possible|suitable|a problem|an issue)\b.*\b(?:if|with)\b",
    re.IGNORECASE)
# Preparation said without "before": coming to the appointment ("should I come with a clean
# face?", "is it ok to arrive wearing make-up?"), or stopping a product.
_PREPARE = re.compile(
    r"\b(?:come|coming|arrive|arriving|show up|turn up|get ready|prepare|prep|bring)\b|"
    r"\b(?:stop|pause|quit|come off) (?:using |taking )?(?:my |the |your )?\w+",
    re.IGNORECASE)
# A product or activity asked about together with the treatment, with no time frame:
# "I have a spray tan, is that a problem for microneedling?" is preparation.
_MATTERS = re.compile(r"\b(?:problem|issue|matter|matters|affect|interfere|ok|okay|fine)\b",
                      re.IGNORECASE)
# An allergy or a reaction of one's own is always noted for the practitioner.
_ALLERGY = re.compile(r"\b(?:allergic|allergy|allergies|intolerant|intolerance|"
                      r"(?:bad )?reactions? to|reacted (?:badly )?to)\b", re.IGNORECASE)
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|i've|ive|my|me)\b", re.IGNORECASE)
# Numbing is asked about as the pain of a session, even with "before".
_NUMBING = re.compile(r"\b(?:numb(?:ing|ed|ness|s)?|an(?:a)?esthe\w*|lidocaine)\b",
                      re.IGNORECASE)
# Hygiene and devices: the article's "sterile, very fine needles" (topic what_is), and which
# device is used (needle_depth, whose subject is "how deep the needles go or which device").
_HYGIENE = re.compile(r"\b(?:steril\w*|single[- ]use|disposable|re-?us\w*|hygien\w*|"
                      r"clean(?:ed)?|new (?:needles?|cartridges?|tips?|heads?))\b", re.IGNORECASE)
_DEVICE = re.compile(r"\b(?:pen|roller|stamp|device|machine|tool)s? or (?:a |the )?(?:pen|roller|"
                     r"stamp|device|machine)s?\b|\b(?:what|which) (?:kind of |type of )?"
                     r"(?:device|machine|tool|pen|roller)\b", re.IGNORECASE)
# "what skin concerns can it address?": the benefits, said in general.
_WHAT_IT_TREATS = re.compile(
    r"\b(?:what|which) (?:kinds? of |sorts? of |types? of )?(?:skin )?(?:concerns?|problems?|"
    r"issues?|conditions?|things?|skin types?)\b.*\b(?:address|help|treat|fix|improve|good for|"
    r"work on|target|correct|deal with)\b.*\b(?:it|microneedling|micro needling|this "
    r"treatment|the treatment)\b|\b(?:what|which) (?:kinds? of |sorts? of |types? of )?(?:skin )?"
    r"(?:concerns?|problems?|issues?|conditions?|things?)\b.*\b(?:it|microneedling|micro "
    r"needling|this treatment|the treatment)\b.*\b(?:address|help|treat|fix|improve|good for|"
    r"work on|target|correct|deal with)\b", re.IGNORECASE)
# What the time after a treatment is like, asked in general.
_EXPECT = re.compile(r"\bwhat (?:should|do|can|will|would|might) i (?:expect|look like|feel like)\b|"
                     r"\bwhat to expect\b|\bwhat (?:happens|will happen)\b", re.IGNORECASE)
# A worry after a treatment that names no sensation of the vocabulary: "is that normal?".
_WORRY = re.compile(r"\b(?:is (?:this|that|it) (?:normal|ok|okay|expected|bad)|normal\?|"
                    r"should i (?:be )?(?:worried|worry|panic|be concerned)|worse|"
                    r"what'?s happening|what is happening)\b", re.IGNORECASE)


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
    before = bool(_BEFORE.search(lowered))
    products = _find(lowered, vocab.products) + _find(lowered, vocab.activities)
    answers: list[str] = []
    if after:
        if _CAN_USE.search(lowered):
            answers += products
        if not answers:
            answers += _find(lowered, vocab.sensations)
    if not answers and after and _EXPECT.search(lowered):
        answers.append(TOPIC_PREFIX + "recovery")  # "what should I expect after it?"
    skin_products = _find(lowered, vocab.products)
    # A medicine said of oneself comes first: "I'm allergic to lidocaine" is noted.
    if not answers and _ALLERGY.search(lowered) and _FIRST_PERSON.search(lowered):
        answers.append(NOTED_QUESTION)  # "I'm allergic to numbing cream": noted, not "pain"
    if not answers and _NUMBING.search(lowered) and not _noted(text, noted):
        answers.append(_PAIN)  # "will you put numbing cream on before?"
    if not answers and not after and products and \
            (before or (skin_products and (_PREPARE.search(lowered) or
                                           (_TREATMENT.search(lowered) and
                                            _MATTERS.search(lowered))))):
        # "should I stop retinol before?", "should I come with a clean face, no make-up?",
        # "I have a spray tan, is that a problem for microneedling?"
        answers.append(_PREPARATION)
    # A medicine or health condition said of oneself or asked about with the treatment
    # ("is ibuprofen better for cramps" is no question for the clinic).
    if not answers and (_ABOUT_ME.search(lowered) or _TREATMENT.search(lowered)) and \
            _noted(text, noted):
        answers.append(NOTED_QUESTION)
    if not answers and not after and _PREPARE.search(lowered) and \
            re.search(r"\b(?:clean|bare|make ?up|face|skin)\b", lowered) and \
            re.search(r"\b(?:appointment|session|treatment|microneedling|come|arrive)\b",
                      lowered):
        answers.append(_PREPARATION)  # "should I come with a clean face?"
    if not answers and not after and _AREA_QUESTION.search(lowered) and \
            (_find(lowered, vocab.areas) or re.search(r"\b(areas?|parts?)\b", lowered)):
        answers.append(_AREAS)
    if not answers and _HYGIENE.search(lowered) and \
            re.search(r"\b(?:needles?|cartridges?|tips?|equipment|tools?|pen|roller|device|"
                      r"clinic|room)\b", lowered):
        answers.append(TOPIC_PREFIX + "what_is")  # "are the needles sterile?"
    if not answers and _DEVICE.search(lowered):
        answers.append("needle_depth")  # "do you use a pen or a roller?"
    if not answers and _WHAT_IT_TREATS.search(lowered):
        answers.append(TOPIC_PREFIX + "benefits")
    if not answers and not after:
        answers += _how(lowered, vocab)
    if not answers and after:
        answers += _how(lowered, vocab, groups=("results",))  # "a difference after one session"
    conditions = _find(lowered, vocab.conditions)
    helps = bool(_HELP.search(lowered))
    # "my fine lines look worse after it" is a worry after a treatment, not "does it help".
    if conditions and not (after and not helps) and (helps or _ABOUT_ME.search(lowered)) and \
            (_TREATMENT.search(lowered) or helps or " it" in f" {lowered}"):
        answers += [c for c in conditions if c not in answers]
    elif conditions and after and not answers:
        answers.append(_OTHER_AFTER)
    if not answers and after and _WORRY.search(lowered) and \
            (_TREATMENT.search(lowered) or _ABOUT_ME.search(lowered)):
        answers.append(_OTHER_AFTER)  # a change nobody listed: "is that normal?" after it
    return Reading(tuple(answers)) if answers else None


def speaks_of_own_health(text: str, vocab: Vocabularies | None = None) -> bool:
    """The person tells of their own body or health, or asks "can I still have it if ...",
    with nothing a vocabulary knows: "I have actinic keratosis on my temples", "my skin is
    really sensitive, is it still an option?". The guard notes it for the practitioner when
    the classifier has nothing better, so it is never "didn't understand"."""
    vocab = vocab or vocabularies()
    lowered = " ".join(text.lower().replace("-", " ").split())
    if _AFTER.search(lowered) or _find(lowered, vocab.conditions) or \
            _find(lowered, vocab.products) or _find(lowered, vocab.activities):
        return False
    if _STILL_HAVE_IT.search(lowered):
        return True
    if _NEGATION.search(lowered):
        return False  # "I have NOT had any surgery": an answer or a correction, not news
    return not _NOT_HEALTH.search(lowered) and bool(
        _OWN_HEALTH.search(lowered) or (_I_HAVE.search(lowered) and (
            _HEALTH_CUE.search(lowered) or _condition_to_note(lowered))))


def _condition_to_note(lowered: str) -> bool:
    from clinic.knowledge.medicines import medicines

    return any(re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", lowered)
               for phrase in medicines().conditions_to_note)


def _how(text: str, vocab: Vocabularies, groups: tuple[str, ...] | None = None) -> list[str]:
    """The first "how ...?" question type whose subject the message names."""
    about = set(_find(text, vocab.asked_about))
    for pattern, group, answer in _HOW:
        if groups is not None and group not in groups:
            continue
        if group in about and pattern.search(text):
            return [answer]
    return []


def _noted(text: str, noted: bool | None) -> bool:
    if noted is not None:
        return noted
    from clinic.knowledge.medicines import find_medicines

    return any(medicine.to_note for medicine in find_medicines(text))
