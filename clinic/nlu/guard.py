"""What kind of message it is, read by rule before the classifier's guess is trusted: another
script or gibberish, a promotion code, a short reply ("ok", "stop", "thanks"), contact details,
a request for a person, a question shape or a common patient question (:func:`guard_decision`).
The component in clinic.rasa.components.guard forces the intent it returns."""

from __future__ import annotations

import re
from functools import lru_cache

from clinic.nlu.callback import asks_for_callback, gives_contact
from clinic.nlu.out_of_scope import OUT_OF_SCOPE_INTENT, knowledge_words
from clinic.nlu.visit_request import INTENT as VISIT_INTENT
from clinic.nlu.visit_request import about_own_visit

FALLBACK_INTENT = "nlu_fallback"
PROMO_CODE_INTENT = "enter_promo_code"
RESUME_INTENT = "resume"
MEANT_INTENTS = {"yes": "affirm", "no": "deny", "unsure": "unsure"}
PROMOTION_INTENT = "ask_promotion"
_USE_CODE = re.compile(r"\b(use|apply|redeem|enter|have|got|add)\b", re.IGNORECASE)
PATIENT_QUESTION_INTENT = "ask_patient_question"
# Intents a patient-question pattern does not override when the classifier is confident:
# they start something ("book me in, how much is it?"). Not the screening: "can men get it?"
# and "is it ok with rosacea?" have their own answers. An article topic does not keep its
# intent: the patient question's answer is the more specific one ("can I wear make-up after?"
# is answered with the make-up rule, not the whole aftercare text), and the training data
# labels such messages ask_patient_question (tests/unit/nlu/test_nlu_data.py checks it).
KEEP_WHEN_CONFIDENT = 0.8
# The promotion keeps its intent only when the message speaks of one: "do you offer the
# vampire facial" is the PRP question, however sure the classifier is of ask_promotion.
_PROMOTION_WORDS = re.compile(
    r"\b(promo\w*|promotions?|discounts?|deals?|coupons?|vouchers?|codes?|offers|special|"
    r"specials|sale|savings?|cheaper|\$\s?\d+|\d+ (?:dollars|off)|off|facial50|new (?:patient|"
    r"client|customer)s?)\b", re.IGNORECASE)
# The classifier has nothing better for a statement about one's own health (a decision that
# depends on the classifier's guess, so never taken without one).
UNSURE_INTENTS = frozenset({FALLBACK_INTENT, OUT_OF_SCOPE_INTENT, PATIENT_QUESTION_INTENT,
                            "report_contraindication", "inform"})
UNSURE_CONFIDENCE = 0.6
KEEP_INTENTS = frozenset({
    "book", "ask_contact", "human_handoff", "ask_promotion", "enter_promo_code",
    "ask_references",
})


