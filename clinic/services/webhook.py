"""Send each new booking request to the clinic's booking system (optional webhook).

When ``settings().booking_webhook_url`` is set, :func:`clinic.services.booking.save_booking`
queues a ``webhook_deliveries`` row inside the booking's own transaction, so a booking
is never saved without its delivery. :func:`deliver_pending` POSTs due deliveries as
JSON; a failed attempt stays ``pending`` with a later ``next_attempt_at`` (exponential
backoff, capped), so nothing is lost. After :data:`MAX_ATTEMPTS` failures a delivery is
marked ``failed`` and logged; ``clinic webhook deliver --retry-failed`` puts it back.

Delivery is at least once: the receiver should use the ``X-Clinic-Delivery`` header (or
the booking reference) to ignore a repeat.

Signing (for the receiver). With ``CLINIC_BOOKING_WEBHOOK_SECRET`` set, every request
carries ``X-Clinic-Timestamp`` (Unix seconds when it was sent) and
``X-Clinic-Signature``, the hex HMAC-SHA256 with that secret of
``f"{timestamp}.".encode() + body`` (the exact bytes of the body). The receiver
recomputes it, compares in constant time, and refuses a timestamp more than
:data:`MAX_AGE_SECONDS` away from its clock; together with ``X-Clinic-Delivery`` (kept
for that long) a captured request cannot be replayed. :func:`verify_signature` does
all of it. Each retry is signed afresh.

Refused targets: an ``http://`` URL, and an empty secret, are allowed only for a
loopback host (a receiver on the same machine). Anywhere else such a delivery is not
sent (the booking data would cross the network readable or unauthenticated); it stays
pending with the reason in ``last_error`` and goes once the configuration is fixed.

Who calls :func:`deliver_pending`: the booking action right after a save, through
:func:`deliver_in_background` (a daemon thread that keeps retrying while deliveries are
pending, so the person never waits for the clinic's server), and the staff command
``clinic webhook deliver``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from clinic.config.hosts import is_loopback_host
from clinic.config.settings import settings
from clinic.store.db import database_url, read_scope, session_scope
from clinic.store.models import BookingRequest, WebhookDelivery, utcnow
from clinic.store.outbox import Failure, Outcome, RetryPolicy, claim, due_ids, lease_values, mark

log = logging.getLogger(__name__)

BASE_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(hours=1)
MAX_ATTEMPTS = 40  # about a day and a half of retries at the capped delay
REQUEST_TIMEOUT_SECONDS = 10.0
# While one worker is POSTing a delivery, others leave it alone for this long.
CLAIM_LEASE = dt.timedelta(seconds=60)
SIGNATURE_HEADER = "X-Clinic-Signature"
TIMESTAMP_HEADER = "X-Clinic-Timestamp"
DELIVERY_HEADER = "X-Clinic-Delivery"
MAX_AGE_SECONDS = 300  # how old a signed request may be when the receiver checks it


@dataclass
class DeliveryReport:
    """What one :func:`deliver_pending` pass did."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return (f"delivered {self.delivered}, will retry {self.retrying}, "
                f"gave up {self.failed}")


def booking_payload(booking: BookingRequest) -> dict[str, Any]:
    """The JSON document sent for a booking (what the clinic's booking system needs)."""
    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "event": "booking_request.created",
        "reference": booking.reference,
        "created_at": iso(booking.created_at),
        "channel": booking.channel,
        "name": booking.name,
        "phone": booking.phone_e164,
        "email": booking.email,
        "treatment": booking.treatment,
        "preferred_times_text": booking.preferred_times_text,
        "preferred_times": list(booking.preferred_times_parsed or []),
        "screening_outcome": booking.screening_outcome,
        "screening_summary": booking.screening_summary,
        "promotion_code": booking.promotion_code,
        "promotion_amount_usd": booking.promotion_amount_usd,
        "status": booking.status,
    }


