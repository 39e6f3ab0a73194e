"""Inbound SMS: one Twilio MessageSid is handled once, also by racing servers."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from clinic.sms import inbound, store
from clinic.store.db import read_scope, session_scope
from clinic.store.models import SmsMessage

PHONE = "+15105550101"
SID = "SM" + "a" * 32


def log_row(session, direction: str = "inbound", sid: str = SID) -> None:
    store.record_message(session, direction=direction, phone=PHONE, body="hi",
                         transport="twilio", status="received", provider_sid=sid)


def test_the_second_insert_of_an_inbound_sid_fails(sms_database: str) -> None:
    with session_scope() as session:
        log_row(session)
    with pytest.raises(IntegrityError), session_scope() as session:
        log_row(session)
    # Outbound sids and missing sids are not constrained.
    with session_scope() as session:
        log_row(session, direction="outbound")
        log_row(session, sid=None)
        log_row(session, sid=None)


def test_two_racing_servers_process_one_message_once(sms_database: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # As on PostgreSQL, where both can pass the "already handled?" check before either
    # commits: only the unique index is left to decide.
    monkeypatch.setattr(store, "inbound_seen", lambda session, sid: False)
    barrier = threading.Barrier(2)
    decisions = []

    def replica() -> None:
        barrier.wait()
        decisions.append(inbound.receive(PHONE, "is it safe after retinol?", SID))

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(d.to_assistant for d in decisions) == [False, True]
    assert [d.replies for d in decisions] == [[], []]
    with read_scope() as session:
        rows = session.execute(select(SmsMessage.direction)).scalars().all()
    assert rows == ["inbound"]
