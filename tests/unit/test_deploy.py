"""The deployment files (deploy/) and the pieces of the cluster that need no running servers."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc

from clinic.knowledge.kb import PROJECT_ROOT, knowledge
from dev.cluster.topology import CLUSTER_ENDPOINTS, HAPROXY_CONFIG, cluster_endpoints_text

DEPLOY = PROJECT_ROOT / "deploy"
ENV_EXAMPLE = DEPLOY / "clinic.env.example"


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            values[key.strip()] = value.strip()
    return values


def test_cluster_endpoints_are_generated_from_the_projects_endpoints() -> None:
    assert CLUSTER_ENDPOINTS.read_text() == cluster_endpoints_text(), (
        "run `.venv/bin/python -m dev.cluster --write-endpoints`")


def test_every_variable_of_the_proxy_and_endpoints_is_in_the_env_template() -> None:
    documented = env_example()
    used = set(re.findall(r"\$\{([A-Z0-9_]+)\}", HAPROXY_CONFIG.read_text()
                          + CLUSTER_ENDPOINTS.read_text()))
    assert used and used <= set(documented), used - set(documented)
    for secret in ("CLINIC_RASA_API_TOKEN", "CLINIC_ACTIONS_TOKEN", "CLINIC_API_TOKEN",
                   "CLINIC_SESSION_SECRET", "TWILIO_AUTH_TOKEN"):
        assert documented.get(secret) == "", f"{secret} must not have a value in the template"


def test_the_proxy_config_is_valid_with_the_env_template() -> None:
    if not shutil.which("haproxy"):
        pytest.fail("haproxy is missing: `make cluster-deps` installs it (make test does).")
    env = {**os.environ, **env_example(), "CLINIC_API_TOKEN": "x" * 32,
           "CLINIC_RASA_API_TOKEN": "y" * 32, "CLINIC_PROXY_BIND": "127.0.0.1:6999"}
    result = subprocess.run(["haproxy", "-c", "-f", str(HAPROXY_CONFIG)], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


def test_the_proxy_routes_only_the_public_paths() -> None:
    config = HAPROXY_CONFIG.read_text()
    assert 'req.hdr(authorization) -m str "Bearer ${CLINIC_API_TOKEN}"' in config
    assert "http-request deny deny_status 401 if rest !rest_token" in config
    assert re.search(r"acl rasa_api path_beg /conversations /model /status", config)
    assert "cookie CLINIC_RASA insert" in config  # sticky socket.io
    assert config.count("check") >= 7  # health checks on every server


def test_systemd_units_start_modules_that_exist() -> None:
    units = list((DEPLOY / "systemd").glob("*.service"))
    assert len(units) >= 5
    for unit in units:
        text = unit.read_text()
        assert "EnvironmentFile=/etc/clinic/clinic.env" in text, unit.name
        for module in re.findall(r"-m ([a-z_.]+)", text):
            path = PROJECT_ROOT / Path(*module.split("."))
            assert path.with_suffix(".py").exists() or (path / "__main__.py").exists(), module


# ---- what a replica does when a store is unavailable (clinic/rasa/resilience.py) --------------------

def test_connection_problems_are_recognised_through_the_cause_chain() -> None:
    import redis
    from rasa.core.lock_store import LockError

    from clinic.rasa.resilience import is_connection_problem

    operational = sa_exc.OperationalError("SELECT 1", {}, Exception("connection refused"))
    assert is_connection_problem(operational)
    assert is_connection_problem(redis.exceptions.ConnectionError("down"))
    assert is_connection_problem(LockError("no ticket"))
    try:
        try:
            raise operational
        except sa_exc.OperationalError as error:
            raise RuntimeError("wrapped") from error
    except RuntimeError as wrapped:
        assert is_connection_problem(wrapped)
    assert not is_connection_problem(ValueError("a bug"))
    assert not is_connection_problem(sa_exc.IntegrityError("INSERT", {}, Exception("dup")))


class _DownStore:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.domain = None
        self.event_broker = None

    async def retrieve(self, sender_id: str):
        raise self.error

    async def save(self, tracker) -> None:
        raise self.error


def test_an_unreachable_tracker_store_is_not_papered_over() -> None:
    import rasa.core.tracker_store as ts

    from clinic.rasa.resilience import ConversationStoreUnavailable

    assert getattr(ts.FailSafeTrackerStore, "_clinic_patched", False), "patch not loaded"
    down = ts.FailSafeTrackerStore(_DownStore(
        sa_exc.OperationalError("SELECT", {}, Exception("server closed the connection"))))
    with pytest.raises(ConversationStoreUnavailable):
        asyncio.run(down.retrieve("someone"))
    with pytest.raises(ConversationStoreUnavailable):
        asyncio.run(down.save(object()))
    # Other errors keep Rasa's behaviour (logged, no tracker).
    buggy = ts.FailSafeTrackerStore(_DownStore(ValueError("bug")), on_tracker_store_error=print)
    assert asyncio.run(buggy.retrieve("someone")) is None


def test_a_message_that_cannot_be_handled_gets_the_try_again_answer() -> None:
    import rasa.core.agent as agent_module
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    from clinic.rasa.resilience import ConversationStoreUnavailable, patch_agent

    class Agent:
        async def handle_message(self, message):
            raise ConversationStoreUnavailable("OperationalError")

    class Module:
        pass

    module = Module()
    module.Agent = Agent
    patch_agent(module)
    output = CollectingOutputChannel()
    result = asyncio.run(Agent().handle_message(UserMessage("hi", output, "someone")))
    assert result is None
    assert [m["text"] for m in output.messages] == [knowledge().clinic.unavailable_message]
    assert "try again" in knowledge().clinic.unavailable_message
    assert getattr(agent_module.Agent, "_clinic_patched", False), "patch not loaded"


def test_an_unreachable_action_server_ends_the_turn_before_anything_is_saved() -> None:
    # Rasa caught the failed custom action, dropped its events and went on: no reply at all,
    # and the person's answer (a screening "no") was saved as if it had been handled.
    import aiohttp
    import rasa.core.actions.action as action_module
    import rasa.core.processor as processor_module

    from clinic.rasa.resilience import (
        ActionServerUnavailable,
        is_connection_problem,
        patch_processor,
        patch_remote_action,
    )

    class RemoteAction:
        def __init__(self, error: Exception) -> None:
            self.error = error

        async def run(self) -> list:
            try:
                raise self.error
            except aiohttp.ClientConnectionError:
                raise RuntimeError("Failed to execute custom action. Couldn't connect") from None

    class Form:  # a form's validation is a custom action run inside Rasa's FormAction
        def __init__(self, error: Exception) -> None:
            self.inner = RemoteAction(error)

        async def run(self) -> list:
            return await self.inner.run()

    class MessageProcessor:
        saved = False

        async def _run_action(self, action) -> bool:
            try:
                await action.run()
            except Exception:  # noqa: BLE001 - what Rasa does: log and go on
                pass
            return False

    class Module:
        pass

    actions, processor = Module(), Module()
    actions.RemoteAction, processor.MessageProcessor = RemoteAction, MessageProcessor
    patch_remote_action(actions)
    patch_processor(processor)
    for error in (aiohttp.ServerDisconnectedError(), asyncio.TimeoutError()):
        for action in (RemoteAction(error), Form(error)):
            with pytest.raises(ActionServerUnavailable) as raised:
                asyncio.run(MessageProcessor()._run_action(action))  # noqa: SLF001 - the patched name
            assert is_connection_problem(raised.value)  # patch_agent: "please try again"
    # Any other error of an action keeps Rasa's behaviour.
    buggy = RemoteAction(ValueError("bug"))
    assert asyncio.run(MessageProcessor()._run_action(buggy)) is False  # noqa: SLF001
    assert getattr(action_module.RemoteAction, "_clinic_patched", False), "patch not loaded"
    assert getattr(processor_module.MessageProcessor, "_clinic_patched", False), "not loaded"


def test_socketio_shares_replies_through_redis_only_when_configured() -> None:
    from socketio import AsyncRedisManager, AsyncServer

    from clinic.rasa.channels.socketio import _share_across_replicas

    plain = AsyncServer(async_mode="sanic")
    assert not _share_across_replicas(plain, "")
    assert not isinstance(plain.manager, AsyncRedisManager)
    shared = AsyncServer(async_mode="sanic")
    assert _share_across_replicas(shared, "redis://:pw@127.0.0.1:1/0")
    assert isinstance(shared.manager, AsyncRedisManager) and shared.manager.server is shared
