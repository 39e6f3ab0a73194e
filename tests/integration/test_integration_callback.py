"""A call back asked for in two messages, through the real servers (REST channel): the
offer, the details typed as people do, the confirmation and the item in the database."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.integration


def test_a_person_then_the_details_make_one_callback_item(assistant_servers) -> None:
    who = f"cb-{uuid.uuid4().hex[:10]}"
    offer = assistant_servers.texts(who, "can I talk to someone?")
    # Open: staff will answer here; closed: a call back is offered. Either way, no promise
    # of a reply in a chat the person may have left.
    assert "call" in offer and "reply here from" not in offer
    confirmation = assistant_servers.texts(who, "Sam, 415 555 0123")
    assert "Thank you, Sam" in confirmation and "(415) 555-0123" in confirmation
    assert "didn't" not in confirmation.lower()
    again = assistant_servers.texts(who, "what is microneedling?")
    assert "collagen induction therapy" in again.lower()

    from sqlalchemy import create_engine, text

    engine = create_engine(assistant_servers.env["CLINIC_DATABASE_URL"])
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT name, phone_e164, channel FROM callbacks WHERE sender_id = :who"),
            {"who": who}).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [("Sam", "+14155550123", "rest")]
