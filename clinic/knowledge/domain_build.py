"""Write domain.yml's ``responses:`` section from ``knowledge/messages.yml`` and ``knowledge/topics.yml``.

The utter_* responses Rasa sends are patient-facing sentences, so they are written in
``knowledge/messages.yml`` (group ``responses``) like every other sentence, and copied into
domain.yml, where Rasa reads them, by ``make domain`` (run by ``make train`` and
``make test``). The clinic placeholders ({clinic_phone}, ...) are filled here; a placeholder
naming a domain slot is left for Rasa to fill; any other placeholder is refused.

Each FAQ topic of ``knowledge/topics.yml`` also gets its response, ``utter_topic_<id>``: the
fixed answer with its citation and follow-up buttons (``clinic.knowledge.topic_answers``),
which data/rules.yml sends for the topic's intent, so a fixed answer costs no round trip to
the action server.

    python -m clinic.knowledge.domain_build           # rewrite domain.yml's responses
    python -m clinic.knowledge.domain_build --check   # exit 1 if domain.yml is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from clinic.knowledge.kb import PROJECT_ROOT, Knowledge, KnowledgeError, load_knowledge
from clinic.knowledge.messages import RESPONSE_PLACEHOLDERS, STANDARD_PLACEHOLDERS
from clinic.knowledge.topic_answers import render_topic, response_name, topic_buttons

DOMAIN = PROJECT_ROOT / "domain.yml"
MARKER = "# ---- generated from knowledge/messages.yml"
HEADER = (
    f"{MARKER} (group \"responses\") by `make domain`\n"
    "# (python -m clinic.knowledge.domain_build). Edit the sentences there: this part is rewritten.\n"
)
_FIELD = re.compile(r"\{([^{}]*)\}")


class DomainBuildError(ValueError):
    pass


def _slots(hand_written: str) -> set[str]:
    data = yaml.safe_load(hand_written) or {}
    return set((data.get("slots") or {}).keys())


def _render_text(k: Knowledge, text: str, slots: set[str] | frozenset[str], where: str) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in STANDARD_PLACEHOLDERS:
            return k.fill("{" + name + "}")
        if name in slots:
            return match.group(0)
        raise DomainBuildError(
            f"knowledge/messages.yml: {where}: the placeholder '{{{name}}}' is neither a clinic "
            f"placeholder ({', '.join(sorted(STANDARD_PLACEHOLDERS))}), nor a slot of domain.yml, "
            "nor a value the code passes (clinic.knowledge.messages.RESPONSE_PLACEHOLDERS)")
    return _FIELD.sub(fill, text)


def topic_responses(k: Knowledge) -> dict[str, list[dict[str, Any]]]:
    """One response per FAQ topic of knowledge/topics.yml: its fixed answer, citation and
    follow-up buttons, sent by Rasa itself (data/rules.yml) with no call to the action server."""
    responses: dict[str, list[dict[str, Any]]] = {}
    for topic in k.topics:
        name = response_name(topic)
        if name in k.responses:
            raise DomainBuildError(f"knowledge/messages.yml: the response {name} is the name of "
                                   f"the answer to the topic '{topic.id}' (knowledge/topics.yml)")
        text = render_topic(topic, k)
        if _FIELD.search(text):
            raise DomainBuildError(f"knowledge/topics.yml: topic '{topic.id}': braces left in "
                                   "its answer would be read by Rasa as a slot to fill")
        variant: dict[str, Any] = {"text": text}
        buttons = topic_buttons(topic, k)
        if buttons:
            variant["buttons"] = buttons
        responses[name] = [variant]
    return responses


def responses_section(k: Knowledge, hand_written: str) -> str:
    """The generated tail of domain.yml: the marker comment and the responses mapping."""
    slots = _slots(hand_written)
    responses: dict[str, list[dict[str, Any]]] = {}
    for name, variants in k.responses.items():
        rendered = []
        for number, variant in enumerate(variants, start=1):
            variant = {"text": variant} if isinstance(variant, str) else dict(variant)
            known = slots | RESPONSE_PLACEHOLDERS.get(name, frozenset())
            variant["text"] = _render_text(k, str(variant["text"]).strip(), known,
                                           f"responses.{name} variant {number}")
            rendered.append(variant)
        responses[name] = rendered
    responses.update(topic_responses(k))
    body = yaml.safe_dump({"responses": responses}, sort_keys=False, allow_unicode=True,
                          width=92, default_flow_style=False)
    return HEADER + body


def split_domain(text: str) -> tuple[str, str]:
    """domain.yml as (the hand-written part, the generated part)."""
    head, marker, tail = text.partition(MARKER)
    return head.rstrip("\n") + "\n", (marker + tail) if marker else ""


def build(k: Knowledge, domain_text: str) -> str:
    head, _ = split_domain(domain_text)
    return head + "\n" + responses_section(k, head)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check domain.yml is current")
    parser.add_argument("--domain", type=Path, default=DOMAIN)
    args = parser.parse_args(argv)
    try:
        k = load_knowledge()
        current = args.domain.read_text(encoding="utf-8")
        wanted = build(k, current)
    except (KnowledgeError, DomainBuildError) as error:
        print(f"Domain build failed: {error}", file=sys.stderr)
        return 1
    if args.check:
        if current != wanted:
            print("domain.yml's responses differ from knowledge/messages.yml: run `make domain` "
                  "(edit sentences in knowledge/messages.yml, not in domain.yml)", file=sys.stderr)
            return 1
        print("domain.yml responses match knowledge/messages.yml.")
        return 0
    if current != wanted:
        args.domain.write_text(wanted, encoding="utf-8")
        print(f"domain.yml: wrote {len(k.responses)} responses from knowledge/messages.yml "
              f"and {len(k.topics)} from knowledge/topics.yml.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
