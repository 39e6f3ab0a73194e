"""How a safety term was said: the status of a mention, read from the words of its sentence
and clause (:func:`mention_status`); the recogniser (:mod:`clinic.nlu.safety`) finds the terms.

Each :class:`Mention` gets a status, decided on the words of its sentence and clause (a
clause ends at punctuation, at "but", "because", "if", "when", "while", "whether" and the
like, and at "and" / "or" followed by a new subject such as "and I"):

``hypothetical``
    A general or conditional question, not a statement about the person: the clause before
    the term has "if", "what if", "in case", "suppose" (even without a question mark), or
    the sentence is a question and the term comes after "with", "while", "during", "after",
    "before", "for", "about", or a generic person ("you", "people", "someone"), or the
    question names nobody ("does accutane matter?"). A term after a reporting verb ("I read
    that accutane ...") is general information too. An aside such as "if it matters" or
    "in case it helps" is not a condition. For urgent signs the bar is higher (over-warn
    rather than under-warn): only a question with risk words before the term ("is there a
    risk of infection?", "can it cause infection?", "how do I avoid infection?", "can you
    get an infection?") and no "my" / "me" in the sentence; "is pus normal after
    microneedling?" is affirmed.
``third_party``
    The nearest person named before the term in its sentence is someone else: "my mum
    takes warfarin", "she's pregnant". A first person nearer the term wins ("my mum and I
    both take warfarin" is affirmed), as do "me and my mum ..." and "so do I", "me too",
    "both of us" after the term. A clearly negated third-party mention is ``negated`` ("my
    husband doesn't have a fever").
``uncertain``
    A hedge in the clause before the term, or just after it ("I might be pregnant", "maybe
    eczema?", "I think I have psoriasis", "trying to get pregnant", "pregnant I think"), or
    in the clause that governs an "if" / "whether" clause ("not sure if I'm pregnant", "I
    don't know whether I'm on blood thinners"). Uncertainty wins over negation and over a
    question. Also uncertain: the distant past, because the article sets no time window
    ("I used to have eczema", "botox years ago", "when I was pregnant"); a negation with a
    time word ("not on accutane anymore", "no longer", "haven't had botox recently", "not
    currently"); a test without a result ("I took a pregnancy test"); and cystic acne named
    as the cause of scars ("scars from cystic acne").
``negated``
    Only a clear negation scoped to the term: "no", "not", "n't", "never", "neither", "nor"
    before it in the same clause, with nothing between them but words such as "have", "am",
    "taking", "on", "any", "history of" or other listed terms joined by "or" (at most eight
    words), or "negative" just after it. "I'm not pregnant", "no eczema", "never had
    keloids", "I don't take blood thinners", "no rash", "HIV negative", "pregnancy test was
    negative". Anything else is not a negation: "no, I'm pregnant", "I can't stop taking
    warfarin", "I never miss my warfarin" are affirmed. For urgent signs "without" is a
    negation too ("without fever"), but a negated sign in a question ("it's not infected,
    is it?") is uncertain, so the warning is still given.
``affirmed``
    Everything else, by default: "I'm pregnant", "on acutane", "my eczema flares", "I had lip
    filler last week", "finished chemo in the spring", "stopped accutane last month"
    (recently taken still counts).

Order: for a contraindication, hypothetical (unless hedged), then third party, uncertain,
negated, the test / scar rules, affirmed; for an urgent sign, the risk question first, then
the same order. A negated mention means "nothing to warn about or check back on"; it can
answer the question being asked ("I'm not pregnant" to "Are you pregnant?"), but should not
fill a question that was not asked yet, so that question is still put to the person.
Nothing here is logged: the text is personal data.
"""

from __future__ import annotations

import re
from typing import Any

from clinic.nlu.safety_mention import (
    AFFIRMED,
    HYPOTHETICAL,
    KIND_CONTRAINDICATION,
    KIND_URGENT,
    NEGATED,
    THIRD_PARTY,
    UNCERTAIN,
    MentionKind,
    MentionStatus,
)