def guard_decision(text: str, intent: str | None, confidence: float,
                   known_codes: tuple[str, ...]) -> tuple[str | None, str | None]:
    """(intent to force, patient question id) for a message, before safety terms.

    - another language or script, or gibberish: ``nlu_fallback`` (never a yes / no);
    - a promotion code ("FACIAL50", "SAVE10"): ``enter_promo_code``;
    - a question about a known code ("what is FACIAL50?"): ``ask_promotion``;
    - a common patient question (knowledge/patient_questions.yml): ``ask_patient_question``
      unless the classifier is confident of an intent that starts something.
    """
    from clinic.nlu.input_kind import (
        asks_about,
        describe_input,
        is_go_back,
        is_restart,
        meant_answer,
        mostly_markup,
        other_script,
        promo_code_in,
    )
    from clinic.nlu.questions import match_question
    from clinic.nlu.shapes import shape_intent
    from clinic.nlu.subjects import NOTED_QUESTION, speaks_of_own_health

    if text.startswith("/"):
        return None, None
    # Another script, letters that are no words, or markup with next to no words (the
    # fallback says "I can only read plain text"). (Four words with no English word in
    # them are only read as another language once the classifier is unsure, in the
    # fallback: the guard must not turn "who should avoid getting microneedling" away.)
    if other_script(text) or describe_input(text) == "gibberish" or mostly_markup(text):
        return FALLBACK_INTENT, None
    code = promo_code_in(text, known_codes)
    if code:
        # A question about the clinic's own offer ("what is FACIAL50?") is answered with the
        # offer; any other code, or a known one typed to use it, is checked as a code.
        if code in {c.upper() for c in known_codes} and asks_about(text) and \
                not _USE_CODE.search(text):
            return PROMOTION_INTENT, None
        return PROMO_CODE_INTENT, None
    meant = meant_answer(text)
    if meant is not None:
        # "wait I meant no": the answer it means (a correction after the questions, applied
        # by action_reply_to_offer; the screening form reads its own mid-way).
        return MEANT_INTENTS[meant], None
    if is_restart(text) or is_go_back(text):
        # "start over", "go back": a correction too, or the menu when nothing was answered.
        return RESUME_INTENT, None
    # The person's own visit ("how do I cancel my appointment", "can I change my time to
    # friday", "what happens next?", "running late"): self-service, never the screening or a
    # definition (clinic.nlu.visit_request).
    if about_own_visit(text):
        return VISIT_INTENT, None
    short = short_reply_intent(text) or details_intent(text) or request_intent(text) or \
        shape_intent(text)
    if short is not None:
        return short, None
    question = match_question(text)
    # What the message is about and how it asks (clinic.nlu.subjects): "can I put vitamin
    # C on after?" is the aftercare rule for products, "I'm on spironolactone" is noted.
    answers = subject_answers(text)
    if question is None and len(answers) == 1 and answers[0].startswith(TOPIC_PREFIX):
        # One article topic ("does it help with pockmarks?"): its own intent answers it.
        return topic_intent(answers[0][len(TOPIC_PREFIX):]), None
    # A question pattern adds its answer unless the subjects already gave a patient
    # question ("my skin stings after" is the after-treatment answer, not "does it hurt"); a
    # second subject keeps it ("I'm 19 with acne scars": age and the acne-scar study).
    if question is not None and question.id not in answers and \
            all(a.startswith(TOPIC_PREFIX) for a in answers):
        answers.append(question.id)
    if not answers and question is None and \
            intent is not None and \
            (intent in UNSURE_INTENTS or confidence < UNSURE_CONFIDENCE) and \
            speaks_of_own_health(text):
        # Their own body, health or "can I still have it if ...", with nothing a vocabulary
        # knows: noted for the practitioner, never "didn't understand" (safety terms, read
        # after this, still win).
        answers = [NOTED_QUESTION]
    if not answers:
        # The classifier's catch-all for patient questions, with no pattern and nothing of
        # the clinic's subject in it ("what's the forecast for tomorrow"): out of scope. A
        # question about microneedling keeps it ("the article doesn't cover that").
        if intent == PATIENT_QUESTION_INTENT and not about_the_clinics_subject(text):
            return OUT_OF_SCOPE_INTENT, None
        return None, None
    if intent in KEEP_INTENTS and confidence >= KEEP_WHEN_CONFIDENT and \
            (intent != PROMOTION_INTENT or _PROMOTION_WORDS.search(text)):
        return None, None
    return PATIENT_QUESTION_INTENT, ANSWER_SEPARATOR.join(answers)


# Several answers for one message travel as one entity value, "who_can_have+topic:acne_scars".
ANSWER_SEPARATOR = "+"


TOPIC_PREFIX = "topic:"


def topic_intent(topic_id: str) -> str | None:
    """The intent of an article topic (knowledge/topics.yml)."""
    from clinic.knowledge.kb import knowledge

    return next((t.intent for t in knowledge().topics if t.id == topic_id), None)


def subject_answers(text: str) -> list[str]:
    """The answers clinic.nlu.subjects reads from the message's subjects (may be none)."""
    from clinic.nlu.subjects import read

    reading = read(text)
    return list(reading.answers) if reading else []


# Short replies are read by rule, whatever the classifier guessed: a one- or two-word reply
# shares too few letters with anything for a classifier trained on a few hundred examples
# ("sure" came out as unsure at 0.96, "nah" as affirm, "dunno" as deny). Each pattern is a
# whole message; a longer message goes to the classifier.
_OPENER = r"^\s*(?:(?:oh|ok(?:ay)?|alright|well|um+|hmm+|so|please)[\s,!.]+)*"
_END = r"[\s.!,]*(?:please|pls|plz|now|then|thanks|thank you)?[\s.!?]*$"
_RESUME = re.compile(
    _OPENER + r"(?:let'?s |lets |can we |we can |i want to |i'?d like to |i'?m ready to )?"
    r"(?:continue|go on|carry on|resume|keep going|next|proceed|go ahead with (?:it|them)|"
    r"keep at it|move on|pick up where we left off|back to (?:the )?questions|next question)"
    r"(?: then| now| with (?:it|them|the questions)| the questions)?" + _END, re.IGNORECASE)
