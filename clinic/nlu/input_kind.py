"""What kind of message a person typed, before any intent is trusted.

Plain functions, used by the NLU guard (:mod:`clinic.nlu.guard`) and the actions:

* :func:`describe_input` - "empty", "long", "emoji", "symbols", "markup",
  "other_language" (another script, or four or more words with no English in them),
  "gibberish" (a run of one letter, a keyboard mash, a lone letter) or "unclear";
* :func:`promo_code_in` - a code-like word ("FACIAL50", "save10") in a short message;
* :func:`is_go_back` / :func:`meant_answer` - "go back", "no, I meant yes";
* :func:`is_restart` - "start over", "redo the safety questions";
* :func:`looks_like_times` - a reply that names a day, a time or a real "any time" answer.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

LONG_MESSAGE = 1000

_ENGLISH_HINTS = re.compile(
    r"\b(the|a|an|is|are|was|be|i|you|my|me|it|this|that|what|how|can|do|does|and|or|but|so|"
    r"to|of|for|with|on|in|at|see|not|no|yes|please|have|get|want|need|will|about|help)\b",
    re.IGNORECASE,
)
_LINKS = re.compile(r"\[[^\]]*\]\([^)]*\)|\b\w+:(//)?\S+")
_MARKUP = re.compile(r"<\s*/?\s*[a-z][^>]*>", re.IGNORECASE)
# One-letter replies that mean something: yes, no, okay, "u" / "i" in SMS style.
_MEANINGFUL_LETTERS = frozenset("ynkui")
# Short words without vowels that people really type.
_VOWELLESS_WORDS = frozenset("""
    hmm hmmm hmmmm mmm mm pfft brb thx thnx thks tx pls plz nvm idk idc grr shh psst
    tysm ty np k kk ok rn ttyl smh wtf omg lmk btw pst hm sry srsly ppl txt msg
""".split())
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "poiuytrewq", "lkjhgfdsa", "mnbvcxz")


def _is_mash(word: str) -> bool:
    """A keyboard mash or a run of one letter: "aaaaa", "asdfgh", "jkjkjk", "xkcdqz"."""
    if word in _VOWELLESS_WORDS:
        return False
    if len(word) >= 3 and len(set(word)) == 1:
        return True
    if len(word) >= 4 and any(word[i:i + 4] in row for row in _KEYBOARD_ROWS
                              for i in range(len(word) - 3)):
        return True
    if len(word) >= 6 and len(set(word)) <= 2:
        return True  # "jkjkjk"
    return len(word) >= 4 and not re.search(r"[aeiouy]", word)


def is_gibberish(text: str) -> bool:
    """A message of letters that are no words: "aaaa", "asdfgh", "x", "qwrtzp jjjj"."""
    words = re.findall(r"[a-z]+", text.lower())
    if not words or re.search(r"\d", text):
        return False
    if len(words) == 1 and len(words[0]) == 1:
        return words[0] not in _MEANINGFUL_LETTERS
    return all(_is_mash(word) for word in words)


def mostly_gibberish(text: str) -> bool:
    """At least half the words are letters that are no words ("asdfgh jkl qwerty")."""
    words = re.findall(r"[a-z]+", (text or "").lower())
    return bool(words) and 2 * sum(1 for word in words if _is_mash(word)) >= len(words)


def describe_input(text: str) -> str:
    """Classify an unusual message so the reply can say what went wrong."""
    stripped = (text or "").strip()
    if not stripped:
        return "empty"
    if len(stripped) > LONG_MESSAGE:
        return "long"
    letters = [ch for ch in stripped if ch.isalpha()]
    if not letters:
        if any(unicodedata.category(ch) == "So" for ch in stripped):
            return "emoji"
        return "symbols"
    if _MARKUP.search(stripped):
        return "markup"
    non_latin = sum(1 for ch in letters if not _is_latin(ch))
    prose = _LINKS.sub(" ", stripped)
    words = re.findall(r"[^\W\d_]+", prose)
    if non_latin > len(letters) / 3 or (len(words) >= 4 and not _ENGLISH_HINTS.search(prose)
                                         and not any(w.lower() in english_words()
                                                     for w in words)):
        return "other_language"
    if is_gibberish(stripped):
        return "gibberish"
    return "unclear"


_SCRIPTING = re.compile(r"<\s*script|javascript:|\bon[a-z]+\s*=", re.IGNORECASE)


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Words that make a message English (issue 18): spaCy's English stop words (a
    maintained list: "we", "doing", "next") and the acronyms and short words patients use
    (knowledge/subjects.yml, acronyms: IVF, PRP, SPF, ok, lol). "we're doing IVF transfer
    next week" is English, never "I can only chat in English"."""
    from clinic.knowledge.kb import knowledge_dir
    from clinic.knowledge.loaders.reading import read_yaml as _read_yaml

    subjects, _ = _read_yaml(knowledge_dir(), "subjects.yml")
    acronyms = {str(word).lower() for word in subjects.get("acronyms") or []}
    return frozenset(_spacy_stop_words() | acronyms | _VOWELLESS_WORDS)


