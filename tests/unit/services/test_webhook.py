"""Booking webhook: queued with the booking, POSTed signed, retried with backoff, never lost."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

import clinic.services.webhook
from clinic.config.settings import settings
from clinic.knowledge.kb import knowledge
from clinic.rules.booking import BookingDraft
from clinic.services.booking import save_booking
from clinic.services.webhook import (
    BASE_DELAY,
    MAX_ATTEMPTS,
    MAX_DELAY,
    backoff,
    deliver_pending,
    refusal,
    retry_failed,
    sign,
    verify_signature,
)
from clinic.store import db
from clinic.store.models import WebhookDelivery

UTC = dt.timezone.utc
SECRET = "test-webhook-secret"


class Receiver:
    """A booking system on 127.0.0.1 that answers with the given status codes in turn."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"body": body, "headers": dict(self.headers),
                                          "path": self.path})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bookings?token=abc"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receivers = []

    def start(statuses):
        receivers.append(Receiver(statuses))
        return receivers[-1]

    yield start
    for item in receivers:
        item.close()


@pytest.fixture
def db_url(clinic_db, monkeypatch):
    monkeypatch.setenv("CLINIC_BOOKING_WEBHOOK_SECRET", SECRET)
    settings.cache_clear()
    return clinic_db


def use_webhook(monkeypatch, url: str) -> None:
    monkeypatch.setenv("CLINIC_BOOKING_WEBHOOK_URL", url)
    settings.cache_clear()


def save(conversation: str = "conv-1") -> str:
    kb = knowledge()
    draft = BookingDraft(
        name="Ada Lovelace", phone_e164="+14155552671", email="ada@example.com",
        treatment="facial_microneedling", preferred_times_text="Friday at 10am",
        sms_consent=True, sms_consent_wording=kb.clinic.sms_consent_wording,
        conversation_id=conversation, channel="rest",
        screening_answers={rule.id: "no" for rule in kb.screening.contraindications})
    return save_booking(draft, kb, today=dt.date(2026, 3, 10)).reference


def deliveries(url: str) -> list[WebhookDelivery]:
    with db.read_scope(url) as session:
        return list(session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id))
                    .scalars())


def test_failed_delivery_is_retried_with_backoff_then_succeeds(db_url, monkeypatch, receiver):
    hook = receiver([500, 503, 200])
    use_webhook(monkeypatch, hook.url)
    reference = save()
    start = dt.datetime.now(UTC)

    first = deliver_pending(now=start)
    assert (first.delivered, first.retrying) == (0, 1)
    [pending] = deliveries(db_url)
    assert pending.status == "pending" and pending.attempts == 1
    assert pending.last_error == "HTTP 500"
    assert pending.next_attempt_at == start + BASE_DELAY

    # Not due yet: nothing is sent.
    assert deliver_pending(now=start + BASE_DELAY / 2).delivered == 0
    assert len(hook.requests) == 1

    second = deliver_pending(now=start + BASE_DELAY)
    assert second.retrying == 1
    [pending] = deliveries(db_url)
    assert pending.attempts == 2
    assert pending.next_attempt_at == start + BASE_DELAY + 2 * BASE_DELAY

    third = deliver_pending(now=start + 3 * BASE_DELAY)
    assert third.delivered == 1
    [done] = deliveries(db_url)
    assert done.status == "delivered" and done.attempts == 3 and done.delivered_at is not None
    assert done.next_attempt_at is None and done.last_error is None

    assert len(hook.requests) == 3
    request = hook.requests[-1]
    body = json.loads(request["body"])
    assert body["reference"] == reference and body["promotion_code"] == "FACIAL50"
    assert body["phone"] == "+14155552671" and "screening_summary" in body
    assert request["path"] == "/bookings?token=abc"
    timestamp = request["headers"]["X-Clinic-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + request["body"],
                        hashlib.sha256).hexdigest()
    assert request["headers"]["X-Clinic-Signature"] == expected
    assert expected == sign(request["body"], SECRET, int(timestamp))
    assert verify_signature(request["body"], timestamp, expected, SECRET)
    assert request["headers"]["X-Clinic-Delivery"] == str(done.id)
    assert request["headers"]["Content-Type"] == "application/json"

    # Delivered once: further passes send nothing.
    assert deliver_pending(now=start + dt.timedelta(days=1)).delivered == 0
    assert len(hook.requests) == 3


def test_unreachable_receiver_keeps_the_delivery_pending(db_url, monkeypatch, receiver):
    hook = receiver([])
    use_webhook(monkeypatch, hook.url)
    hook.close()  # nothing listens on that port any more
    save()
    report = deliver_pending()
    assert report.retrying == 1
    [pending] = deliveries(db_url)
    assert pending.status == "pending" and pending.last_error.startswith("connection failed")


def test_no_signature_without_a_secret(db_url, monkeypatch, receiver):
    monkeypatch.delenv("CLINIC_BOOKING_WEBHOOK_SECRET")
    hook = receiver([200])
    use_webhook(monkeypatch, hook.url)
    save()
    assert deliver_pending().delivered == 1
    assert "X-Clinic-Signature" not in hook.requests[0]["headers"]


