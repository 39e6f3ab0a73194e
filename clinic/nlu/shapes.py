"""Question shapes: whole-message templates of the commonest ways people ask the article's
questions, read by rule before the intent classifier's guess is trusted.

Bag-of-words classifiers trained on a few dozen examples per intent confuse questions that
share their words but not their shape: "how does microneedling work?" (what it is) and
"does microneedling actually work?" (its benefits) differ by one word, and cross-validation
confused ask_what_is and ask_benefits with each other at up to 0.98 confidence. A shape is
anchored at both ends, so "does microneedling work for stretch marks" is no shape (the
patient-question patterns and the classifier read it).

Each intent's shapes are regular expressions with ``{x}`` for a name of the treatment
(microneedling, collagen induction therapy, derma roller, derma pen ...), ``{it}`` for
that or "it" / "this", and ``{when}`` for days and times ("on sunday", "late on thursdays").
"""

from __future__ import annotations

import re
from functools import lru_cache

_X = (r"(?:micro ?-?needl\w*|microneedeling|micronedling|collagen induction(?: therapy)?|"
      r"derma ?-?(?:roll\w*|pens?|stamps?)(?: treatments?)?|dermapen(?: treatments?)?)")
_IT = r"(?:(?:a |an |the )?" + _X + r"|it|this|this treatment|the treatment|that)"
_LEAD = r"^\s*(?:(?:so|ok|okay|wait|but|um+|hmm+|and|sorry|hi|hey|please|quick question)[\s,]+)*"
# Days and times after "are you open" ("on sunday", "late on thursdays", "this weekend").
_WHEN = (r"(?: (?:on|at|in|this|next|over|during|late|early|today|tomorrow|tonight|now|right|"
         r"the|a|weekends?|holidays?|evenings?|mornings?|afternoons?|\w*days?|christmas|easter|"
         r"lunch(?:time)?|week))*")
_TAIL = r"(?:\s+(?:exactly|even|anyway|actually|really|then|please|thanks))*[\s?!.]*$"

