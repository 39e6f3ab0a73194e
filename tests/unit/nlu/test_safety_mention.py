"""One SafetyMention type: the NLU component writes it as an entity, the actions read it back."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from clinic.nlu.safety_mention import MentionKind, MentionStatus, SafetyMention

DOMAIN = yaml.safe_load((Path(__file__).resolve().parents[3] / "domain.yml").read_text())


@pytest.mark.parametrize("kind", list(MentionKind))
@pytest.mark.parametrize("status", list(MentionStatus))
def test_entity_round_trip(kind: MentionKind, status: MentionStatus) -> None:
    text = "my mum takes warfarin"
    mention = SafetyMention(kind=kind, id="blood_thinners", text="warfarin", start=13, end=21,
                            status=status)
    entity = mention.to_entity()
    assert entity["entity"] == kind.entity
    assert entity["role"] == status.value and type(entity["role"]) is str
    assert SafetyMention.from_entity(entity, text) == mention


def test_entities_that_are_no_safety_terms_are_skipped() -> None:
    assert SafetyMention.from_entity({"entity": "patient_topic", "value": "cost"}) is None
    assert SafetyMention.from_entity({"entity": "contraindication", "value": None}) is None


def test_a_missing_or_unknown_role_reads_as_affirmed() -> None:
    for role in (None, "", "sure"):
        mention = SafetyMention.from_entity({"entity": "contraindication", "value": "keloids",
                                             "role": role})
        assert mention is not None and mention.status is MentionStatus.AFFIRMED


def test_only_affirmed_and_uncertain_mentions_are_recorded_as_answers() -> None:
    recorded = {status: SafetyMention(MentionKind.CONTRAINDICATION, "keloids", "", 0, 0,
                                      status).recorded_answer for status in MentionStatus}
    assert recorded == {MentionStatus.AFFIRMED: "yes", MentionStatus.UNCERTAIN: "unsure",
                        MentionStatus.NEGATED: None, MentionStatus.THIRD_PARTY: None,
                        MentionStatus.HYPOTHETICAL: None}


def test_domain_entities_and_roles_are_the_enums() -> None:
    entities = {name: spec for item in DOMAIN["entities"] if isinstance(item, dict)
                for name, spec in item.items()}
    for kind in MentionKind:
        assert entities[kind.entity]["roles"] == [status.value for status in MentionStatus]
