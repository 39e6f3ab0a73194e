"""What the Rasa server does when its tracker store or lock store is briefly unavailable.

Rasa 3.6 wraps every tracker store in a ``FailSafeTrackerStore``. When PostgreSQL is down
(restarted, failed over), it logs the error and goes on: ``retrieve`` returns nothing, so
the message starts a brand-new conversation, and ``save`` keeps the conversation in that
server's memory only, which another replica never sees. The person's screening answers
are silently forgotten. With several replicas this is worse than an error.

So, with these patches (loaded with ``clinic.rasa.patches``):

* a *connection* problem of the tracker store (SQLAlchemy ``OperationalError`` /
  ``InterfaceError``) is raised as :class:`ConversationStoreUnavailable` instead of being
  papered over; other errors keep Rasa's behaviour;
* the SQL tracker store's connections are checked before use (``pool_pre_ping``), so the
  first message after a database restart works instead of failing on a dead connection;
* when a message cannot be handled because the conversation store or the lock store
  (Redis) is unavailable, the person gets the clinic's "please try again" message
  (``unavailable_message`` in ``knowledge/clinic.yml``) on their channel, and nothing of
  the message is recorded: the conversation goes on where it was once the store is back;
* the same when the **action server** cannot be reached (stopped, restarting, not
  answering): Rasa 3.6 logs the failed custom action, drops its events and goes on, so the
  person got no reply at all and their answer (a screening "no", a booking detail) was
  silently lost. A custom action that cannot reach the action server now ends the turn
  with :class:`ActionServerUnavailable` before anything is saved.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_UNAVAILABLE_MESSAGE = (
    "Sorry, I can't answer right now because of a technical problem on our side. "
    "Please try again in a minute; nothing you told me so far is lost."
)


class ConversationStoreUnavailable(Exception):
    """The tracker store could not be reached; the message was not processed."""


class ActionServerUnavailable(Exception):
    """A custom action could not reach the action server; the message was not processed."""


# The action-server failure met while running the current action, also inside a form (whose
# validation and "ask" actions are custom actions run by Rasa's FormAction).
_ACTION_SERVER_DOWN: contextvars.ContextVar[BaseException | None] = contextvars.ContextVar(
    "clinic_action_server_down", default=None)


def action_server_unreachable(error: BaseException) -> bool:
    """True for a refused or dropped connection or a timeout, anywhere in the cause chain."""
    import aiohttp

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (aiohttp.ClientConnectionError, asyncio.TimeoutError)):
            return True
        current = current.__cause__ or current.__context__
    return False


def is_connection_problem(error: BaseException) -> bool:
    """True for a database or Redis connection failure, anywhere in the cause chain."""
    # Imports here stay lazy: this module is loaded while Rasa itself is being imported
    # (clinic.rasa.patches), before SQLAlchemy, Redis or the knowledge are needed.
    from sqlalchemy import exc as sa_exc

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ConversationStoreUnavailable, ActionServerUnavailable)):
            return True
        if isinstance(current, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        try:
            import redis

            if isinstance(current, (redis.exceptions.ConnectionError,
                                    redis.exceptions.TimeoutError)):
                return True
        except ImportError:  # pragma: no cover - redis comes with Rasa
            pass
        from rasa.core.lock_store import LockError

        if isinstance(current, LockError):
            return True
        current = current.__cause__ or current.__context__
    return False


def unavailable_message() -> str:
    """The clinic's "please try again" sentence (knowledge/clinic.yml)."""
    try:
        from clinic.knowledge.kb import knowledge

        return knowledge().clinic.unavailable_message or DEFAULT_UNAVAILABLE_MESSAGE
    except Exception:  # noqa: BLE001 - the apology must not fail too
        return DEFAULT_UNAVAILABLE_MESSAGE