def queue_delivery(session: Session, booking: BookingRequest, url: str,
                   *, now: dt.datetime | None = None) -> WebhookDelivery:
    """Add a pending delivery of ``booking`` to ``url`` in the caller's transaction."""
    session.flush()  # the booking needs its id (and promotion fields) settled first
    delivery = WebhookDelivery(
        booking_id=booking.id, url=url, payload=booking_payload(booking), status="pending",
        attempts=0, next_attempt_at=now or utcnow(),
    )
    session.add(delivery)
    return delivery


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The X-Clinic-Signature value: hex HMAC-SHA256 of ``f"{timestamp}." + body``."""
    message = f"{int(timestamp)}.".encode("ascii") + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, timestamp: str | None, signature: str | None,
                     secret: str, *, max_age: float = MAX_AGE_SECONDS,
                     now: float | None = None) -> bool:
    """For the receiver: True only for a correctly signed, fresh request.

    ``timestamp`` and ``signature`` are the X-Clinic-Timestamp and X-Clinic-Signature
    header values, ``body`` the raw request body. A request older (or more in the
    future) than ``max_age`` seconds is refused, so a captured one cannot be replayed
    later; also ignore an ``X-Clinic-Delivery`` id already seen within that window.
    """
    if not secret or not timestamp or not signature:
        return False
    try:
        moment = int(timestamp)
    except ValueError:
        return False
    now = time.time() if now is None else now
    if abs(now - moment) > max_age:
        return False
    return hmac.compare_digest(sign(body, secret, moment), signature.strip().lower())


def refusal(url: str, secret: str) -> str | None:
    """Why a delivery to ``url`` may not be sent (None: it may).

    ``http://`` and an empty secret are for a receiver on loopback only.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an http(s) URL"
    if is_loopback_host(parts.hostname):
        return None
    if parts.scheme != "https":
        return "refused: an http:// URL outside loopback (use https://)"
    if not secret:
        return "refused: no CLINIC_BOOKING_WEBHOOK_SECRET (needed outside loopback)"
    return None


def policy() -> RetryPolicy:
    """The retry rule, read from the constants above when called (so they can be tuned)."""
    return RetryPolicy(BASE_DELAY, MAX_DELAY, MAX_ATTEMPTS)


def backoff(attempts: int) -> dt.timedelta:
    """Delay before the next try after ``attempts`` failed ones: 30 s, 1 min, 2 min, ... 1 h."""
    return policy().backoff(attempts)


