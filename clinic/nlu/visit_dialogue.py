"""What a reply to offered visit times means: a pick, another day, "none", or unclear. Pure.

The actions (actions/visits.py) do the I/O: the offer, the hold, the sentences.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from clinic.rules.availability import Window, choose, parse_window

CHOSEN, OTHER_WINDOW, SKIP, UNCLEAR = "chosen", "other_window", "skip", "unclear"

_SKIP = re.compile(r"^\s*(none|no|nope|neither|none of (them|those|these)|not those|no thanks?|"
                   r"no thank you|call me|please call me|just call me|later|i'?ll call|"
                   r"none work|none of them work|they don'?t work|skip|stop|cancel|never ?mind|"
                   r"forget it)\b[\s.!]*", re.IGNORECASE)


@dataclass(frozen=True)
class Reply:
    kind: str
    start: dt.datetime | None = None
    window: Window | None = None


def read_reply(text: str, offered: Sequence[dt.datetime], now: dt.datetime, tz: dt.tzinfo,
               horizon_days: int = 28) -> Reply:
    """``chosen`` (one of ``offered``), ``other_window`` ("friday afternoon instead"),
    ``skip`` ("none", "just call me") or ``unclear``."""
    picked = choose(text, offered)
    if picked is not None:
        return Reply(CHOSEN, start=picked)
    if _SKIP.match(text or "") and not re.search(r"\d", text or ""):
        return Reply(SKIP)
    window = parse_window(text, now, tz, horizon_days)
    if window is not None:
        return Reply(OTHER_WINDOW, window=window)
    return Reply(UNCLEAR)


def default_window(now: dt.datetime, tz: dt.tzinfo, horizon_days: int) -> Window:
    """From today, as far as the clinic looks ahead ("asap")."""
    today = now.astimezone(tz).date()
    return Window(today, today + dt.timedelta(days=horizon_days))