_STOP = re.compile(
    _OPENER + r"(?:let'?s |lets |can we |i want to |i'?d like to )?"
    r"(?:stop|cancel|quit|end|exit|abort|halt|pause|never ?mind|nvm|forget (?:it|about it|this)|"
    r"leave it|drop it|skip (?:it|this|this whole thing)|i changed my mind|enough|"
    r"i (?:don'?t|do not) want to (?:do this|continue|go on|carry on)(?: anymore| any more)?|"
    r"i'?d rather not (?:continue|go on|do this|carry on))"
    r"(?: (?:it|this|that|here|there|now|asking(?: me)?(?: questions)?|the (?:questions|screening|"
    r"chat|conversation)|this (?:chat|conversation|thing)))?"
    r"(?:[\s,]+(?:stop|enough))?" + _END, re.IGNORECASE)
_THANK = re.compile(
    _OPENER + r"(?:great|awesome|perfect|brilliant|super|cool|lovely)?[\s,!]*"
    r"(?:ty|thx|thnx|thks|tysm|tyvm|thanks?|thank (?:you|u)|thank youu+|cheers|many thanks|"
    r"much appreciated|appreciate it|ta|(?:you'?ve been|that was|that'?s|you are|you'?re|so) "
    r"(?:very |really |super |so |a big )?(?:helpful|a (?:big )?help))"
    r"(?: so much| very much| a lot| heaps| again)?"
    r"(?: for (?:the |your )?(?:info|information|help|explanation|answers?|reply)|"
    r" for (?:explaining|answering|helping)(?: (?:that|it|this|me))?| for that)?"
    r"[\s.!]*$", re.IGNORECASE)
_BYE = re.compile(
    _OPENER + r"(?:that'?s all[\s,]*|i'?m done(?: for today)?[\s,]*)?"
    r"(?:cya|cu later|bye+|bye bye|good ?bye|gtg|g2g|ttyl|see ya|see you(?: soon| later)?|"
    r"later|laters|(?:good )?night|farewell|talk (?:to you )?later|speak soon|catch you later|"
    r"gotta go|got to go|i'?m off(?: now)?|take care|"
    r"(?:i'?m |i am )?heading (?:off|out)|(?:i )?(?:have|need|got) to (?:go|head out|run)|"
    r"signing off|have a (?:nice|good|great|lovely) (?:day|one|evening|weekend|night)"
    r")(?: then| now| for now)?"
    r"(?:[\s,!]+(?:and )?(?:have a )?(?:nice|good|great|lovely) (?:day|one|evening|weekend|"
    r"night))?(?:[\s,!]+(?:bye+|goodbye|cya|see ya|see you))?[\s.!]*$", re.IGNORECASE)
_GREET = re.compile(
    r"^\s*(?:hi+|hello+|helo|hey+|heya|hiya|howdy|yo|greetings|hallo|"
    r"(?:good )?(?:morning|afternoon|evening))(?:[\s,]+(?:hi|there|bot|clinic|all|everyone|"
    r"team|folks))*[\s.!]*$", re.IGNORECASE)
# Asking what the assistant can do gets the greeting's menu.
_HELP = re.compile(
    r"^\s*(?:help(?: me)?|menu|main menu|options|show (?:me )?(?:the )?(?:menu|options)|"
    r"start (?:over|again)|what can (?:you|i) (?:do|ask)|what do you do|what can you help "
    r"(?:me )?with|how does this (?:chat )?work)[\s.!?]*$", re.IGNORECASE)