# --------------------------------------------------------------------------- word lists
# Token texts as spaCy's English tokenizer gives them in lower case ("don't" -> "do", "n't";
# "dont" -> "do", "nt"; "i'm" -> "i", "'m"; "im" -> "i", "m"). Typographic apostrophes are
# turned into "'" before comparing.

_NEGATION_CUES = frozenset({"no", "not", "n't", "nt", "never", "neither", "nor"})
# Words allowed between a negation cue and its term ("I have not been taking any ...").
_NEGATION_PATH = frozenset("""
    be am 'm m is 's s are 're re was were been being have 've ve has had having do does did
    take takes taking took taken on use uses using used get gets getting got gotten suffer
    suffers suffering from with experience experiences experiencing experienced notice
    noticed noticing see seen seeing develop developed developing form forming tend tends
    to prone diagnosed history of sign signs symptom symptoms kind type any a an the ever
    really actually at all anything such as prescribed other major real personal medical
    family there feel feeling felt undergone undergoing received through known or nor
    longer recently lately currently presently now
""".split())
# Deliberately not on that path: "my" ("I don't take my warfarin on weekends" says they take
# it), "problems" / "issues" ("no problems with my eczema" says they have it) and "for"
# ("not taking anything for eczema" says they have it), except in "negative for".
_NEGATION_WINDOW = 8
# With a negation, these make it "not now, but maybe recently": uncertain, not negated.
_TIME_WORDS = frozenset({"anymore", "longer", "recently", "lately", "since", "yet",
                         "currently", "presently", "now", "moment", "today"})
_TIME_PHRASES = (("any", "more"),)

_HEDGE_WORDS = frozenset("""
    maybe mayb mabye maybee perhaps possibly probably prob might unsure uncertain idk dunno
    think thinks thought guess suppose suspect suspected believe doubt wonder wondering
    worried worry afraid trying planning hoping hope hopes considering unclear kinda sorta
""".split())
# Words that make a term itself a "may be": "trying to conceive", "missed my period".
HEDGED_TERM_WORDS = frozenset({"trying", "conceive", "conceiving", "ttc", "missed", "late",
                               # fertility treatment: pregnancy is possible, not said
                               "ivf", "embryo", "fertility", "iui", "retrieval"})
_HEDGE_PHRASES = (
    ("not", "sure"), ("not", "certain"), ("no", "idea"), ("no", "clue"), ("may", "be"),
    ("could", "be"), ("could", "have"), ("may", "have"), ("do", "n't", "know"),
    ("do", "nt", "know"), ("do", "not", "know"), ("did", "n't", "know"), ("kind", "of"),
    ("sort", "of"), ("want", "to"), ("wanting", "to"), ("going", "to"), ("gon", "na"),
    ("wan", "na"), ("thinking", "about"), ("thinking", "of"), ("not", "100"),
    ("can", "not", "remember"), ("ca", "n't", "remember"), ("ca", "nt", "remember"),
    ("do", "n't", "remember"), ("do", "nt", "remember"), ("pretty", "sure"),
    ("fairly", "sure"), ("not", "so", "sure"), ("not", "positive"),
)
# "can you get an infection?": with a generic person, these make an urgent sign a question.
_GENERIC_RISK_VERBS = frozenset({"get", "gets", "getting", "develop", "develops", "have"})
# The distant past: the article sets no time window, so a practitioner has to judge it.
_PAST_PHRASES = (
    ("used", "to"), ("in", "the", "past"), ("as", "a", "child"), ("as", "a", "kid"),
    ("as", "a", "teen"), ("as", "a", "teenager"), ("in", "high", "school"),
    ("in", "my", "teens"), ("years", "ago"), ("year", "ago"), ("decade", "ago"),
    ("decades", "ago"), ("long", "ago"), ("while", "ago"), ("long", "time", "ago"),
    ("childhood",), ("years", "back"), ("when", "i", "was"), ("when", "i", "had"),
    ("when", "i", "were"),
)

