"""The SQLite tracker store Rasa writes (clinic.rasa.tracker_store): one pooled connection in WAL
mode, erased messages gone from the file and its log; and the REST channel's ownership check
reads one row, not the conversation (clinic.rasa.channels.blueprint.conversation_channel)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import event
from sqlalchemy.orm import Query

from clinic.config.settings import settings
from clinic.rasa.channels import rest
from clinic.rasa.channels.blueprint import conversation_channel
from clinic.rasa.tracker_store import ClinicSQLTrackerStore
from clinic.services.erase import erase_person


@pytest.fixture
def store(clinic_db):
    made = ClinicSQLTrackerStore(Domain.empty())
    yield made
    made.engine.dispose()


def save(store, sender: str, events: list) -> None:
    asyncio.run(store.save(DialogueStateTracker.from_events(sender, events)))


def test_one_connection_in_wal_mode_serves_every_load_and_save(store) -> None:
    connects: list[object] = []
    event.listen(store.engine, "connect", lambda *_: connects.append(1))
    for n in range(5):
        tracker = asyncio.run(store.retrieve("web-pooled")) or DialogueStateTracker(
            "web-pooled", [])
        tracker.update(UserUttered(f"message {n}"))
        asyncio.run(store.save(tracker))
    loaded = asyncio.run(store.retrieve("web-pooled"))
    assert loaded is not None
    assert [e.text for e in loaded.events if isinstance(e, UserUttered)] == [
        f"message {n}" for n in range(5)]
    assert len(connects) <= 1  # Rasa's own engine opened one per query
    with store.engine.connect() as connection:
        pragma = connection.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert pragma("PRAGMA secure_delete").scalar() == 1


def test_an_erased_conversation_leaves_nothing_in_the_file_or_its_log(store) -> None:
    secret = "ada.lovelace.erase.me@example.com"
    save(store, "web-erase", [UserUttered("book please"), BotUttered("Your email?"),
                              UserUttered(f"it is {secret}"),
                              SlotSet("booking_email", secret)])
    save(store, "web-keep", [UserUttered("hello")])
    database = Path(settings().tracker_store_url.removeprefix("sqlite:///"))
    wal = Path(f"{database}-wal")
    assert secret.encode() in database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    # The assistant keeps its pooled connection open meanwhile, as a running server does.
    report = erase_person(email=secret)
    assert report.conversations == 1
    assert secret.encode() not in database.read_bytes()
    assert not wal.exists() or secret.encode() not in wal.read_bytes()
    assert asyncio.run(store.retrieve("web-keep")) is not None


def request_with(store, headers: dict[str, str] | None = None) -> SimpleNamespace:
    return SimpleNamespace(headers=headers or {}, app=SimpleNamespace(ctx=SimpleNamespace(
        agent=SimpleNamespace(tracker_store=store))))


def test_the_owner_of_a_conversation_is_read_from_one_row(store) -> None:
    save(store, "widgetsession02", [UserUttered("hi", input_channel="socketio")]
         + [UserUttered(f"more {n}", input_channel="socketio") for n in range(30)])
    save(store, "restsession02", [UserUttered("hi", input_channel="rest")])
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: statements.append(statement))
    # Rasa wraps the store it is given; the check finds the SQL store inside.
    request = request_with(FailSafeTrackerStore(store))

    assert asyncio.run(conversation_channel(request, "widgetsession02")) == "socketio"
    assert asyncio.run(conversation_channel(request, "restsession02")) == "rest"
    assert asyncio.run(conversation_channel(request, "brandnew02")) is None
    assert statements and all("LIMIT" in s for s in statements), statements

    ours = rest.ClinicRestInput()
    # A REST conversation under way is its caller's: the caller sends its conversation token.
    token = rest.conversation_token(rest.credential_of(request), "restsession02")
    owner = request_with(FailSafeTrackerStore(store), {rest.TOKEN_HEADER.lower(): token})
    asyncio.run(ours.check_sender(owner, "restsession02"))
    with pytest.raises(rest.Refusal):
        asyncio.run(ours.check_sender(request, "restsession02"))
    asyncio.run(ours.check_sender(request, "brandnew02"))
    with pytest.raises(rest.Refusal):
        asyncio.run(ours.check_sender(request, "widgetsession02"))


def test_a_first_message_without_a_channel_falls_back_to_the_whole_conversation(store) -> None:
    save(store, "scripted02", [UserUttered("typed by a script"),
                               UserUttered("then the widget", input_channel="socketio")])
    assert asyncio.run(conversation_channel(request_with(store), "scripted02")) == "socketio"


# ---- the checked cache -------------------------------------------------------------------------

DOMAIN_YAML = """
version: "3.1"
intents: [greet]
slots:
  booking_email: {type: text, influence_conversation: false, mappings: [{type: custom}]}
"""


@pytest.fixture
def replicas(clinic_db):
    """Two stores on one database, as two Rasa replicas (or a server and a restarted one)."""
    domain = Domain.from_yaml(DOMAIN_YAML)
    made = [ClinicSQLTrackerStore(domain), ClinicSQLTrackerStore(domain)]
    yield made
    for store in made:
        store.engine.dispose()


def turn(store, sender: str, text: str) -> DialogueStateTracker:
    """One message as Rasa's processor handles it: retrieve (or start), update, save."""
    tracker = asyncio.run(store.retrieve(sender))
    if tracker is None:
        tracker = DialogueStateTracker(sender, store.domain.slots)
        tracker.update(ActionExecuted("action_session_start"))
        tracker.update(SessionStarted())
        tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}))
    tracker.update(SlotSet("booking_email", f"{text}@example.com"))
    tracker.update(BotUttered(f"reply to {text}"))
    tracker.update(ActionExecuted("action_listen"))
    asyncio.run(store.save(tracker))
    return tracker
    return tracker


