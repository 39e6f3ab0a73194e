"""knowledge/aftercare_plan.yml: the aftercare texts and when each is sent."""

from __future__ import annotations

import re
from pathlib import Path

from clinic.knowledge.loaders.reading import Entry, entry_list, read_yaml, unique
from clinic.knowledge.model import AftercareMessage

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def load(directory: Path) -> tuple[AftercareMessage, ...]:
    data, label = read_yaml(directory, "aftercare_plan.yml")
    messages = []
    for index, raw in enumerate(entry_list(data, "messages", label)):
        item = Entry(raw, label, f"messages[{index}]")
        msg_id = item.ident()
        item.entry = f"message '{msg_id}'"
        after_hours = item.number("after_hours", required=False)
        days_after = item.number("days_after", required=False)
        at = item.text("at", required=False) or None
        if (after_hours is None) == (days_after is None):
            raise item.fail("give either 'after_hours' or 'days_after' (with 'at')",
                            "e.g. 'after_hours: 3' or 'days_after: 1' and 'at: \"10:00\"'")
        if days_after is not None and (at is None or not _HHMM.match(at)):
            raise item.fail(f"'at' must be a time like \"10:00\" (found {at!r})",
                            "write 'at: \"HH:MM\"' in 24-hour time, in quotes")
        text = item.text("text")
        if len(text) > 320:
            raise item.fail(f"the text is {len(text)} characters long",
                            "keep an aftercare text under 320 characters (two SMS)")
        messages.append(AftercareMessage(
            msg_id, text, after_hours, int(days_after) if days_after is not None else None, at))
    unique([m.id for m in messages], label, "message")
    return tuple(messages)