_FIRST_PERSON = frozenset({"i", "me", "my", "mine", "myself", "we", "us", "our", "ours",
                           "ourselves", "im", "i'm", "ive", "i've", "id", "i'd"})
_THIRD_PERSON = frozenset("""
    he she they him her his hers them their theirs himself herself themselves
    mum mom mother mama mam mommy mummy dad father papa daddy husband hubby wife partner
    spouse boyfriend girlfriend bf gf fiance fiancee fiancé fiancée sister sis brother bro
    son daughter kid kids child children baby twins friend friends bestie aunt auntie aunty
    uncle grandma grandmother granny nan nana grandpa grandfather grandad granddad cousin
    niece nephew colleague coworker co-worker boss neighbour neighbor roommate flatmate
    housemate parent parents relative relatives stepmom stepmum stepdad stepmother
    stepfather sibling siblings family
""".split())
# Public: the out-of-scope vocabulary counts these as words of the clinic's conversations.
PERSON_WORDS = _THIRD_PERSON
_GENERIC_PERSON = frozenset("""
    you your yourself someone somebody anyone anybody everyone everybody people folks
    women men
""".split())
# After the term, these say it is about the person too ("my mum has eczema and so do I").
_ME_TOO = (
    ("so", "do", "i"), ("so", "am", "i"), ("so", "have", "i"), ("me", "too"),
    ("me", "as", "well"), ("i", "do", "too"), ("i", "do", "as", "well"), ("as", "do", "i"),
    ("same", "here"), ("me", "also"), ("both", "of", "us"), ("i", "have", "too"),
    ("i", "am", "too"), ("i", "'m", "too"),
)
_REPORTING = frozenset({"read", "heard", "hear", "seen", "saw", "says", "said", "say",
                        "told", "tells", "apparently", "supposedly"})

_INTERROGATIVES = frozenset("""
    how what when where why which who whose can could should would will is are does do did
    may am shall isn't aren't doesn't don't can't
""".split())
_QUESTION_WORDS = frozenset({"wondering", "wonder", "curious", "question"})
_CONDITIONALS = frozenset({"if", "suppose", "supposing", "assuming", "unless",
                           "hypothetically"})
_CONDITIONAL_PHRASES = (("in", "case"), ("what", "if"), ("what", "about"), ("how", "about"))
# "For your information" asides are not conditions: "if it matters, I'm pregnant".
_ASIDE_PHRASES = (
    ("if", "it", "matters"), ("if", "that", "matters"), ("if", "it", "helps"),
    ("if", "that", "helps"), ("in", "case", "it", "matters"), ("in", "case", "that", "matters"),
    ("in", "case", "it", "helps"), ("in", "case", "you", "need", "to", "know"),
    ("if", "you", "need", "to", "know"), ("if", "you", "must", "know"),
    ("in", "case", "you", "were", "wondering"), ("if", "you", "were", "wondering"),
)
_QUESTION_CONTEXT = frozenset({"with", "while", "whilst", "during", "after", "before", "for",
                               "about", "when", "regarding", "post"})
_RISK_WORDS = frozenset("""
    risk risks risky chance chances cause causes causing caused lead leads prevent prevents
    preventing prevention avoid avoiding possible possibility likely common rare side effect
    effects complication complications signs sign symptoms symptom happen happens
""".split())

_CLAUSE_WORDS = frozenset({"but", "however", "though", "although", "whereas", "except",
                           "because", "cos", "coz", "if", "whether", "when", "while",
                           "whilst", "unless"})
_COMPLEMENT_WORDS = frozenset({"if", "whether"})
_SUBJECTS = frozenset({"i", "we", "he", "she", "they", "you", "my", "his", "her", "their",
                       "our", "it", "im", "me"})
