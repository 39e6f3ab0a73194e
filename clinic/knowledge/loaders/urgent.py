"""knowledge/urgent.yml: the urgent signs and what is said for each level."""

from __future__ import annotations

from pathlib import Path

from clinic.knowledge.loaders.reading import Entry, entry_list, read_yaml, unique
from clinic.knowledge.model import URGENT_LEVELS, UrgentSign


def load(directory: Path) -> tuple[tuple[UrgentSign, ...], dict[str, str]]:
    data, label = read_yaml(directory, "urgent.yml")
    signs = []
    for index, raw in enumerate(entry_list(data, "signs", label)):
        item = Entry(raw, label, f"signs[{index}]")
        sign_id = item.ident()
        item.entry = f"sign '{sign_id}'"
        signs.append(UrgentSign(sign_id, item.choice("level", URGENT_LEVELS),
                                item.text_list("terms")))
    unique([s.id for s in signs], label, "sign")
    messages = Entry(data.get("messages"), label, "messages")
    return tuple(signs), {level: messages.text(level) for level in URGENT_LEVELS}