def _spacy_stop_words() -> set[str]:
    """spaCy's English stop words, read from its module file: importing spaCy itself would
    load its whole stack into the action server just for a word list."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("spacy")
    if spec is None or spec.origin is None:
        return set()
    path = Path(spec.origin).parent / "lang" / "en" / "stop_words.py"
    namespace: dict[str, object] = {}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    words = namespace.get("STOP_WORDS")
    return {str(w).lower() for w in words} if isinstance(words, (set, frozenset)) else set()


def mostly_markup(text: str) -> bool:
    """Markup with next to no words around it ("<script>alert(1)</script>", "<b>hi</b>"),
    or anything scripted: the answer is "I can only read plain text". A question with a tag
    in it ("what is <i>microneedling</i>") is read as the question."""
    if not _MARKUP.search(text or ""):
        return False
    if _SCRIPTING.search(text):
        return True
    prose = _MARKUP.sub(" ", text)
    return len(re.findall(r"[^\W\d_]{2,}", prose)) < 3


def other_script(text: str) -> bool:
    """Mostly letters of another script than Latin: Chinese, Korean, Cyrillic, Arabic..."""
    letters = [ch for ch in text or "" if ch.isalpha()]
    return bool(letters) and sum(1 for ch in letters if not _is_latin(ch)) > len(letters) / 3


def _is_latin(ch: str) -> bool:
    if ch.isascii():
        return True
    try:
        return "LATIN" in unicodedata.name(ch)
    except ValueError:
        return False


_CODE_WORD = re.compile(r"(?<![A-Za-z0-9@._-])([A-Za-z]{3,12}[ -]?\d{1,4})(?![A-Za-z0-9@.-])")
_CODE_CONTEXT = re.compile(r"\b(code|coupon|voucher|promo|discount)\b", re.IGNORECASE)
_NOT_CODES = re.compile(r"^(covid|mp|am|pm|week|weeks|day|days|hour|hours|spf)", re.IGNORECASE)
# "Majid 2014", "Aust 2008": a name and a year, as the article cites its studies.
_AUTHOR_YEAR = re.compile(r"[A-Za-z]+[ -](19|20)\d\d")
_ASKS_ABOUT = re.compile(
    r"^\s*(what|what's|whats|how|who|whom|when|why|where|which|tell me|explain|is|does|do|"
    r"are|can|could|will|would)\b|\?\s*$", re.IGNORECASE)


def asks_about(text: str) -> bool:
    """True for a question ("what is FACIAL50", "does FACIAL50 still work?")."""
    return bool(_ASKS_ABOUT.search(text or ""))


# Words that, followed by a number, name a day or a time ("Friday 3 pm", "June 3",
# "after 5"): never an unknown code. A known code is still found anywhere.
_TIME_LEAD_WORDS = frozenset("""
    monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs
    fri sat sun mondays tuesdays wednesdays thursdays fridays saturdays sundays weekday
    weekdays weekend weekends january february march april may june july august september
    october november december jan feb mar apr jun jul aug sep sept oct nov dec after before
    around about from until till til between at by noon morning afternoon evening