_CLAUSE_PUNCT = frozenset({",", ";", ":", "(", ")", "[", "]", "\u2026", "...", "/"})
_DASHES = frozenset({"-", "\u2013", "\u2014", "--"})
SENTENCE_END = frozenset({".", "!", "?", "\u2026", "...", "?!", "!?"})

_TEST_WORDS = frozenset({"test", "tests", "screening", "scan", "result", "results"})
_SCAR_WORDS = frozenset({"scar", "scars", "scarring", "scarred", "marks", "pitting"})
_ACNE_SCAR_RULE = "cystic_acne_or_wound"


# --------------------------------------------------------------------------- helpers


def _word(token: Any) -> str:
    return str(token.lower_).replace("\u2019", "'").replace("\u2018", "'")


def _has_phrase(words: list[str], phrases: tuple[tuple[str, ...], ...]) -> bool:
    for phrase in phrases:
        size = len(phrase)
        for index in range(len(words) - size + 1):
            if tuple(words[index:index + size]) == phrase:
                return True
    return False


def _phrase_positions(words: list[str], phrases: tuple[tuple[str, ...], ...]) -> set[int]:
    """Indexes of every word that is part of one of the phrases."""
    positions: set[int] = set()
    for phrase in phrases:
        size = len(phrase)
        for index in range(len(words) - size + 1):
            if tuple(words[index:index + size]) == phrase:
                positions.update(range(index, index + size))
    return positions


class Sentence:
    """The words of one sentence, its clauses, and the term spans inside it."""

    def __init__(self, tokens: list[Any], term_positions: set[int]) -> None:
        self.words = [_word(token) for token in tokens]
        self.term_positions = term_positions
        # clause_start[i]: index where the clause of word i starts; clause_end likewise.
        starts: list[int] = []
        start = 0
        for index in range(len(tokens)):
            if index not in term_positions and index > start and self._breaks(tokens, index):
                start = index
            starts.append(start)
        self.clause_start = starts
        ends = [len(tokens)] * len(tokens)
        end = len(tokens)
        for index in range(len(tokens) - 1, -1, -1):
            ends[index] = end
            if starts[index] == index:
                end = index
        self.clause_end = ends
        self.question = (
            "?" in "".join(self.words)
            # "can you ...", but not "cannot ..." / "can't ..." (tokens "can" + "not")
            or (bool(self.words) and self.words[0] in _INTERROGATIVES
                and (len(self.words) < 2 or self.words[1] not in _NEGATION_CUES))
            or any(word in _QUESTION_WORDS for word in self.words)
        )

    def _breaks(self, tokens: list[Any], index: int) -> bool:
        word = self.words[index]
        if word in _CLAUSE_PUNCT or word in _CLAUSE_WORDS:
            return True
        if word in _DASHES:
            # "hiv-negative" is one clause, "warfarin - no" is two.
            return bool(tokens[index - 1].whitespace_ or tokens[index].whitespace_)
        if word in ("and", "or", "&") and index + 1 < len(tokens):
            return self.words[index + 1] in _SUBJECTS
        return False

    def clause(self, start: int) -> tuple[int, int]:
        return self.clause_start[start], self.clause_end[start]

    def governing_clause(self, clause_start: int) -> tuple[int, int] | None:
        """The clause an "if" / "whether" clause depends on ("not sure | if ...")."""
        if clause_start == 0 or self.words[clause_start] not in _COMPLEMENT_WORDS:
            return None
        previous = clause_start - 1
        return self.clause_start[previous], clause_start


# --------------------------------------------------------------------------- status rules


