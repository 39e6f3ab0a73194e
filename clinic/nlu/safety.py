"""Recognise contraindications and urgent warning signs in free text, with who and how sure.

The terms come from ``knowledge/`` (screening.yml and urgent.yml, with their brand names and
misspellings) and are matched on the tokens of the clinic's spaCy pipeline
(:mod:`clinic.nlu.spacy_build`) in lower case: that is the document Rasa's ``SpacyNLP`` makes
(it lower-cases the text), and a document in original case is read again in lower case,
because the tokenizer splits "DON'T" and "CAN'T" only in lower case. Matching uses the
current knowledge, not the patterns saved in the pipeline, so a stale build cannot hide a
term (a stale build is logged as a warning). Overlapping terms resolve as in the entity
ruler: the longest wins, so "acne scars" (a condition) is never cystic acne. An urgent sign
is never dropped in favour of another term.

How each term was said (its status) is read by :mod:`clinic.nlu.safety_phrasing`; the
mention itself is :mod:`clinic.nlu.safety_mention`. Nothing here is logged: the text is
personal data.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from clinic.knowledge.kb import Knowledge, knowledge
from clinic.nlu.safety_mention import KIND_CONTRAINDICATION, KIND_URGENT, Mention
from clinic.nlu.safety_phrasing import SENTENCE_END, Sentence, mention_status
from clinic.nlu.spacy_build import (
    DEFAULT_OUTPUT,
    LABEL_CONTRAINDICATION,
    LABEL_URGENT,
    build_pipeline,
    entity_patterns,
)

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.pipeline import EntityRuler
    from spacy.tokens import Doc, Span

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- recogniser


class SafetyRecognizer:
    """Find contraindications and urgent signs in text with the clinic's spaCy pipeline."""

    def __init__(self, nlp: Language, kb: Knowledge) -> None:
        from spacy.matcher import PhraseMatcher

        self.nlp = nlp
        self.kb = kb
        patterns = entity_patterns(kb, nlp)
        self._matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        grouped: dict[str, list[str]] = {}
        for pattern in patterns:
            grouped.setdefault(pattern["id"], []).append(pattern["pattern"])
        for pattern_id, terms in grouped.items():
            self._matcher.add(pattern_id, [nlp.make_doc(term) for term in terms])
        self._levels = {sign.id: sign.level for sign in kb.urgent_signs}
        self._worry_after = {rule.id: frozenset(rule.after_treatment_worry)
                             for rule in kb.screening.contraindications
                             if rule.after_treatment_worry}
        self._descriptions = [
            (rule.id, tuple(frozenset(stem(word) for word in group) for group in description))
            for rule in kb.screening.contraindications for description in rule.descriptions]
        self._check_pipeline(patterns)

    def _check_pipeline(self, patterns: list[dict[str, Any]]) -> None:
        if "entity_ruler" not in self.nlp.pipe_names:
            log.warning("The spaCy pipeline has no entity_ruler; rebuild it with "
                        "'python -m clinic.nlu.spacy_build'.")
            return
        def keyed(items: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
            return {(str(p.get("label")), str(p.get("pattern")), str(p.get("id")))
                    for p in items}

        ruler = cast("EntityRuler", self.nlp.get_pipe("entity_ruler"))
        if keyed(ruler.patterns) != keyed(patterns):
            log.warning("The spaCy pipeline's terms differ from knowledge/ (stale build): "
                        "the recogniser uses knowledge/; rebuild with "
                        "'python -m clinic.nlu.spacy_build' so entities match.")

    def mentions(self, text: str) -> list[Mention]:
        """Contraindications and urgent signs mentioned in ``text``, in text order."""
        return self.mentions_in_doc(self.nlp(text.lower()), text)

    def mentions_in_doc(self, doc: Doc, original_text: str | None = None) -> list[Mention]:
        """Like :meth:`mentions`, on a doc made by the same pipeline (maybe lower-cased).

        ``original_text`` is the text as typed; offsets and matched words refer to it.
        """
        if original_text is None:
            original_text = doc.text
        if doc.text != doc.text.lower():
            # The tokenizer splits "DON'T" and "CAN'T" only in lower case: read lower case,
            # as Rasa's SpacyNLP does by default.
            doc = self.nlp(doc.text.lower())
        spans = self._spans(doc)
        offsets = _OffsetMap(doc.text, original_text)
        sentences = self._sentences(doc)
        mentions = []
        for span in spans:
            label = span.label_
            if label not in (LABEL_CONTRAINDICATION, LABEL_URGENT):
                continue
            term_id = span.kb_id_.partition(":")[2]
            kind = KIND_URGENT if label == LABEL_URGENT else KIND_CONTRAINDICATION
            sent_start, sent_end = sentences[span.start]
            tokens = list(doc[sent_start:sent_end])
            terms_here = {
                index - sent_start
                for other in spans
                if other.start >= sent_start and other.end <= sent_end
                for index in range(other.start, other.end)
            }
            if kind == KIND_CONTRAINDICATION and span.text.lower() in \
                    self._worry_after.get(term_id, ()) and \
                    after_a_treatment(doc[sent_start:sent_end].text):
                # CLINICIAN DECISION (docs/safety.md): "breaking out since my treatment" is
                # a worry about the treatment just had, answered with what is normal and the
                # warning signs, not the contraindication for the next one.
                continue
            sentence = Sentence(tokens, terms_here)
            status = mention_status(sentence, span.start - sent_start, span.end - sent_start,
                             kind, term_id)
            start, end = offsets.span(span.start_char, span.end_char)
            mentions.append(Mention(
                kind=kind, id=term_id, text=offsets.text(start, end), start=start, end=end,
                status=status, level=self._levels.get(term_id, "") if kind == KIND_URGENT else "",
            ))
        return mentions

    def _spans(self, doc: Doc) -> list[Span]:
        from spacy.tokens import Span
        from spacy.util import filter_spans

        found = []
        for match_id, start, end in self._matcher(doc):
            pattern_id = self.nlp.vocab.strings[match_id]
            prefix = pattern_id.split(":", 1)[0]
            label = {"contraindication": LABEL_CONTRAINDICATION, "urgent": LABEL_URGENT}.get(
                prefix, prefix.upper())
            found.append(Span(doc, start, end, label=label, kb_id=pattern_id))
        found += self._described(doc)
        kept = _joined_with_overlaps(found, filter_spans(found))
        # An urgent sign is never hidden by a longer non-urgent term.
        urgent_kept = [s for s in kept if s.label_ == LABEL_URGENT]
        for span in filter_spans([s for s in found if s.label_ == LABEL_URGENT]):
            if not any(span.start < k.end and k.start < span.end for k in urgent_kept):
                kept.append(span)
                urgent_kept.append(span)
        return sorted(kept, key=lambda s: (s.start, s.end))

    def _described(self, doc: Doc) -> list[Span]:
        """Contraindications described rather than named: every word group of a description
        within a few words of each other in one sentence, in any order and inflection."""
        from spacy.tokens import Span

        if not self._descriptions:
            return []
        stems = [stem(token.text) for token in doc]
        found = []
        for start, end in set(self._sentences(doc).values()):
            for rule_id, groups in self._descriptions:
                hit = _closest(stems, start, end, groups)
                if hit is not None:
                    found.append(Span(doc, hit[0], hit[1], label=LABEL_CONTRAINDICATION,
                                      kb_id=f"contraindication:{rule_id}"))
        return found

    @staticmethod
    def _sentences(doc: Doc) -> dict[int, tuple[int, int]]:
        """Token index -> (sentence start, sentence end)."""
        bounds: list[tuple[int, int]] = []
        if doc.has_annotation("SENT_START"):
            bounds = [(sent.start, sent.end) for sent in doc.sents]
        else:
            start = 0
            for token in doc:
                if token.text in SENTENCE_END or set(token.text) <= set(".!?"):
                    nxt = token.i + 1
                    if nxt >= len(doc) or not (set(doc[nxt].text) <= set(".!?")):
                        bounds.append((start, nxt))
                        start = nxt
            if start < len(doc):
                bounds.append((start, len(doc)))
        return {index: bound for bound in bounds for index in range(*bound)}


# How close the words of a description must be: the first and the last at most this many
# tokens apart ("my scars always get raised" is 4 apart).
DESCRIPTION_WINDOW = 7
_SUFFIXES = ("ings", "ing", "ed", "es", "er", "s")


def stem(word: str) -> str:
    """A word without its common English endings, the same for "raised", "raise" and
    "raising", "scars" and "scarring", "bigger" and "big" (the pipeline has no lemmatiser)."""
    word = word.lower().strip("'")
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]
    return word.rstrip("e") if len(word) > 3 else word


