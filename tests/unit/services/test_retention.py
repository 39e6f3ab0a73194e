"""Retention: `clinic purge` removes old conversations, SMS logs and delivered webhook
payloads, and keeps bookings, consents, opt-outs and everything recent."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

import clinic.cli.commands as cli
from clinic.config.settings import load_settings, settings
from clinic.services.retention import purge
from clinic.store import db
from clinic.store.models import BookingRequest, SmsConsent, SmsMessage, SmsOptOut, WebhookDelivery
from tests.support import add_booking, add_tracker_events, tracker_senders

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OLD = NOW - dt.timedelta(days=91)
RECENT = NOW - dt.timedelta(days=89)


@pytest.fixture
def seeded(clinic_db, tracker_store):
    tracker = tracker_store
    old_booking = add_booking("+14155552671", consent=True,
                              consent_at=OLD)  # an old booking: it stays
    with db.session_scope() as session:
        booking = session.get(BookingRequest, old_booking)
        booking.created_at = OLD
        session.add_all([
            SmsMessage(direction="inbound", phone_e164="+14155552671", body="old text",
                       created_at=OLD, transport="twilio", status="received"),
            SmsMessage(direction="outbound", phone_e164="+14155552671", body="recent text",
                       created_at=RECENT, transport="local-outbox", status="not-sent"),
            SmsOptOut(phone_e164="+14155552671", opted_out=True, keyword="STOP",
                      changed_at=OLD),
            WebhookDelivery(booking_id=old_booking, url="https://x.example/h",
                            payload={"name": "Ada"}, status="delivered", attempts=1,
                            delivered_at=OLD),
            WebhookDelivery(booking_id=old_booking, url="https://x.example/h",
                            payload={"name": "Ada"}, status="delivered", attempts=1,
                            delivered_at=RECENT),
            WebhookDelivery(booking_id=old_booking, url="https://x.example/h",
                            payload={"name": "Ada"}, status="failed", attempts=40),
        ])
    old, recent = OLD.timestamp(), RECENT.timestamp()
    add_tracker_events(tracker, "old-conversation", [
        {"event": "user", "timestamp": old - 60, "text": "hi"},
        {"event": "bot", "timestamp": old, "text": "hello"}])
    add_tracker_events(tracker, "still-going", [  # started long ago, active recently
        {"event": "user", "timestamp": old - 60, "text": "hi"},
        {"event": "user", "timestamp": recent, "text": "back again"}])
    add_tracker_events(tracker, "recent", [{"event": "user", "timestamp": recent}])
    return clinic_db, tracker


def state(tracker: str) -> dict:
    with db.read_scope() as session:
        result = {
            "texts": sorted(session.execute(select(SmsMessage.body)).scalars()),
            "payloads": [p for p in session.execute(
                select(WebhookDelivery.payload).order_by(WebhookDelivery.id)).scalars()],
            "bookings": session.execute(select(func.count()).select_from(
                BookingRequest)).scalar_one(),
            "consents": session.execute(select(func.count()).select_from(
                SmsConsent)).scalar_one(),
            "opt_outs": session.execute(select(func.count()).select_from(
                SmsOptOut)).scalar_one(),
        }
    result["conversations"] = tracker_senders(tracker)
    return result


def test_purge_removes_what_is_older_than_the_retention_and_keeps_the_rest(seeded):
    _, tracker = seeded
    report = purge(now=NOW)
    assert (report.conversations, report.conversation_events) == (1, 2)
    assert (report.sms_messages, report.webhook_payloads) == (1, 1)
    assert report.tracker_error == ""
    after = state(tracker)
    assert after["texts"] == ["recent text"]
    assert after["payloads"] == [{}, {"name": "Ada"}, {"name": "Ada"}]  # failed: still to send
    assert (after["bookings"], after["consents"], after["opt_outs"]) == (1, 1, 1)
    assert after["conversations"] == {"still-going": 2, "recent": 1}
    # Nothing left to do: a second run changes nothing.
    again = purge(now=NOW)
    assert (again.conversations, again.sms_messages, again.webhook_payloads) == (0, 0, 0)


def test_dry_run_counts_and_removes_nothing(seeded):
    _, tracker = seeded
    before = state(tracker)
    report = purge(now=NOW, dry_run=True)
    assert (report.conversations, report.sms_messages, report.webhook_payloads) == (1, 1, 1)
    assert state(tracker) == before


def test_retention_days_setting(seeded, monkeypatch):
    _, tracker = seeded
    monkeypatch.setenv("CLINIC_RETENTION_DAYS", "365")
    settings.cache_clear()
    report = purge(now=NOW)
    assert (report.conversations, report.sms_messages, report.webhook_payloads) == (0, 0, 0)
    assert load_settings().retention_days == 365
    monkeypatch.delenv("CLINIC_RETENTION_DAYS")
    assert load_settings().retention_days == 90  # settings.yml and the default agree


def test_retention_of_zero_days_is_refused(monkeypatch):
    monkeypatch.setenv("CLINIC_RETENTION_DAYS", "0")
    with pytest.raises(ValueError, match="retention_days"):
        load_settings()


def test_a_missing_tracker_store_still_purges_the_clinic_database_and_says_so(
        clinic_db, tmp_path):
    with db.session_scope() as session:
        session.add(SmsMessage(direction="inbound", phone_e164="+14155552671", body="old",
                               created_at=OLD, transport="twilio", status="received"))
    report = purge(now=NOW, tracker_url=f"sqlite:///{tmp_path / 'none.db'}")
    assert report.sms_messages == 1
    assert "no tracker store at" in report.tracker_error


def test_purge_command(seeded, capsys, monkeypatch):
    import clinic.services.retention

    monkeypatch.setattr(clinic.services.retention, "utcnow", lambda: NOW)
    code = cli.main(["purge", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0 and "would remove" in out and "SMS messages:       1" in out
    code = cli.main(["purge"])
    out = capsys.readouterr().out
    assert code == 0 and "removed" in out and "conversations:      1 (2 tracker events)" in out


def test_purge_command_fails_without_a_tracker_store(clinic_db, capsys):
    code = cli.main(["purge"])
    captured = capsys.readouterr()
    assert code == 1 and "conversations were not purged" in captured.err
    assert "check tracker_store_url" in captured.err


def test_the_sender_purges_once_a_day(clinic_db, monkeypatch):
    import clinic.services.retention
    from clinic.services.retention import PurgeReport
    from clinic.sms import sender

    calls, outcome = [], {"tracker_error": ""}
    monkeypatch.setattr(clinic.services.retention, "purge", lambda: calls.append(1) or PurgeReport(
        cutoff=NOW, tracker_error=outcome["tracker_error"]))
    clock = [1000.0]
    monkeypatch.setattr(sender.time, "monotonic", lambda: clock[0])
    assert sender.purge_if_due(1001.0) == 1001.0 and calls == []  # not yet
    due = sender.purge_if_due(1000.0)
    assert calls == [1] and due == 1000.0 + sender.PURGE_EVERY_SECONDS
    clock[0] = due - 1
    assert sender.purge_if_due(due) == due and calls == [1]
    clock[0] = due
    outcome["tracker_error"] = "no tracker store at ...: check tracker_store_url"
    retry = sender.purge_if_due(due)
    assert calls == [1, 1] and retry == due + sender.PURGE_RETRY_SECONDS  # tried again soon


def test_the_sender_loop_waits_before_its_first_purge(clinic_db, monkeypatch):
    import clinic.services.retention
    from clinic.sms import sender

    calls = []
    monkeypatch.setattr(clinic.services.retention, "purge", lambda: calls.append(1))
    monkeypatch.setattr(sender, "PURGE_FIRST_DELAY_SECONDS", 0.0)
    stop = threading.Event()
    monkeypatch.setattr(sender, "send_due", lambda **_: stop.set())
    sender.run_forever(0.01, stop)
    assert calls == [1]