def _negated(sentence: Sentence, start: int, clause_start: int,
             urgent: bool = False) -> int | None:
    """Index of a negation cue that clearly governs the term starting at ``start``."""
    words = sentence.words
    index = start - 1
    steps = 0
    while index >= clause_start and steps < _NEGATION_WINDOW:
        word = words[index]
        # "without" only for urgent signs: "can't go without my blood thinners" is a yes.
        if word in _NEGATION_CUES or (urgent and word == "without"):
            return None if _double_negation(sentence, index, clause_start) else index
        if word == "for" and index > clause_start and words[index - 1] == "negative":
            return index - 1
        if index == clause_start and _continues_a_list(sentence, index, start):
            # "I haven't had surgery, or fillers": the clause before holds the negation.
            clause_start = sentence.clause_start[index - 1]
            index -= 1
            steps += 1
            continue
        # "not had any surgery or botox": another item of the same "or" list is on the path.
        listed = index + 1 < len(words) and words[index + 1] in ("or", "nor", ",")
        if word not in _NEGATION_PATH and index not in sentence.term_positions and not listed:
            return None
        index -= 1
        steps += 1
    return None


def _continues_a_list(sentence: Sentence, comma: int, start: int) -> bool:
    """A clause that starts with a comma and goes on the "or" list of the clause before:
    ", or fillers", ", botox or fillers". Never after a bare "no" ("no, eczema" is an answer
    and then a disclosure)."""
    words = sentence.words
    if comma == 0 or words[comma] != ",":
        return False
    before = words[comma - 1]
    if before in _NEGATION_CUES or before in _CLAUSE_PUNCT:
        return False
    end = sentence.clause_end[comma]
    return any(word in ("or", "nor") for word in words[comma + 1:end]) and all(
        word in ("or", "nor", ",") or word in _NEGATION_PATH or index in sentence.term_positions
        for index, word in enumerate(words[comma + 1:start], start=comma + 1))


def _double_negation(sentence: Sentence, cue: int, clause_start: int) -> bool:
    """"I have never not taken warfarin": a second cue just before the first one."""
    index = cue - 1
    while index >= clause_start and index not in sentence.term_positions:
        word = sentence.words[index]
        if word in _NEGATION_CUES:
            return True
        if word not in _NEGATION_PATH:
            return False
        index -= 1
    return False


# Words allowed between a term and a following "negative": "pregnancy test came back negative".
_RESULT_PATH = frozenset({"test", "tests", "result", "results", "screening", "scan", "was",
                          "is", "were", "are", "came", "comes", "back", "-", "status"})


def _negated_after(sentence: Sentence, end: int, clause_end: int) -> bool:
    """"HIV negative", "HIV-negative", "pregnancy test was negative"."""
    for word in sentence.words[end:min(clause_end, end + 5)]:
        if word == "negative":
            return True
        if word not in _RESULT_PATH:
            return False
    return False


def _hedged(sentence: Sentence, lo: int, hi: int, start: int, end: int) -> bool:
    """A hedge before the term in [lo, hi), or within two words after it."""
    words = sentence.words
    before = words[lo:start]
    after: list[str] = []
    for word in words[end:min(hi, end + 3)]:
        if word in ("and", "or", "&"):
            break
        after.append(word)
    for part in (before, after):
        for index, word in enumerate(part):
            if word in _HEDGE_WORDS:
                # "what do you think about eczema?" asks the assistant; it is no hedge.
                if word in ("think", "thinks") and index and part[index - 1] == "you":
                    continue
                return True
        if _has_phrase(part, _HEDGE_PHRASES):
            return True
    return False


def _anchor(sentence: Sentence, start: int, end: int, clause: tuple[int, int]) -> str:
    """Who the term is about: "first", "third", "generic", "reported" or "" (nobody named)."""
    words = sentence.words
    if _has_phrase(words[end:], _ME_TOO):
        return "first"
    if any(_person(words, index) == "first" for index in range(start, end)):
        return "first"  # the term names the person: "I'm expecting", "my due date"
    index = start - 1
    while index >= 0:
        word = words[index]
        if index not in sentence.term_positions:
            if index >= clause[0] and word in _REPORTING:
                return "reported"
            kind = _person(words, index)
            if kind == "third" and _with_me(words, index):
                return "first"
            if kind:
                return kind
        index -= 1
    return ""


