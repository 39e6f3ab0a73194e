"""Read a typed reply to a yes / no screening question, deterministically.

:func:`parse_answer` gives :class:`~clinic.rules.screening.Answer` YES, NO or UNSURE, or None when
the reply is not an answer (empty, contradictory, or a question such as "how long is
recovery?"). It errs on the safe side, because "not sure" can never lead to "eligible":

- a hedge anywhere in the reply makes it UNSURE ("maybe", "I think so", "probably not",
  "I don't think so", "can't remember", "used to", "not anymore", "not right now" ...); a
  hedge beats a yes or a no ("no, not sure" -> UNSURE);
- "not that I know of" is the one hedged phrase read as NO, as the clinic asked;
- ways of stopping or declining ("never mind", "nvm", "no thanks", "forget it") are not
  answers, so "never mind" is never read as "never";
- a reply with both a yes and a no and no hedge ("yes no", "no wait yes") is contradictory:
  None, so the question is asked again;
- a question with content besides the answer words ("is it safe if I'm not pregnant?")
  is None; a bare "no?" is UNSURE (a doubtful no is not a clear no), a bare "yes?" is YES;
- "I am" / "I have" count as yes only at the end of a clause ("yeah I am"), so "I'm fine"
  is not read as a yes;
- emoji: thumbs up and check marks are yes, thumbs down and crosses are no, a shrug or a
  thinking face is not sure. Spanish and French "sí" / "si", "oui", "non" are read too.
"""

from __future__ import annotations

import re
import unicodedata

from clinic.nlu.input_kind import is_payload
from clinic.rules.screening import Answer

_EMOJI = {
    "yes": ("\U0001f44d", "\u2705", "\u2714", "\u2611", "\U0001f44c", "\U0001f197"),
    "no": ("\U0001f44e", "\u274c", "\u2716", "\u2717", "\u2718", "\U0001f6ab", "\u26d4",
           "\U0001f645", "\u274e"),
    "unsure": ("\U0001f937", "\U0001f914"),
}
_EMOJI_WORD = {kind: f"emoji{kind}" for kind in _EMOJI}

# Clause breaks: sentence and list punctuation become " | " so "clause-final" can be tested.
_CLAUSE_BREAK = re.compile(r"[.,;:!\u2026\-\u2013\u2014()\[\]/\\]+")
_NOT_WORD = re.compile(r"[^a-z0-9'?| ]+")

_UNSURE = [
    r"not (?:really |so |too |entirely |totally |completely |quite |100 |a 100 )?"
    r"(?:sure|certain|positive)",
    r"unsure|uncertain|no idea|no clue|who knows|hard to say|can'?t say|cannot say",
    r"(?:i )?(?:have|got) no (?:idea|clue)|i'?ve no (?:idea|clue)|not a clue|"
    r"(?:i )?(?:haven'?t|have not) (?:got )?(?:a|any) (?:clue|idea)",
    r"(?:i )?(?:do ?n'?t|do not|did ?n'?t|did not) (?:really )?"
    r"(?:know|remember|recall|think|believe)(?: so| of| it)?",
    r"(?:i )?dunno|idk|idr|not that i can (?:remember|recall)|not to my knowledge",
    r"(?:i )?(?:can'?t|cannot|can not|could ?n'?t|could not) (?:remember|recall|tell)",
    r"(?:i )?forg[eo]t",
    r"not (?:really|exactly|quite|necessarily)",
    r"(?:i'?m |i am )?not (?:anymore|any more|now|right now|currently|at the moment|recently|"
    r"lately|at present|for now|since)",
    r"no longer|used to|(?:i )?stopped|i quit|in the past|not since|a while back",
    r"(?:years|months|weeks|a while|a year|a long time|long time|ages) ago",
    r"not that i'?m aware(?: of)?|(?:not )?as far as i (?:know|can tell)|afaik",
    r"maybe|mayb|mabye|maybee|perhaps|possibly|possible|probably(?: not)?|prob(?: not)?|"
    r"(?:un)?likely",
    r"(?:i )?(?:think|guess|suppose|believe|reckon|doubt|hope|assume)(?: so| not| it)?",
    r"i'?d (?:say|guess)|hopefully(?: not)?|it depends|depends",
    r"(?:it |i )?(?:might|may|could) (?:be|have)|might",
    r"kind of|kinda|sort of|sorta|a little|a bit|sometimes|occasionally",
    r"fifty fifty|50 50|not 100",
    r"(?:pretty|fairly|quite|almost|mostly|reasonably) (?:sure|certain|confident)",
    _EMOJI_WORD["unsure"],
]
# Ways of stopping or declining, not answers: "never mind" is no "never". Removed first.
_NOT_ANSWERS = [r"never ?mind|nvm|no thanks|no thank you|forget it|no worries",
                # Asides around an answer ("no clue to be honest").
                r"to be honest|to be fair|if i'?m honest|tbh|tbf"]
