"""Rasa's calls to the action server share one kept-alive connection (clinic.rasa.patches,
fix 10), and still work after the action server restarts."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from clinic.rasa.http_session import KEEPALIVE_S, close_sessions, request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ActionServer:
    """A stand-in action server that records which connection each call came on."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.peers: list[Any] = []
        self.calls: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None

    async def webhook(self, req: web.Request) -> web.Response:
        self.peers.append(req.transport.get_extra_info("peername") if req.transport else None)
        self.calls.append({"headers": dict(req.headers), "query": dict(req.query),
                           "body": await req.json()})
        if req.query.get("fail"):
            return web.json_response({"error": "no"}, status=400)
        return web.json_response({"events": [], "responses": [{"text": "ok"}]})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/webhook", self.webhook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


def endpoint(port: int) -> EndpointConfig:
    return EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"X-Clinic-Actions-Token": "t"},
                          params={"a": "1"}, token="tok")


def test_the_patch_is_installed() -> None:
    assert EndpointConfig.request is request


def test_calls_share_one_connection_and_carry_rasas_request() -> None:
    async def run() -> None:
        server = ActionServer(free_port())
        await server.start()
        config = endpoint(server.port)
        try:
            for n in range(5):
                reply = await config.request(json={"n": n}, method="post")
                assert reply == {"events": [], "responses": [{"text": "ok"}]}
            assert len(server.calls) == 5
            assert len(set(server.peers)) == 1  # one TCP connection for five calls
            call = server.calls[-1]
            assert call["body"] == {"n": 4}
            assert call["headers"]["X-Clinic-Actions-Token"] == "t"
            assert call["headers"]["Content-Type"] == "application/json"
            assert call["query"] == {"a": "1", "token": "tok"}
            with pytest.raises(ClientResponseError) as error:
                await config.request(json={}, method="post", params={"fail": "1"})
            assert error.value.status == 400
        finally:
            await close_sessions()
            await server.stop()

    asyncio.run(run())


def test_a_restarted_action_server_is_reached_again() -> None:
    async def run() -> None:
        port = free_port()
        server = ActionServer(port)
        await server.start()
        config = endpoint(port)
        try:
            await config.request(json={"n": 1}, method="post")
            await server.stop()
            # Down: the call fails as a connection error (clinic.rasa.resilience answers
            # "please try again"), not as something else.
            with pytest.raises(aiohttp.ClientConnectionError):
                await config.request(json={"n": 2}, method="post")
            restarted = ActionServer(port)
            await restarted.start()
            try:
                assert await config.request(json={"n": 3}, method="post") is not None
                assert [c["body"] for c in restarted.calls] == [{"n": 3}]
            finally:
                await restarted.stop()
        finally:
            await close_sessions()

    asyncio.run(run())


def test_a_connection_idle_longer_than_the_keepalive_is_not_reused() -> None:
    async def run() -> None:
        server = ActionServer(free_port())
        await server.start()
        config = endpoint(server.port)
        try:
            await config.request(json={}, method="post")
            await asyncio.sleep(KEEPALIVE_S + 0.5)
            await config.request(json={}, method="post")
            assert len(set(server.peers)) == 2
        finally:
            await close_sessions()
            await server.stop()

    asyncio.run(run())
