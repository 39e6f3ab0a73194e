"""Nobody ruled out is booked as eligible or offered the promotion.

Two checks: over the dialogue data (every story and rule: once a contraindication is in the
conversation, no booking form, no submission, no "booking_next: booking"), and over the
action code itself, for random screening answers that are not all a clear "no".
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from actions.booking import ActionBookingGate, ActionSubmitBooking, ValidateBookingForm
from actions.promotion import ActionCheckPromoCode, ActionExplainPromotion
from actions.screening import ActionScreeningOutcome
from clinic.knowledge.kb import knowledge
from clinic.rules.screening import ANSWERS_SLOT
from tests.support.actions import answers_slots, make_tracker, run_action, slot_events, texts

ROOT = Path(__file__).resolve().parents[3]
K = knowledge()
RULE_IDS = [rule.id for rule in K.screening.contraindications]
PROMO_WORDS = [p.code for p in K.promotions] + [f"${p.amount_usd}" for p in K.promotions]
BOOKING_DETAILS = {
    "booking_name": "Ana Test", "booking_phone": "+14155550132", "booking_email": "none",
    "booking_treatment": "facial_microneedling", "booking_times": "Friday morning",
    "booking_sms_consent": "yes", "booking_confirm": "yes",
}


def dialogue_files() -> list[Path]:
    return sorted((ROOT / "data").glob("*.yml")) + sorted((ROOT / "tests").glob("test_*.yml"))


def story_blocks():
    for path in dialogue_files():
        data = yaml.safe_load(path.read_text()) or {}
        for key in ("stories", "rules"):
            for block in data.get(key) or []:
                yield path.name, block.get("story") or block.get("rule"), block.get("steps") or []


def marks_contraindication(step: dict) -> bool:
    if step.get("intent") == "report_contraindication":
        return True
    if step.get("action") == "action_handle_contraindication":
        return True
    for item in step.get("slot_was_set") or []:
        if isinstance(item, dict):
            for name, value in item.items():
                if name == ANSWERS_SLOT and isinstance(value, dict) and \
                        any(answer in ("yes", "unsure") for answer in value.values()):
                    return True
                if name == "screening_outcome" and value != "eligible":
                    return True
                if name == "booking_next" and value == "refused":
                    return True
    return False


def reaches_booking(step: dict) -> bool:
    if step.get("action") in ("booking_form", "action_submit_booking"):
        return True
    if step.get("active_loop") == "booking_form":
        return True
    return any(isinstance(item, dict) and item.get("booking_next") == "booking"
               for item in step.get("slot_was_set") or [])


def test_dialogue_data_has_stories_to_check() -> None:
    names = [path.name for path in dialogue_files()]
    assert "rules.yml" in names and any(n.startswith("test_") for n in names)


@pytest.mark.parametrize("file,name,steps", list(story_blocks()), ids=lambda v: str(v)[:40])
def test_no_path_with_a_contraindication_reaches_booking(file, name, steps) -> None:
    seen = False
    for step in steps:
        seen = seen or marks_contraindication(step)
        assert not (seen and reaches_booking(step)), f"{file}: '{name}' books after a contraindication"


answers = st.fixed_dictionaries({rule_id: st.sampled_from(["yes", "no", "unsure", None])
                                 for rule_id in RULE_IDS}).filter(
    lambda a: any(v != "no" for v in a.values()))


def booking_count(url: str) -> int:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    if "booking_requests" not in inspect(engine).get_table_names():
        return 0
    with engine.connect() as connection:
        return connection.execute(text("select count(*) from booking_requests")).scalar_one()


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answers=answers)
def test_ruled_out_answers_never_book_or_promote(answers, clinic_db) -> None:
    slots = {**answers_slots(answers), "booking_wanted": True}

    events, dispatcher = run_action(ActionScreeningOutcome(), make_tracker(slots=slots))
    assert slot_events(events)["booking_next"] != "booking"
    assert not any(word in texts(dispatcher) for word in PROMO_WORDS)

    events, dispatcher = run_action(ActionBookingGate(), make_tracker("book", "book", slots=slots))
    assert slot_events(events)["booking_next"] != "booking"
    assert not any(word in texts(dispatcher) for word in PROMO_WORDS)

    _, dispatcher = run_action(ActionExplainPromotion(),
                               make_tracker("any deals?", "ask_promotion", slots=slots))
    assert not any(word in texts(dispatcher) for word in PROMO_WORDS) or \
        all(v in ("no", None) for v in answers.values())

    events, dispatcher = run_action(ActionCheckPromoCode(),
                                    make_tracker("my code is FACIAL50", "enter_promo_code",
                                                 slots={**slots, **BOOKING_DETAILS}))
    assert slot_events(events).get("promo_code") is None

    form_slots = {**slots, "requested_slot": "booking_name"}
    events, _ = run_action(ValidateBookingForm(),
                           make_tracker("Ana", "greet", slots=form_slots, active_loop="booking_form"))
    assert slot_events(events).get("booking_name") != "Ana"

    before = booking_count(clinic_db)
    run_action(ActionSubmitBooking(), make_tracker("/affirm", "affirm",
                                                   slots={**slots, **BOOKING_DETAILS}))
    assert booking_count(clinic_db) == before


def test_the_check_above_can_fail(clinic_db) -> None:
    """The same submission with all-clear answers is saved, with the promotion."""
    slots = {**answers_slots({rule_id: "no" for rule_id in RULE_IDS}), **BOOKING_DETAILS}
    events, dispatcher = run_action(ActionSubmitBooking(), make_tracker("/affirm", "affirm",
                                                                        slots=slots))
    assert booking_count(clinic_db) == 1
    assert "FACIAL50" in texts(dispatcher)
    assert slot_events(events)["booking_reference"]
    assert dt.date.today()  # the promotion's dates come from knowledge/promotions.yml