def _closest(stems: list[str], start: int, end: int,
             groups: tuple[frozenset[str], ...]) -> tuple[int, int] | None:
    """The shortest token range in [start, end) holding a word of every group, if it is
    within DESCRIPTION_WINDOW."""
    best: tuple[int, int] | None = None
    for first in range(start, end):
        if not any(stems[first] in group for group in groups):
            continue
        missing = set(range(len(groups)))
        for last in range(first, min(end, first + DESCRIPTION_WINDOW + 1)):
            missing -= {i for i, group in enumerate(groups) if stems[last] in group}
            if not missing:
                if best is None or last + 1 - first < best[1] - best[0]:
                    best = (first, last + 1)
                break
    return best


# After a treatment, and not before one: "since my treatment", "after microneedling",
# "post-treatment" (a "before" anywhere in the sentence leaves the safety term to win).
_AFTER_A_TREATMENT = re.compile(
    r"\b(?:after|since|following|post)\b[^.?!]{0,40}?\b(?:micro ?-?needl\w*|derma ?-?\w+|"
    r"treatments?|sessions?|procedures?|appointments?)\b|\bpost ?-?(?:treatment|procedure|"
    r"session|microneedling)\b", re.IGNORECASE)
_BEFORE_A_TREATMENT = re.compile(r"\b(?:before|beforehand|prior to|ahead of|next)\b",
                                 re.IGNORECASE)


