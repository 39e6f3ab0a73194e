"""Log-in throttling for the staff console: the same answer for every e-mail address, and no
way for a stranger to lock a member of staff out from their own desk.

Failed log-ins are counted in three windows (``console_lockout_minutes`` long):

* per address and e-mail (``console_lockout_attempts``): a guesser at one address is stopped
  after a few tries, while the person at their own desk can still log in;
* per address, across e-mails (``LOGIN_IP_LIMIT``): one address cannot try many accounts;
* per e-mail, across addresses (ten times ``console_lockout_attempts``): a guess spread over
  many addresses is stopped too.

Known and unknown e-mail addresses are counted alike, so the answers never tell which
addresses have accounts. An attempt is *reserved* before its password is checked and freed
if it succeeds: checking and counting happen in one step of the event loop, so a burst of
simultaneous attempts cannot get past the limit while the slow password checks run.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

Key = tuple[str, ...]
MAX_KEYS = 50_000


@dataclass
class LoginThrottle:
    """In-memory windows of failed (or pending) log-ins, per key."""

    per_address_and_email: int
    per_address: int
    per_email: int
    window_s: float = 900.0
    clock: Callable[[], float] = time.monotonic
    _times: OrderedDict[Key, deque[float]] = field(default_factory=OrderedDict)

    def _keys(self, address: str, email: str) -> list[tuple[Key, int]]:
        return [(("address-email", address, email), self.per_address_and_email),
                (("address", address), self.per_address),
                (("email", email), self.per_email)]

    def _recent(self, key: Key) -> deque[float]:
        times = self._times.get(key)
        if times is None:
            return deque()
        now = self.clock()
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times

    def reserve(self, address: str, email: str) -> float | None:
        """Count one attempt now; None if a limit is reached (nothing counted), else the
        attempt's mark, to pass to :meth:`succeeded`."""
        keys = self._keys(address, email)
        if any(len(self._recent(key)) >= limit for key, limit in keys):
            return None
        mark = self.clock()
        for key, _ in keys:
            self._times.setdefault(key, deque()).append(mark)
            self._times.move_to_end(key)
        while len(self._times) > MAX_KEYS:
            self._times.popitem(last=False)
        return mark

    def failures(self, address: str, email: str) -> int:
        """Attempts counted for this address and e-mail in the window."""
        return len(self._recent(("address-email", address, email)))

    def succeeded(self, address: str, email: str, mark: float) -> None:
        """A right password: this attempt is not a failure, and the address's failures for
        this e-mail are forgotten."""
        for key, _ in self._keys(address, email):
            times = self._times.get(key)
            if times and mark in times:
                times.remove(mark)
        self._times.pop(("address-email", address, email), None)
