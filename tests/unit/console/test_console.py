"""Staff console: accounts, hashing, lock-out, sessions and CSRF, the inbox rules, the
insight queries (over a seeded SQLite tracker store) and the web app's protections.

The take-over tests use a stand-in for Rasa's HTTP API that records what the console
appends; the real servers are exercised in tests/browser/test_console_browser.py and
tests/integration/test_integration_console_sms.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import CookieJar, web
from aiohttp.test_utils import TestClient, TestServer

from clinic.console import accounts, inbox, insights, security, takeover
from clinic.store import rasa_events as tracker
from clinic.store.models import utcnow
from clinic.store.rasa_events import load_events
from dev.bench.console_seed import Conversation, synthetic, write

PASSWORD = "correct horse battery staple"
DAY0 = dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.timezone.utc).timestamp()


@pytest.fixture()
def console_db(clinic_db, tmp_path, monkeypatch):
    """A fresh clinic database and tracker store; the console's engines forgotten after."""
    tracker.dispose()
    yield f"sqlite:///{tmp_path / 'tracker.db'}"
    tracker.dispose()


def seed(url: str, *conversations: Conversation) -> None:
    write(url, conversations)


# --------------------------------------------------------------------------- accounts

def test_passwords_are_hashed_with_argon2id_and_verified(console_db) -> None:
    staff = accounts.add_staff("Anna@Clinic.Example", PASSWORD, "Anna")
    assert staff.email == "anna@clinic.example"
    from clinic.store.db import read_scope
    from clinic.store.models import StaffAccount

    with read_scope() as session:
        stored = session.get(StaffAccount, staff.id).password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert accounts.verify_password(stored, PASSWORD)
    assert not accounts.verify_password(stored, PASSWORD + "x")
    assert not accounts.verify_password("not a hash", PASSWORD)


@pytest.mark.parametrize("password", ["short", "aaaaaaaaaaaaaaaa", " leading space pw"])
def test_weak_passwords_are_refused(console_db, password) -> None:
    with pytest.raises(accounts.AccountError):
        accounts.add_staff("b@clinic.example", password)


def test_duplicate_and_invalid_emails_are_refused(console_db) -> None:
    accounts.add_staff("a@clinic.example", PASSWORD)
    with pytest.raises(accounts.AccountError, match="already"):
        accounts.add_staff("A@clinic.example ", PASSWORD)
    with pytest.raises(accounts.AccountError, match="e-mail"):
        accounts.add_staff("not-an-email", PASSWORD)


def test_login_locks_out_after_repeated_failures(console_db, monkeypatch) -> None:
    # The account-wide lock is the last resort behind the console's throttle: ten times
    # console_lockout_attempts wrong passwords in a row (here 1 x 10 = 10).
    from clinic.config import settings as settings_module

    monkeypatch.setenv("CLINIC_CONSOLE_LOCKOUT_ATTEMPTS", "1")
    settings_module.settings.cache_clear()
    accounts.add_staff("a@clinic.example", PASSWORD)
    now = utcnow()
    for _ in range(accounts.ACCOUNT_LOCK_FACTOR - 1):
        result = accounts.authenticate("a@clinic.example", "wrong password!!", now)
        assert result.staff is None and not result.locked
    assert accounts.authenticate("a@clinic.example", "wrong password!!", now).locked
    # Even the right password is refused while locked...
    later = now + dt.timedelta(minutes=5)
    assert accounts.authenticate("a@clinic.example", PASSWORD, later).staff is None
    # ...and works once the lock-out is over.
    after = now + dt.timedelta(minutes=16)
    assert accounts.authenticate("a@clinic.example", PASSWORD, after).staff is not None
    actions = [e.action for e in security.recent_audit()]
    assert actions.count("login_failed") == accounts.ACCOUNT_LOCK_FACTOR
    assert "locked" in actions and "login" in actions


def test_disabled_accounts_cannot_log_in_and_lose_their_sessions(console_db) -> None:
    staff = accounts.add_staff("a@clinic.example", PASSWORD)
    token, _ = security.start_session(staff)
    assert security.load_session(token) is not None
    accounts.set_active("a@clinic.example", False)
    assert security.load_session(token) is None
    assert accounts.authenticate("a@clinic.example", PASSWORD).staff is None