_BOT = re.compile(
    r"^\s*(?:are|r) (?:you|u) (?:an? )?(?:real |actual )?(?:bot|robot|chatbot|human|real|"
    r"computer|ai|a\.i\.|person|machine|program)(?: or (?:an? )?(?:bot|robot|human|person|"
    r"program|machine))?\??\s*$|"
    r"^\s*(?:am i|are we) (?:talking|chatting|speaking) (?:to|with) (?:an? )?(?:real )?"
    r"(?:bot|robot|human|person|machine|computer|ai)\??\s*$|"
    r"^\s*is this (?:an? )?(?:real person|bot|chatbot|human|robot|automated(?: reply)?|ai)"
    r"(?: (?:answering|replying|talking|writing)(?: (?:me|to me))?)?\??\s*$|"
    r"^\s*(?:bot|robot|human)\?+\s*$", re.IGNORECASE)
_NO_THANKS = re.compile(r"^\s*(?:no+|nope|nah)[\s,!.]*(?:thanks?|thank you|thank u|ty|thx)"
                        r"(?: anyway| though)?[\s.!]*$", re.IGNORECASE)
_OK = re.compile(r"^\s*(?:ok+|okay|okey|okie|k|kk|alright|all right|fine|sounds good|"
                 r"uh huh|mhm+|cool|great|perfect)[\s.!]*$", re.IGNORECASE)
SHORT_REPLY_WORDS = 6
_SUBJECT = re.compile(r"\b(skin|face|facial|scars?|acne|needles?|practitioners?|clinic|"
                      r"appointments?|treatments?|sessions?|procedures?|pores?|wrinkles?|"
                      r"scalp|hair|derma\w*|collagen)\b", re.IGNORECASE)


def about_the_clinics_subject(text: str) -> bool:
    """Microneedling, the skin, the clinic or an appointment named in the message, or a
    question about what "it" does."""
    from clinic.nlu.questions import about_microneedling, asks_what_it_does

    return bool(_SUBJECT.search(text or "")) or about_microneedling(text) or \
        asks_what_it_does(text)


