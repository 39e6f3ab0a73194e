"""knowledge/topics.yml: the answers to the questions people ask, with their sources."""

from __future__ import annotations

from pathlib import Path

from clinic.knowledge.loaders.reading import Entry, entry_list, read_yaml, unique
from clinic.knowledge.model import KnowledgeError, Reference, Topic


def load(directory: Path, references: dict[str, Reference]) -> tuple[Topic, ...]:
    data, label = read_yaml(directory, "topics.yml")
    topics = []
    for index, raw in enumerate(entry_list(data, "topics", label)):
        item = Entry(raw, label, f"topics[{index}]")
        topic_id = item.ident()
        item.entry = f"topic '{topic_id}'"
        topic = Topic(
            id=topic_id,
            intent=item.ident("intent"),
            title=item.text("title"),
            answer=item.text("answer"),
            sources=item.text_list("sources"),
            related=item.text_list("related", required=False),
            list_references=item.flag("list_references"),
        )
        for source in topic.sources:
            if source not in references:
                raise item.fail(f"source '{source}' is not in knowledge/references.yml",
                                "add the reference there or correct the id")
        if not topic.sources and not topic.list_references:
            raise item.fail("the topic has no sources", "list the reference ids behind it")
        topics.append(topic)
    unique([t.id for t in topics], label, "topic")
    unique([t.intent for t in topics], label, "intent")
    ids = {t.id for t in topics}
    for topic in topics:
        for related in topic.related:
            if related not in ids:
                raise KnowledgeError(label, f"topic '{topic.id}'",
                                     f"related topic '{related}' does not exist",
                                     "use the id of another topic in this file")
    return tuple(topics)