def test_sessions_store_only_a_hash_and_expire(console_db) -> None:
    staff = accounts.add_staff("a@clinic.example", PASSWORD)
    token, logged_in = security.start_session(staff)
    from clinic.store.db import read_scope
    from clinic.store.models import StaffSession

    with read_scope() as session:
        stored = [row.token_hash for row in session.query(StaffSession)]
    assert token not in stored and logged_in.token_hash in stored
    assert security.load_session(token, utcnow() + dt.timedelta(hours=2)) is None  # idle
    assert security.load_session("forged") is None


def test_csrf_tokens_compare_safely() -> None:
    assert security.tokens_match("abc", "abc")
    assert not security.tokens_match("abc", "abd")
    assert not security.tokens_match("", "")
    assert not security.tokens_match(None, "x")


def test_audit_entries_are_purged_after_the_retention(console_db, monkeypatch) -> None:
    staff = accounts.add_staff("a@clinic.example", PASSWORD)
    security.audit(staff, "view", "ref1", now=utcnow() - dt.timedelta(days=400))
    security.audit(staff, "view", "ref2")
    assert security.purge_audit() == 1
    assert [e.conversation_ref for e in security.recent_audit()] == ["ref2"]


def test_conversation_refs_are_opaque_and_stable(console_db) -> None:
    refs = security.refs_for(["+14155550100", "w123"])
    assert refs == security.refs_for(["w123", "+14155550100"])
    assert "4155550100" not in refs["+14155550100"]
    assert security.sender_for(refs["+14155550100"]) == "+14155550100"
    assert security.sender_for("nope") is None


# --------------------------------------------------------------------------- inbox rules

def _events(url: str, conversation: Conversation):
    seed(url, conversation)
    return load_events([conversation.sender_id])[conversation.sender_id]


def test_inbox_rules(console_db) -> None:
    asked = Conversation("asked", start=DAY0).turn("can i talk to someone", "human_handoff",
                                                   "action_handoff")
    twice = (Conversation("twice", start=DAY0).turn("blah", "nlu_fallback", "action_fallback")
             .turn("blah blah", "nlu_fallback", "action_fallback"))
    once = (Conversation("once", start=DAY0).turn("blah", "nlu_fallback", "action_fallback")
            .turn("what is it", "ask_what_is", "action_answer_faq")
            .turn("blah", "nlu_fallback", "action_fallback"))
    review = (Conversation("review", start=DAY0).action("action_screening_outcome")
              .slot("screening_outcome", "practitioner_review"))
    eligible = (Conversation("eligible", start=DAY0).action("action_screening_outcome")
                .slot("screening_outcome", "eligible"))
    urgent = Conversation("urgent", start=DAY0).turn("my face is swelling", "report_urgent_symptoms",
                                                     "action_urgent_care")
    assert inbox.reasons(_events(console_db, asked)) == [inbox.ASKED]
    assert inbox.reasons(_events(console_db, twice)) == [inbox.NOT_UNDERSTOOD]
    assert inbox.reasons(_events(console_db, once)) == []
    assert inbox.reasons(_events(console_db, review)) == [inbox.REVIEW]
    assert inbox.reasons(_events(console_db, eligible)) == []
    assert inbox.reasons(_events(console_db, urgent)) == [inbox.URGENT]


def test_a_hand_back_clears_earlier_flags(console_db) -> None:
    from rasa.shared.core.events import ConversationPaused, ConversationResumed

    c = Conversation("handed", start=DAY0).turn("a person please", "human_handoff",
                                                "action_handoff")
    c.events += [ConversationPaused(timestamp=DAY0 + 100), ConversationResumed(timestamp=DAY0 + 200)]
    events = _events(console_db, c)
    assert inbox.reasons(events) == [] and not inbox.is_paused(events)
    c2 = Conversation("paused", start=DAY0).turn("a person please", "human_handoff",
                                                 "action_handoff")
    c2.events.append(ConversationPaused(timestamp=DAY0 + 100))
    assert inbox.is_paused(_events(console_db, c2))