SHAPES: dict[str, tuple[str, ...]] = {
    "ask_what_is": (
        r"(?:what(?:'s| is| exactly is| even is)|whats|wat is|wats)\s+(?:a |an |the )?{x}"
        r"(?: thing| treatment| procedure)?",
        r"(?:can you |could you )?(?:explain|define|describe)(?: to me)? (?:what )?{x}"
        r"(?: is)?(?: to me)?",
        r"(?:tell me|i want to know|i'?d like to know|i'?d like to hear) (?:more )?about {x}",
        r"how (?:does|do|is) {x} (?:work|done|performed|carried out)",
        r"what (?:happens|goes on) (?:during|in|at) (?:a |an |the )?{x}"
        r"(?: session| treatment| appointment)?",
        r"what does {x} (?:involve|entail|consist of)",
        r"(?:{x} meaning|meaning of {x}|{x}\?+)",
    ),
    "ask_benefits": (
        r"(?:is|would) {it} (?:be )?(?:worth it|worth doing|worth the money|worth trying|"
        r"effective|any good)",
        r"(?:does|do|will|would|can) {it} (?:actually |really |even )?(?:work|help|deliver"
        r"(?: results)?|make a (?:real )?difference)(?: or is it (?:just )?hype)?",
        r"what(?:'s| is) {it} (?:even |actually |really )?(?:good for|for|used for|useful for)",
        r"what (?:good|use) is {it}",
        r"what (?:are )?(?:the |its )?(?:main )?(?:benefits|pros|advantages|perks|upsides)"
        r"(?: of {it})?",
        r"(?:the )?(?:benefits|pros|advantages) of {x}|{x} benefits",
        r"what (?:can|does|will) {it} (?:do|treat|fix|help with|help)"
        r"(?: for (?:me|you|my skin))?",
        r"why (?:would|do|should|might) (?:i|people|anyone|you|someone) (?:get|have|do|try|"
        r"choose) {it}(?: done)?",
        r"what'?s so (?:great|good|special) about {it}|why is {it} so (?:popular|good|great)",
        r"what (?:can|do|will|would) (?:i|you|people) get out of {it}",
    ),
    # Where it comes from, in time; "where do these numbers come from" is the sources.
    "ask_tcm_history": (
        r"where (?:did|does|do) (?:the |a )?{x} (?:come from|originate)(?: originally| from)?",
        r"how old is (?:the |a )?{x}|is (?:the |a )?{x} (?:new|ancient|old|a new thing|"
        r"an old technique)",
        r"when was (?:the |a )?{x} (?:invented|first used|developed)",
        r"(?:the )?(?:history|origins?|roots) of {x}|{x} (?:history|origins?)",
    ),
    "check_eligibility": (
        r"(?:am i|would i be) (?:a )?(?:good |suitable |the right |an? eligible )?"
        r"(?:candidate|suitable|eligible|allowed)(?: for (?:{it}|a treatment))?",
        r"(?:is|would) {it} (?:be )?(?:right|ok|okay|safe|suitable|good|a good idea|an option)"
        r" for me",
        r"(?:can|could|may) i (?:have|get|do|try) {it}(?: done)?",
        r"(?:would|do|could) i (?:qualify|be able to have (?:it|{x}))(?: for {x})?",
        r"(?:can we |can you |let'?s |i want to |i'?d like to |could we )?(?:do|start|begin|take|"
        r"run) (?:the |my |a )?(?:screening|suitability|safety|eligibility)"
        r"(?: questions| check| quiz| test)?(?: now)?",
        r"(?:check|screen) (?:me|my eligibility|if i can have (?:it|{x})|whether i can have "
        r"(?:it|{x}))",
        r"eligibility(?: check)?",
    ),
    "ask_contraindications": (
        r"who (?:should|shouldn'?t|should not|can'?t|cannot|can not|must not|mustn'?t) "
        r"(?:not )?(?:have|get|do|try) {it}",
        r"who is {it} not (?:suitable|recommended|safe|for)(?: for)?",
        r"(?:is|was) {it} safe for (?:everyone|everybody|anyone|anybody|all|all people)",
        r"(?:what are |any )?(?:the )?contra ?-?indications(?: (?:for|of|to) {it})?",
        r"when (?:should|shouldn'?t|should not) (?:you|one|people|someone|i) (?:avoid|not have|"
        r"not get) {it}",
        r"(?:what|which|any|are there(?: any)?) (?:kinds? of |sorts? of )?(?:conditions?|health "
        r"(?:problems?|issues?|conditions?)|medical (?:reasons?|conditions?|history|issues?|"
        r"problems?)|medications?|medicines?|skin (?:conditions?|problems?)|reasons?|things?)"
        r"(?: \w+){0,4} (?:rule (?:\w+ )?out|rules? (?:\w+ )?out|disqualif\w*|stop \w+ from|"
        r"prevent \w+ from|make (?:\w+ ){0,2}(?:ineligible|unsuitable)|mean (?:you|i) can'?t|"
        r"(?:is|are)n'?t allowed|(?:is|are) not allowed|a no ?-?go|(?:don'?t|do not) mix with)"
        r"(?: \w+){0,4}",
        r"(?:what |are there any |any )?reasons? (?:not to|why you (?:can'?t|shouldn'?t)) "
        r"(?:do|have|get|try) {it}",
        r"(?:when|under what circumstances) is {it} (?:a bad idea|not recommended|unsafe|not "
        r"safe|dangerous|a no ?-?go)",
        r"who should (?:stay away from|avoid|skip) {it}",
        r"what (?:would|could|might) (?:stop|prevent) (?:someone|a person|people) from "
        r"(?:being able to (?:have|get) |having |getting )(?:it|{x})",
        r"when (?:do|would|will) (?:practitioners|clinics|they) (?:refuse|decline|say no)"
        r"(?: to (?:do|perform) {it})?",
    ),
    # Asked of the clinic ("you", "the clinic", "your office"); "is the post office open
    # today" is no shape.
    "ask_contact": (
        r"(?:what time|when|what hours?) (?:do|does) (?:you|you guys|the clinic|your (?:clinic|"
        r"office)) (?:open|close|shut|start|finish)(?: up)?{when}",
        r"(?:are|r) (?:you|you guys) (?:open|closed){when}",
        r"is (?:the|your) (?:clinic|office) (?:open|closed){when}",
        r"what (?:are|r) (?:your|the clinic'?s|the) (?:opening |business |office |clinic )?"
        r"(?:hours|times){when}",
        r"(?:how (?:do|can|could|should) i|what'?s the (?:best |easiest )?way to) (?:reach|"
        r"contact|call|phone|email|e-?mail|text|message|get (?:in touch with|hold of)|find) "
        r"(?:you|you guys|the clinic|your (?:clinic|office))",
        r"where (?:exactly )?(?:is|are) (?:you|you guys|the clinic|your (?:clinic|office))"
        r"(?: (?:located|based|situated|exactly))?",
        r"(?:what'?s|what is|whats) (?:your|the clinic'?s|the clinic) (?:phone number|number|"
        r"phone|address|email|e-?mail(?: address)?|post ?code|zip(?: code)?|location|website)",
    ),
    "ask_references": (
        r"(?:what are |what'?s |where are |show me |can i see |give me |list )?(?:the |your )?"
        r"(?:sources?|references?|citations?|bibliography|studies|research)"
        r"(?: used| for this| you use)?",
        r"(?:show me |tell me |i want to know |i'?d like to (?:see|know) )?where (?:(?:does|do|did) )?"
        r"(?:this|these|that|the|your) (?:info(?:rmation)?|facts?|numbers?|figures?|claims?|data|"
        r"stuff|answers?)? ?(?:come|came) from",
        r"(?:which|what) (?:studies|papers|sources|research) (?:are you|do you|did you) "
        r"(?:quote|quoting|cite|citing|use|using|rely on|base this on)",
        r"who wrote (?:the |this |that |your )?(?:article|info(?:rmation)?|this|it)"
        r"(?: (?:you'?re|you are) (?:using|quoting|citing)| you use)?",
    ),
}


@lru_cache(maxsize=1)
def _compiled() -> tuple[tuple[str, re.Pattern[str]], ...]:
    out = []
    for intent, shapes in SHAPES.items():
        body = "|".join(
            f"(?:{s.replace('{x}', _X).replace('{it}', _IT).replace('{when}', _WHEN)})"
            for s in shapes)
        out.append((intent, re.compile(_LEAD + "(?:" + body + ")" + _TAIL, re.IGNORECASE)))
    return tuple(out)


def shape_intent(text: str) -> str | None:
    """The intent whose question shape the whole message has, or None."""
    if len((text or "").split()) > 14:
        return None
    for intent, pattern in _compiled():
        if pattern.match(text or ""):
            return intent
    return None
