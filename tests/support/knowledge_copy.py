"""A copy of knowledge/ with one contraindication more, for the "one file" tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from clinic.knowledge.kb import DEFAULT_KNOWLEDGE_DIR

EXTRA_ID = "gold_thread_implants"
EXTRA_QUESTION = "Do you have gold threads or metal implants in the skin of your face?"
EXTRA_EXPLANATION = "Gold threads or metal implants in the face need a practitioner's review."
EXTRA_TERMS = ["gold threads", "gold thread implants", "metal implants in my face"]


def with_extra_contraindication(tmp_path: Path, like: str = "keloids",
                                outcome: str | None = None) -> Path:
    """knowledge/ copied into ``tmp_path`` with one more entry in screening.yml only: a
    copy of contraindication ``like`` with a new id, question, explanation and terms, put
    last in the question order. Returns the copy's folder."""
    folder = tmp_path / "knowledge"
    shutil.copytree(DEFAULT_KNOWLEDGE_DIR, folder)
    path = folder / "screening.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    model = next(rule for rule in data["contraindications"] if rule["id"] == like)
    extra = {**model, "id": EXTRA_ID, "question": EXTRA_QUESTION,
             "explanation": EXTRA_EXPLANATION, "terms": EXTRA_TERMS}
    if outcome is not None:
        extra["outcome"] = outcome
        if outcome == "not_suitable_now":
            extra.setdefault("what_would_change", "A practitioner can tell you what would change this.")
    data["contraindications"].append(extra)
    data["order"].append(EXTRA_ID)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return folder
