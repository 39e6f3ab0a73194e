"""What the widget receives for a stored bot message, live or replayed (clinic.rules.delivery)."""

from __future__ import annotations

from rasa.shared.core.events import BotUttered

from clinic.rules.delivery import replay, widget_messages


def test_the_same_stored_message_has_the_same_ids_live_and_replayed() -> None:
    event = BotUttered("First paragraph.\n\nSources: Aust 2008.",
                       data={"buttons": [{"title": "Book", "payload": "/book"}]},
                       timestamp=1_764_000_000.123456)
    live = widget_messages(event.message())
    stored = BotUttered.from_parameters(event.as_dict())  # as the tracker store reads it
    assert widget_messages(stored.message()) == live
    assert [m["text"] for m in live] == ["First paragraph.", "Sources: Aust 2008."]
    assert "quick_replies" not in live[0]
    assert live[1]["quick_replies"] == [{"title": "Book", "payload": "/book"}]
    assert len({m["id"] for m in live}) == 2 and {m["ts"] for m in live} == {event.timestamp}
    # Another message with the same text at another time is another message.
    later = BotUttered(event.text, data=event.data, timestamp=event.timestamp + 1)
    assert not {m["id"] for m in live} & {m["id"] for m in widget_messages(later.message())}


def test_staff_messages_say_who_wrote_them_but_never_their_login() -> None:
    event = BotUttered("Hi, Mia here.", timestamp=5.0, metadata={
        "clinic_staff": "mia@clinic.example", "clinic_staff_public": "Mia",
        "clinic_handover": "joined"})
    [payload] = widget_messages(event.message())
    assert payload["staff"] == "Mia" and payload["handover"] == "joined"
    assert "mia@clinic.example" not in str(payload)
    [assistant] = widget_messages(BotUttered("Hello", timestamp=6.0).message())
    assert "staff" not in assistant


def test_replay_sends_from_the_cursor_on_inclusive_and_everything_without_one() -> None:
    messages = [BotUttered(f"m{i}", timestamp=float(i)).message() for i in range(1, 5)]
    assert [m["text"] for m in replay(messages, 3.0)] == ["m3", "m4"]
    assert [m["text"] for m in replay(messages, None)] == ["m1", "m2", "m3", "m4"]
    assert replay(messages, 9.0) == []
    # A message with nothing to show (no text, buttons or attachment) is not sent.
    assert widget_messages(BotUttered(None, timestamp=1.0).message()) == []