def after_a_treatment(sentence: str) -> bool:
    """The sentence speaks of the time after a treatment already had, and of no time before
    one (clinician decision, docs/safety.md)."""
    return bool(_AFTER_A_TREATMENT.search(sentence)) and \
        not _BEFORE_A_TREATMENT.search(sentence)


def _joined_with_overlaps(found: list[Span], kept: list[Span]) -> list[Span]:
    """Each kept term grown over the overlapping terms of the same rule it beat (issue 18):
    in "a baby aspirin every day", "aspirin every day" wins but "baby" is still part of a
    term ("baby aspirin"), so it is no person the term is about."""
    from spacy.tokens import Span

    joined = []
    for span in kept:
        start, end = span.start, span.end
        for other in found:
            if other.kb_id_ == span.kb_id_ and other.start < end and start < other.end:
                start, end = min(start, other.start), max(end, other.end)
        joined.append(span if (start, end) == (span.start, span.end) else
                      Span(span.doc, start, end, label=span.label_, kb_id=span.kb_id_))
    return joined


class _OffsetMap:
    """Map character offsets of a (lower-cased) doc text back to the text as typed."""

    def __init__(self, doc_text: str, original: str | None) -> None:
        self.original = original if original is not None else doc_text
        self.mapping: list[int] | None = None
        if original is None or len(original) == len(doc_text):
            return
        mapping = []
        for index, char in enumerate(original):
            mapping.extend([index] * len(char.lower()))
        if len(mapping) == len(doc_text):
            mapping.append(len(original))
            self.mapping = mapping
        else:  # not a lower-casing of the original: report the doc's own text
            self.original = doc_text

    def span(self, start: int, end: int) -> tuple[int, int]:
        if self.mapping is None:
            return start, end
        last = self.mapping[end - 1] + 1 if end > start else self.mapping[end]
        return self.mapping[start], last

    def text(self, start: int, end: int) -> str:
        return self.original[start:end]


# --------------------------------------------------------------------------- loading


def load_recognizer(model_path: str | Path | None = None) -> SafetyRecognizer:
    """The recogniser on the saved pipeline (default build/spacy_clinic), or one built now.

    If the folder has no saved pipeline, the pipeline is built in memory from knowledge/.
    """
    import spacy

    kb = knowledge()
    path = Path(model_path) if model_path is not None else DEFAULT_OUTPUT
    if (path / "meta.json").is_file():
        nlp = spacy.load(path)
    else:
        log.info("No saved spaCy pipeline at %s; building it in memory.", path)
        nlp = build_pipeline(kb)
    return SafetyRecognizer(nlp, kb)
