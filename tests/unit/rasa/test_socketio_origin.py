"""The socket.io channel accepts the chat widget only from the configured origins, and a
connection only ever speaks in, and hears, the conversation it was given.

The channel runs in a real Sanic server on a loopback port, built as ``rasa run`` builds it
(``--cors "*"`` included, to show Rasa's own CORS setting does not reopen the door), but
without a model: instead of the agent, each message is answered through the channel's own
output channel with its text, which is enough to see where replies go.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message

import pytest

from clinic.rasa.channels.socketio import OriginPolicy, normalise_origins

ALLOWED = "http://clinic.test:8000"
ALSO_ALLOWED = "http://127.0.0.1:8000"
FOREIGN = "http://evil.test"

SERVER_SCRIPT = """
import sys
from types import SimpleNamespace
from rasa.core.run import _create_app_without_api
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from clinic.rasa.channels.socketio import ClinicSocketIOInput

store = InMemoryTrackerStore(Domain.empty())

async def answer(message):
    # Like the agent: the reply goes to the room, then the conversation is stored.
    reply = BotUttered("heard: " + message.text)
    await message.output_channel.send_response(message.sender_id, reply.message())
    tracker = await store.get_or_create_tracker(message.sender_id)
    tracker.update(UserUttered(message.text))
    tracker.update(reply)
    await store.save(tracker)

channel = ClinicSocketIOInput.from_credentials({
    "user_message_evt": "user_uttered",
    "bot_message_evt": "bot_uttered",
    "session_persistence": True,
})
app = _create_app_without_api(cors="*")
app.ctx.agent = SimpleNamespace(tracker_store=store)
app.blueprint(channel.blueprint(answer), url_prefix="/webhooks/socketio")
app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False, workers=1)
"""
SESSION = "0123456789abcdef0123456789abcdef"
SECRET = "socketio-test-secret-7d3f9a1c5e"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def channel_url() -> Iterator[str]:
    """Base URL of a Sanic server running only the clinic's socket.io channel."""
    port = _free_port()
    env = {**os.environ, "CLINIC_ALLOWED_ORIGINS": f"{ALLOWED}/, {ALSO_ALLOWED}",
           "CLINIC_SESSION_SECRET": SECRET, "CLINIC_SECRETS_FILE": "/nonexistent",
           # as clinic.rasa.server sets them for the real server
           "SANIC_REQUEST_MAX_SIZE": "65536", "SANIC_WEBSOCKET_MAX_SIZE": "65536"}
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT, str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/webhooks/socketio/", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    _, err = process.communicate(timeout=5) if process.poll() is not None \
                        else (None, b"")
                    pytest.fail(f"channel server did not start: {err.decode()[-2000:]}")
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _polling_handshake(base: str, origin: str | None) -> tuple[int, Message, str]:
    request = urllib.request.Request(f"{base}/socket.io/?EIO=4&transport=polling")
    if origin:
        request.add_header("Origin", origin)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def test_polling_handshake_from_configured_origin_is_accepted(channel_url: str) -> None:
    status, headers, body = _polling_handshake(channel_url, ALLOWED)
    assert status == 200
    assert body.startswith("0{") and '"sid"' in body  # engine.io "open" packet
    # Exactly one: browsers reject a response that also carries Rasa's --cors header.
    assert headers.get_all("Access-Control-Allow-Origin") == [ALLOWED]


def test_every_configured_origin_is_accepted(channel_url: str) -> None:
    status, headers, _ = _polling_handshake(channel_url, ALSO_ALLOWED)
    assert status == 200
    assert headers.get_all("Access-Control-Allow-Origin") == [ALSO_ALLOWED]


@pytest.mark.parametrize("origin", [FOREIGN, "http://clinic.test:8001",
                                    "https://clinic.test:8000", "null"])
def test_polling_handshake_from_other_origin_is_refused(channel_url: str, origin: str) -> None:
    status, headers, body = _polling_handshake(channel_url, origin)
    assert status == 400
    assert "not an accepted origin" in body


def test_websocket_upgrade_is_checked_too(channel_url: str) -> None:
    import websockets
    from websockets.exceptions import InvalidStatusCode

    url = channel_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"

    async def open_packet(origin: str) -> str:
        async with websockets.connect(url, origin=origin, open_timeout=5) as ws:
            return await asyncio.wait_for(ws.recv(), 5)

    assert asyncio.run(open_packet(ALLOWED)).startswith("0{")
    with pytest.raises(InvalidStatusCode) as refused:
        asyncio.run(open_packet(FOREIGN))
    assert refused.value.status_code == 400