def test_inbox_lists_newest_first_and_filters_by_channel(console_db) -> None:
    now = dt.datetime.fromtimestamp(DAY0 + 3600, dt.timezone.utc)
    seed(console_db,
         Conversation("old-widget", "socketio", DAY0 - 500).turn("a person", "human_handoff",
                                                                 "action_handoff"),
         Conversation("+14155550111", "twilio", DAY0).turn("a person", "human_handoff",
                                                          "action_handoff"),
         Conversation("quiet", "socketio", DAY0 + 100).turn("what is it", "ask_what_is",
                                                            "action_answer_faq"))
    needs = inbox.list_conversations("needs", now=now)
    assert [r.sender_id for r in needs] == ["+14155550111", "old-widget"]
    assert needs[0].channel_label == "SMS"
    assert [r.sender_id for r in inbox.list_conversations("recent", now=now)] == [
        "quiet", "+14155550111", "old-widget"]
    assert [r.sender_id for r in inbox.list_conversations("sms", now=now)] == ["+14155550111"]
    assert [r.sender_id for r in inbox.list_conversations("widget", now=now)] == [
        "quiet", "old-widget"]
    held = inbox.list_conversations("needs", now=now, taken_over={"quiet"})
    assert held[0].sender_id == "quiet" and held[0].reasons == [inbox.TAKEN_OVER]


def test_transcript_marks_staff_messages_and_turns_payloads_into_words(console_db) -> None:
    from rasa.shared.core.events import BotUttered

    c = Conversation("t", start=DAY0).user("/check_eligibility", "check_eligibility")
    c.events.append(BotUttered("Hi, Anna here", metadata={"clinic_staff": "Anna"},
                               timestamp=DAY0 + 50))
    lines = inbox.transcript(_events(console_db, c))
    assert lines[0].who == "patient" and "clicked a button" in lines[0].text
    assert lines[1].who == "staff" and lines[1].staff_name == "Anna"


def test_seeded_rows_match_what_rasas_own_sql_tracker_store_writes(console_db, tmp_path) -> None:
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.trackers import DialogueStateTracker
    from sqlalchemy import create_engine, text

    c = (Conversation("same", start=DAY0).turn("hi there", "greet", "utter_greet")
         .slot("screening_outcome", "eligible").loop("screening_form"))
    path = tmp_path / "rasa_own.db"
    store = SQLTrackerStore(dialect="sqlite", db=str(path))
    tracker_ = DialogueStateTracker.from_events("same", c.events)
    asyncio.run(store.save(tracker_))
    seeded = tmp_path / "seeded.db"
    write(f"sqlite:///{seeded}", [c])
    query = text("SELECT sender_id, type_name, timestamp, intent_name, action_name, data "
                 "FROM events ORDER BY id")
    own = create_engine(f"sqlite:///{path}").connect().execute(query).all()
    ours = create_engine(f"sqlite:///{seeded}").connect().execute(query).all()
    assert own == ours


# --------------------------------------------------------------------------- insights

def test_insight_queries_on_a_seeded_tracker_store(console_db, monkeypatch) -> None:
    monkeypatch.setenv("CLINIC_TIMEZONE", "UTC")
    from clinic.config import settings as settings_module

    settings_module.settings.cache_clear()
    day = dt.datetime.fromtimestamp(DAY0, dt.timezone.utc).date()
    seed(console_db,
         Conversation("a", start=DAY0).turn("do you sell gift cards", "nlu_fallback",
                                            "action_fallback"),
         Conversation("b", start=DAY0).turn("Do you sell gift cards?", "out_of_scope",
                                            "action_out_of_scope"),
         # A confident intent the dialogue still fell back on counts too.
         Conversation("c", start=DAY0 + 86_400).turn("gift cards do you sell", "ask_price",
                                                     "action_fallback"),
         Conversation("d", start=DAY0).turn("what is it", "ask_what_is", "action_answer_faq")
         .user("am I a candidate", "check_eligibility").loop("screening_form")
         .action("action_screening_outcome").slot("screening_outcome", "practitioner_review"),
         Conversation("e", start=DAY0).user("candidate?", "check_eligibility")
         .loop("screening_form"))
    period = insights.DateRange(day, day + dt.timedelta(days=1))
    days = insights.per_day(period)
    assert [(d.conversations, d.messages) for d in days] == [(4, 5), (1, 1)]
    groups = insights.unanswered(period)
    assert groups[0].example.lower().startswith("do you sell gift cards")
    assert groups[0].count == 2 and sorted(groups[0].sender_ids) == ["a", "b"]
    assert groups[0].kind == "not understood and out of scope"
    assert "gift card do sell" in [g.key for g in groups] or len(groups) == 2
    funnel = insights.funnel(period)
    assert (funnel.started, funnel.completed, funnel.practitioner_review) == (2, 1, 1)
    one_day = insights.DateRange(day, day)
    assert sum(g.count for g in insights.unanswered(one_day)) == 2


