"""knowledge/screening.yml: the contraindications, their order and the outcomes' wording."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from clinic.knowledge.loaders.reading import Entry, entry_list, read_yaml
from clinic.knowledge.model import (
    OUTCOME_ELIGIBLE,
    OUTCOME_INCOMPLETE,
    OUTCOME_NOT_SUITABLE_NOW,
    OUTCOME_PRACTITIONER_REVIEW,
    YES_OUTCOMES,
    Contraindication,
    KnowledgeError,
    Outcome,
    Reference,
    Screening,
)


def load(directory: Path, references: dict[str, Reference]) -> Screening:
    data, label = read_yaml(directory, "screening.yml")
    rules = {}
    for index, raw in enumerate(entry_list(data, "contraindications", label)):
        item = Entry(raw, label, f"contraindications[{index}]")
        rule_id = item.ident()
        item.entry = f"contraindication '{rule_id}'"
        outcome = Outcome(item.choice("outcome", YES_OUTCOMES))
        rule = Contraindication(
            id=rule_id,
            question=item.text("question"),
            explanation=item.text("explanation"),
            outcome=outcome,
            terms=item.text_list("terms"),
            what_would_change=item.text(
                "what_would_change", required=outcome == OUTCOME_NOT_SUITABLE_NOW
            ),
        )
        worry = item.text_list("after_treatment_worry", required=False)
        unknown = [term for term in worry if term.lower() not in {t.lower() for t in rule.terms}]
        if unknown:
            raise item.fail(f"after_treatment_worry names words that are not terms: {unknown}",
                            "list only words from the contraindication's terms")
        rule = replace(rule, after_treatment_worry=tuple(t.lower() for t in worry),
                       descriptions=_descriptions(item))
        if rule_id in rules:
            raise item.fail("the id is used twice", "give every contraindication its own id")
        rules[rule_id] = rule
    order = data.get("order")
    if order is None:
        order = list(rules)
    if not isinstance(order, list) or sorted(order) != sorted(rules):
        missing = sorted(set(rules) - set(order or []))
        extra = sorted(set(order or []) - set(rules))
        raise KnowledgeError(
            label, "order",
            f"the question order must list every contraindication once "
            f"(missing: {missing or 'none'}, unknown: {extra or 'none'})",
            "list each contraindication id exactly once under 'order'",
        )
    source = str(data.get("source", ""))
    if source not in references:
        raise KnowledgeError(label, "source", f"'{source}' is not a known reference",
                             "use an id from knowledge/references.yml")
    outcomes_entry = Entry(data.get("outcomes"), label, "outcomes")
    outcomes = {
        name: outcomes_entry.text(name)
        for name in (OUTCOME_ELIGIBLE, OUTCOME_NOT_SUITABLE_NOW, OUTCOME_PRACTITIONER_REVIEW,
                     OUTCOME_INCOMPLETE)
    }
    unsure = Entry(data, label, "screening").text("unsure_reason")
    return Screening(source, tuple(rules[rule_id] for rule_id in order), outcomes, unsure)


def _descriptions(item: Entry) -> tuple[tuple[tuple[str, ...], ...], ...]:
    """``descriptions``: a list of descriptions, each a list of word groups (a word, or a
    list of words any one of which will do), e.g. ``[scar, [raised, growing]]``."""
    raw = item.data.get("descriptions") if isinstance(item.data, dict) else None
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise item.fail("descriptions must be a list", "write a list of word groups")
    found = []
    for description in raw:
        if not isinstance(description, list) or len(description) < 2:
            raise item.fail(f"the description {description!r} needs two word groups or more",
                            "write e.g. [scar, [raised, growing]]")
        groups = tuple(tuple(str(w).lower() for w in (g if isinstance(g, list) else [g]))
                       for g in description)
        if any(not group or not all(w.strip() for w in group) for group in groups):
            raise item.fail(f"the description {description!r} has an empty word",
                            "every group needs at least one word")
        found.append(groups)
    return tuple(found)