_EMAIL = re.compile(r"^\s*(?:(?:my )?e-?mail(?: address)?(?: is)?:?\s*|it'?s\s+)?"
                    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+\s*$", re.IGNORECASE)
_PHONE = re.compile(r"^\s*(?:(?:my )?(?:phone|cell|mobile|number|phone number|tel)(?: number)?"
                    r"(?: is)?:?\s*)?\+?[\d()\s.-]{7,20}\s*$", re.IGNORECASE)
_NAME = re.compile(r"^\s*(?:my name is|my name's|name is|the name is|name:|call me|"
                   r"put it under|book it under|under the name(?: of)?)\s+"
                   r"[^\W\d_]+(?:[ '-][^\W\d_]+){0,2}[\s.!]*$", re.IGNORECASE)


# A treatment named alone, as the booking form's "Which treatment?" is answered.
_TREATMENT_CHOICE = re.compile(
    r"^\s*(?:the |a |my |for (?:my |the )?)?(?:face|facial)(?: one| treatment| option| session|"
    r" appointment| please)*[\s.!]*$|"
    r"^\s*(?:the )?(?:scalp|hair|hair loss|head|face|facial) (?:one|option)(?: please)?[\s.!]*$|"
    r"^\s*the (?:one|treatment|option) for (?:my |the )?(?:face|skin|hair|scalp|head)[\s.!]*$|"
    r"^\s*for (?:my |the )?(?:scalp|hair|head)[\s.!]*$",
    re.IGNORECASE)
# ("scalp" or "hair loss treatment" alone is left to the classifier: outside the booking form
# it is a question about hair loss.)
# A name as people type it: "Li Wei", "It's Rosa Martinez" (capitals, no word of the
# clinic's texts; "I'm Pregnant" is caught by the safety terms anyway).
_CAPITALISED = re.compile(r"^\s*(?:(?:it'?s|this is|i'?m|i am|im)\s+)?"
                          r"([A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+){0,2})[\s.!]*$")


def _looks_like_a_name(text: str) -> bool:
    from spacy.lang.en.stop_words import STOP_WORDS

    match = _CAPITALISED.match(text)
    if not match:
        return False
    words = [w.lower() for w in match.group(1).split()]
    known = _knowledge_words()
    return not any(w in STOP_WORDS or w in known or w.rstrip("s") in known for w in words)


@lru_cache(maxsize=1)
def _knowledge_words() -> frozenset[str]:
    return frozenset(knowledge_words())


def details_intent(text: str) -> str | None:
    """``inform`` for a message that is only an e-mail address, a phone number, a name given
    as one ("my name is Maria Chen") or days and times ("tuesday afternoons, after 3pm");
    None otherwise."""
    from clinic.nlu.input_kind import only_times

    if _EMAIL.match(text) or _NAME.match(text) or _TREATMENT_CHOICE.match(text) or \
            _looks_like_a_name(text):
        return "inform"
    if _PHONE.match(text) and sum(ch.isdigit() for ch in text) >= 7:
        return "inform"
    if only_times(text):
        return "inform"
    if gives_contact(text) and not asks_for_callback(text):
        return "inform"  # "Sam, 415 555 0123": the details a callback offer asked for
    return None


_HANDOFF = re.compile(
    r"^\s*(?:(?:please|pls|ok|can|could|may|i|let me|i'?d like to|i want to|i need to|i would "
    r"like to|i wanna)\s+)*(?:(?:talk|speak|chat)(?: to| with)|get me|connect me(?: to| with)|"
    r"transfer me to|put me through to|escalate (?:this|it) to|i want|i need|give me)\s+"
    r"(?:a |an |the |some |to )?(?:real |actual |live |human )?(?:human|person|people|someone|"
    r"somebody|staff(?: member)?|agent|receptionist|practitioner|acupuncturist|doctor|operator|"
    r"representative|rep|nurse|member of staff|front desk|office|clinic)(?: at the clinic| from "
    r"the (?:clinic|office)| please| now| instead)?[\s.!?]*$|"
    r"^\s*(?:can you |could you |please )?(?:have|get|ask) (?:someone|somebody|a person|staff)"
    r"(?: from the (?:office|clinic))? (?:to )?(?:call|phone|ring|text) me(?: back)?[\s.!?]*$|"
    r"^\s*(?:human|real person|agent|operator|representative|live agent)(?: please)?[\s.!]*$",
    re.IGNORECASE)


def request_intent(text: str) -> str | None:
    """A request the classifier must not be left to guess: a person ("talk to a human") is
    ``human_handoff``, and so is a request to be called back with a number or an address;
    a study named by its author ("who is Aust et al", "Majid 2014") is
    ``ask_references``."""
    if len(text.split()) <= 12 and _HANDOFF.match(text):
        return "human_handoff"
    if asks_for_callback(text):
        return "human_handoff"  # "I'm Sam, 415 555 0123, can someone call me tomorrow"
    if _cites_a_study(text):
        return "ask_references"
    return None


def _cites_a_study(text: str) -> bool:
    from clinic.knowledge.kb import knowledge

    authors = _reference_authors(tuple(r.short for r in knowledge().references.values()))
    return bool(authors.search(text)) and bool(re.search(
        r"\b(?:(?:19|20)\d\d|et al|who (?:is|was|are|were)|who'?s|references?|citations?|"
        r"papers?|journal|reference)\b", text, re.IGNORECASE))


@lru_cache(maxsize=4)
def _reference_authors(shorts: tuple[str, ...]) -> re.Pattern[str]:
    """The first author's name of each reference ("Aust et al., 2008" -> Aust)."""
    names = {re.split(r"[ ,&]", short.strip(), maxsplit=1)[0] for short in shorts}
    names = {name for name in names if len(name) > 2}
    return re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, names))) + r")\b",
                      re.IGNORECASE)


def short_reply_intent(text: str) -> str | None:
    """The intent of a short everyday reply ("sure thing", "go on then", "ty", "cya",
    "never mind"); None for anything else, which the classifier reads."""
    from clinic.nlu.answers import parse_plain_answer
    from clinic.rules.screening import Answer

    if len(text.split()) > SHORT_REPLY_WORDS:
        return None
    for pattern, intent in ((_RESUME, "resume"), (_STOP, "stop"), (_THANK, "thank"),
                            (_BYE, "goodbye"), (_GREET, "greet"), (_HELP, "greet"), (_BOT, "bot_challenge"),
                            (_NO_THANKS, "deny"), (_OK, "affirm")):
        if pattern.match(text):
            return intent
    answer = parse_plain_answer(text)
    if answer is None:
        return None
    return {Answer.YES: "affirm", Answer.NO: "deny", Answer.UNSURE: "unsure"}[answer]