def test_question_key_groups_repeated_questions() -> None:
    assert insights.question_key("Do you sell GIFT cards?") == insights.question_key(
        "do you sell gift card")
    assert insights.question_key("do you sell gift cards") != insights.question_key(
        "do you take insurance")


def test_date_range_parsing_is_forgiving() -> None:
    today = dt.date(2026, 12, 1)
    assert insights.DateRange.parse(None, None, today).start == dt.date(2026, 11, 2)
    swapped = insights.DateRange.parse("2026-12-01", "2026-11-01", today)
    assert swapped.start < swapped.end
    assert insights.DateRange.parse("junk", "2026-11-30", today).end == dt.date(2026, 11, 30)


@pytest.mark.parametrize(("start", "end"), [("9999-12-31", "0001-01-01"), (None, "0001-01-01"),
                                            ("0001-01-01", "0001-01-05"), ("9999-12-31", None)])
def test_dates_at_the_ends_of_the_calendar_are_no_error(start, end) -> None:
    # /insights?from=9999-12-31 answered 500 (OverflowError: date value out of range).
    period = insights.DateRange.parse(start, end, dt.date(2026, 12, 1))
    period.epoch_bounds()
    assert period.days


def test_insights_stay_fast_with_many_conversations(console_db) -> None:
    write(console_db, synthetic(2000, DAY0 - 20 * 86_400, days=20))
    period = insights.DateRange.parse(None, None,
                                      dt.datetime.fromtimestamp(DAY0, dt.timezone.utc).date())
    import time

    started = time.perf_counter()
    insights.per_day(period)
    groups = insights.unanswered(period)
    insights.funnel(period)
    inbox.list_conversations("needs", now=dt.datetime.fromtimestamp(DAY0, dt.timezone.utc))
    elapsed = time.perf_counter() - started
    assert groups and groups[0].count >= 50
    assert elapsed < 10, f"insights took {elapsed:.1f}s for 2,000 conversations"


# --------------------------------------------------------------------------- hours

def test_the_clinics_own_hours_can_be_read() -> None:
    from clinic.knowledge.kb import knowledge
    from clinic.rules import hours

    parsed = hours.parse_hours(knowledge().clinic.hours)
    assert parsed and all(opens < closes for day in parsed.values() for opens, closes in day)


def test_hours_parsing_and_next_opening() -> None:
    from zoneinfo import ZoneInfo

    from clinic.rules import hours

    text = "Monday to Friday 9 am to 6 pm, Saturday 10 am to 2 pm"
    parsed = hours.parse_hours(text)
    assert sorted(parsed) == [0, 1, 2, 3, 4, 5]
    assert parsed[5] == [(dt.time(10), dt.time(14))]
    tz = ZoneInfo("America/Los_Angeles")
    friday_evening = dt.datetime(2026, 12, 4, 19, tzinfo=tz)
    state = hours.availability(text, friday_evening, tz)
    assert not state.open_now
    assert hours.spoken_time(state.next_opening, friday_evening) == "tomorrow at 10 am"
    assert hours.availability(text, dt.datetime(2026, 12, 2, 12, tzinfo=tz), tz).open_now
    assert hours.availability("whenever", friday_evening, tz) is None
    with pytest.raises(ValueError):
        hours.parse_hours("Monday 6 pm to 9 am")


# --------------------------------------------------------------------------- web app