""".split())


def promo_code_in(text: str, known: tuple[str, ...] = ()) -> str | None:
    """A promotion code typed in a short message ("FACIAL50", "code save10"), upper-cased.

    A known code is found anywhere; an unknown one only as a word of letters then digits
    ("SAVE10", "FACIAL 20", "code save 10") in a message of at most six words, so "I'm 25",
    "over 40" or "spf50" are not codes.
    """
    if not text:
        return None
    compact = {code.upper() for code in known}
    for word in re.findall(r"[A-Za-z0-9]+(?:[ -]\d+)?", text):
        candidate = re.sub(r"[ -]", "", word).upper()
        if candidate in compact:
            return candidate
    if len(text.split()) > 6:
        return None
    for match in _CODE_WORD.finditer(text):
        word = match.group(1)
        if _NOT_CODES.match(word) or (_AUTHOR_YEAR.fullmatch(word)
                                      and not _CODE_CONTEXT.search(text)):
            continue
        letters = re.sub(r"[^A-Za-z]", "", word)
        if letters.lower() in _TIME_LEAD_WORDS:
            continue
        # "over 40", "i need 2 sessions", "turning 50": a word then a number is ordinary
        # text unless it is said to be a code ("code save 10") or written in capitals in a
        # message that is not all capitals ("I got SAVE 10"; "I AM OVER 40" is shouting).
        stands_out = word.isupper() and (not text.isupper() or len(text.split()) <= 2)
        if " " in word and not stands_out and not _CODE_CONTEXT.search(text):
            continue
        if word.isupper() or _CODE_CONTEXT.search(text) or len(letters) >= 4:
            return re.sub(r"[ -]", "", word).upper()
    return None


_GO_BACK = re.compile(
    r"^\s*(?:(?:oh|oops|wait|sorry|hang on)[\s,!.]*)*(?:please\s+)?"
    r"(?:go back|back|undo|previous question|last question|change (?:my|the) (?:last )?answer|"
    r"(?:i )?(?:made a|that was a) mistake|wrong answer|let me change (?:that|it|my answer)|"
    r"can i change (?:that|my (?:last )?answer))\b",
    re.IGNORECASE,
)
_MEANT = re.compile(
    r"\b(?:i meant(?: to say)?|meant to (?:say|click|press)|i mean|actually it'?s|"
    r"change (?:it|that|my (?:last )?answer) to)\s+(yes|no|not sure|unsure)\b",
    re.IGNORECASE,
)


# "redo the safety questions", "start over", "can I start the questions again".
_RESTART = re.compile(
    r"^\s*(?:(?:oh|oops|wait|sorry|ok(?:ay)?|hang on|actually|um+)[\s,!.]*)*"
    r"(?:please\s+)?(?:can (?:i|we) |could (?:i|we) |let'?s |lets |i (?:want|need|would like) "
    r"to |i'?d like to )?"
    r"(?:(?:redo|restart|repeat|retake|do over|start over|start again|begin again|go through "
    r"again)(?: (?:the|my|all(?: the)?|these|those))?(?: (?:safety|screening))?"
    r"(?: (?:questions?|screening|questionnaire|check|quiz|test))?(?: (?:again|over|from the "
    r"(?:start|beginning)))?|start (?:the|my)(?: (?:safety|screening))? (?:questions|screening) "
    r"(?:again|over)|start (?:over|again)(?: from the (?:start|beginning))?)"
    r"[\s.!?]*(?:please|pls)?[\s.!?]*$",
    re.IGNORECASE,
)


def is_restart(text: str) -> bool:
    """"start over", "redo the safety questions": the person wants the questions again."""
    return bool(_RESTART.match(text or ""))


def is_go_back(text: str) -> bool:
    return bool(_GO_BACK.match(text or "")) or bool(_MEANT.search(text or ""))


def meant_answer(text: str) -> str | None:
    """"no, I meant yes" -> "yes"; "I meant not sure" -> "unsure"; None without one."""
    match = _MEANT.search(text or "")
    if not match:
        return None
    word = match.group(1).lower()
    return "unsure" if word in ("not sure", "unsure") else word


_TIME_WORDS = re.compile(
    r"\b(asap|as soon as possible|soonest|earliest|first available|next available|any ?time|"
    r"any ?day|any weekday|weekdays?|weekends?|mornings?|afternoons?|evenings?|nights?|noon|"
    r"midday|lunch(?:time)?|mon(?:day)?s?|tue(?:s|sday)?s?|wed(?:nesday)?s?|thu(?:rs|rsday)?s?|"
    r"fri(?:day)?s?|sat(?:urday)?s?|sun(?:day)?s?|today|tonight|tomorrow|tmrw|tmr|next week|"
    r"this week|next month|flexible|whenever|anything works|jan(?:uary)?|feb(?:ruary)?|"
    r"mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|"
    r"nov(?:ember)?|dec(?:ember)?|after work|before work|after school|early|late|"
    r"no preference|(?:i )?don'?t mind|doesn'?t matter|you choose|any(?:thing)? is fine)\b"
    r"|\b\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.|o'?clock)\b|\b\d{1,2}:\d{2}\b"
    # "12/15", "15.12", "the 15th", "after 5", "around 10", "in two weeks", "3 weeks from now"
    r"|\b\d{1,2}[/.]\d{1,2}(?:[/.]\d{2,4})?\b|\b\d{1,2}(?:st|nd|rd|th)\b"
    r"|\b(?:after|before|from|around|about|until|till|by)\s+\d{1,2}(?::\d{2})?\b"
    r"|\b(?:in\s+)?(?:a|one|two|three|four|a few|a couple of|\d{1,2})\s+(?:days?|weeks?|months?)"
    r"(?:\s+(?:from now|time))?\b",
    re.IGNORECASE,
)


def looks_like_times(text: str) -> bool:
    """A reply to "which days and times suit you?" that names some day or time."""
    return bool(_TIME_WORDS.search(text or ""))


# Words around days and times that add nothing ("weekday mornings work best for me").
_TIME_FILLER = re.compile(
    r"\b(?:or|and|any|at|on|in|the|a|an|for|me|my|is|are|be|would|works?|best|good|great|fine|"
    r"ideally|preferably|prefer|sometime|some time|around|about|ish|after|before|from|to|till|"
    r"until|next|this|every|only|please|pls|maybe|probably|like|earliest|latest|\d+(?:st|nd|"
    r"rd|th)?)\b", re.IGNORECASE)


def only_times(text: str) -> bool:
    """A short message that is nothing but days and times ("tuesday afternoons, after 3pm",
    "asap"): no request or question around them ("can I come in on Friday")."""
    text = text or ""
    if len(text.split()) > 8 or not _TIME_WORDS.search(text):
        return False
    rest = _TIME_FILLER.sub(" ", _TIME_WORDS.sub(" ", text))
    return not re.sub(r"[\s,.!;:/&+-]", "", rest)


def is_payload(text: str) -> bool:
    """A button's payload ("/affirm"), not typed words."""
    return text.startswith("/")


# Replies that are no name: answers, commands and greetings typed at the name question.
NOT_NAMES = frozenset("""
    yes yeah yep yup sure ok okay no nope nah maybe continue next go back stop cancel quit end
    pause help hi hello hey thanks thank ty what why how who when where idk dunno skip none
    resume later please test asap facial scalp y n not now restart start over menu bye cya
    goodbye thx
""".split())


def not_a_name(text: str) -> bool:
    """"yes", "continue", "go on", "not now", "bye", "aaaaaaa": words that answer something
    else, or letters that are no words, not a name."""
    if describe_input(text) == "gibberish":
        return True
    words = re.findall(r"[a-z']+", text.lower())
    return bool(words) and len(words) <= 3 and all(word in NOT_NAMES or word in ("on", "i", "a")
                                                   for word in words)