def as_dicts(tracker) -> list[dict]:
    return [e.as_dict() for e in tracker.events]


def loaded_from_database(store, sender: str):
    store.cache.drop(sender)
    return asyncio.run(store.retrieve(sender))


def test_a_saved_conversation_is_served_from_memory_equal_to_the_database(replicas,
                                                                          monkeypatch) -> None:
    store = replicas[0]
    for n in range(5):
        turn(store, "web-cache", f"m{n}")
    parsed: list[int] = []
    original = DialogueStateTracker.from_dict
    monkeypatch.setattr(DialogueStateTracker, "from_dict",
                        lambda *a, **k: parsed.append(1) or original(*a, **k))
    hits = store.cache.hits
    cached = asyncio.run(store.retrieve("web-cache"))
    assert store.cache.hits == hits + 1 and parsed == []  # no rows turned into events
    fresh = loaded_from_database(store, "web-cache")
    assert parsed == [1]
    assert as_dicts(cached) == as_dicts(fresh)
    assert cached.current_state() == fresh.current_state()
    # The tracker handed out is Rasa's to change: the kept events are not.
    cached.update(UserUttered("not saved"))
    again = asyncio.run(store.retrieve("web-cache"))
    assert as_dicts(again) == as_dicts(fresh)


def test_another_replica_s_messages_are_never_missed(replicas) -> None:
    first, second = replicas
    turn(first, "web-two", "a")
    turn(first, "web-two", "b")  # the first replica now holds the conversation in memory
    turn(second, "web-two", "c")  # ... and the other one handles the next message
    seen = asyncio.run(first.retrieve("web-two"))
    assert [e.text for e in seen.events if isinstance(e, UserUttered)] == ["a", "b", "c"]
    assert seen.get_slot("booking_email") == "c@example.com"
    # And each replica's next message builds on the whole conversation.
    turn(first, "web-two", "d")
    seen = asyncio.run(second.retrieve("web-two"))
    assert [e.text for e in seen.events if isinstance(e, UserUttered)] == ["a", "b", "c", "d"]


def test_an_erased_conversation_is_not_served_from_memory(replicas) -> None:
    store = replicas[0]
    turn(store, "web-gone", "ada.erase@example.com")
    turn(store, "web-gone", "again")
    assert asyncio.run(store.retrieve("web-gone")) is not None
    report = erase_person(email="ada.erase@example.com")
    assert report.conversations == 1
    assert asyncio.run(store.retrieve("web-gone")) is None


def test_a_save_that_starts_a_new_session_is_loaded_from_the_database_next(replicas) -> None:
    store = replicas[0]
    turn(store, "web-session", "old")
    tracker = asyncio.run(store.retrieve("web-session"))
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("new", {"name": "greet", "confidence": 1.0}))
    asyncio.run(store.save(tracker))
    misses = store.cache.misses
    loaded = asyncio.run(store.retrieve("web-session"))
    assert store.cache.misses == misses + 1
    # The database returns the latest session only, and so does the store.
    assert [e.text for e in loaded.events if isinstance(e, UserUttered)] == ["new"]


def stored_rows(store, sender: str) -> list[tuple]:
    """The conversation's rows in the database, in order: (type, data)."""
    with store.session_scope() as session:
        rows = (session.query(store.SQLEvent).filter(store.SQLEvent.sender_id == sender)
                .order_by(store.SQLEvent.id).all())
        return [(row.type_name, row.data) for row in rows]


def test_saves_append_exactly_the_new_events_without_counting_the_session(
        replicas, monkeypatch) -> None:
    """Whether the store counted the session's rows (after a load from the database, a
    message on the other replica, a new session) or knew the count from its cache, every
    event is written once, in order: the rows are the events of the turns played."""
    first, second = replicas
    counted: list[int] = []
    original = Query.count
    monkeypatch.setattr(Query, "count", lambda self: counted.append(1) or original(self))
    for n in range(12):
        store = second if n in (5, 6) else first
        tracker = turn(store, "web-rows", f"m{n}")
        if n == 8:  # a new session in the same tracker, then more turns
            tracker.update(ActionExecuted("action_session_start"))
            tracker.update(SessionStarted())
            tracker.update(ActionExecuted("action_listen"))
            asyncio.run(first.save(tracker))
    played = list(DialogueStateTracker.from_dict(
        "x", [json.loads(data) for _, data in stored_rows(first, "web-rows")],
        first.domain.slots).events)
    texts = [e.text for e in played if isinstance(e, UserUttered)]
    assert texts == [f"m{n}" for n in range(12)]  # each message once, in order
    assert sum(isinstance(e, SessionStarted) for e in played) == 2
    assert len(played) == 3 + 12 * 4 + 3
    # Counted only when the cache could not know: the first save, the other replica's two
    # turns and the first turn back on this one, the new session and the turn after it.
    assert 3 <= len(counted) <= 6
    counted.clear()
    for n in range(12, 20):
        turn(first, "web-rows", f"m{n}")
    assert counted == []  # a conversation going on, on one replica: no count query at all
    again = loaded_from_database(first, "web-rows")
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == \
        [f"m{n}" for n in range(9, 20)]