class FakeRasa:
    """Records what the console POSTs to Rasa's HTTP API."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict, list]] = []
        self.app = web.Application()
        self.app.router.add_post("/conversations/{id}/tracker/events", self.append)

    async def append(self, request: web.Request) -> web.Response:
        self.calls.append((request.match_info["id"], dict(request.query), await request.json()))
        return web.json_response({})


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden {name} field"
    return match.group(1)


async def _client(app: web.Application) -> TestClient:
    client = TestClient(TestServer(app), cookie_jar=CookieJar(unsafe=True))
    await client.start_server()
    return client


async def _login(client: TestClient, email: str = "a@clinic.example",
                 password: str = PASSWORD) -> web.Response:
    page = await client.get("/login")
    token = hidden(await page.text(), "csrf_token")
    return await client.post("/login", data={"email": email, "password": password,
                                             "csrf_token": token}, allow_redirects=False)


def test_logged_out_requests_get_the_login_page(console_db) -> None:
    from clinic.console.app import create_app

    async def scenario() -> None:
        client = await _client(create_app())
        try:
            for path in ("/", "/insights", "/audit", "/c/abc"):
                response = await client.get(path, allow_redirects=False)
                assert response.status == 303 and response.headers["Location"] == "/login"
            response = await client.get("/c/abc/events")
            assert response.status == 401
            login = await client.get("/login")
            assert "Log in" in await login.text()
            assert "default-src 'none'" in login.headers["Content-Security-Policy"]
            assert login.headers["Cache-Control"] == "no-store"
        finally:
            await client.close()

    asyncio.run(scenario())


def test_login_cookie_flags_logout_and_wrong_password(console_db) -> None:
    from clinic.console.app import create_app

    accounts.add_staff("a@clinic.example", PASSWORD, "Anna")

    async def scenario() -> None:
        client = await _client(create_app())
        try:
            wrong = await _login(client, password="not the password")
            assert wrong.status == 401 and "Wrong e-mail address or password" in await wrong.text()
            response = await _login(client)
            assert response.status == 303
            cookie = response.headers.getall("Set-Cookie")
            session_cookie = next(c for c in cookie if c.startswith(security.SESSION_COOKIE))
            assert "HttpOnly" in session_cookie and "SameSite=Strict" in session_cookie
            assert "Secure" not in session_cookie  # loopback console
            inbox_page = await client.get("/")
            html = await inbox_page.text()
            assert "Inbox" in html and "Anna" in html
            token = hidden(html, "csrf_token")
            out = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
            assert out.status == 303
            again = await client.get("/", allow_redirects=False)
            assert again.status == 303
        finally:
            await client.close()

    asyncio.run(scenario())


def _handoff_conversation(url: str) -> str:
    """One staff account and one conversation ("w1") that asked for a person: its ref."""
    accounts.add_staff("a@clinic.example", PASSWORD)
    seed(url, Conversation("w1", start=utcnow().timestamp()).turn(
        "a person", "human_handoff", "action_handoff"))
    return security.refs_for(["w1"])["w1"]


def _with_console(steps: Callable[[TestClient], Awaitable[None]]) -> None:
    """Run ``steps`` against a console app on a test server, closing it afterwards."""
    from clinic.console.app import create_app

    async def scenario() -> None:
        client = await _client(create_app())
        try:
            await steps(client)
        finally:
            await client.close()

    asyncio.run(scenario())


def test_forms_without_csrf_token_or_from_other_sites_are_refused(console_db) -> None:
    ref = _handoff_conversation(console_db)

    async def steps(client: TestClient) -> None:
        no_token = await client.post("/login", data={"email": "a@clinic.example",
                                                      "password": PASSWORD})
        assert no_token.status == 403
        await _login(client)
        refused = await client.post(f"/c/{ref}/take-over", data={})
        assert refused.status == 403 and "expired" in await refused.text()
        forged = await client.post(f"/c/{ref}/take-over", data={"csrf_token": "x" * 43})
        assert forged.status == 403
        page = await client.get(f"/c/{ref}")
        token = hidden(await page.text(), "csrf_token")
        cross = await client.post(f"/c/{ref}/take-over", data={"csrf_token": token},
                                  headers={"Origin": "https://evil.example"})
        assert cross.status == 403
        assert takeover.holder("w1") is None

    _with_console(steps)


def test_odd_query_values_are_no_server_error(console_db) -> None:
    ref = _handoff_conversation(console_db)

    async def steps(client: TestClient) -> None:
        await _login(client)
        # Each answered 500: OverflowError from SQLite and from the date arithmetic.
        events = await client.get(f"/c/{ref}/events?after=99999999999999999999")
        assert events.status == 200
        for path in ("/insights?from=9999-12-31&to=0001-01-01", "/insights?to=0001-01-01",
                     "/insights/export/questions.csv?from=9999-12-31"):
            response = await client.get(path)
            assert response.status == 200, path

    _with_console(steps)


def test_take_over_reply_hand_back_through_rasas_api(console_db, monkeypatch) -> None:
    from clinic.console.app import create_app

    monkeypatch.setenv("CLINIC_RASA_API_TOKEN", "t" * 32)
    anna = accounts.add_staff("a@clinic.example", PASSWORD, "Anna")
    accounts.add_staff("b@clinic.example", PASSWORD, "Ben")
    seed(console_db, Conversation("w1session", start=utcnow().timestamp()).turn(
        "can I talk to someone", "human_handoff", "action_handoff"))
    ref = security.refs_for(["w1session"])["w1session"]

    async def scenario() -> None:
        fake = FakeRasa()
        rasa = TestServer(fake.app)
        await rasa.start_server()
        from clinic.config import settings as settings_module

        monkeypatch.setenv("CLINIC_RASA_URL", str(rasa.make_url("")).rstrip("/"))
        settings_module.settings.cache_clear()
        anna_client, ben_client = await _client(create_app()), await _client(create_app())
        try:
            await _login(anna_client)
            page = await anna_client.get(f"/c/{ref}")
            html = await page.text()
            assert "can I talk to someone" in html and "w1session" not in page.url.path
            token = hidden(html, "csrf_token")
            await anna_client.post(f"/c/{ref}/take-over", data={"csrf_token": token})
            sender, query, events = fake.calls[-1]
            assert sender == "w1session" and query["token"] == "t" * 32
            assert query["output_channel"] == "socketio" and query["execute_side_effects"] == "true"
            assert [e["event"] for e in events] == ["pause", "bot"]
            assert "has joined" in events[1]["text"]
            assert takeover.holder("w1session").staff_id == anna.id

            # Ben cannot take it too (the unique row), nor reply in it.
            await _login(ben_client, "b@clinic.example")
            ben_page = await ben_client.get(f"/c/{ref}")
            ben_html = await ben_page.text()
            assert "Anna has taken over" in ben_html
            with pytest.raises(takeover.TakeoverError, match="Anna"):
                await takeover.take_over(accounts.Staff(99, "x@y.z", "X"), "w1session", "socketio")
            calls = len(fake.calls)
            ben_token = hidden(ben_html, "csrf_token")
            await ben_client.post(f"/c/{ref}/reply", data={"csrf_token": ben_token,
                                                           "text": "hi from Ben"})
            assert len(fake.calls) == calls

            page = await anna_client.get(f"/c/{ref}")
            html = await page.text()
            nonce = hidden(html, "nonce")
            for _ in range(2):  # a double click sends once
                await anna_client.post(f"/c/{ref}/reply", data={
                    "csrf_token": token, "nonce": nonce, "text": "Hello, Anna here"})
            replies = [c for c in fake.calls if c[2][-1].get("text") == "Hello, Anna here"]
            assert len(replies) == 1
            assert replies[0][2][0]["metadata"]["clinic_staff"] == "Anna"

            await anna_client.post(f"/c/{ref}/hand-back", data={"csrf_token": token})
            assert [e["event"] for e in fake.calls[-1][2]] == ["resume", "bot"]
            assert takeover.holder("w1session") is None
            audit = [(e.staff_email, e.action) for e in security.recent_audit(conversation_ref=ref)]
            assert ("a@clinic.example", "view") in audit and ("b@clinic.example", "view") in audit
            assert {"take_over", "reply", "hand_back"} <= {a for _, a in audit}
            shown = await (await anna_client.get("/audit")).text()
            assert "b@clinic.example" in shown and "hand back" in shown
        finally:
            await anna_client.close()
            await ben_client.close()
            await rasa.close()

    asyncio.run(scenario())


def test_failed_rasa_call_leaves_nobody_holding_the_conversation(console_db, monkeypatch) -> None:
    from clinic.config import settings as settings_module

    monkeypatch.setenv("CLINIC_RASA_URL", "http://127.0.0.1:9")  # nothing listens
    settings_module.settings.cache_clear()
    staff = accounts.add_staff("a@clinic.example", PASSWORD)
    with pytest.raises(takeover.TakeoverError, match="cannot be reached"):
        asyncio.run(takeover.take_over(staff, "w1", "socketio"))
    assert takeover.holder("w1") is None


def test_insights_page_shows_a_chart_and_unanswered_questions(console_db) -> None:
    from clinic.console.app import create_app

    accounts.add_staff("a@clinic.example", PASSWORD)
    seed(console_db, Conversation("q1", start=utcnow().timestamp() - 60).turn(
        "do you sell <b>gift</b> cards", "nlu_fallback", "action_fallback"))

    async def scenario() -> None:
        client = await _client(create_app())
        try:
            await _login(client)
            page = await client.get("/insights")
            html = await page.text()
            assert page.status == 200 and "<svg" in html
            assert "do you sell &lt;b&gt;gift&lt;/b&gt; cards" in html and "<b>gift" not in html
            link = re.search(r'href="(/insights/questions/[0-9a-f]+\?[^"]+)"', html).group(1)
            detail = await client.get(link.replace("&amp;", "&"))
            assert detail.status == 200 and "/c/" in await detail.text()
            csv_response = await client.get("/insights/export/questions.csv")
            body = await csv_response.text()
            assert csv_response.headers["Content-Type"].startswith("text/csv")
            assert body.splitlines()[0] == "question,count,conversations,kind"
            assert "gift" in body
        finally:
            await client.close()

    asyncio.run(scenario())


def test_staff_cli_reads_the_password_from_stdin(console_db, capsys, monkeypatch) -> None:
    import io

    from clinic.cli.commands import main

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["staff", "add", "--email", "c@clinic.example", "--name", "Cy",
                 "--password-stdin"]) == 0
    assert main(["staff", "list"]) == 0
    assert "c@clinic.example" in capsys.readouterr().out
    assert main(["staff", "disable", "--email", "c@clinic.example"]) == 0
    assert accounts.authenticate("c@clinic.example", PASSWORD).staff is None
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["staff", "add", "--email", "d@clinic.example", "--password-stdin"]) == 1


def test_a_second_login_page_keeps_the_first_forms_token(console_db) -> None:
    """A browser's favicon request (or a second tab) must not expire the log-in form."""
    from clinic.console.app import create_app

    accounts.add_staff("a@clinic.example", PASSWORD)

    async def scenario() -> None:
        client = await _client(create_app())
        try:
            first = hidden(await (await client.get("/login")).text(), "csrf_token")
            await client.get("/favicon.ico")
            await client.get("/login")
            response = await client.post("/login", data={
                "email": "a@clinic.example", "password": PASSWORD, "csrf_token": first},
                allow_redirects=False)
            assert response.status == 303
        finally:
            await client.close()

    asyncio.run(scenario())


