"""knowledge/references.yml: the sources every answer cites."""

from __future__ import annotations

from pathlib import Path

from clinic.knowledge.loaders.reading import Entry, entry_list, read_yaml, unique
from clinic.knowledge.model import Reference


def load(directory: Path) -> dict[str, Reference]:
    data, label = read_yaml(directory, "references.yml")
    refs = []
    for index, raw in enumerate(entry_list(data, "references", label)):
        item = Entry(raw, label, f"references[{index}]")
        ref_id = item.ident()
        item.entry = f"reference '{ref_id}'"
        refs.append(Reference(ref_id, item.text("short"), item.text("citation")))
    unique([r.id for r in refs], label, "reference")
    return {r.id: r for r in refs}