# Read before the other no's: the clinic lists it as a no (see module docstring).
_NO_FIRST = [r"(?:no )?not that i know(?: of)?|(?:none|nothing) that i know(?: of)?"]
_NO = [
    r"not (?:true|correct|right)|untrue",
    r"(?:absolutely|definitely|certainly|of course|hell|heck|god|surely) (?:not|no)",
    r"no way|not at all|not me|no to (?:all|both|everything|any|that|those)",
    r"(?:i'?m|im|i am|i'?ve|ive|i have|i had|i do|i did|i was|i will|i would|it is|it'?s|"
    r"there is|there'?s|there are|we are|we'?re) (?:not|never)",
    r"(?:i )?(?:do|does|did|have|has|had|is|are|was|were|am|wo|ai) ?n'?t",
    r"(?:i )?(?:have|has|had|did|do|is|are|was) not",
    r"(?:no+|nope+|nah+)? ?never(?: ever)?",
    r"no+pe+|nah+|naw|nay|no+|none|nothing|neither|negative|false|incorrect|not",
    r"non|nein|nao",
    _EMOJI_WORD["no"],
]
_YES = [
    r"y+e+s+|y+e+a+h*|y+e+p+|y+u+p+|ya+h?|yeh|ye|yas+|aye|yessir",
    r"of course|definitely|absolutely|certainly|sure|surely|indeed|correct|true|affirmative|"
    r"exactly|totally|for sure|that'?s right|that is right|right|you bet|positive",
    r"i do|i did|i (?:take|use) (?:it|them|those|that)",
    r"(?:i am|i'?m|im|i have|i'?ve|ive|i was|i had|i will|i would|we are|we'?re|it is|"
    r"it'?s|there is|there are|there'?s)(?= \||$)",
    r"si|oui|sim|ja",
    _EMOJI_WORD["yes"],
]
_WHOLE_REPLY = {"y": Answer.YES, "n": Answer.NO}

# Words that carry no content around an answer ("um, well yes thanks").
_FILLER = frozenset(
    "um umm uh uhh er erm hmm hm well oh ah so ok okay alright actually honestly and but "
    "just thanks thank you sorry lol haha please i it that to the a of thing".split()
)
_INTERROGATIVE = frozenset(
    "how what when where why which who whose can could should would will is are does do "
    "did may am shall isn't aren't doesn't".split()
)


def _compile(patterns: list[str]) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z0-9'])(?:" + "|".join(patterns) + r")(?![a-z0-9'])")


_PATTERNS = [
    (None, _compile(_NOT_ANSWERS)),
    (Answer.NO, _compile(_NO_FIRST)),
    (Answer.UNSURE, _compile(_UNSURE)),
    (Answer.NO, _compile(_NO)),
    (Answer.YES, _compile(_YES)),
]


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    for kind, emojis in _EMOJI.items():
        for emoji in emojis:
            text = text.replace(emoji, f" {_EMOJI_WORD[kind]} ")
    # Drop accents ("sí" -> "si") and emoji modifiers (skin tones, variation selectors).
    text = "".join(
        char for char in unicodedata.normalize("NFD", text)
        if unicodedata.category(char) not in ("Mn", "Sk")
    )
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    text = _CLAUSE_BREAK.sub(" | ", text)
    text = _NOT_WORD.sub(" ", text)
    text = text.replace("?", " ? ")
    return " ".join(text.split())


