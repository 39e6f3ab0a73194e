"""knowledge/vocabulary.yml: the words for treatments and conditions."""

from __future__ import annotations

from pathlib import Path

from clinic.knowledge.loaders.reading import Entry, read_yaml


def load(directory: Path) -> dict[str, dict[str, tuple[str, ...]]]:
    data, label = read_yaml(directory, "vocabulary.yml")
    vocabulary: dict[str, dict[str, tuple[str, ...]]] = {}
    for group in ("treatments", "conditions"):
        entry = Entry(data.get(group), label, group)
        vocabulary[group] = {
            key: entry.text_list(key) for key in entry.data
        }
    return vocabulary
