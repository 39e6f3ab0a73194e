"""The production topology, tested as it runs: two Rasa replicas behind HAProxy, sharing
PostgreSQL (conversations, clinic database) and Redis (lock store, socket.io).

One cluster, started by the real launcher, serves every cluster test (tests/cluster/conftest.py);
the tests here leave it as they found it. A replica killed with ``kill -9`` is in
test_launcher.py, which runs last.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import pytest
from cluster_http import TWILIO_TOKEN, get, post
from cluster_launched import tracker_events, turns_are_whole, user_texts

from clinic.knowledge.kb import knowledge

pytestmark = pytest.mark.cluster
K = knowledge()
QUESTIONS = ["what is microneedling?", "can microneedling help acne scars?",
             "how long is the recovery?", "is it better than laser?", "show me your sources"]


def sender(prefix: str) -> str:
    return f"cl-{prefix}-{uuid.uuid4().hex[:10]}"


def bearer(cluster) -> dict[str, str]:
    return {"Authorization": f"Bearer {cluster.secrets['CLINIC_API_TOKEN']}"}


def via_proxy(cluster, who: str, text: str) -> list[dict]:
    status, body = post(f"{cluster.url}/webhooks/rest/webhook", {"sender": who, "message": text},
                        bearer(cluster))
    assert status == 200, (status, body[:300])
    return json.loads(body)


def via_replica(cluster, index: int, who: str, text: str) -> list[dict]:
    status, body = post(f"{cluster.replica_url(index)}/webhooks/rest/webhook",
                        {"sender": who, "message": text}, bearer(cluster))
    assert status == 200, (status, body[:300])
    return json.loads(body)


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def proxy_rows(cluster) -> list[dict]:
    status, body = get(f"http://127.0.0.1:{cluster.ports.proxy_stats}/stats;csv")
    assert status == 200
    return list(csv.DictReader(io.StringIO(body.lstrip("# "))))


# ---- the proxy ------------------------------------------------------------------------------

def test_proxy_exposes_the_site_widget_and_webhooks_only(cluster) -> None:
    status, page = get(cluster.url + "/")
    assert status == 200 and "clinic-chat.js" in page
    assert get(cluster.url + "/socket.io/?EIO=4&transport=polling")[0] == 200
    token = cluster.secrets["CLINIC_RASA_API_TOKEN"]
    for path in ("/status", f"/status?token={token}", "/version", "/model",
                 f"/conversations/x/tracker?token={token}", "/domain", "/webhooks/rest/"):
        assert get(cluster.url + path)[0] in (403, 404), path
    rest = cluster.url + "/webhooks/rest/webhook"
    body = {"sender": sender("auth"), "message": "hi"}
    assert post(rest, body)[0] == 401
    assert post(rest, body, {"Authorization": "Bearer wrong"})[0] == 401
    assert post(rest, body, {"Authorization": f"Bearer {token}"})[0] == 401
    assert post(rest, {"sender": "x", "message": "a" * 70_000},
                {"Authorization": f"Bearer {cluster.secrets['CLINIC_API_TOKEN']}"})[0] == 413
    assert get(cluster.url + "/webhooks/twilio/webhook")[0] == 405
    # Reaches Rasa, which refuses an unsigned Twilio request.
    assert post(cluster.url + "/webhooks/twilio/webhook", {"Body": "hi"})[0] == 403
    assert texts(via_proxy(cluster, sender("auth"), "can microneedling help acne scars?"))


def test_a_signed_text_through_the_proxy_is_answered(cluster) -> None:
    from twilio.request_validator import RequestValidator

    url = f"{cluster.url}/webhooks/twilio/webhook"  # the URL Twilio would sign
    params = {"From": f"+1415555{uuid.uuid4().int % 10000:04d}", "To": "+14155550100",
              "Body": "can I wear makeup yet?", "MessageSid": f"SM{uuid.uuid4().hex}",
              "AccountSid": "AC" + "0" * 32}
    request = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": RequestValidator(TWILIO_TOKEN).compute_signature(url, params)})
    with urllib.request.urlopen(request, timeout=90) as response:
        replies = [m.text or "" for m in ET.fromstring(response.read()).iter("Message")]
    assert "24 hours" in " ".join(replies)


# ---- state shared by the replicas -------------------------------------------------------------

def test_a_screening_answered_half_on_each_replica_keeps_its_state(cluster) -> None:
    who = sender("alt")
    step = iter(range(100))

    def say(text: str) -> str:
        return texts(via_replica(cluster, next(step) % 2, who, text))

    assert "safety questions" in say("I want to book")
    for _ in K.screening.contraindications:
        last = say("/deny")
    assert "looks suitable" in last
    assert "mobile" in say("Ana Lopez").lower()
    assert "email" in say("(415) 555-0132").lower()
    assert "treatment" in say("skip").lower()
    assert "days and times" in say('/inform{"treatment": "facial_microneedling"}')
    assert K.clinic.sms_consent_wording in say("tuesday afternoons")
    assert "Ana Lopez" in say("/affirm")
    done = say("/affirm")
    reference = re.search(r"reference is ([A-Z0-9-]+)", done).group(1)

    # The booking is in the cluster's PostgreSQL clinic database.
    listed = subprocess.run([sys.executable, "-m", "clinic.cli.commands", "bookings", "list"],
                            env=cluster.env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert reference in listed.stdout
    assert turns_are_whole(tracker_events(cluster, who))


def test_20_conversations_of_20_messages_through_the_proxy_lose_nothing(cluster) -> None:
    conversations = {sender(f"load{i}"): [QUESTIONS[(i + n) % len(QUESTIONS)] for n in range(20)]
                     for i in range(20)}
    before = {row["svname"]: int(row["stot"]) for row in proxy_rows(cluster)
              if row["pxname"] == "rasa"}

    def converse(who: str) -> int:
        bot_messages = 0
        for text in conversations[who]:
            replies = via_proxy(cluster, who, text)
            assert replies and all(r.get("text") or r.get("buttons") for r in replies)
            bot_messages += len(replies)
        return bot_messages

    with ThreadPoolExecutor(max_workers=20) as pool:
        received = dict(zip(conversations, pool.map(converse, conversations), strict=True))

    for who, sent in conversations.items():
        events = tracker_events(cluster, who)
        assert user_texts(events) == sent, who
        assert sum(1 for e in events if e["event"] == "bot") == received[who], who
        assert turns_are_whole(events), who
    after = {row["svname"]: int(row["stot"]) for row in proxy_rows(cluster)
             if row["pxname"] == "rasa"}
    for replica in ("rasa1", "rasa2"):
        assert after[replica] - before[replica] >= 100, (before, after)  # both did real work


def test_two_messages_at_the_same_moment_on_two_replicas_are_handled_one_after_the_other(
        cluster) -> None:
    who = sender("race")
    via_replica(cluster, 0, who, "hello")
    rounds = 6
    for n in range(rounds):
        barrier = threading.Barrier(2)
        results: dict[int, list[dict]] = {}

        def send(index: int, text: str, barrier=barrier, results=results) -> None:
            barrier.wait()
            results[index] = via_replica(cluster, index, who, text)

        threads = [threading.Thread(target=send, args=(0, QUESTIONS[n % 5])),
                   threading.Thread(target=send, args=(1, QUESTIONS[(n + 2) % 5]))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert texts(results[0]) and texts(results[1])
    events = tracker_events(cluster, who)
    assert len(user_texts(events)) == 1 + 2 * rounds
    assert turns_are_whole(events)
    # No event was stored twice (Rasa's store appends only what is new since it read).
    stamps = [e["timestamp"] for e in events]
    assert len(stamps) == len(set(stamps))


def test_the_lock_store_admits_one_holder_at_a_time_across_servers(cluster) -> None:
    """Eight threads, each with its own lock store (as eight Rasa servers), race for one
    conversation; inside the lock each does a slow read-modify-write of a Redis counter."""
    import redis

    from clinic.rasa.lock_store import AtomicRedisLockStore

    conversation = sender("lock")
    counter_key = f"test:{conversation}:counter"
    inside, most_inside, guard = [0], [0], threading.Lock()
    order: list[int] = []

    def server(_: int) -> None:
        store = AtomicRedisLockStore(url=cluster.redis.url)
        red = redis.Redis.from_url(cluster.redis.url)

        async def one() -> None:
            async with store.lock(conversation) as lock:
                with guard:
                    inside[0] += 1
                    most_inside[0] = max(most_inside[0], inside[0])
                    order.append(lock.now_serving)
                value = int(red.get(counter_key) or 0)
                await asyncio.sleep(0.002)
                red.set(counter_key, value + 1)
                with guard:
                    inside[0] -= 1

        async def many() -> None:
            for _ in range(25):
                await one()

        asyncio.run(many())

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(server, range(8)))
    red = redis.Redis.from_url(cluster.redis.url)
    assert int(red.get(counter_key)) == 200
    assert most_inside[0] == 1
    # Tickets are served in the order they were issued, each once. When the queue empties,
    # its counter goes too (clinic/rasa/lock_store.py), so numbering may start again at 1:
    # every run from a 1 must then be 1, 2, 3 ... with none skipped or served twice.
    runs: list[list[int]] = []
    for ticket in order:
        if ticket == 1 or not runs:
            runs.append([])
        runs[-1].append(ticket)
    assert len(order) == 200
    assert all(run == list(range(1, len(run) + 1)) for run in runs), runs
    assert not red.keys(f"clinic:lock:{conversation}*")  # nothing left behind


# ---- appointments across replicas -------------------------------------------------------------

def _book_until_offered(cluster, who: str, replica: int) -> list[dict]:
    """A booking through one replica, up to the offered visit times (the buttons)."""
    def say(text: str) -> list[dict]:
        return via_replica(cluster, replica, who, text)

    say("I want to book")
    for _ in K.screening.contraindications:
        say("/deny")
    for text in ("Ana Lopez", f"(415) 555-{uuid.uuid4().int % 10000:04d}", "skip",
                 '/inform{"treatment": "facial_microneedling"}', "next week mornings", "/affirm"):
        say(text)
    return [b for m in say("/affirm") for b in m.get("buttons", [])]


def test_two_patients_picking_the_same_time_on_two_replicas_one_gets_it(
        cluster, cluster_calendar) -> None:
    """Issue 20: the same free time chosen at the same moment through replica 1 and replica
    2; exactly one holds it (one event in the calendar), the other is offered the next ones."""
    who = [sender("race1"), sender("race2")]
    offers = [_book_until_offered(cluster, who[i], i) for i in (0, 1)]
    assert offers[0] and offers[0][0]["payload"] == offers[1][0]["payload"], offers
    wanted = offers[0][0]["payload"]
    barrier = threading.Barrier(2)
    results: list[list[dict]] = [[], []]

    def pick(index: int) -> None:
        barrier.wait()
        results[index] = via_replica(cluster, index, who[index], wanted)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(pick, (0, 1)))
    said = [texts(r) for r in results]
    held = [i for i in (0, 1) if "I've reserved" in said[i]]
    assert len(held) == 1, said
    loser = 1 - held[0]
    assert "was just taken" in said[loser], said[loser]
    again = [b["payload"] for m in results[loser] for b in m.get("buttons", [])]
    assert again and wanted not in again
    starts = [dt.datetime.fromisoformat(e["start"]) for e in cluster_calendar.events()]
    assert starts == [dt.datetime.fromisoformat(wanted)], starts


# ---- socket.io across replicas --------------------------------------------------------------------

def test_a_reply_reaches_a_widget_connected_to_the_other_replica(cluster) -> None:
    """Two tabs of one conversation, each connected to another replica: the reply to a
    message that replica 1 handles reaches the tab on replica 2 too (through Redis)."""
    import socketio

    async def scenario() -> tuple[list[dict], list[dict]]:
        heard: dict[str, list[dict]] = {"tab1": [], "tab2": []}
        confirmed: dict[str, asyncio.Future] = {}
        tabs = {"tab1": socketio.AsyncClient(), "tab2": socketio.AsyncClient()}
        loop = asyncio.get_running_loop()
        for name, tab in tabs.items():
            confirmed[name] = loop.create_future()
            tab.on("bot_uttered", lambda data, n=name: heard[n].append(data))
            tab.on("session_confirm", lambda data, n=name: confirmed[n].done()
                   or confirmed[n].set_result(data))
        # Long-polling: the engine.io client's WebSocket needs a newer aiohttp than Rasa pins.
        await tabs["tab1"].connect(cluster.replica_url(0), transports=["polling"])
        await tabs["tab2"].connect(cluster.replica_url(1), transports=["polling"])
        try:
            await tabs["tab1"].emit("session_request", {})
            session = await asyncio.wait_for(confirmed["tab1"], 30)
            # The second tab rejoins the conversation with the server's session token.
            await tabs["tab2"].emit("session_request", session)
            rejoined = await asyncio.wait_for(confirmed["tab2"], 30)
            assert rejoined["session_id"] == session["session_id"]
            await tabs["tab1"].emit("user_uttered",
                                    {"message": "can microneedling help acne scars?"})
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and not all(
                    any("Majid, 2014" in (m.get("text") or "") for m in heard[n]) for n in heard):
                await asyncio.sleep(0.2)
        finally:
            for tab in tabs.values():
                # Without abort, a long-polling client waits for its pending poll (~50 s).
                await tab.eio.disconnect(abort=True)
        return heard["tab1"], heard["tab2"]

    on_replica_1, on_replica_2 = asyncio.run(scenario())
    assert any("Majid, 2014" in (m.get("text") or "") for m in on_replica_1), on_replica_1
    assert any("Majid, 2014" in (m.get("text") or "") for m in on_replica_2), on_replica_2


def test_the_widget_through_the_proxy_keeps_its_history_across_a_reload(cluster) -> None:
    from pathlib import Path

    from playwright.sync_api import expect, sync_playwright

    chromium = "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("/usr/bin/chromium is missing: `make browser` installs it.")
    bot = ".cc-msg-bot:not(.cc-greeting):not(.cc-typing)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_context().new_page()
            page.set_default_timeout(30_000)
            page.goto(cluster.url + "/")
            page.get_by_role("button", name=re.compile("Chat with us")).click()
            expect(page.locator(".cc-subtitle")).to_have_text("Online", timeout=45_000)
            box = page.get_by_label("Type your message")
            box.fill("can microneedling help acne scars?")
            box.press("Enter")
            expect(page.locator(bot).filter(has_text="Majid, 2014").first).to_be_visible(
                timeout=60_000)
            page.wait_for_timeout(1500)
            history = page.locator(".cc-messages").text_content()
            assert "acne scars" in history
            page.reload()
            expect(page.get_by_role("dialog")).to_be_visible()
            expect(page.locator(".cc-messages")).to_have_text(history, timeout=30_000)
            expect(page.locator(".cc-subtitle")).to_have_text("Online", timeout=45_000)
            box = page.get_by_label("Type your message")
            box.fill("how long is the recovery?")
            # Counted before sending: counted after, a quick reply was in the count already
            # and the test waited for one more that never came.
            before = page.locator(bot).count()
            box.press("Enter")
            expect(page.locator(bot)).to_have_count(before + 1, timeout=60_000)
        finally:
            browser.close()


# ---- the stores restarted during a conversation -----------------------------------------------

@pytest.mark.parametrize("store", ["postgres", "redis"])
def test_a_store_restarted_mid_conversation_gives_try_again_then_goes_on(
        cluster, launched, store) -> None:
    who = sender(store)
    questions = [c.question for c in K.screening.contraindications]
    assert "safety questions" in texts(via_proxy(cluster, who, "I want to book"))
    assert questions[1] in texts(via_proxy(cluster, who, "/deny"))
    # Down until the launcher's supervisor starts it again (conftest.Launched.store_down).
    with launched.store_down(cluster, store):
        for _ in range(2):  # both replicas (the proxy alternates)
            assert "try again" in texts(via_proxy(cluster, who, "/deny"))
    # The conversation goes on at the question that was open, on either replica.
    assert questions[2] in texts(via_proxy(cluster, who, "/deny"))
    assert questions[3] in texts(via_proxy(cluster, who, "/deny"))
    events = tracker_events(cluster, who)
    assert user_texts(events) == ["I want to book", "/deny", "/deny", "/deny"]
    assert turns_are_whole(events)
