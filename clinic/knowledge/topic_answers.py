"""A topic's answer as the patient reads it: the answer, its citation, follow-up buttons.

Used by the FAQ responses that ``clinic.knowledge.domain_build`` writes into domain.yml
(``utter_topic_<id>``, sent by Rasa itself) and by the actions that answer a topic asked
aside inside a form; both say the same words.
"""

from __future__ import annotations

from clinic.knowledge import messages as M
from clinic.knowledge.kb import Knowledge, Topic

RESPONSE_PREFIX = "utter_topic_"


def citation(sources: tuple[str, ...], k: Knowledge) -> str:
    """A short, readable citation line, e.g. "Source: Majid, 2014"."""
    names = [k.references[s].short for s in sources]
    if not names:
        return ""
    return k.say(M.COMMON_SOURCE if len(names) == 1 else M.COMMON_SOURCES,
                 names="; ".join(names))


def render_topic(topic: Topic, k: Knowledge) -> str:
    """The answer to a topic, with its citation (or the full reference list)."""
    text = k.fill(topic.answer)
    if topic.list_references:
        refs = "\n".join(f"• {ref.citation}" for ref in k.references.values())
        return f"{text}\n{refs}"
    return f"{text}\n{citation(topic.sources, k)}"


def topic_buttons(topic: Topic, k: Knowledge) -> list[dict[str, str]]:
    """Follow-up buttons for a topic's related topics."""
    return [{"title": k.topic(related).title, "payload": f"/{k.topic(related).intent}"}
            for related in topic.related]


def response_name(topic: Topic) -> str:
    """The domain response that answers ``topic`` (written by domain_build)."""
    return RESPONSE_PREFIX + topic.id