def patch_tracker_store(module: Any) -> None:
    """``rasa.core.tracker_store``: raise connection problems, pre-ping SQL connections."""
    fail_safe = module.FailSafeTrackerStore
    if getattr(fail_safe, "_clinic_patched", False):
        return
    original_kwargs = module.create_engine_kwargs

    async def retrieve(self: Any, sender_id: str) -> Any:
        try:
            return await self._tracker_store.retrieve(sender_id)
        except Exception as error:
            if is_connection_problem(error):
                logger.error("Conversation store unavailable on retrieve (%s).",
                             type(error).__name__)
                raise ConversationStoreUnavailable(type(error).__name__) from error
            self.on_tracker_store_retrieve_error(error)  # Rasa's behaviour
            return None

    async def save(self: Any, tracker: Any) -> None:
        try:
            await self._tracker_store.save(tracker)
            return
        except Exception as error:
            if is_connection_problem(error):
                logger.error("Conversation store unavailable on save (%s).",
                             type(error).__name__)
                raise ConversationStoreUnavailable(type(error).__name__) from error
            self.on_tracker_store_error(error)  # Rasa's behaviour
            await self.fallback_tracker_store.save(tracker)

    def create_engine_kwargs(url: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = original_kwargs(url)
        # A failed save must not log the event JSON (a patient's words) as SQL parameters.
        kwargs["hide_parameters"] = True
        if not str(getattr(url, "drivername", url)).startswith("sqlite"):
            kwargs.setdefault("pool_pre_ping", True)
        return kwargs

    fail_safe.retrieve = retrieve
    fail_safe.save = save
    fail_safe._clinic_patched = True  # noqa: SLF001 - our own marker on Rasa's class
    module.create_engine_kwargs = create_engine_kwargs


def patch_agent(module: Any) -> None:
    """``rasa.core.agent``: answer "please try again" when a store is unavailable."""
    agent_class = module.Agent
    if getattr(agent_class, "_clinic_patched", False):
        return
    original = agent_class.handle_message

    @functools.wraps(original)
    async def handle_message(self: Any, message: Any) -> Any:
        try:
            return await original(self, message)
        except Exception as error:
            if not is_connection_problem(error):
                raise
            # No message text or sender id in the log: they may be personal data.
            what = ("action server" if isinstance(error, ActionServerUnavailable)
                    else "conversation or lock store")
            logger.error("A message could not be handled: %s unavailable (%s). The person "
                         "was asked to try again.", what, type(error).__name__)
            output = getattr(message, "output_channel", None)
            if output is not None:
                try:
                    await output.send_text_message(message.sender_id, unavailable_message())
                except Exception as send_error:  # noqa: BLE001
                    logger.error("Could not send the try-again message (%s).",
                                 type(send_error).__name__)
            return None

    agent_class.handle_message = handle_message
    agent_class._clinic_patched = True  # noqa: SLF001 - our own marker on Rasa's class


def patch_remote_action(module: Any) -> None:
    """``rasa.core.actions.action``: remember when a custom action found no action server."""
    remote = module.RemoteAction
    if getattr(remote, "_clinic_patched", False):
        return
    original = remote.run

    @functools.wraps(original)
    async def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await original(self, *args, **kwargs)
        except Exception as error:
            if action_server_unreachable(error):
                _ACTION_SERVER_DOWN.set(error)
            raise

    remote.run = run
    remote._clinic_patched = True  # noqa: SLF001 - our own marker on Rasa's class


def patch_processor(module: Any) -> None:
    """``rasa.core.processor``: a turn whose action found no action server is not saved.

    Rasa catches every error of an action, logs it and goes on without the action's events;
    this raises :class:`ActionServerUnavailable` after it instead, so nothing of the message
    is stored and :func:`patch_agent` asks the person to try again.
    """
    processor = module.MessageProcessor
    if getattr(processor, "_clinic_patched", False):
        return
    original = processor._run_action  # noqa: SLF001 - the one place Rasa runs an action

    @functools.wraps(original)
    async def _run_action(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = _ACTION_SERVER_DOWN.set(None)
        try:
            result = await original(self, *args, **kwargs)
            failure = _ACTION_SERVER_DOWN.get()
        finally:
            _ACTION_SERVER_DOWN.reset(token)
        if failure is not None:
            raise ActionServerUnavailable(type(failure).__name__) from failure
        return result

    processor._run_action = _run_action  # noqa: SLF001
    processor._clinic_patched = True  # noqa: SLF001 - our own marker on Rasa's class
