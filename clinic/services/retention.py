"""Retention: ``clinic purge`` removes personal data older than ``retention_days``.

What goes once it is older than the retention (default 90 days):

* **conversations**: every tracker-store conversation (Rasa's ``events``) whose latest
  event is older, all its events;
* **the SMS log** (``sms_messages``: texts in and out, the local outbox) by
  ``created_at``;
* **delivered webhook payloads**: the copy of the booking sent to the clinic's booking
  system is emptied (``{}``) once it was delivered that long ago; the delivery row
  stays (it shows that the booking went out). Pending and failed deliveries keep
  their payload: they still have to be sent.

What stays, because the clinic still needs it: booking requests and their screening
answers (the clinic's record; removed on request by ``clinic erase``), SMS consents
(proof of consent), SMS opt-outs (STOP must be honoured for good), promotion
redemptions (once per person) and follow-ups (the aftercare plan of a treatment; their
texts are generic, the texts actually sent are in the SMS log and go).

Run by the SMS sender once a day (:func:`clinic.sms.sender.run_forever`) and by staff
with ``clinic purge [--dry-run]``. On SQLite, deletes overwrite (``secure_delete``) and
the WAL file is emptied afterwards.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, select, text, update

from clinic.config.settings import settings
from clinic.services.erase import TRACKER_EVENTS_TABLE, TrackerStoreMissing, open_tracker_store
from clinic.store.db import flush_deleted, get_engine, session_scope
from clinic.store.models import Callback, SmsMessage, WebhookDelivery, WidgetPresence, utcnow

log = logging.getLogger(__name__)

BATCH = 500  # conversations deleted per statement


@dataclass
class PurgeReport:
    """What a purge removed (or, with ``dry_run``, would remove)."""

    cutoff: dt.datetime
    dry_run: bool = False
    conversations: int = 0
    conversation_events: int = 0
    sms_messages: int = 0
    webhook_payloads: int = 0
    tracker_error: str = ""  # set when the tracker store could not be purged

    def lines(self) -> list[str]:
        """Human-readable lines, one per kind of data."""
        verb = "would remove" if self.dry_run else "removed"
        lines = [
            f"older than {self.cutoff.isoformat(timespec='minutes')}, {verb}:",
            f"  conversations:      {self.conversations} "
            f"({self.conversation_events} tracker events)",
            f"  SMS messages:       {self.sms_messages}",
            f"  webhook payloads:   {self.webhook_payloads} (delivered)",
        ]
        if self.tracker_error:
            lines.append(f"  tracker store NOT purged: {self.tracker_error}")
        return lines


def cutoff_for(now: dt.datetime, days: int) -> dt.datetime:
    """The moment before which data is purged."""
    return now - dt.timedelta(days=days)


def purge(now: dt.datetime | None = None, *, days: int | None = None, dry_run: bool = False,
          url: str | None = None, tracker_url: str | None = None) -> PurgeReport:
    """Remove (or count, with ``dry_run``) everything older than the retention.

    ``url`` is the clinic database, ``tracker_url`` Rasa's tracker store (defaults: the
    settings). The clinic database is purged even if the tracker store is missing; that
    problem is returned in ``tracker_error`` (the caller reports it as a failure).
    """
    config = settings()
    now = now or utcnow()
    days = days if days is not None else config.retention_days
    if days < 1:
        raise ValueError("the retention must be at least one day")
    report = PurgeReport(cutoff=cutoff_for(now, days), dry_run=dry_run)
    cutoff = report.cutoff

    with session_scope(url) as session:
        old_texts = SmsMessage.created_at < cutoff
        old_payloads = (WebhookDelivery.status == "delivered",
                        WebhookDelivery.delivered_at < cutoff)
        if dry_run:
            report.sms_messages = session.execute(
                select(func.count()).select_from(SmsMessage).where(old_texts)).scalar_one()
            deliveries = session.execute(
                select(WebhookDelivery.payload).where(*old_payloads)).scalars()
            report.webhook_payloads = sum(1 for payload in deliveries if payload)
        else:
            report.sms_messages = int(session.execute(
                SmsMessage.__table__.delete().where(old_texts)).rowcount or 0)
            ids = [delivery_id for delivery_id, payload in session.execute(
                select(WebhookDelivery.id, WebhookDelivery.payload).where(*old_payloads))
                if payload]
            if ids:
                session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
                                .values(payload={})
                                .execution_options(synchronize_session=False))
            report.webhook_payloads = len(ids)
            # Call back requests (names and numbers) and last-seen times go with the rest.
            session.execute(delete(Callback).where(Callback.created_at < cutoff))
            session.execute(delete(WidgetPresence).where(WidgetPresence.last_seen < cutoff))
    if not dry_run and (report.sms_messages or report.webhook_payloads):
        flush_deleted(get_engine(url))

    try:
        report.conversations, report.conversation_events = purge_conversations(
            tracker_url or config.tracker_store_url, cutoff, dry_run=dry_run)
    except TrackerStoreMissing as error:
        report.tracker_error = str(error)
        log.error("Retention purge: %s", error)
    log.info("Retention purge (%s days%s): %d conversations, %d SMS messages, "
             "%d webhook payloads", days, ", dry run" if dry_run else "",
             report.conversations, report.sms_messages, report.webhook_payloads)
    return report


def purge_conversations(tracker_url: str, cutoff: dt.datetime, *,
                        dry_run: bool = False) -> tuple[int, int]:
    """(conversations, events) whose latest event is before ``cutoff``: removed.

    Rasa stores each event's time as a Unix timestamp (``events.timestamp``). Raises
    :class:`clinic.services.erase.TrackerStoreMissing` if there is no tracker store.
    """
    engine = open_tracker_store(tracker_url)
    table = TRACKER_EVENTS_TABLE
    try:
        with engine.begin() as connection:
            stale = connection.execute(text(
                f"SELECT sender_id, COUNT(*) FROM {table} GROUP BY sender_id "
                "HAVING MAX(timestamp) < :cutoff"), {"cutoff": cutoff.timestamp()}).all()
            conversations, events = len(stale), sum(count for _, count in stale)
            if dry_run or not stale:
                return conversations, events
            ids = [sender for sender, _ in stale]
            # Checked again in the DELETE itself: a conversation that got a new message
            # since the SELECT stays.
            delete = text(
                f"DELETE FROM {table} WHERE sender_id IN :ids AND sender_id NOT IN "
                f"(SELECT sender_id FROM {table} WHERE sender_id IN :ids "
                "AND timestamp >= :cutoff)").bindparams(bindparam("ids", expanding=True))
            events = 0
            for start in range(0, len(ids), BATCH):
                events += int(connection.execute(delete, {
                    "ids": ids[start:start + BATCH], "cutoff": cutoff.timestamp()}).rowcount or 0)
        flush_deleted(engine)
        return conversations, events
    finally:
        engine.dispose()
