"""Taking over an SMS conversation from the staff console, through the real servers and the
Twilio fake: the staff reply is sent once, and nothing after the patient texted STOP."""

from __future__ import annotations

import pytest

from tests.integration.test_integration_sms import new_phone, post_sms
from tests.support.console_server import StaffClient, start_console
from tests.support.fake_twilio import FakeTwilio

pytestmark = pytest.mark.integration


def test_sms_take_over_reply_once_and_nothing_after_stop(assistant_servers) -> None:
    with FakeTwilio() as fake:
        console = start_console(assistant_servers, {
            "TWILIO_ACCOUNT_SID": fake.account_sid, "TWILIO_AUTH_TOKEN": fake.auth_token,
            "CLINIC_TWILIO_API_BASE": fake.base_url, "CLINIC_TWILIO_FROM_NUMBER": "+14155550100"})
        try:
            phone = new_phone()
            status, replies = post_sms(assistant_servers, phone, "can I talk to someone?")
            assert status == 200
            # Open: staff answer by text; closed: a call back on this number, recorded.
            said = " ".join(replies)
            assert "A member of staff can reply here" in said or \
                "call you back on this number" in said

            staff = StaffClient(console, console.add_staff("ben@clinic.example", "Ben"))
            rows = [link for link, text in staff.conversation_links("sms")
                    if "talk to someone" in text and "SMS" in text]
            assert rows, "the SMS conversation is in the inbox"
            link = rows[0]
            page = staff.act(link, "take-over")
            assert "You have taken over" in page
            assert len(fake.bodies_to(phone)) == 1 and "has joined" in fake.bodies_to(phone)[0]

            # While staff have it, the assistant stays quiet...
            status, replies = post_sms(assistant_servers, phone, "ok, I have a question")
            assert status == 200 and replies == []
            page = staff.get(link)
            assert "ok, I have a question" in page

            # ...and the staff reply is texted exactly once, also when the form is resent.
            form_page = staff.get(link)
            from tests.support.console_server import hidden

            fields = {"csrf_token": hidden(form_page, "csrf_token"),
                      "nonce": hidden(form_page, "nonce"), "text": "Hi, Ben here. How can I help?"}
            staff.post(f"{link}/reply", fields)
            staff.post(f"{link}/reply", fields)
            assert fake.bodies_to(phone).count("Hi, Ben here. How can I help?") == 1

            status, replies = post_sms(assistant_servers, phone, "STOP")
            assert status == 200 and len(replies) == 1
            sent = len(fake.bodies_to(phone))
            page = staff.act(link, "reply", text="Are you still there?")
            assert "opted out" in page
            page = staff.act(link, "hand-back")
            assert "Handed back" in page
            assert len(fake.bodies_to(phone)) == sent, "nothing is texted after STOP"
        finally:
            console.stop()
