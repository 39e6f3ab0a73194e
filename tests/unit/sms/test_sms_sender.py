"""The follow-up sender against a fake Twilio API on a loopback port, with a test clock.

Follow-ups go out at the right times, exactly once (across restarts and with senders
racing, as threads and as processes), only with consent and never after STOP; transient
failures are retried with backoff and permanent ones recorded and not retried.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from clinic.config.settings import settings
from clinic.knowledge.kb import knowledge
from clinic.sms import cli, inbound
from clinic.sms.schedule import plan
from clinic.sms.sender import CLAIM_TIMEOUT, INTERRUPTED, MAX_ATTEMPTS, _claim, send_due
from clinic.sms.sender import SendCounts as _Counts
from clinic.sms.transport import LocalOutbox, TwilioTransport, get_transport
from clinic.store.db import DatabaseUnavailable, dispose_engines, read_scope, session_scope
from clinic.store.models import Followup, SmsConsent, SmsMessage, SmsOptOut
from tests.support import add_booking, mark_treated
from tests.support.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

ROOT = Path(__file__).resolve().parents[3]
LA = ZoneInfo("America/Los_Angeles")
UTC = dt.timezone.utc
PHONE = "+15105550101"
FROM = "+15550000000"
TREATED = dt.datetime(2025, 6, 2, 14, 0, tzinfo=LA)  # a Monday afternoon
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def twilio(fake: FakeTwilio) -> TwilioTransport:
    return TwilioTransport(ACCOUNT_SID, AUTH_TOKEN, FROM, api_base=fake.base_url)


def rows(booking_id: int | None = None) -> list[Followup]:
    with read_scope() as session:
        query = select(Followup).order_by(Followup.due_at, Followup.id)
        if booking_id is not None:
            query = query.where(Followup.booking_id == booking_id)
        result = list(session.execute(query).scalars())
        session.expunge_all()
        return result


def due_times() -> list[dt.datetime]:
    return [text.due_at for text in plan(TREATED)]


def treated_patient(phone: str = PHONE) -> int:
    booking = add_booking(phone, consent=True)
    assert mark_treated(booking, TREATED)
    return booking


# --------------------------------------------------------------------------- on time


def test_each_text_goes_out_when_due_and_only_then(sms_database: str, fake: FakeTwilio,
                                                   twilio: TwilioTransport) -> None:
    treated_patient()
    expected = [knowledge().fill(m.text) for m in knowledge().aftercare]
    for index, due in enumerate(due_times()):
        assert send_due(now=due - MINUTE, transport=twilio)["sent"] == 0
        assert len(fake.sent) == index
        assert send_due(now=due, transport=twilio)["sent"] == 1
        assert fake.bodies_to(PHONE) == expected[: index + 1]
    assert all(m.from_ == FROM for m in fake.sent)
    after = rows()
    assert [r.status for r in after] == ["sent"] * len(expected)
    assert [r.provider_sid for r in after] == [m.sid for m in fake.sent]
    assert [r.sent_at for r in after] == due_times()
    with read_scope() as session:
        logged = session.execute(select(SmsMessage.transport, SmsMessage.body,
                                        SmsMessage.provider_sid)).all()
    assert logged == [("twilio", m.body, m.sid) for m in fake.sent]


def test_no_texts_without_consent(sms_database: str, fake: FakeTwilio,
                                  twilio: TwilioTransport) -> None:
    booking = add_booking(PHONE, consent=False)
    assert mark_treated(booking, TREATED) == []
    for due in due_times():
        send_due(now=due, transport=twilio)
    assert fake.sent == [] and fake.requests == []


def test_consent_is_checked_again_right_before_sending(sms_database: str, fake: FakeTwilio,
                                                       twilio: TwilioTransport) -> None:
    booking = treated_patient()
    first, second, *_ = due_times()
    send_due(now=first, transport=twilio)
    with session_scope() as session:  # the patient withdrew consent after the treatment
        session.add(SmsConsent(booking_id=booking, phone_e164=PHONE, wording="no thanks",
                               given=False, given_at=first + MINUTE, channel="sms",
                               conversation_id=PHONE))
    counts = send_due(now=second, transport=twilio)
    assert counts["sent"] == 0 and counts["skipped"] == 1
    assert len(fake.sent) == 1
    assert [r.last_error for r in rows() if r.status == "skipped"] == ["no SMS consent"]


def test_stop_stops_everything_and_start_resumes(sms_database: str, fake: FakeTwilio,
                                                 twilio: TwilioTransport) -> None:
    treated_patient()
    first, second, third, fourth = due_times()
    send_due(now=first, transport=twilio)
    assert len(fake.sent) == 1

    decision = inbound.receive(PHONE, "STOP", "SM-in-1", now=first + MINUTE)
    assert decision.replies == [inbound.keywords.opt_out_confirmation()]
    assert inbound.receive(PHONE, "stop", "SM-in-2").replies == []  # confirmed only once
    assert inbound.receive(PHONE, "HELP", "SM-in-3").replies == []  # nothing at all
    counts = send_due(now=second, transport=twilio)
    assert counts == {**counts, "sent": 0, "skipped": 1}
    assert len(fake.sent) == 1

    assert inbound.receive(PHONE, "START", "SM-in-4").replies == \
        [inbound.keywords.opt_in_confirmation()]
    send_due(now=third, transport=twilio)
    send_due(now=fourth, transport=twilio)
    assert fake.bodies_to(PHONE) == [r.body for r in rows() if r.status == "sent"]
    assert [r.status for r in rows()] == ["sent", "skipped", "sent", "sent"]


def test_quiet_hours_hold_texts_until_morning(sms_database: str, fake: FakeTwilio,
                                              twilio: TwilioTransport) -> None:
    treated_patient()
    first = due_times()[0]
    # The sender was down all evening and comes back at 22:30.
    late_evening = dt.datetime(2025, 6, 2, 22, 30, tzinfo=LA)
    assert first < late_evening
    counts = send_due(now=late_evening, transport=twilio)
    assert counts["deferred"] == 1 and counts["sent"] == 0
    morning = dt.datetime(2025, 6, 3, 8, 0, tzinfo=LA)
    assert rows()[0].next_attempt_at == morning
    assert send_due(now=morning - MINUTE, transport=twilio)["sent"] == 0
    assert send_due(now=morning, transport=twilio)["sent"] == 1
    assert fake.sent and rows()[0].sent_at == morning


def test_texts_far_too_late_are_skipped_not_sent(sms_database: str, fake: FakeTwilio,
                                                 twilio: TwilioTransport) -> None:
    treated_patient()
    third = due_times()[2]
    # The sender was down for days and comes back just after the third text was due.
    counts = send_due(now=third + MINUTE, transport=twilio)
    assert counts["skipped"] == 2 and counts["sent"] == 1
    assert [(r.status, r.last_error) for r in rows()][:3] == [
        ("skipped", "too late to send (the sender was not running)"),
        ("skipped", "too late to send (the sender was not running)"),
        ("sent", None)]
    assert [m.body for m in fake.sent] == [rows()[2].body]


# --------------------------------------------------------------------------- exactly once


def test_restarting_the_sender_sends_nothing_twice(sms_database: str, fake: FakeTwilio,
                                                   twilio: TwilioTransport) -> None:
    treated_patient()
    first, second, *_ = due_times()
    send_due(now=first, transport=twilio, worker_id="before-restart")
    # A restart: new process state (engines, settings, transport), same database.
    dispose_engines()
    settings.cache_clear()
    again = TwilioTransport(ACCOUNT_SID, AUTH_TOKEN, FROM, api_base=fake.base_url)
    assert send_due(now=first, transport=again, worker_id="after-restart")["sent"] == 0
    assert send_due(now=second, transport=again, worker_id="after-restart")["sent"] == 1
    assert send_due(now=second + MINUTE, transport=again)["sent"] == 0
    assert Counter(m.body for m in fake.sent).most_common(1)[0][1] == 1
    assert len(fake.sent) == 2


def test_racing_threads_send_each_text_once(sms_database: str, fake: FakeTwilio) -> None:
    phones = [f"+1510555{n:04d}" for n in range(12)]
    for phone in phones:
        treated_patient(phone)
    fake.delay = 0.01  # widen the window between claim and record
    first = due_times()[0]
    barrier = threading.Barrier(4)
    results: list[dict[str, int]] = []
    errors: list[str] = []

    def sender(name: str) -> None:
        transport = TwilioTransport(ACCOUNT_SID, AUTH_TOKEN, FROM, api_base=fake.base_url)
        barrier.wait()
        for _ in range(3):  # as the real loop does: a busy database means "next pass"
            try:
                results.append(send_due(now=first, transport=transport, worker_id=name))
                return
            except DatabaseUnavailable:
                errors.append(traceback.format_exc())
            except BaseException:  # noqa: BLE001 - reported below
                errors.append(traceback.format_exc())
                return

    threads = [threading.Thread(target=sender, args=(f"thread-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [e for e in errors if "DatabaseUnavailable" not in e] == []
    assert sorted(m.to for m in fake.sent) == sorted(phones)  # each exactly once
    assert sum(r["sent"] for r in results) == len(phones)
    assert {r.status for r in rows()} == {"sent", "scheduled"}
    assert [r.provider_sid for r in rows() if r.status == "sent"] and \
        sorted(r.provider_sid for r in rows() if r.status == "sent") == \
        sorted(m.sid for m in fake.sent)


SENDER_PROCESS = """
import datetime as dt, sys
from clinic.sms.sender import send_due
from clinic.sms.transport import get_transport
now = dt.datetime.fromisoformat(sys.argv[1])
print(send_due(now=now, transport=get_transport(), worker_id=sys.argv[2]))
"""


def _sender_env(sms_database: str, fake: FakeTwilio) -> dict[str, str]:
    env = {**os.environ, "CLINIC_DATABASE_URL": sms_database,
           "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "CLINIC_TWILIO_API_BASE": fake.base_url, "CLINIC_TWILIO_FROM_NUMBER": FROM}
    return env


def test_racing_processes_and_a_restart_send_each_text_once(
        sms_database: str, fake: FakeTwilio) -> None:
    phones = [f"+1510556{n:04d}" for n in range(8)]
    for phone in phones:
        treated_patient(phone)
    fake.delay = 0.01
    first = due_times()[0].isoformat()
    env = _sender_env(sms_database, fake)
    racers = [subprocess.Popen([sys.executable, "-c", SENDER_PROCESS, first, f"proc-{n}"],
                               env=env, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for n in range(2)]
    outputs = [process.communicate(timeout=120) for process in racers]
    assert [p.returncode for p in racers] == [0, 0], [err[-2000:] for _, err in outputs]
    assert sorted(m.to for m in fake.sent) == sorted(phones)
    # A third process started afterwards (a restart) finds nothing left to send.
    rerun = subprocess.run([sys.executable, "-c", SENDER_PROCESS, first, "proc-restart"],
                           env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "'sent': 0" in rerun.stdout
    assert len(fake.sent) == len(phones)


def test_a_crash_during_sending_never_leads_to_a_second_text(
        sms_database: str, fake: FakeTwilio, twilio: TwilioTransport) -> None:
    treated_patient()
    first = due_times()[0]
    with read_scope() as session:
        first_id = session.execute(select(Followup.id).order_by(Followup.due_at)).scalar()
    # A sender claims the text and dies before recording the outcome.
    assert _claim(first_id, first, "crashed-sender", _Counts()) is not None
    assert send_due(now=first + MINUTE, transport=twilio)["sent"] == 0
    assert rows()[0].status == "sending"  # may still be in flight: leave it alone
    counts = send_due(now=first + CLAIM_TIMEOUT + MINUTE, transport=twilio)
    assert counts["interrupted"] == 1 and counts["sent"] == 0
    assert (rows()[0].status, rows()[0].last_error) == ("failed", INTERRUPTED)
    send_due(now=first + dt.timedelta(hours=2), transport=twilio)
    assert fake.sent == []


# --------------------------------------------------------------------------- failures


def test_transient_failures_are_retried_with_backoff(sms_database: str, fake: FakeTwilio,
                                                     twilio: TwilioTransport) -> None:
    treated_patient()
    first = due_times()[0]
    fake.fail_next[PHONE] = [20503, 20500]
    assert send_due(now=first, transport=twilio)["retried"] == 1
    row = rows()[0]
    assert (row.status, row.attempts, row.next_attempt_at) == ("scheduled", 1, first + MINUTE)
    assert "20503" in row.last_error
    assert send_due(now=first + MINUTE / 2, transport=twilio)["retried"] == 0  # waits
    assert send_due(now=first + MINUTE, transport=twilio)["retried"] == 1
    row = rows()[0]
    assert (row.attempts, row.next_attempt_at) == (2, first + 3 * MINUTE)  # 1 min, then 2
    assert send_due(now=first + 3 * MINUTE, transport=twilio)["sent"] == 1
    assert (rows()[0].status, rows()[0].attempts) == ("sent", 3)
    assert len(fake.sent) == 1 and [s for _, s in fake.requests] == [503, 500, 201]


def test_retries_stop_after_the_last_attempt(sms_database: str, fake: FakeTwilio,
                                             twilio: TwilioTransport) -> None:
    treated_patient()
    now = due_times()[0]
    fake.fail_always[PHONE] = 20500
    for _ in range(MAX_ATTEMPTS + 2):
        send_due(now=now, transport=twilio)
        now = now + 10 * MINUTE  # longer than any backoff so far, before quiet hours
    row = rows()[0]
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert row.last_error.startswith(f"gave up after {MAX_ATTEMPTS} attempts")
    assert len(fake.requests) == MAX_ATTEMPTS


def test_unsubscribed_21610_is_permanent_and_recorded(sms_database: str, fake: FakeTwilio,
                                                      twilio: TwilioTransport) -> None:
    treated_patient()
    first, second, *_ = due_times()
    fake.fail_always[PHONE] = 21610
    assert send_due(now=first, transport=twilio)["failed"] == 1
    row = rows()[0]
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 1, None)
    assert "21610" in row.last_error
    with read_scope() as session:
        opt_out = session.get(SmsOptOut, PHONE)
        assert opt_out is not None and opt_out.opted_out and opt_out.keyword == "twilio-21610"
    assert send_due(now=first + dt.timedelta(hours=1), transport=twilio)["sent"] == 0
    assert send_due(now=second, transport=twilio)["skipped"] == 1
    assert len(fake.requests) == 1  # never retried, and nothing else tried


def test_invalid_number_21211_is_permanent(sms_database: str, fake: FakeTwilio,
                                           twilio: TwilioTransport) -> None:
    treated_patient()
    fake.fail_always[PHONE] = 21211
    first = due_times()[0]
    send_due(now=first, transport=twilio)
    send_due(now=first + dt.timedelta(hours=1), transport=twilio)
    assert rows()[0].status == "failed" and "21211" in rows()[0].last_error
    assert len(fake.requests) == 1


# --------------------------------------------------------------------------- transports


def test_without_credentials_texts_stay_in_the_local_outbox(
        sms_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert isinstance(get_transport(), LocalOutbox)
    treated_patient()
    first = due_times()[0]
    assert send_due(now=first)["sent"] == 1
    with read_scope() as session:
        outbox = session.execute(select(SmsMessage.transport, SmsMessage.status,
                                        SmsMessage.phone_e164, SmsMessage.body)).all()
    assert outbox == [("local-outbox", "not-sent", PHONE, rows()[0].body)]
    assert run_cli("outbox", "list") == 0
    out = capsys.readouterr().out
    assert "NOT sent" in out and PHONE in out and "local-outbox" in out
    assert run_cli("followups", "list", "--status", "sent") == 0
    assert "sent (local outbox: NOT delivered)" in capsys.readouterr().out


def test_credentials_in_the_environment_select_twilio(
        sms_database: str, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in _sender_env(sms_database, fake).items():
        monkeypatch.setenv(key, value)
    settings.cache_clear()
    transport = get_transport()
    assert isinstance(transport, TwilioTransport)
    treated_patient()
    assert send_due(now=due_times()[0])["sent"] == 1
    assert [m.to for m in fake.sent] == [PHONE]


# --------------------------------------------------------------------------- staff tool


def run_cli(*args: str) -> int:
    parser = argparse.ArgumentParser(prog="clinic")
    cli.register(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(list(args))
    return parsed.func(parsed)


def test_staff_list_cancel_and_send(sms_database: str, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    booking = treated_patient()
    other = treated_patient("+15105550102")
    assert run_cli("followups", "list") == 0
    out = capsys.readouterr().out
    assert out.count("scheduled") == 2 * len(knowledge().aftercare)
    assert "2025-06-02 17:00 PDT" in out  # shown in the clinic's time zone

    assert run_cli("followups", "cancel", "--phone", "(510) 555-0101") == 0
    assert f"Cancelled {len(knowledge().aftercare)}" in capsys.readouterr().out
    with read_scope() as session:
        from clinic.store.models import BookingRequest

        reference = session.get(BookingRequest, other).reference
    assert run_cli("followups", "cancel", "--booking", reference.lower()) == 0
    assert {r.status for r in rows(booking)} == {"cancelled"}
    assert {r.status for r in rows(other)} == {"cancelled"}
    assert run_cli("followups", "cancel", "--booking", "MN-NOPE00") == 1
    capsys.readouterr()
    assert run_cli("followups", "list", "--status", "cancelled") == 0
    assert capsys.readouterr().out.count("cancelled") >= 2 * len(knowledge().aftercare)

    third = treated_patient("+15105550103")
    monkeypatch.setattr("clinic.sms.sender.utcnow", lambda: due_times()[0])
    assert run_cli("sms", "send-due") == 0
    assert "sent: 1" in capsys.readouterr().out
    assert [r.status for r in rows(third)][0] == "sent"


def test_a_busy_database_does_not_lose_the_outcome(
        sms_database: str, fake: FakeTwilio, twilio: TwilioTransport,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from clinic.sms import sender
    from clinic.store import db

    treated_patient()
    original = sender._record_sent  # noqa: SLF001 - the patched private name
    calls: list[int] = []

    def busy_once(*args: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise db.DatabaseUnavailable("the clinic database is unavailable (locked)")
        original(*args)

    monkeypatch.setattr(sender, "_record_sent", busy_once)
    monkeypatch.setattr(sender.time, "sleep", lambda _: None)
    assert send_due(now=due_times()[0], transport=twilio)["sent"] == 1
    assert len(calls) == 2 and rows()[0].status == "sent" and len(fake.sent) == 1


# --------------------------------------------------------------------------- the loop


def test_the_sender_loop_sends_and_stops(sms_database: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from clinic.sms.sender import run_forever
    from clinic.store.models import utcnow

    monkeypatch.setenv("CLINIC_QUIET_HOURS_START", "00:00")  # no quiet hours: real clock
    monkeypatch.setenv("CLINIC_QUIET_HOURS_END", "00:00")
    settings.cache_clear()
    booking = add_booking(PHONE, consent=True)
    treated = utcnow() - dt.timedelta(hours=4)  # the evening text is due now
    assert mark_treated(booking, treated, now=treated)
    stop = threading.Event()
    loop = threading.Thread(target=run_forever, args=(0.05, stop))
    loop.start()
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=20)
        while rows()[0].status != "sent" and dt.datetime.now() < deadline:
            stop.wait(0.05)
    finally:
        stop.set()
        loop.join(timeout=20)
    assert not loop.is_alive()
    assert [r.status for r in rows()][:1] == ["sent"]
    assert {r.status for r in rows()[1:]} == {"scheduled"}
    with read_scope() as session:
        assert session.execute(select(SmsMessage.transport)).scalars().all() == ["local-outbox"]