async def _converse(base: str, origin: str, session_id: object, text: str | None = None,
                    token: object = None, claimed: object = "confirmed",
                    request: dict | None = None, listen: float = 0.0,
                    reply_wait: float = 1.5, until: str | None = None,
                    ) -> tuple[dict, list[dict]]:
    """Connect like the widget: ask for a session, optionally say something.

    Returns the confirmation (session id and token) and the bot messages received within
    ``reply_wait`` seconds of saying it (it returns at the first one, or at the one whose
    text is ``until``). ``claimed`` is the
    session id the message names (default: the confirmed one).
    """
    import socketio

    client = socketio.AsyncClient(reconnection=False)
    confirmed: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
    replies: list[dict] = []
    client.on("session_confirm", lambda data: confirmed.set_result(data))
    client.on("bot_uttered", replies.append)
    await client.connect(base, headers={"Origin": origin}, transports=["polling"],
                         wait_timeout=5)
    try:
        await client.emit("session_request", {"session_id": session_id,
                                              "session_token": token, **(request or {})})
        confirmation = await asyncio.wait_for(confirmed, 5)
        await asyncio.sleep(listen)
        if text is not None:
            names = confirmation["session_id"] if claimed == "confirmed" else claimed
            await client.emit("user_uttered", {"message": text, "session_id": names})
            for _ in range(round(reply_wait * 10)):
                if replies and (until is None or until in texts(replies)):
                    break
                await asyncio.sleep(0.1)
        return confirmation, replies
    finally:
        # Not waiting for the pending long-poll keeps the test fast.
        await client.eio.disconnect(abort=True)


def test_socketio_client_gets_a_session_only_from_configured_origin(channel_url: str) -> None:
    import socketio

    confirmation, _ = asyncio.run(_converse(channel_url, ALLOWED, None))
    assert re.fullmatch(r"[0-9a-f]{32}", confirmation["session_id"])
    assert len(confirmation["session_token"]) >= 40
    with pytest.raises(socketio.exceptions.ConnectionError):
        asyncio.run(_converse(channel_url, FOREIGN, None))


def test_replies_reach_the_conversation_room(channel_url: str) -> None:
    # Rasa 3.6's own handler never joined the room with python-socketio 5.x: no reply came.
    _, replies = asyncio.run(_converse(channel_url, ALLOWED, None, "hello there"))
    assert texts(replies) == ["heard: hello there"]


def test_rasas_control_payloads_typed_in_the_widget_are_words(channel_url: str) -> None:
    # A typed "/restart" wiped the conversation with no reply and ended a staff take-over.
    _, replies = asyncio.run(_converse(channel_url, ALLOWED, None, "/restart"))
    assert texts(replies) == ["heard: restart"]


def texts(replies: list[dict]) -> list[str]:
    return [reply.get("text", "") for reply in replies]


def test_a_widget_rejoining_gets_what_it_missed_once_with_the_same_ids(channel_url: str) -> None:
    # A reply sent while no page was connected (a reload, a closed tab, a staff message
    # overnight) never reached the widget: Rasa's channel replays nothing.
    first, live = asyncio.run(_converse(channel_url, ALLOWED, None, "no"))
    assert texts(live) == ["heard: no"]
    assert live[0]["id"] and isinstance(live[0]["ts"], float)
    session, token = first["session_id"], first["session_token"]
    # Stays until the reply (a loaded machine may take more than a second and a half; leaving
    # earlier, the message could be lost with the connection, and the test would prove nothing).
    _, later = asyncio.run(_converse(channel_url, ALLOWED, session, "later", token=token,
                                     reply_wait=30, until="heard: later"))
    assert "heard: later" in texts(later)
    # The reply goes out before the conversation is stored, as in Rasa: wait for the store.
    for _ in range(50):
        _, everything = asyncio.run(_converse(channel_url, ALLOWED, session, token=token,
                                              listen=1.0))
        if len(everything) == 2:
            break
        time.sleep(0.1)
    # A page that has nothing yet gets everything, with the ids it got live; one that has
    # the first reply gets what came after (and a little before: the widget drops known ids).
    assert texts(everything) == ["heard: no", "heard: later"]
    assert everything[0] == live[0]
    # From a little before the cursor (another host's clock may run behind).
    _, newer = asyncio.run(_converse(channel_url, ALLOWED, session, token=token,
                                     request={"since": live[0]["ts"] + 1e-6}, listen=1.0))
    assert texts(newer) == ["heard: no", "heard: later"]
    _, none = asyncio.run(_converse(channel_url, ALLOWED, session, token=token,
                                    request={"since": time.time() + 3600}, listen=1.0))
    assert none == []
    # Nothing for a forged token: that connection gets a new, empty conversation.
    forged, replayed = asyncio.run(_converse(channel_url, ALLOWED, session, token="forged",
                                             request={"since": 0}, listen=1.0))
    assert forged["session_id"] != session and replayed == []


def test_a_conversation_is_rejoined_with_its_token(channel_url: str) -> None:
    first, _ = asyncio.run(_converse(channel_url, ALLOWED, None))
    again, replies = asyncio.run(_converse(channel_url, ALLOWED, first["session_id"], "back",
                                           token=first["session_token"]))
    assert again["session_id"] == first["session_id"]
    assert texts(replies) == ["heard: back"]