def _host(url: str) -> str:
    # Logs name only the host: a webhook URL may carry a token in its path or query.
    return urlsplit(url).hostname or "?"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, never followed: the signed body and its headers go only to
    the configured URL (a 3xx becomes an ``HTTPError``, i.e. a failed delivery)."""

    def redirect_request(self, *_: Any, **__: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


def _post(url: str, body: bytes, delivery_id: int, secret: str) -> None:
    """POST ``body``; raise on anything but a 2xx answer."""
    headers = {"Content-Type": "application/json", "User-Agent": "clinic-assistant",
               DELIVERY_HEADER: str(delivery_id)}
    if secret:
        timestamp = int(time.time())
        headers[TIMESTAMP_HEADER] = str(timestamp)
        headers[SIGNATURE_HEADER] = sign(body, secret, timestamp)
    # The URL is the clinic's webhook setting, refused by refusal() unless http(s).
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    with _OPENER.open(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
        response.read()
        if not 200 <= response.status < 300:
            raise urllib.error.HTTPError(url, response.status, "not a 2xx answer",
                                         response.headers, None)


def _describe(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    if isinstance(error, urllib.error.URLError):
        return f"connection failed: {type(error.reason).__name__}"
    return type(error).__name__


def deliver_pending(
    now: dt.datetime | None = None, url: str | None = None, *, force: bool = False,
    secret: str | None = None, limit: int = 100,
) -> DeliveryReport:
    """Try every pending delivery that is due (all pending ones with ``force``).

    ``url`` is the clinic database URL (default: configured); each delivery carries its
    own target URL. ``secret`` defaults to ``settings().webhook_secret``. No database
    transaction is held open during an HTTP request.
    """
    now = now or utcnow()
    secret = settings().webhook_secret if secret is None else secret
    rule = policy()
    report = DeliveryReport()
    waiting = [WebhookDelivery.status == "pending"]
    if not force:
        waiting.append(WebhookDelivery.next_attempt_at <= now)
    with read_scope(url) as session:
        ids = due_ids(session, WebhookDelivery, waiting, [WebhookDelivery.id], limit)
    for delivery_id in ids:
        with session_scope(url) as session:
            # At least once: the lease keeps other workers off while this one POSTs.
            if not claim(session, WebhookDelivery, delivery_id, waiting,
                         lease_values(now, CLAIM_LEASE)):
                continue
            delivery = session.get(WebhookDelivery, delivery_id)
            target, payload = delivery.url, delivery.payload
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
        error = refusal(target, secret)
        if error is not None:
            log.error("Webhook delivery %s to %s not sent: %s", delivery_id, _host(target),
                      error)
        else:
            try:
                _post(target, body, delivery_id, secret)
            except Exception as problem:  # noqa: BLE001 - any failure means "try again later"
                error = _describe(problem)
        with session_scope(url) as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            delivery.attempts += 1
            decision = rule.decide(delivery.attempts, now,
                                   None if error is None else Failure(error))
            mark(delivery, decision, delivered="delivered", waiting="pending", failed="failed")
            if decision.outcome is Outcome.DELIVERED:
                delivery.delivered_at, delivery.next_attempt_at = utcnow(), None
                report.delivered += 1
                log.info("Webhook delivery %s sent to %s", delivery_id, _host(target))
            elif decision.outcome is Outcome.RETRY:
                report.retrying += 1
                log.warning("Webhook delivery %s to %s failed (%s); next try at %s",
                            delivery_id, _host(target), error,
                            delivery.next_attempt_at.isoformat())
            else:
                report.failed += 1
                log.error("Webhook delivery %s to %s failed %s times (%s): giving up; "
                          "'clinic webhook deliver --retry-failed' tries again",
                          delivery_id, _host(target), delivery.attempts, error)
    return report


def retry_failed(url: str | None = None, now: dt.datetime | None = None) -> int:
    """Put deliveries that were given up on back in the queue; returns how many."""
    with session_scope(url) as session:
        changed = session.execute(
            update(WebhookDelivery).where(WebhookDelivery.status == "failed")
            .values(status="pending", attempts=0, next_attempt_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )
        return int(changed.rowcount or 0)


_worker_lock = threading.Lock()
_workers: dict[str, threading.Thread] = {}
_wake: dict[str, threading.Event] = {}


def next_due(url: str | None = None) -> dt.datetime | None:
    """When the earliest pending delivery is due (None if nothing is pending)."""
    with read_scope(url) as session:
        due: dt.datetime | None = session.execute(
            select(func.min(WebhookDelivery.next_attempt_at))
            .where(WebhookDelivery.status == "pending")
        ).scalar_one_or_none()
        return due


def _keep_delivering(url: str | None, key: str, wake: threading.Event) -> None:
    """Deliver, then wait for the next retry (or a new booking), until nothing is pending."""
    try:
        while True:
            wake.clear()
            deliver_pending(url=url)
            due = next_due(url)
            with _worker_lock:
                # Checked under the lock that callers take: a booking queued just now
                # either sets ``wake`` before this, or finds no worker and starts one.
                if due is None and not wake.is_set():
                    _workers.pop(key, None)
                    return
            if due is not None:
                wait = (due - utcnow()).total_seconds()
                wake.wait(min(max(wait, 1.0), MAX_DELAY.total_seconds()))
    except Exception:  # a background helper must never crash its host
        log.exception("Webhook delivery worker stopped; deliveries stay pending")
        with _worker_lock:
            _workers.pop(key, None)


def deliver_in_background(url: str | None = None) -> threading.Thread | None:
    """Make sure a daemon thread of this process delivers pending bookings.

    Call it after saving a booking (the action server does). The thread retries with
    backoff for as long as deliveries are pending, then ends; one per process and
    database. No-op without a configured webhook URL. Deliveries live in the database,
    so nothing is lost if the process stops: the next call (or ``clinic webhook
    deliver``) carries on.
    """
    if not settings().booking_webhook_url:
        return None
    key = database_url(url)
    with _worker_lock:
        wake = _wake.setdefault(key, threading.Event())
        wake.set()
        running = _workers.get(key)
        if running is not None and running.is_alive():
            return running
        thread = threading.Thread(target=_keep_delivering, args=(url, key, wake),
                                  name="clinic-webhook", daemon=True)
        _workers[key] = thread
        thread.start()
        return thread
