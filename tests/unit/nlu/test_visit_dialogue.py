"""Replies to offered visit times, including the short words strangers type."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinic.nlu.visit_dialogue import CHOSEN, OTHER_WINDOW, SKIP, UNCLEAR, read_reply

LA = ZoneInfo("America/Los_Angeles")
NOW = dt.datetime(2031, 3, 4, 10, tzinfo=LA)
OFFERED = [dt.datetime(2031, 3, 6, 15, tzinfo=LA), dt.datetime(2031, 3, 6, 16, 30, tzinfo=LA),
           dt.datetime(2031, 3, 7, 10, tzinfo=LA)]


@pytest.mark.parametrize("said, kind, index", [
    ("the second one", CHOSEN, 1), ("2", CHOSEN, 1), ("4:30", CHOSEN, 1),
    (OFFERED[0].isoformat(), CHOSEN, 0), ("Friday at 10", CHOSEN, 2),
    ("none", SKIP, None), ("none of them work", SKIP, None), ("stop", SKIP, None),
    ("just call me", SKIP, None), ("no thanks", SKIP, None),
    ("monday morning instead", OTHER_WINDOW, None), ("asap", OTHER_WINDOW, None),
    ("ok", UNCLEAR, None), ("?", UNCLEAR, None), ("yes", UNCLEAR, None), ("", UNCLEAR, None),
    ("<b>hi</b>", UNCLEAR, None), ("9", UNCLEAR, None), ("the tenth one", UNCLEAR, None),
])
def test_read_reply(said: str, kind: str, index: int | None) -> None:
    reply = read_reply(said, OFFERED, NOW, LA)
    assert reply.kind == kind
    assert reply.start == (OFFERED[index] if index is not None else None)
