"""A text is never sent twice and never at night.

* A failure after the request went to Twilio (read timeout, connection dropped while
  waiting for the answer) is "delivery unknown": failed, not retried. A failure before
  anything was sent (connection refused) is retried.
* Quiet hours are checked before every text, not once per pass.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from clinic.sms.sender import send_due
from clinic.sms.transport import SendError, SendResult, TwilioTransport
from clinic.store.db import read_scope, session_scope
from clinic.store.models import Followup
from tests.support import add_booking
from tests.support.fake_twilio import ACCOUNT_SID, AUTH_TOKEN

LA = ZoneInfo("America/Los_Angeles")
FROM = "+15550000000"
EVENING = dt.datetime(2025, 6, 2, 20, 58, tzinfo=LA)  # quiet hours start at 21:00


class BrokenTwilio:
    """A loopback server that reads each request and then hangs up or never answers."""

    def __init__(self, mode: str) -> None:
        self.mode = mode  # "hang-up" or "silent"
        self.requests = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.requests += 1  # the request (headers at least) arrived
                if self.mode == "silent":
                    self.stop.wait(3)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def broken() -> Iterator:
    servers = []

    def start(mode: str) -> BrokenTwilio:
        servers.append(BrokenTwilio(mode))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens after this


@pytest.mark.parametrize("mode", ["hang-up", "silent"])
def test_a_failure_after_sending_is_delivery_unknown(broken, mode: str) -> None:
    server = broken(mode)
    transport = TwilioTransport(ACCOUNT_SID, AUTH_TOKEN, FROM, api_base=server.base_url,
                                timeout=1.0)
    with pytest.raises(SendError) as raised:
        transport.send("+15105550101", "Aftercare reminder")
    assert server.requests == 1
    assert raised.value.delivery_unknown and raised.value.permanent
    assert "delivery unknown" in raised.value.reason


def test_a_connection_refused_is_retryable() -> None:
    transport = TwilioTransport(ACCOUNT_SID, AUTH_TOKEN, FROM, api_base=closed_port(),
                                timeout=1.0)
    with pytest.raises(SendError) as raised:
        transport.send("+15105550101", "Aftercare reminder")
    assert not raised.value.delivery_unknown and not raised.value.permanent
    assert "before sending" in raised.value.reason


class ScriptedTransport:
    """A fake transport: each send runs the next step (a result or an exception)."""

    name = "scripted"

    def __init__(self, *steps, on_send=None) -> None:
        self.steps = list(steps)
        self.calls: list[str] = []
        self.on_send = on_send

    def send(self, to: str, body: str) -> SendResult:
        self.calls.append(to)
        if self.on_send:
            self.on_send()
        step = self.steps.pop(0) if self.steps else SendResult("scripted", "queued", "SM1")
        if isinstance(step, Exception):
            raise step
        return step


def due_text(phone: str, due: dt.datetime) -> int:
    booking = add_booking(phone, consent=True)
    with session_scope() as session:
        row = Followup(booking_id=booking, phone_e164=phone, message_id="next_day",
                       body="How is your skin today?", due_at=due, status="scheduled")
        session.add(row)
        session.flush()
        return row.id


def followup(followup_id: int) -> Followup:
    with read_scope() as session:
        return session.execute(select(Followup).where(Followup.id == followup_id)).scalar_one()


def test_delivery_unknown_is_failed_and_never_sent_again(sms_database: str) -> None:
    text_id = due_text("+15105550101", EVENING - dt.timedelta(hours=3))
    transport = ScriptedTransport(SendError("ReadTimeout after the request was sent; "
                                            "delivery unknown, not retried",
                                            delivery_unknown=True))
    counts = send_due(now=EVENING - dt.timedelta(hours=2), transport=transport)
    assert counts["failed"] == 1 and counts["retried"] == 0
    row = followup(text_id)
    assert row.status == "failed" and "delivery unknown" in row.last_error
    assert row.next_attempt_at is None
    send_due(now=EVENING - dt.timedelta(hours=1), transport=transport)
    assert transport.calls == ["+15105550101"]  # tried once, never again


def test_an_unexpected_transport_error_is_not_retried_blindly(sms_database: str) -> None:
    text_id = due_text("+15105550101", EVENING - dt.timedelta(hours=3))
    transport = ScriptedTransport(RuntimeError("boom"))
    send_due(now=EVENING - dt.timedelta(hours=2), transport=transport)
    row = followup(text_id)
    assert row.status == "failed" and "delivery unknown" in row.last_error


def test_an_error_before_sending_is_retried(sms_database: str) -> None:
    text_id = due_text("+15105550101", EVENING - dt.timedelta(hours=3))
    now = EVENING - dt.timedelta(hours=2)
    transport = ScriptedTransport(SendError("network error before sending: ConnectionError"))
    assert send_due(now=now, transport=transport)["retried"] == 1
    row = followup(text_id)
    assert row.status == "scheduled" and row.next_attempt_at > now
    assert send_due(now=row.next_attempt_at, transport=transport)["sent"] == 1


def test_quiet_hours_are_checked_before_every_text(sms_database: str) -> None:
    first = due_text("+15105550101", EVENING - dt.timedelta(minutes=5))
    second = due_text("+15105550102", EVENING - dt.timedelta(minutes=5))
    third = due_text("+15105550103", EVENING - dt.timedelta(minutes=5))
    clock = [EVENING]

    def slow_twilio() -> None:  # each send takes a minute and a half
        clock[0] += dt.timedelta(seconds=90)

    transport = ScriptedTransport(on_send=slow_twilio)
    counts = send_due(now=EVENING, transport=transport, clock=lambda: clock[0])
    # 20:58 first goes, 20:59:30 second goes, 21:01 third waits for the morning.
    assert (counts["sent"], counts["deferred"]) == (2, 1)
    assert transport.calls == ["+15105550101", "+15105550102"]
    morning = dt.datetime(2025, 6, 3, 8, 0, tzinfo=LA)
    assert [followup(i).status for i in (first, second, third)] == ["sent", "sent",
                                                                    "scheduled"]
    assert followup(third).next_attempt_at == morning
    assert send_due(now=morning, transport=transport)["sent"] == 1
    assert transport.calls[-1] == "+15105550103"


def test_the_real_clock_is_read_per_text_by_default(sms_database: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import clinic.sms.sender as sender

    due_text("+15105550101", EVENING - dt.timedelta(minutes=5))
    due_text("+15105550102", EVENING - dt.timedelta(minutes=5))
    late = EVENING + dt.timedelta(minutes=3)
    readings = iter([EVENING, EVENING])  # the pass starts, the first text; then it's 21:01
    monkeypatch.setattr(sender, "utcnow", lambda: next(readings, late))
    counts = send_due(transport=ScriptedTransport())
    assert (counts["sent"], counts["deferred"]) == (1, 1)
