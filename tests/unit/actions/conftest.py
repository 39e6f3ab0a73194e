"""Fixtures of the actions' tests: the knowledge with one more contraindication."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinic.knowledge.kb import Knowledge, knowledge
from tests.support.knowledge_copy import with_extra_contraindication


@pytest.fixture(params=["practitioner_review", "not_suitable_now"])
def extended(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Knowledge]:
    """The actions' knowledge is a copy with a 12th contraindication in screening.yml only."""
    folder = with_extra_contraindication(tmp_path, outcome=request.param)
    before = os.environ.get("CLINIC_KNOWLEDGE_DIR")
    os.environ["CLINIC_KNOWLEDGE_DIR"] = str(folder)
    knowledge.cache_clear()
    try:
        yield knowledge()
    finally:
        if before is None:
            os.environ.pop("CLINIC_KNOWLEDGE_DIR", None)
        else:
            os.environ["CLINIC_KNOWLEDGE_DIR"] = before
        knowledge.cache_clear()