def _with_me(words: list[str], index: int) -> bool:
    """"me and my mum ...": the person is named just before someone else, joined by "and"."""
    before = words[max(0, index - 4):index]
    joins = [i for i, word in enumerate(before) if word in ("and", "&")]
    return bool(joins) and any(word in ("i", "me", "myself") for word in before[:joins[0]])


def _person(words: list[str], index: int) -> str:
    word = words[index]
    if word in _THIRD_PERSON:
        return "third"
    if word in _FIRST_PERSON:
        return "first"
    if word == "m" and index and words[index - 1] == "i":
        return "first"
    if word in _GENERIC_PERSON:
        return "generic"
    return ""


# The person speaks of themself: "I'm", "I am", "my", "I have", "I take", "I'm on".
_DISCLOSURE_OPENERS = (
    ("i", "'m"), ("i", "m"), ("im",), ("i'm",), ("i", "am"), ("my",), ("i", "have"),
    ("i", "'ve"), ("i", "ve"), ("ive",), ("i've",), ("i", "take"), ("i", "use"),
    ("we", "'re"), ("we", "are"),
)
# Just before a term, these ask what the word means: "what is accutane", "what's a keloid".
_DEFINITION_BEFORE = (
    ("what", "is"), ("what", "'s"), ("what", "s"), ("whats",), ("what's",), ("what", "are"),
    ("what", "were"), ("counts", "as"), ("count", "as"), ("counted", "as"),
    ("meaning", "of"), ("define",), ("definition", "of"), ("what", "kind", "of"),
    ("what", "type", "of"), ("what", "sort", "of"), ("examples", "of"), ("example", "of"),
    ("which", "medicines", "are"), ("which", "drugs", "are"), ("what", "medicines", "are"),
    ("what", "drugs", "are"), ("what", "does"), ("what", "do"), ("what", "exactly", "is"),
)
_DEFINITION_AFTER = frozenset({"mean", "means", "meaning", "stand", "stands"})
_DETERMINERS = frozenset({"a", "an", "the", "exactly", "actually", "even"})


def _asks_what_it_is(words: list[str], lo: int, start: int, end: int, hi: int) -> bool:
    """"what is accutane", "what counts as a blood thinner", "what does keloid mean";
    never when the person is named after the term ("what eczema is like for me")."""
    if any(_person(words, after) == "first" for after in range(end, hi)):
        return False
    index = start
    while index > lo and words[index - 1] in _DETERMINERS:
        index -= 1
    before = words[lo:index]
    # "I'm not sure what accutane is", "what keloids are": "what", the term, then the verb.
    if before and before[-1] in ("what", "whats") and end < hi and \
            words[end] in ("is", "are", "means", "mean", "'s"):
        return True
    for phrase in _DEFINITION_BEFORE:
        if len(before) >= len(phrase) and tuple(before[-len(phrase):]) == phrase:
            if phrase[-1] in ("does", "do"):  # "what does accutane mean", not "... do to"
                return any(word in _DEFINITION_AFTER for word in words[end:hi])
            return True
    return False


def _discloses(words: list[str], lo: int, start: int, end: int, hi: int) -> bool:
    """The person says it of themself: an opener ("I'm", "my", "I have") in the term or in
    its clause before it, with no other person named in between."""
    if any(_person(words, index) == "first" for index in range(start, end)):
        return True
    if any(words[index] in ("me", "my", "mine", "myself") for index in range(end, hi)):
        return True  # "is eczema a problem for me?", "what eczema is like for me"
    index = start - 1
    while index >= lo:
        kind = _person(words, index)
        if kind in ("third", "generic"):
            return False
        if kind == "first":
            return any(tuple(words[index:index + len(p)]) == p for p in _DISCLOSURE_OPENERS)
        index -= 1
    return False