@pytest.mark.parametrize("token", [None, "", "forged", 42])
def test_knowing_a_session_id_is_not_enough_to_join_it(channel_url: str, token: object) -> None:
    """A second client with someone's id but not their token gets a conversation of its own."""
    owner, _ = asyncio.run(_converse(channel_url, ALLOWED, None))

    async def both() -> tuple[list[dict], dict, list[dict]]:
        import socketio

        heard: list[dict] = []
        victim = socketio.AsyncClient(reconnection=False)
        joined: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        victim.on("session_confirm", lambda data: joined.set_result(data))
        victim.on("bot_uttered", heard.append)
        await victim.connect(channel_url, headers={"Origin": ALLOWED}, transports=["polling"],
                             wait_timeout=5)
        try:
            await victim.emit("session_request", {"session_id": owner["session_id"],
                                                  "session_token": owner["session_token"]})
            await asyncio.wait_for(joined, 5)
            attacker, attacker_heard = await _converse(
                channel_url, ALLOWED, owner["session_id"], "I am them", token=token)
            await asyncio.sleep(0.5)
            return heard, attacker, attacker_heard
        finally:
            await victim.eio.disconnect(abort=True)

    victim_heard, attacker, attacker_heard = asyncio.run(both())
    assert attacker["session_id"] != owner["session_id"]
    # The attacker talks only in its own new conversation; the owner hears nothing of it.
    assert texts(attacker_heard) == ["heard: I am them"]
    assert victim_heard == []


def test_a_message_naming_another_conversation_is_ignored(channel_url: str) -> None:
    owner, _ = asyncio.run(_converse(channel_url, ALLOWED, None))
    _, replies = asyncio.run(_converse(channel_url, ALLOWED, None, "as someone else",
                                       claimed=owner["session_id"]))
    assert replies == []


def test_a_message_before_the_session_is_confirmed_is_ignored(channel_url: str) -> None:
    import socketio

    async def early() -> list[dict]:
        replies: list[dict] = []
        client = socketio.AsyncClient(reconnection=False)
        client.on("bot_uttered", replies.append)
        await client.connect(channel_url, headers={"Origin": ALLOWED}, transports=["polling"],
                             wait_timeout=5)
        try:
            await client.emit("user_uttered", {"message": "hi", "session_id": SESSION})
            await asyncio.sleep(1)
            return replies
        finally:
            await client.eio.disconnect(abort=True)

    assert asyncio.run(early()) == []


@pytest.mark.parametrize("requested", [None, "", "short", "../../etc", {"x": 1}, "a" * 65,
                                       SESSION])
def test_unusable_or_unproven_session_ids_are_replaced(channel_url: str,
                                                       requested: object) -> None:
    confirmation, replies = asyncio.run(_converse(channel_url, ALLOWED, requested, "hi"))
    assert confirmation["session_id"] != requested
    assert re.fullmatch(r"[0-9a-f]{32}", confirmation["session_id"])
    assert texts(replies) == ["heard: hi"]


def test_an_oversized_socketio_packet_is_refused(channel_url: str) -> None:
    """A polling body over 64 KB is refused before anything parses it."""
    status, _, body = _polling_handshake(channel_url, ALLOWED)
    sid = json.loads(body[1:])["sid"]
    payload = b"4" + b'42["user_uttered",{"message":"' + b"x" * (200 * 1024) + b'"}]'
    request = urllib.request.Request(
        f"{channel_url}/socket.io/?EIO=4&transport=polling&sid={sid}", data=payload,
        headers={"Origin": ALLOWED, "Content-Type": "text/plain"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 413


def test_origins_are_normalised_like_browsers_send_them() -> None:
    assert normalise_origins(" http://A.test:8000/ ,https://b.test,,http://a.test:8000") == [
        "http://a.test:8000", "https://b.test"]
    assert normalise_origins(["https://b.test/"]) == ["https://b.test"]


def test_no_configured_origin_refuses_every_browser() -> None:
    # engine.io reads an empty list as "check nothing"; the policy must not.
    policy = OriginPolicy("")
    assert not policy("http://localhost:8000")
    assert not policy(None)


def test_policy_allows_exactly_the_listed_origins() -> None:
    policy = OriginPolicy(["http://localhost:8000"])
    assert policy("http://localhost:8000")
    assert policy("http://localhost:8000", {"HTTP_ORIGIN": "http://localhost:8000"})
    assert not policy("http://localhost:8000.evil.test")
    assert not policy("http://localhost")
    assert OriginPolicy("*")("http://anything.test")


def test_an_oversized_websocket_message_closes_the_connection(channel_url: str) -> None:
    """Over the WebSocket transport, a frame over 64 KB is not parsed: the socket is closed."""
    import websockets
    from websockets.exceptions import ConnectionClosed

    url = channel_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"

    async def send_big() -> int | None:
        async with websockets.connect(url, origin=ALLOWED, open_timeout=5,
                                      max_size=None) as ws:
            await asyncio.wait_for(ws.recv(), 5)  # engine.io "open"
            await ws.send("40")
            await asyncio.wait_for(ws.recv(), 5)  # socket.io "connected"
            await ws.send('42["user_uttered",{"message":"' + "x" * (100 * 1024) + '"}]')
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None

    assert asyncio.run(send_big()) == 1009  # "message too big"
