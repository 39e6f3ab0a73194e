"""FACIAL50 rules: each refusal reason, automatic application, once per person."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from clinic.config.settings import settings
from clinic.knowledge.kb import (
    OUTCOME_ELIGIBLE,
    OUTCOME_INCOMPLETE,
    OUTCOME_NOT_SUITABLE_NOW,
    OUTCOME_PRACTITIONER_REVIEW,
    knowledge,
)
from clinic.rules.booking import BookingDraft, NotEligible
from clinic.rules.promotion import (
    MESSAGES,
    REASONS,
    Eligibility,
    automatic_promotion,
    check_code_before_screening,
    eligibility,
    overview,
)
from clinic.services.booking import save_booking
from clinic.services.promotion import check_code, clinic_today

TODAY = dt.date(2026, 3, 10)
FACIAL = "facial_microneedling"
SCALP = "scalp_microneedling"


@pytest.fixture
def db_url(clinic_db):
    return clinic_db


def facial50():
    promotion = knowledge().promotion("FACIAL50")
    assert promotion is not None
    return promotion


def check(code="FACIAL50", *, outcome=OUTCOME_ELIGIBLE, treatment=FACIAL, phone=None,
          email=None, today=TODAY, url=None):
    return check_code(code, knowledge(), outcome=outcome, treatment=treatment,
                      phone_e164=phone, email=email, today=today, url=url)


def book(url, *, phone="+14155552671", email="ada@example.com", answers=None, code=None,
         treatment=FACIAL):
    kb = knowledge()
    draft = BookingDraft(
        name="Ada Lovelace", phone_e164=phone, email=email, treatment=treatment,
        preferred_times_text="Friday", sms_consent=False,
        sms_consent_wording=kb.clinic.sms_consent_wording, conversation_id="conv",
        channel="rest", promo_code=code,
        screening_answers=answers or {r.id: "no" for r in kb.screening.contraindications})
    return save_booking(draft, kb, today=TODAY, url=url)


def test_applied_message_states_the_offer_plainly():
    decision = check(" facial50 ")
    assert decision.ok and decision.reason == "applied"
    assert decision.promotion == facial50()
    amount = facial50().amount_usd
    assert decision.message == f"You get ${amount} off your facial with FACIAL50."


def test_unknown_code():
    decision = check("SUMMER99")
    assert not decision.ok and decision.reason == "unknown_code" and decision.promotion is None
    assert "SUMMER99" in decision.message
    assert knowledge().clinic.phone in decision.message


def test_unknown_code_message_does_not_echo_markup():
    decision = check("<img src=x>")
    assert decision.reason == "unknown_code"
    assert "<" not in decision.message and ">" not in decision.message


def test_not_yet_valid():
    day_before = facial50().valid_from - dt.timedelta(days=1)
    decision = check(today=day_before)
    assert (decision.ok, decision.reason) == (False, "not_yet_valid")
    assert str(facial50().valid_from.year) in decision.message
    assert check(today=facial50().valid_from).ok  # the first day counts


def test_expired():
    day_after = facial50().valid_until + dt.timedelta(days=1)
    decision = check(today=day_after)
    assert (decision.ok, decision.reason) == (False, "expired")
    assert "ended" in decision.message
    assert check(today=facial50().valid_until).ok  # the last day counts


@pytest.mark.parametrize("treatment", [SCALP, "not_sure"])
def test_wrong_treatment(treatment):
    decision = check(treatment=treatment)
    assert (decision.ok, decision.reason) == (False, "wrong_treatment")
    assert "facial microneedling" in decision.message
    label = knowledge().clinic.treatment(treatment).label.lower()
    assert label in decision.message.lower()


def test_treatment_not_chosen_yet_skips_the_treatment_rule():
    assert check(treatment=None).ok


@pytest.mark.parametrize("outcome", [OUTCOME_NOT_SUITABLE_NOW, OUTCOME_PRACTITIONER_REVIEW])
@pytest.mark.parametrize("code", ["FACIAL50", "SUMMER99", ""])
def test_not_eligible_comes_before_anything_about_the_code(outcome, code):
    decision = check(code, outcome=outcome, today=dt.date(2030, 1, 1), treatment=SCALP)
    assert (decision.ok, decision.reason, decision.promotion) == (False, "not_eligible", None)
    assert "FACIAL50" not in decision.message


@pytest.mark.parametrize("outcome", [None, OUTCOME_INCOMPLETE])
def test_not_screened(outcome):
    decision = check(outcome=outcome)
    assert (decision.ok, decision.reason) == (False, "not_screened")


def test_every_reason_has_a_message():
    assert set(MESSAGES) == set(REASONS)


def test_already_used_by_phone_or_email(db_url):
    first = book(db_url)
    assert first.promotion is not None
    by_phone = check(phone="+14155552671", email="other@example.com", url=db_url)
    by_email = check(phone="+12065550100", email="ADA@example.com", url=db_url)
    fresh = check(phone="+12065550100", email="other@example.com", url=db_url)
    assert (by_phone.reason, by_email.reason, fresh.reason) == (
        "already_used", "already_used", "applied")
    assert "once per person" in by_phone.message


def test_once_per_person_off_means_no_redemption_check(db_url, monkeypatch):
    book(db_url)
    relaxed = dataclasses.replace(facial50(), once_per_person=False)
    kb = dataclasses.replace(knowledge(), promotions=(relaxed,))
    decision = check_code("FACIAL50", kb, outcome=OUTCOME_ELIGIBLE, treatment=FACIAL,
                          phone_e164="+14155552671", email=None, today=TODAY, url=db_url)
    assert decision.ok


def test_automatic_promotion_only_for_eligible_facial_within_dates():
    kb = knowledge()
    assert automatic_promotion(kb, outcome=OUTCOME_ELIGIBLE, treatment=FACIAL,
                               today=TODAY) == facial50()
    assert automatic_promotion(kb, outcome=OUTCOME_ELIGIBLE, treatment=SCALP,
                               today=TODAY) is None
    assert automatic_promotion(kb, outcome=OUTCOME_PRACTITIONER_REVIEW, treatment=FACIAL,
                               today=TODAY) is None
    assert automatic_promotion(kb, outcome=None, treatment=FACIAL, today=TODAY) is None
    assert automatic_promotion(kb, outcome=OUTCOME_ELIGIBLE, treatment=FACIAL,
                               today=facial50().valid_until + dt.timedelta(days=1)) is None


def test_not_eligible_person_cannot_get_the_code_by_typing_it(db_url):
    kb = knowledge()
    answers = {r.id: "no" for r in kb.screening.contraindications}
    answers[kb.screening.contraindications[0].id] = "unsure"
    with pytest.raises(NotEligible):
        book(db_url, answers=answers, code="FACIAL50")
    # Nothing was redeemed: the same person, once eligible, still gets it.
    assert book(db_url, code="FACIAL50").promotion == facial50()


def test_clinic_today_uses_the_clinic_time_zone(monkeypatch):
    monkeypatch.setenv("CLINIC_TIMEZONE", "America/Los_Angeles")
    settings.cache_clear()
    try:
        late_evening = dt.datetime(2026, 3, 11, 5, 30, tzinfo=dt.timezone.utc)  # 22:30 in LA
        assert clinic_today(late_evening) == dt.date(2026, 3, 10)
    finally:
        settings.cache_clear()


def _draft(phone="+14155550177", code=None):
    return BookingDraft(
        name="Ana Lee", phone_e164=phone, email=None, treatment=FACIAL,
        preferred_times_text="asap", sms_consent=False,
        sms_consent_wording=knowledge().clinic.sms_consent_wording, consent_at=None,
        conversation_id="c1", channel="rest",
        screening_answers={rule.id: "no" for rule in knowledge().screening.contraindications},
        promo_code=code)


def test_summary_preview_and_saved_booking_agree_for_a_number_that_already_redeemed(db_url):
    from clinic.services.booking import preview_promotion

    kb = knowledge()
    first = preview_promotion(_draft(), kb, today=TODAY, url=db_url)
    assert first.ok and first.promotion.code == "FACIAL50"
    saved = save_booking(_draft(), kb, today=TODAY, url=db_url)
    assert saved.promotion is not None
    # Same number again: the summary must not promise what the save then refuses.
    preview = preview_promotion(_draft(), kb, today=TODAY, url=db_url)
    assert not preview.ok and preview.reason == "already_used"
    again = save_booking(_draft(), kb, today=TODAY, url=db_url)
    assert again.promotion is None
    assert again.promo_decision.message == preview.message


def test_summary_preview_names_a_typed_unknown_code(db_url):
    from clinic.services.booking import preview_promotion

    preview = preview_promotion(_draft(phone="+14155550178", code="SAVE10"), knowledge(),
                                today=TODAY, url=db_url)
    # FACIAL50 still applies automatically; the typed code is not silently promised.
    assert preview.ok and preview.promotion.code == "FACIAL50"


# --------------------------------------------------------------------------- eligibility


def with_requires(*outcomes):
    """The project's knowledge with FACIAL50's ``requires`` replaced."""
    kb = knowledge()
    promotions = tuple(dataclasses.replace(p, requires=outcomes) for p in kb.promotions)
    return dataclasses.replace(kb, promotions=promotions)


@pytest.mark.parametrize(("outcome", "expected"), [
    (None, Eligibility.NOT_SCREENED),
    (OUTCOME_INCOMPLETE, Eligibility.NOT_SCREENED),
    (OUTCOME_NOT_SUITABLE_NOW, Eligibility.NOT_ELIGIBLE),
    (OUTCOME_PRACTITIONER_REVIEW, Eligibility.NOT_ELIGIBLE),
    (OUTCOME_ELIGIBLE, Eligibility.ELIGIBLE),
])
def test_eligibility_follows_requires(outcome, expected):
    assert knowledge().promotion("FACIAL50").requires == (OUTCOME_ELIGIBLE,)
    assert eligibility(outcome, knowledge().promotions) is expected


def test_requires_is_what_every_caller_follows():
    """Configuring practitioner_review in requires changes the code check, the automatic
    promotion and what is said about the offer, with no code change."""
    kb = with_requires(OUTCOME_ELIGIBLE, OUTCOME_PRACTITIONER_REVIEW)
    review = OUTCOME_PRACTITIONER_REVIEW
    assert eligibility(review, kb.promotions) is Eligibility.ELIGIBLE
    assert check_code("FACIAL50", kb, outcome=review, treatment=FACIAL, phone_e164=None,
                      email=None, today=TODAY).ok
    assert automatic_promotion(kb, outcome=review, treatment=FACIAL, today=TODAY) == \
        kb.promotion("FACIAL50")
    assert "FACIAL50" in overview(review, kb, TODAY)
    only_review = with_requires(review)
    assert not check_code("FACIAL50", only_review, outcome=OUTCOME_ELIGIBLE, treatment=FACIAL,
                          phone_e164=None, email=None, today=TODAY).ok
    assert "FACIAL50" not in overview(OUTCOME_ELIGIBLE, only_review, TODAY)


def test_not_suitable_now_never_qualifies_even_if_configured():
    """The loader refuses it in ``requires``; the decision refuses it anyway."""
    kb = with_requires(OUTCOME_ELIGIBLE, OUTCOME_NOT_SUITABLE_NOW, OUTCOME_INCOMPLETE)
    assert eligibility(OUTCOME_NOT_SUITABLE_NOW, kb.promotions) is Eligibility.NOT_ELIGIBLE
    assert eligibility(OUTCOME_INCOMPLETE, kb.promotions) is Eligibility.NOT_SCREENED
    assert automatic_promotion(kb, outcome=OUTCOME_NOT_SUITABLE_NOW, treatment=FACIAL,
                               today=TODAY) is None
    assert "FACIAL50" not in overview(OUTCOME_NOT_SUITABLE_NOW, kb, TODAY)


@pytest.mark.parametrize(("today", "reason"), [
    (TODAY, "not_screened"), (dt.date(2020, 1, 1), "not_yet_valid"),
    (dt.date(2030, 1, 1), "expired"),
])
def test_a_code_before_screening_is_answered_about_that_code_and_never_ok(today, reason):
    decision = check_code_before_screening("facial50", knowledge(), today=today)
    assert (decision.ok, decision.reason) == (False, reason)
    assert check_code_before_screening("SUMMER99", knowledge(), today=today).reason == \
        "unknown_code"


def test_the_amount_is_said_from_amount_usd_only():
    kb = knowledge()
    current = facial50().amount_usd
    changed = dataclasses.replace(kb, promotions=tuple(
        dataclasses.replace(p, amount_usd=current + 25) for p in kb.promotions))
    decision = check_code("FACIAL50", changed, outcome=OUTCOME_ELIGIBLE, treatment=FACIAL,
                          phone_e164=None, email=None, today=TODAY)
    assert f"${current + 25} off" in decision.message and f"${current} " not in decision.message


def test_see_a_practitioner_is_said_one_way():
    """The booking refusal, a refused code and the offer explained to someone it isn't for
    all say knowledge/messages.yml's common.see_practitioner."""
    from actions.booking import ActionBookingGate
    from clinic.knowledge import messages as M
    from tests.support.actions import make_tracker, run_action, texts

    kb = knowledge()
    see = kb.say(M.COMMON_SEE_PRACTITIONER)
    from clinic.rules.screening import ANSWERS_SLOT

    answers = {r.id: "no" for r in kb.screening.contraindications}
    answers[kb.screening.contraindications[0].id] = "yes"
    _, dispatcher = run_action(ActionBookingGate(),
                               make_tracker("book", "book", slots={ANSWERS_SLOT: answers}))
    assert see in texts(dispatcher)
    for outcome in (OUTCOME_NOT_SUITABLE_NOW, OUTCOME_PRACTITIONER_REVIEW):
        assert see in check(outcome=outcome).message
        assert see in overview(outcome, kb, TODAY)