def test_charts_escape_labels_and_have_round_axes() -> None:
    from clinic.console.charts import _nice_max, daily_bars, horizontal_bars

    svg = horizontal_bars("Questions", [("<script>x</script>", 3)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg and 'role="img"' in svg
    assert [_nice_max(v) for v in (0, 5, 9, 41)] == [4, 8, 20, 80]
    daily = daily_bars("Per day", ["11-01", "11-02"], [("Conversations", [1, 5])])
    assert daily.count("<rect") == 3 and ">8<" in daily  # two bars, a legend, top tick 8


@pytest.fixture()
def postgres_tracker(console_db):
    """A throw-away schema in the scratch PostgreSQL database of CLINIC_TEST_POSTGRES_URL
    (as the database tests use), holding Rasa's ``events`` table."""
    import os
    import uuid

    from sqlalchemy import create_engine, text

    base = os.environ.get("CLINIC_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("set CLINIC_TEST_POSTGRES_URL to a scratch PostgreSQL database to run "
                    "the insight queries on PostgreSQL")
    schema = f"console_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, future=True)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        tracker.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_inbox_and_insight_queries_on_postgresql(postgres_tracker) -> None:
    url = postgres_tracker
    write(url, [
        Conversation("a", start=DAY0).turn("do you sell gift cards", "nlu_fallback",
                                           "action_fallback")
        .turn("gift cards??", "nlu_fallback", "action_fallback"),
        Conversation("+14155550123", "twilio", DAY0).user("review me", "check_eligibility")
        .loop("screening_form").action("action_screening_outcome")
        .slot("screening_outcome", "practitioner_review")])
    day = dt.datetime.fromtimestamp(DAY0, dt.timezone.utc).date()
    period = insights.DateRange(day - dt.timedelta(days=1), day + dt.timedelta(days=1))
    assert sum(d.messages for d in insights.per_day(period, url)) == 3
    assert [g.count for g in insights.unanswered(period, url)][:1] == [1]
    assert insights.funnel(period, url).practitioner_review == 1
    now = dt.datetime.fromtimestamp(DAY0 + 600, dt.timezone.utc)
    rows = inbox.list_conversations("needs", now=now, url=url)
    assert {r.sender_id: r.reasons for r in rows} == {
        "a": [inbox.NOT_UNDERSTOOD], "+14155550123": [inbox.REVIEW]}
    assert [r.sender_id for r in inbox.list_conversations("sms", now=now, url=url)] == [
        "+14155550123"]


def test_rest_conversations_cannot_be_taken_over(console_db) -> None:
    staff = accounts.add_staff("a@clinic.example", PASSWORD)
    with pytest.raises(takeover.TakeoverError, match="only widget and SMS"):
        asyncio.run(takeover.take_over(staff, "rest-caller", "rest"))
    assert takeover.holder("rest-caller") is None


def test_refs_of_conversations_no_longer_stored_are_forgotten(console_db) -> None:
    seed(console_db, Conversation("kept", start=DAY0).turn("hi", "greet", "utter_greet"))
    refs = security.refs_for(["kept", "+14155550199"])
    later = utcnow() + dt.timedelta(days=2)
    assert security.purge_orphan_refs(later) == 1
    assert security.sender_for(refs["kept"]) == "kept"
    assert security.sender_for(refs["+14155550199"]) is None


def test_scrubbed_log_records_keep_a_tuple_of_args() -> None:
    """pip (run inside the project's venv by `make install`) asserts ``record.args`` is a
    tuple; the log scrubbing of clinic.config.log_privacy must keep it one."""
    import logging

    from clinic.config.log_privacy import install_log_scrubbing

    install_log_scrubbing()
    record = logging.getLogRecordFactory()("x", logging.WARNING, __file__, 1,
                                           "call %s", ("+14155550100",), None)
    assert isinstance(record.args, tuple) and "+14155550100" not in record.getMessage()


def test_posts_from_the_public_url_of_a_proxied_console_pass_the_origin_check(
        console_db, monkeypatch) -> None:
    from clinic.config import settings as settings_module
    from clinic.console.app import create_app

    monkeypatch.setenv("CLINIC_CONSOLE_PUBLIC_URL", "https://staff.clinic.example/")
    settings_module.settings.cache_clear()
    assert security.secure_cookies()
    accounts.add_staff("a@clinic.example", PASSWORD)

    async def scenario() -> None:
        client = await _client(create_app())
        try:
            token = hidden(await (await client.get("/login")).text(), "csrf_token")
            fields = {"email": "a@clinic.example", "password": PASSWORD, "csrf_token": token}
            other = await client.post("/login", data=fields, allow_redirects=False,
                                      headers={"Origin": "https://evil.example"})
            assert other.status == 403 and "not sent from the console" in await other.text()
            # The public origin passes the origin check; this plain-http test client then
            # (rightly) does not send back the Secure log-in cookie, so the form "expired".
            ours = await client.post("/login", data=fields, allow_redirects=False,
                                     headers={"Origin": "https://staff.clinic.example"})
            assert "not sent from the console" not in await ours.text()
            assert "The form expired" in await ours.text()
            assert "Secure" in ours.headers["Set-Cookie"]
        finally:
            await client.close()

    asyncio.run(scenario())