def mention_status(sentence: Sentence, start: int, end: int, kind: MentionKind,
            term_id: str) -> MentionStatus:
    words = sentence.words
    clause = sentence.clause(start)
    lo, hi = clause
    before = words[lo:start]
    governing = sentence.governing_clause(lo)
    anchor = _anchor(sentence, start, end, clause)
    hedged = (
        _hedged(sentence, lo, hi, start, end)
        or _has_phrase(words[lo:hi], _PAST_PHRASES)
        or (governing is not None and anchor != "generic"
            and _hedged(sentence, governing[0], governing[1], governing[1], governing[1]))
    )

    # 0. a question about the term itself ("what is accutane", "what counts as a blood
    # thinner"), with or without a question mark: it asks what the word means.
    if kind == KIND_CONTRAINDICATION and _asks_what_it_is(words, lo, start, end, hi):
        return HYPOTHETICAL
    disclosed = kind == KIND_CONTRAINDICATION and _discloses(words, lo, start, end, hi)

    # 1. hypothetical
    if kind == KIND_URGENT:
        mine = any(word in ("my", "me", "mine") for word in words)
        if sentence.question and not mine and (
            any(word in _RISK_WORDS for word in before)
            or (anchor == "generic" and any(word in _GENERIC_RISK_VERBS for word in before))
        ):
            return HYPOTHETICAL
    elif not hedged and anchor != "third":
        aside = _phrase_positions(before, _ASIDE_PHRASES)
        plain = [word for index, word in enumerate(before) if index not in aside]
        conditional = (any(word in _CONDITIONALS for word in plain)
                       or _has_phrase(plain, _CONDITIONAL_PHRASES))
        if anchor == "reported":
            return HYPOTHETICAL
        asks = sentence.question and (
            anchor in ("generic", "") or any(word in _QUESTION_CONTEXT for word in before))
        if conditional or asks:
            # "what happens if I'm on eliquis?": said of the person ("I'm", "I am", "my",
            # "I have"), so it is never answered with "if this applies to you": a maybe.
            return UNCERTAIN if disclosed else HYPOTHETICAL

    cue = _negated(sentence, start, lo, urgent=kind == KIND_URGENT)
    negated = cue is not None or _negated_after(sentence, end, hi)
    if negated and kind == KIND_URGENT and sentence.question:
        # "it's not infected, is it?" is a worry, not a clear "no": over-warn.
        return UNCERTAIN

    # 2. someone else
    if anchor in ("third", "generic"):
        return NEGATED if negated and not hedged else THIRD_PARTY

    # 3. uncertain
    if hedged:
        return UNCERTAIN

    # 4. negated (a time word makes it "not now", which is not a clear "no")
    if negated:
        if cue is not None:
            rest = [word for index, word in enumerate(words[cue + 1:hi], start=cue + 1)
                    if index not in sentence.term_positions]
            if any(word in _TIME_WORDS for word in rest) or _has_phrase(rest, _TIME_PHRASES):
                return UNCERTAIN
        return NEGATED

    # 5. a term that is itself a "may be": "trying to conceive", "I missed my period"
    if any(word in HEDGED_TERM_WORDS for word in words[start:end]):
        return UNCERTAIN

    # 6. tests and scars
    after = words[end:min(hi, end + 2)]
    if any(word in _TEST_WORDS for word in after):
        return AFFIRMED if "positive" in words[end:hi] else UNCERTAIN
    if term_id == _ACNE_SCAR_RULE and kind == KIND_CONTRAINDICATION:
        scar_before = any(
            word in _SCAR_WORDS and index + 1 < start and words[index + 1] in ("from", "of",
                                                                                "after")
            for index, word in enumerate(words[lo:start], start=lo)
        )
        if scar_before or any(word in _SCAR_WORDS for word in after):
            return UNCERTAIN
    return AFFIRMED


_SPEAKS_OF_SELF = re.compile(r"\b(?:i'?m|i am|my|i have|i'?ve|i take|i'?m on)\b", re.IGNORECASE)


def speaks_of_self(text: str) -> bool:
    """The message says "I'm", "I am", "my" or "I have": whatever it asks in general, the
    person is not answered "if this applies to you" (issue 22)."""
    return bool(_SPEAKS_OF_SELF.search(text.replace("\u2019", "'")))
