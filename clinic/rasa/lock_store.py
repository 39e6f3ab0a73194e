"""A race-safe Redis lock store for several Rasa servers sharing conversations.

Rasa handles the messages of one conversation one at a time through its lock store: each
message takes a ticket and waits until its ticket is served. Rasa Open Source's
``RedisLockStore`` keeps a conversation's tickets as one JSON value and takes a ticket by
reading that value, adding to it and writing it back (GET, then SET). Two Rasa servers
taking tickets for the same conversation at the same moment can both read the same value:
they get the same ticket number, or one overwrites the other's ticket, and both messages
are processed at once (RasaHQ/rasa#9213). Releasing a ticket has the same
read-modify-write race.

Here every step is one atomic Redis operation:

* a ticket number comes from ``INCR`` on the conversation's counter, so no two are equal;
* the queue of waiting tickets is a sorted set (score = ticket number), and each ticket is
  alive while its own key exists (``SET ... PX lifetime``): a ticket of a server that died
  expires by itself and the next one is served;
* "whose turn is it" and "release my ticket" are Lua scripts, which Redis runs atomically.

Use it in ``endpoints.yml``::

    lock_store:
      type: clinic.rasa.lock_store.AtomicRedisLockStore
      url: ${CLINIC_REDIS_URL}          # redis://:password@host:port/db
      key_prefix: clinic                # optional

When Redis cannot be reached, taking a ticket raises Rasa's ``LockError``; the Rasa server
then answers "please try again" (``clinic.rasa.resilience``) instead of processing the message
without a lock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore

logger = logging.getLogger(__name__)

DEFAULT_KEY_PREFIX = "clinic"
# How long a waiting message sleeps between looks at the queue (doubling up to the max).
FIRST_POLL_SECONDS = 0.005
MAX_POLL_SECONDS = 0.05

# KEYS: counter, queue. ARGV: ticket key prefix, lifetime ms, idle expiry ms.
_ISSUE = """
local number = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], number, number)
redis.call('SET', ARGV[1] .. number, '1', 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return number
"""

# The lowest ticket that is still alive (expired ones are dropped), 0 if none.
# KEYS: queue. ARGV: ticket key prefix.
_NOW_SERVING = """
while true do
  local head = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #head == 0 then return 0 end
  if redis.call('EXISTS', ARGV[1] .. head[1]) == 1 then return tonumber(head[1]) end
  redis.call('ZREM', KEYS[1], head[1])
end
"""

# KEYS: counter, queue. ARGV: ticket key prefix, ticket number.
# With nobody left in the queue, the counter goes too: no live ticket can be overtaken.
_RELEASE = """
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('DEL', ARGV[1] .. ARGV[2])
if redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return 1
"""


class AtomicRedisLockStore(LockStore):
    """Rasa lock store on Redis whose tickets are taken and released atomically."""

    def __init__(self, endpoint_config: Any = None, url: str | None = None,
                 key_prefix: str | None = None, socket_timeout: float = 5.0) -> None:
        """Connect to Redis at ``url`` (or the endpoint's ``url``); nothing is sent yet."""
        # Lazy: only a cluster (Redis lock store configured) needs Redis.
        import redis

        kwargs = dict(getattr(endpoint_config, "kwargs", None) or {})
        url = url or getattr(endpoint_config, "url", None)
        if not url:
            raise ValueError("AtomicRedisLockStore needs a Redis URL (lock_store url in "
                             "endpoints.yml, e.g. ${CLINIC_REDIS_URL}).")
        prefix = key_prefix or kwargs.get("key_prefix") or DEFAULT_KEY_PREFIX
        self.key_prefix = f"{prefix}:lock:"
        self.red = redis.Redis.from_url(
            url, socket_timeout=float(kwargs.get("socket_timeout", socket_timeout)),
            socket_connect_timeout=2.0, retry_on_timeout=False)
        self._issue = self.red.register_script(_ISSUE)
        self._now_serving = self.red.register_script(_NOW_SERVING)
        self._release = self.red.register_script(_RELEASE)
        super().__init__()

    # ---- keys ----------------------------------------------------------------------------

    def _keys(self, conversation_id: str) -> tuple[str, str, str]:
        base = self.key_prefix + conversation_id
        return f"{base}:next", f"{base}:queue", f"{base}:ticket:"

    # ---- the atomic operations ----------------------------------------------------------------

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """A new ticket number for ``conversation_id``, unique and in arrival order."""
        counter, queue, ticket_prefix = self._keys(conversation_id)
        lifetime_ms = max(1, int(lock_lifetime * 1000))
        try:
            # The counter outlives every ticket it numbered (idle expiry > lifetime).
            return int(self._issue(keys=[counter, queue],
                                   args=[ticket_prefix, lifetime_ms, 2 * lifetime_ms + 60_000]))
        except Exception as error:  # any Redis failure means "no lock"
            raise LockError(f"Could not take a ticket in the Redis lock store "
                            f"({type(error).__name__}).") from error

    def now_serving(self, conversation_id: str) -> int:
        """The ticket whose message may be processed now (0 if the queue is empty)."""
        _, queue, ticket_prefix = self._keys(conversation_id)
        try:
            return int(self._now_serving(keys=[queue], args=[ticket_prefix]))
        except Exception as error:
            raise LockError(f"Could not read the Redis lock store "
                            f"({type(error).__name__}).") from error

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        """Release ``ticket_number``; the next ticket is served."""
        counter, queue, ticket_prefix = self._keys(conversation_id)
        self._release(keys=[counter, queue], args=[ticket_prefix, ticket_number])

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Release the ticket (the release script also removes an empty queue)."""
        try:
            self.finish_serving(conversation_id, ticket_number)
        except Exception as error:  # noqa: BLE001
            # The ticket expires by itself after its lifetime.
            logger.warning("Could not release a lock ticket (%s); it will expire.",
                           type(error).__name__)

    @asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = MAX_POLL_SECONDS) -> AsyncIterator[TicketLock]:
        """Hold the conversation's lock while the block runs (messages in arrival order)."""
        ticket = self.issue_ticket(conversation_id, lock_lifetime)
        try:
            yield await self._acquire_lock(conversation_id, ticket,
                                           min(wait_time_in_seconds, MAX_POLL_SECONDS),
                                           lock_lifetime)
        finally:
            self.cleanup(conversation_id, ticket)

    async def _acquire_lock(self, conversation_id: str, ticket: int,
                            wait_time_in_seconds: float,
                            lock_lifetime: float = LOCK_LIFETIME) -> TicketLock:
        pause = FIRST_POLL_SECONDS
        while True:
            serving = self.now_serving(conversation_id)
            if serving == ticket:
                return TicketLock(conversation_id,
                                  deque([Ticket(ticket, time.time() + lock_lifetime)]))
            if serving == 0 or serving > ticket:
                # Our own ticket expired while we waited (the lock lifetime passed).
                raise LockError(f"Lock ticket {ticket} expired before it was served.")
            await asyncio.sleep(pause)
            pause = min(pause * 2, wait_time_in_seconds)

    # ---- Rasa's LockStore interface (for callers that look at a lock) ---------------------------

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        """The conversation's live tickets as Rasa's ``TicketLock`` (None if none)."""
        _, queue, ticket_prefix = self._keys(conversation_id)
        tickets: deque[Any] = deque()  # of Rasa's Ticket
        now = time.time()
        for raw in self.red.zrange(queue, 0, -1):
            number = int(raw)
            ttl_ms = self.red.pttl(f"{ticket_prefix}{number}")
            if ttl_ms > 0:
                tickets.append(Ticket(number, now + ttl_ms / 1000))
        return TicketLock(conversation_id, tickets) if tickets else None

    def is_someone_waiting(self, conversation_id: str) -> bool:
        return self.now_serving(conversation_id) != 0

    def delete_lock(self, conversation_id: str) -> None:
        counter, queue, ticket_prefix = self._keys(conversation_id)
        numbers = self.red.zrange(queue, 0, -1)
        self.red.delete(counter, queue, *[f"{ticket_prefix}{int(n)}" for n in numbers])

    def save_lock(self, lock: TicketLock) -> None:
        raise NotImplementedError("AtomicRedisLockStore changes tickets only atomically "
                                  "(issue_ticket, finish_serving).")
