"""Booking hand-off domain code: validation tables and saving, against a real SQLite file."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import re
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from clinic.config.settings import settings
from clinic.knowledge.kb import knowledge
from clinic.rules.booking import (
    REFERENCE_ALPHABET,
    BookingDraft,
    InvalidBooking,
    NotEligible,
    clean_name,
    normalize_email,
    normalize_phone,
    normalize_reference,
    parse_preferred_times,
)
from clinic.services import booking as booking_module
from clinic.services.booking import save_booking
from clinic.store import db
from clinic.store.models import (
    BookingRequest,
    PromotionRedemption,
    SmsConsent,
    WebhookDelivery,
)
from tests.support import race

LA = ZoneInfo("America/Los_Angeles")
TODAY = dt.date(2026, 3, 10)  # inside FACIAL50's validity
UTC = dt.timezone.utc


@pytest.fixture
def db_url(clinic_db):
    return clinic_db


def eligible_answers() -> dict[str, str]:
    return {rule.id: "no" for rule in knowledge().screening.contraindications}


def make_draft(**changes) -> BookingDraft:
    values = dict(
        name="Ada Lovelace", phone_e164="+14155552671", email="ada@example.com",
        treatment="facial_microneedling", preferred_times_text="Tuesday at 3pm",
        sms_consent=True, sms_consent_wording=knowledge().clinic.sms_consent_wording,
        consent_at=dt.datetime(2026, 3, 10, 20, 0, tzinfo=UTC), conversation_id="conv-ada",
        channel="socketio", screening_answers=eligible_answers(), promo_code=None,
    )
    values.update(changes)
    return BookingDraft(**values)


def count(url: str, model) -> int:
    with db.read_scope(url) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("text, expected", [
    ("(415) 555-2671", "+14155552671"),
    ("415-555-2671", "+14155552671"),
    ("415.555.2671", "+14155552671"),
    ("4155552671", "+14155552671"),
    ("+1 415 555 2671", "+14155552671"),
    ("1 (415) 555-2671", "+14155552671"),
    ("my number is 415 555 2671, thanks", "+14155552671"),
    ("+44 7911 123456", "+447911123456"),  # UK mobile
    ("+33 6 12 34 56 78", "+33612345678"),  # French mobile
    ("+44 20 7946 0958", "+442079460958"),  # London fixed line
])
def test_normalize_phone_accepts_real_numbers(text, expected):
    assert normalize_phone(text) == expected


@pytest.mark.parametrize("text", [
    "", "call me", "555-1234",            # no area code
    "(555) 010-0123",                     # 555 is not a US area code
    "12345", "123456789012345678",
    "1-800-555-0199",                     # toll free: not a personal number
    "+1 900 555 0100",                    # premium rate
    "07911 123456",                       # UK national format read as a US number
    "415-555-267",                        # a digit short
    "x" * 200,
])
def test_normalize_phone_rejects_junk(text):
    assert normalize_phone(text) is None


def test_normalize_phone_uses_the_region_for_national_numbers():
    assert normalize_phone("07911 123456", region="GB") == "+447911123456"


@pytest.mark.parametrize("text, expected", [
    ("ada@example.com", "ada@example.com"),
    ("  Ada.Lovelace@Example.COM ", "ada.lovelace@example.com"),
    ("ada+clinic@mail.example.co.uk", "ada+clinic@mail.example.co.uk"),
    ("<ada@example.com>", "ada@example.com"),
    ("mailto:ada@example.com", "ada@example.com"),
])
def test_normalize_email_accepts_and_lower_cases(text, expected):
    assert normalize_email(text) == expected


@pytest.mark.parametrize("text", [
    "", "ada", "ada@", "@example.com", "ada@example", "ada@@example.com", "ada@exa mple.com",
    "ada example@example.com", "ada@example.c", "ada..l@example.com", ".ada@example.com",
    "ada@-example.com", "a" * 65 + "@example.com", "ada@" + "a" * 250 + ".com",
    "no thanks",
])
def test_normalize_email_rejects_invalid(text):
    assert normalize_email(text) is None


@pytest.mark.parametrize("text, expected", [
    ("Ada Lovelace", "Ada Lovelace"),
    ("  ada   lovelace ", "ada lovelace"),
    ("Siobhán O'Brien-Núñez", "Siobhán O'Brien-Núñez"),
    ("李小龙", "李小龙"),
    ("J. R. Smith Jr.", "J. R. Smith Jr."),
])
def test_clean_name_keeps_real_names(text, expected):
    assert clean_name(text) == expected


@pytest.mark.parametrize("text", [
    "", "   ", "12345", "+1 415 555 2671", "!!!", "a" * 101,
    "<script>alert(1)</script>", "Ada <b>Lovelace</b>", "Ada &amp; Bob",
    "http://spam.example", "Ada\x00Lovelace", "ada@example.com",
])
def test_clean_name_rejects_non_names(text):
    assert clean_name(text) is None


NOW = dt.datetime(2026, 3, 10, 14, 37, tzinfo=LA)  # a Tuesday afternoon


@pytest.mark.parametrize("text, expected", [
    ("next Tuesday at 3pm", ["2026-03-17T15:00"]),
    ("Thursday afternoon", ["2026-03-12T14:00"]),
    ("tomorrow morning", ["2026-03-11T09:00"]),
    ("tomorrow at 9am", ["2026-03-11T09:00"]),
    ("Friday 10am or Saturday", ["2026-03-13T10:00", "2026-03-14T00:00"]),
    ("March 20 at 2:30pm", ["2026-03-20T14:30"]),
    ("Tue 3pm / Thu 10am", ["2026-03-12T10:00", "2026-03-17T15:00"]),
    ("3/25", ["2026-03-25T00:00"]),
    ("2026-04-01 09:00", ["2026-04-01T09:00"]),
    ("today at 5pm", ["2026-03-10T17:00"]),
    ("this evening", ["2026-03-10T17:00"]),
])
def test_parse_preferred_times_finds_future_times(text, expected):
    found = parse_preferred_times(text, NOW, LA)
    assert [moment.strftime("%Y-%m-%dT%H:%M") for moment in found] == expected
    assert all(moment.tzinfo is not None and moment > NOW - dt.timedelta(days=1)
               for moment in found)


@pytest.mark.parametrize("text", [
    "", "anytime", "as soon as possible", "whenever suits", "I may be free on weekends",
    "yesterday", "today at 1pm", "last Monday", "now",
])
def test_parse_preferred_times_gives_nothing_for_vague_or_past_text(text):
    assert parse_preferred_times(text, NOW, LA) == []


def test_parse_preferred_times_uses_the_clinic_time_zone_across_dst():
    # 2026-03-08 is the DST change in Los Angeles: Monday 9 am is 16:00 UTC, not 17:00.
    before_dst = dt.datetime(2026, 3, 6, 12, 0, tzinfo=LA)
    found = parse_preferred_times("Monday at 9am", before_dst, LA)
    assert [moment.astimezone(UTC).hour for moment in found] == [16]


def test_parse_preferred_times_needs_an_aware_now():
    with pytest.raises(ValueError):
        parse_preferred_times("Friday", dt.datetime(2026, 3, 10, 12, 0), LA)


def test_normalize_reference_reads_what_staff_type():
    assert normalize_reference("mn-7k3q9p") == "MN-7K3Q9P"
    assert normalize_reference("MN 7K3Q9P") == "MN-7K3Q9P"
    assert normalize_reference("7k3q9p") == "MN-7K3Q9P"


# --------------------------------------------------------------------------- saving


def test_save_booking_stores_everything_in_one_request(db_url):
    kb = knowledge()
    now = dt.datetime(2026, 3, 10, 21, 37, tzinfo=UTC)  # 14:37 in Los Angeles
    result = save_booking(make_draft(preferred_times_text="Thursday afternoon"), kb,
                          today=TODAY, now=now)

    assert re.fullmatch(rf"MN-[{REFERENCE_ALPHABET}]{{6}}", result.reference)
    assert result.promotion is not None and result.promotion.code == "FACIAL50"
    assert result.promo_decision.reason == "applied"
    assert f"${result.promotion.amount_usd} off your facial with FACIAL50" in \
        result.promo_decision.message
    with db.read_scope(db_url) as session:
        booking = session.get(BookingRequest, result.booking_id)
        consents = session.execute(select(SmsConsent)).scalars().all()
        redemptions = session.execute(select(PromotionRedemption)).scalars().all()
    assert booking.reference == result.reference
    assert (booking.name, booking.phone_e164, booking.email) == (
        "Ada Lovelace", "+14155552671", "ada@example.com")
    assert booking.created_at == now and booking.created_at.tzinfo is not None
    assert booking.status == "requested" and booking.treated_at is None
    assert booking.preferred_times_text == "Thursday afternoon"
    assert booking.preferred_times_parsed == ["2026-03-12T14:00:00-07:00"]
    assert booking.screening_outcome == "eligible"
    assert booking.screening_answers == eligible_answers()
    first_question = kb.screening.contraindications[0].question
    assert first_question in booking.screening_summary
    assert "eligible" in booking.screening_summary.lower()
    assert (booking.promotion_code, booking.promotion_amount_usd) == \
        ("FACIAL50", kb.promotion("FACIAL50").amount_usd)
    assert [(c.booking_id, c.given, c.wording, c.phone_e164, c.given_at) for c in consents] == [
        (booking.id, True, kb.clinic.sms_consent_wording, "+14155552671",
         dt.datetime(2026, 3, 10, 20, 0, tzinfo=UTC))]
    assert [(r.code, r.phone_e164, r.email, r.booking_id) for r in redemptions] == [
        ("FACIAL50", "+14155552671", "ada@example.com", booking.id)]


def test_consent_refusal_is_recorded_too(db_url):
    result = save_booking(make_draft(sms_consent=False, consent_at=None), knowledge(),
                          today=TODAY)
    with db.read_scope(db_url) as session:
        consent = session.execute(select(SmsConsent)).scalar_one()
    assert consent.booking_id == result.booking_id and consent.given is False
    assert consent.given_at is not None


@pytest.mark.parametrize("answer_for_first_rule", ["yes", "unsure", None])
def test_not_eligible_is_refused_and_nothing_is_saved(db_url, answer_for_first_rule):
    answers = eligible_answers()
    first = knowledge().screening.contraindications[0].id
    if answer_for_first_rule is None:
        del answers[first]  # incomplete screening
    else:
        answers[first] = answer_for_first_rule
    with pytest.raises(NotEligible) as raised:
        save_booking(make_draft(screening_answers=answers, promo_code="FACIAL50"),
                     knowledge(), today=TODAY)
    assert raised.value.outcome != "eligible"
    db.get_engine(db_url)
    for model in (BookingRequest, SmsConsent, PromotionRedemption):
        assert count(db_url, model) == 0


def test_scalp_treatment_gets_no_facial_promotion(db_url):
    result = save_booking(make_draft(treatment="scalp_microneedling"), knowledge(), today=TODAY)
    assert result.promotion is None and result.promo_decision is None
    assert count(db_url, PromotionRedemption) == 0


def test_typed_code_for_another_treatment_is_refused_with_its_reason(db_url):
    result = save_booking(make_draft(treatment="scalp_microneedling", promo_code="facial50"),
                          knowledge(), today=TODAY)
    assert result.promotion is None
    assert result.promo_decision.reason == "wrong_treatment"
    assert count(db_url, PromotionRedemption) == 0


def test_wrong_typed_code_still_gets_the_automatic_facial_promotion(db_url):
    result = save_booking(make_draft(promo_code="FACIAL5O"), knowledge(), today=TODAY)
    assert result.promotion is not None and result.promo_decision.reason == "applied"
    assert result.typed_code_decision.reason == "unknown_code"


def test_promotion_outside_its_dates_is_not_applied(db_url):
    result = save_booking(make_draft(), knowledge(), today=dt.date(2028, 1, 1))
    assert result.promotion is None
    assert count(db_url, PromotionRedemption) == 0


def test_second_booking_by_same_person_is_saved_without_the_promotion(db_url):
    kb = knowledge()
    first = save_booking(make_draft(), kb, today=TODAY)
    # Same email (typed differently), another phone: still the same person.
    second = save_booking(make_draft(phone_e164="+12065550100", email="ADA@example.com",
                                     conversation_id="conv-2"), kb, today=TODAY)
    assert first.promotion is not None
    assert second.promotion is None and second.promo_decision.reason == "already_used"
    assert count(db_url, BookingRequest) == 2
    with db.read_scope(db_url) as session:
        saved = session.get(BookingRequest, second.booking_id)
    assert saved.promotion_code is None and saved.promotion_amount_usd is None


def test_unique_constraint_decides_when_the_check_was_stale(db_url, monkeypatch):
    """The race path: both saves pass the read-only check, the database refuses one."""
    kb = knowledge()
    first = save_booking(make_draft(), kb, today=TODAY)
    real_check = booking_module.check_code

    def stale_check(code, kb, **kwargs):  # what a racing save saw before the first committed
        return real_check(code, kb, **{**kwargs, "phone_e164": None, "email": None})

    monkeypatch.setattr(booking_module, "check_code", stale_check)
    second = save_booking(make_draft(conversation_id="conv-2"), kb, today=TODAY)
    assert first.promotion is not None
    assert second.promotion is None and second.promo_decision.reason == "already_used"
    assert count(db_url, BookingRequest) == 2  # the loser's booking is still saved
    assert count(db_url, PromotionRedemption) == 1


def test_concurrent_saves_by_one_person_redeem_exactly_once(db_url):
    kb = knowledge()
    db.get_engine(db_url)  # migrate once up front, like a running server
    workers = 8
    results, errors = race(
        workers,
        lambda index: make_draft(conversation_id=f"conv-{index}",
                                 # half share the phone, the other half share only the email
                                 phone_e164="+14155552671" if index % 2 else f"+1206555010{index}"),
        lambda draft: save_booking(draft, kb, today=TODAY))
    assert errors == []
    assert len(results) == workers
    assert sum(1 for r in results if r.promotion is not None) == 1
    assert sorted(r.promo_decision.reason for r in results) == (
        ["already_used"] * (workers - 1) + ["applied"])
    assert count(db_url, PromotionRedemption) == 1
    assert count(db_url, BookingRequest) == workers
    assert len({r.reference for r in results}) == workers


def _book_in_process(url: str, index: int, barrier, queue) -> None:
    import os

    os.environ["CLINIC_DATABASE_URL"] = url
    os.environ.pop("CLINIC_BOOKING_WEBHOOK_URL", None)
    from clinic.knowledge.kb import knowledge as load
    from clinic.services.booking import save_booking as save

    draft = make_draft(conversation_id=f"proc-{index}")
    barrier.wait()
    try:
        result = save(draft, load(), today=TODAY)
        queue.put(result.promo_decision.reason)
    except Exception as error:  # noqa: BLE001 - the parent asserts on it
        queue.put(f"error: {error!r}")


def test_concurrent_saves_from_separate_processes_redeem_exactly_once(db_url):
    db.get_engine(db_url)
    context = multiprocessing.get_context("spawn")
    workers = 3
    barrier, queue = context.Barrier(workers), context.Queue()
    processes = [context.Process(target=_book_in_process, args=(db_url, i, barrier, queue))
                 for i in range(workers)]
    for process in processes:
        process.start()
    reasons = sorted(queue.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=30)
    assert reasons == ["already_used"] * (workers - 1) + ["applied"]
    assert count(db_url, PromotionRedemption) == 1
    assert count(db_url, BookingRequest) == workers


def test_failure_mid_save_leaves_nothing_behind(db_url, monkeypatch):
    """A crash after the booking, consent and redemption were written rolls all back."""
    import clinic.services.webhook

    seen = {}

    def crash(session, booking, url, *, now=None):
        session.flush()
        seen["rows"] = (session.execute(select(func.count()).select_from(BookingRequest))
                        .scalar_one(),
                        session.execute(select(func.count()).select_from(PromotionRedemption))
                        .scalar_one())
        raise RuntimeError("power cut")

    with monkeypatch.context() as patch:
        patch.setenv("CLINIC_BOOKING_WEBHOOK_URL", "http://127.0.0.1:9/hook")
        patch.setattr(clinic.services.webhook, "queue_delivery", crash)
        settings.cache_clear()
        with pytest.raises(RuntimeError, match="power cut"):
            save_booking(make_draft(), knowledge(), today=TODAY)
    settings.cache_clear()
    assert seen["rows"] == (1, 1)  # they were written inside the transaction ...
    for model in (BookingRequest, SmsConsent, PromotionRedemption, WebhookDelivery):
        assert count(db_url, model) == 0  # ... and are all gone
    # The promotion is still available to that person afterwards.
    assert settings().database_url == db_url
    assert save_booking(make_draft(), knowledge(), today=TODAY).promotion is not None


def test_webhook_delivery_is_queued_with_the_booking(db_url, monkeypatch):
    monkeypatch.setenv("CLINIC_BOOKING_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    settings.cache_clear()
    result = save_booking(make_draft(), knowledge(), today=TODAY)
    with db.read_scope(db_url) as session:
        delivery = session.execute(select(WebhookDelivery)).scalar_one()
    assert delivery.booking_id == result.booking_id and delivery.status == "pending"
    assert delivery.payload["reference"] == result.reference
    assert delivery.payload["promotion_code"] == "FACIAL50"


def test_reference_clash_draws_another_reference(db_url, monkeypatch):
    kb = knowledge()
    first = save_booking(make_draft(), kb, today=TODAY)
    drawn = iter([first.reference, "MN-ZZZZZZ"])
    monkeypatch.setattr(booking_module, "new_reference", lambda: next(drawn))
    second = save_booking(make_draft(conversation_id="conv-2"), kb, today=TODAY)
    assert second.reference == "MN-ZZZZZZ"
    assert count(db_url, SmsConsent) == 2


@pytest.mark.parametrize("changes", [
    {"name": "<b>x</b>"},
    {"phone_e164": "(415) 555-2671"},  # must already be E.164
    {"phone_e164": "+15550100123"},
    {"email": "not-an-email"},
    {"treatment": "botox"},
    {"conversation_id": ""},
    {"sms_consent_wording": " "},
    {"consent_at": dt.datetime(2026, 3, 10, 12, 0)},
])
def test_invalid_drafts_are_refused_before_writing(db_url, changes):
    with pytest.raises(InvalidBooking):
        save_booking(make_draft(**changes), knowledge(), today=TODAY)
    assert count(db_url, BookingRequest) == 0


def test_unreachable_database_raises_database_unavailable(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing-folder' / 'clinic.db'}"
    with pytest.raises(db.DatabaseUnavailable):
        save_booking(make_draft(), knowledge(), today=TODAY, url=url)


def test_personal_data_never_reaches_logs_at_info(db_url, monkeypatch, caplog):
    import logging

    from clinic.services.erase import erase_person
    from clinic.services.webhook import deliver_pending

    monkeypatch.setenv("CLINIC_BOOKING_WEBHOOK_URL", "http://127.0.0.1:9/hook?token=secret")
    settings.cache_clear()
    caplog.set_level(logging.INFO)
    save_booking(make_draft(), knowledge(), today=TODAY)
    save_booking(make_draft(conversation_id="conv-2"), knowledge(), today=TODAY)
    deliver_pending()  # fails: nothing listens on port 9
    from tests.support import add_tracker_events, make_tracker_store
    tracker = settings().tracker_store_url
    make_tracker_store(tracker)
    add_tracker_events(tracker, "conv-3", [{"event": "user", "text": "I'm Ada, 415 555 2671"}])
    assert erase_person(phone="+14155552671", tracker_url=tracker).conversations == 1
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Booking MN-" in logged and "Webhook delivery" in logged  # logging did happen
    for private in ("Ada", "Lovelace", "4155552671", "ada@example.com", "token=secret"):
        assert private not in logged