def parse_answer(text: str) -> Answer | None:
    """Read a typed reply to a yes / no question as YES, NO, UNSURE, or None if it is not one.

    See the module docstring for the rules; in short, hedges give UNSURE, contradictions and
    questions give None, and "not that I know of" is a NO.
    """
    return _read(text)[0]


def parse_plain_answer(text: str) -> Answer | None:
    """Like :func:`parse_answer`, but only for a reply that is nothing but an answer: "sure
    thing" is YES, "any promotions right now" is None (its "right" is no reply)."""
    answer, leftover = _read(text)
    return None if leftover else answer


def _read(text: str) -> tuple[Answer | None, list[str]]:
    """The answer and the words left over that are neither answer words nor filler."""
    if not isinstance(text, str):
        return None, []
    normal = _normalise(text)
    words = [w for w in normal.split() if w != "|"]
    if not words or all(w == "?" for w in words):
        return None, []
    if len(words) == 1 and words[0] in _WHOLE_REPLY:
        return _WHOLE_REPLY[words[0]], []
    asked = "?" in words
    found: set[Answer] = set()
    rest = normal
    for answer, pattern in _PATTERNS:
        # Blank each match so its words are not read again ("not sure" is not also a "not").
        rest, count = pattern.subn(" ", rest)
        if count and answer is not None:
            found.add(answer)
    leftover = [w for w in rest.split() if w not in ("|", "?") and w not in _FILLER]
    if leftover and (asked or words[0] in _INTERROGATIVE):
        return None, leftover
    if not found:
        return None, leftover
    if Answer.UNSURE in found:
        return Answer.UNSURE, leftover
    if found == {Answer.YES, Answer.NO}:
        return None, leftover
    (answer,) = found
    if answer is Answer.NO and asked:
        return Answer.UNSURE, leftover
    return answer, leftover


# A bare acknowledgement ("ok", "k", "sure", "fine"): to a contraindication question it may
# mean "yes", "I see" or "go on", so the screening never records it as an answer and asks
# for a yes or no instead (issue 18). Elsewhere (an offer to book) it still means yes.
_ACKNOWLEDGEMENT = re.compile(
    r"^\s*(?:ok+|okay+|okey|okie|oki|k+|kk|sure|fine|alright|all right|right|cool|got it|"
    r"gotcha|sounds good|noted|understood|mhm+|uh huh|hmm+|ok then|okay then|sure thing)"
    r"[\s.!,]*$", re.IGNORECASE)


def is_acknowledgement(text: str) -> bool:
    """The whole reply is an acknowledgement, no clear yes or no ("ok", "k", "sure")."""
    return isinstance(text, str) and bool(_ACKNOWLEDGEMENT.match(
        unicodedata.normalize("NFKC", text).replace("\u2019", "'")))


# A reply to a yes/no question, as the classifier reads it (buttons send these intents).
INTENT_ANSWERS = {"affirm": Answer.YES, "deny": Answer.NO, "unsure": Answer.UNSURE}
ANSWER_CONFIDENCE = 0.5


def resolve_answer(text: str, intent: str | None, confidence: float) -> Answer | None:
    """A reply to a yes/no question: the typed words decide, the intent backs them up.

    Buttons send /affirm, /deny, /unsure. When the words and the classifier disagree on
    yes versus no, the question is asked again rather than guessed.
    """
    from_intent = INTENT_ANSWERS.get(intent or "") if confidence >= ANSWER_CONFIDENCE else None
    if is_payload(text):
        return from_intent
    if not any(ch.isalnum() for ch in text):
        # An emoji or punctuation alone ("😀😀", "👎", "?!") is no answer, whatever the
        # classifier guessed: the question is asked again.
        return None
    from_words = parse_answer(text)
    if from_words is None:
        return from_intent
    if from_intent is not None and {from_words, from_intent} == {Answer.YES, Answer.NO}:
        return None
    return from_words