def test_no_delivery_is_queued_without_a_webhook_url(db_url, monkeypatch):
    monkeypatch.setenv("CLINIC_BOOKING_WEBHOOK_URL", "")
    settings.cache_clear()
    save()
    assert deliveries(db_url) == []


def test_force_sends_deliveries_that_are_not_due_yet(db_url, monkeypatch, receiver):
    hook = receiver([500, 200])
    use_webhook(monkeypatch, hook.url)
    save()
    now = dt.datetime.now(UTC)
    deliver_pending(now=now)
    assert deliver_pending(now=now).delivered == 0
    assert deliver_pending(now=now, force=True).delivered == 1


def test_gives_up_after_max_attempts_and_can_be_requeued(db_url, monkeypatch, receiver):
    assert MAX_ATTEMPTS * MAX_DELAY >= dt.timedelta(hours=24)  # a day-long outage is survived
    monkeypatch.setattr(clinic.services.webhook, "MAX_ATTEMPTS", 3)  # same rule, fewer round trips
    hook = receiver([500] * 3)
    use_webhook(monkeypatch, hook.url)
    save()
    moment = dt.datetime.now(UTC)
    for _ in range(3):
        deliver_pending(now=moment)
        moment += MAX_DELAY
    [given_up] = deliveries(db_url)
    assert given_up.status == "failed" and given_up.attempts == 3
    assert deliver_pending(now=moment, force=True).delivered == 0  # failed is left alone
    assert retry_failed(db_url) == 1
    assert deliver_pending(force=True).delivered == 1
    assert deliveries(db_url)[0].status == "delivered"


def test_two_workers_do_not_post_the_same_delivery(db_url, monkeypatch, receiver):
    hook = receiver([200])
    use_webhook(monkeypatch, hook.url)
    save()
    barrier = threading.Barrier(2)
    reports = []

    def work() -> None:
        barrier.wait()
        reports.append(deliver_pending())

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(report.delivered for report in reports) == 1
    assert len(hook.requests) == 1


def test_backoff_doubles_up_to_the_cap():
    assert [backoff(n) for n in (1, 2, 3)] == [BASE_DELAY, 2 * BASE_DELAY, 4 * BASE_DELAY]
    assert backoff(50) == MAX_DELAY and backoff(1000) == MAX_DELAY


def test_background_worker_retries_until_delivered_then_stops(db_url, monkeypatch, receiver):
    from clinic.services.webhook import deliver_in_background

    monkeypatch.setattr(clinic.services.webhook, "BASE_DELAY", dt.timedelta(milliseconds=100))
    hook = receiver([500, 200])
    use_webhook(monkeypatch, hook.url)
    save()
    worker = deliver_in_background()
    assert worker is not None
    assert deliver_in_background() is worker  # one worker per process and database
    worker.join(timeout=20)
    assert not worker.is_alive()  # it stops once nothing is pending
    [done] = deliveries(db_url)
    assert done.status == "delivered" and done.attempts == 2
    assert len(hook.requests) == 2


def test_background_worker_is_not_started_without_a_webhook(db_url, monkeypatch):
    from clinic.services.webhook import deliver_in_background

    monkeypatch.setenv("CLINIC_BOOKING_WEBHOOK_URL", "")
    settings.cache_clear()
    assert deliver_in_background() is None


def test_the_signature_covers_the_timestamp_and_expires():
    body, now = b'{"reference":"MN-ABC234"}', 1_800_000_000
    signature = sign(body, SECRET, now)
    assert verify_signature(body, str(now), signature, SECRET, now=now + 299)
    # A captured request replayed later is refused ...
    assert not verify_signature(body, str(now), signature, SECRET, now=now + 301)
    # ... and so is one with a fresh timestamp but the old signature.
    assert not verify_signature(body, str(now + 300), signature, SECRET, now=now + 301)
    assert not verify_signature(body + b" ", str(now), signature, SECRET, now=now)
    assert not verify_signature(body, str(now), signature, "other-secret", now=now)
    assert not verify_signature(body, "soon", signature, SECRET, now=now)
    assert not verify_signature(body, None, signature, SECRET, now=now)
    assert not verify_signature(body, str(now), signature, "", now=now)


@pytest.mark.parametrize(("url", "secret", "refused"), [
    ("https://booking.example/hook", SECRET, None),
    ("http://booking.example/hook", SECRET, "http://"),
    ("https://booking.example/hook", "", "SECRET"),
    ("http://127.0.0.1:9/hook", "", None),
    ("http://localhost/hook", "", None),
    ("http://[::1]:8080/hook", "", None),
    ("ftp://booking.example/hook", SECRET, "http(s)"),
])
def test_plain_http_and_no_secret_only_on_loopback(url, secret, refused):
    reason = refusal(url, secret)
    assert (reason is None) if refused is None else (refused in reason)


def test_a_refused_target_is_not_contacted_and_stays_pending(db_url, monkeypatch, caplog):
    posts = []
    monkeypatch.setattr(clinic.services.webhook, "_post", lambda *args: posts.append(args))
    use_webhook(monkeypatch, "http://booking.example/hook")
    save()
    report = deliver_pending()
    assert report.retrying == 1 and posts == []
    [pending] = deliveries(db_url)
    assert pending.status == "pending" and "http://" in pending.last_error
    assert any("not sent" in r.getMessage() for r in caplog.records)
