"""knowledge/promotions.yml: the promotion codes, their amount, dates and who may get them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from clinic.knowledge.loaders.reading import Entry, entry_list, read_yaml, unique
from clinic.knowledge.model import (
    OUTCOME_ELIGIBLE,
    OUTCOME_INCOMPLETE,
    OUTCOME_NOT_SUITABLE_NOW,
    PROMOTABLE_OUTCOMES,
    Clinic,
    Promotion,
)


def _promotion_requires(item: Entry) -> tuple[str, ...]:
    """``requires``: one outcome or a list of them, each one a promotion may require."""
    value = item.data.get("requires")
    values: list[Any] = value if isinstance(value, list) else [value]
    texts = [v.strip() for v in values if isinstance(v, str) and v.strip()]
    if not values or len(texts) != len(values):
        raise item.fail("field 'requires' is missing or not a list of screening outcomes",
                        f"write 'requires: [{OUTCOME_ELIGIBLE}]'")
    outcomes = tuple(texts)
    for outcome in outcomes:
        if outcome in (OUTCOME_NOT_SUITABLE_NOW, OUTCOME_INCOMPLETE):
            raise item.fail(f"'requires' includes '{outcome}': a promotion is never offered to "
                            "people the screening rules out or has not finished",
                            f"remove '{outcome}'; use only {', '.join(PROMOTABLE_OUTCOMES)}")
        if outcome not in PROMOTABLE_OUTCOMES:
            raise item.fail(f"'requires' includes '{outcome}', which is not a screening outcome",
                            f"use one or more of: {', '.join(PROMOTABLE_OUTCOMES)}")
    return outcomes


def _promotion_description(item: Entry, amount_usd: int) -> str:
    """``description`` with ``{amount}`` filled from ``amount_usd`` (the one place it is said)."""
    text = item.text("description", placeholders=("amount",))
    if re.search(r"\$\s*\d", text):
        raise item.fail("'description' writes the amount out", "write ${amount} instead: it is "
                        "filled from amount_usd, so the amount is changed in one place")
    return text.replace("{amount}", str(amount_usd))


def load(directory: Path, clinic: Clinic) -> tuple[Promotion, ...]:
    data, label = read_yaml(directory, "promotions.yml")
    promotions = []
    treatment_ids = {t.id for t in clinic.treatments}
    for index, raw in enumerate(entry_list(data, "promotions", label)):
        item = Entry(raw, label, f"promotions[{index}]")
        code = item.text("code").upper()
        item.entry = f"promotion '{code}'"
        if not re.fullmatch(r"[A-Z0-9]{3,20}", code):
            raise item.fail(f"code '{code}' is not valid", "use 3 to 20 letters and digits")
        amount_usd = int(item.number("amount_usd") or 0)
        promotion = Promotion(
            code=code,
            description=_promotion_description(item, amount_usd),
            amount_usd=amount_usd,
            treatments=item.text_list("treatments"),
            valid_from=item.date("valid_from"),
            valid_until=item.date("valid_until"),
            once_per_person=item.flag("once_per_person", True),
            requires=_promotion_requires(item),
        )
        for treatment in promotion.treatments:
            if treatment not in treatment_ids:
                raise item.fail(f"treatment '{treatment}' is not in knowledge/clinic.yml",
                                f"use one of: {', '.join(sorted(treatment_ids))}")
        if promotion.valid_until < promotion.valid_from:
            raise item.fail("valid_until is before valid_from", "swap or correct the dates")
        promotions.append(promotion)
    unique([p.code for p in promotions], label, "promotion")
    return tuple(promotions)
