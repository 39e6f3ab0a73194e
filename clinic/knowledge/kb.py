"""Load and check the clinic's knowledge base (``knowledge/*.yml``).

The knowledge folder is the single source of truth for everything the assistant says
about microneedling, the screening rules, the promotion and the aftercare texts. This
module reads it into plain dataclasses and refuses a malformed file with a message that
names the file, the entry and the fix (:class:`KnowledgeError`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from clinic.knowledge.messages import GROUPS, REGISTRY, RESPONSES_GROUP, STANDARD_PLACEHOLDERS, Message

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_KNOWLEDGE_DIR = PROJECT_ROOT / "knowledge"


def knowledge_dir(directory: Path | str | None = None) -> Path:
    """The knowledge folder: ``directory``, else ``$CLINIC_KNOWLEDGE_DIR``, else knowledge/."""
    return Path(directory or os.environ.get("CLINIC_KNOWLEDGE_DIR") or DEFAULT_KNOWLEDGE_DIR)



class Outcome(str, Enum):
    """A screening outcome (the stored slot value is the string)."""

    ELIGIBLE = "eligible"
    NOT_SUITABLE_NOW = "not_suitable_now"
    PRACTITIONER_REVIEW = "practitioner_review"
    INCOMPLETE = "incomplete"

    def __str__(self) -> str:
        return self.value


OUTCOME_NOT_SUITABLE_NOW = Outcome.NOT_SUITABLE_NOW
OUTCOME_PRACTITIONER_REVIEW = Outcome.PRACTITIONER_REVIEW
OUTCOME_ELIGIBLE = Outcome.ELIGIBLE
OUTCOME_INCOMPLETE = Outcome.INCOMPLETE
YES_OUTCOMES = (OUTCOME_NOT_SUITABLE_NOW, OUTCOME_PRACTITIONER_REVIEW)
URGENT_LEVELS = ("emergency", "urgent")
PLACEHOLDERS = ("clinic_name", "clinic_phone", "booking_url", "emergency_number", "reasons",
                "clinic_email", "clinic_hours")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class KnowledgeError(ValueError):
    """A knowledge file is missing, unreadable or does not follow its schema."""

    def __init__(self, file: str, entry: str, problem: str, fix: str) -> None:
        self.file, self.entry, self.problem, self.fix = file, entry, problem, fix
        super().__init__(f"{file}: {entry}: {problem}. Fix: {fix}")


@dataclass(frozen=True)
class Reference:
    id: str
    short: str
    citation: str


@dataclass(frozen=True)
class Topic:
    id: str
    intent: str
    title: str
    answer: str
    sources: tuple[str, ...]
    related: tuple[str, ...] = ()
    list_references: bool = False


@dataclass(frozen=True)
class Contraindication:
    id: str
    question: str
    explanation: str
    outcome: Outcome  # NOT_SUITABLE_NOW or PRACTITIONER_REVIEW
    terms: tuple[str, ...]
    what_would_change: str = ""


@dataclass(frozen=True)
class Screening:
    source: str
    contraindications: tuple[Contraindication, ...]
    outcomes: dict[Outcome, str]
    unsure_reason: str

    def by_id(self, rule_id: str) -> Contraindication:
        for rule in self.contraindications:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


@dataclass(frozen=True)
class UrgentSign:
    id: str
    level: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Treatment:
    id: str
    label: str
    facial: bool


@dataclass(frozen=True)
class Clinic:
    name: str
    phone: str
    email: str
    booking_url: str
    address: str
    hours: str
    emergency_number: str
    disclaimer: str
    treatments: tuple[Treatment, ...]
    sms_consent_wording: str
    # Said when a message cannot be handled now (conversation or lock store unavailable).
    unavailable_message: str = ""

    def treatment(self, treatment_id: str) -> Treatment:
        for treatment in self.treatments:
            if treatment.id == treatment_id:
                return treatment
        raise KeyError(treatment_id)


@dataclass(frozen=True)
class Promotion:
    code: str
    description: str
    amount_usd: int
    treatments: tuple[str, ...]
    valid_from: dt.date
    valid_until: dt.date
    once_per_person: bool
    # The screening outcomes that may get it (never not_suitable_now: the loader refuses it).
    requires: tuple[str, ...]


@dataclass(frozen=True)
class AftercareMessage:
    id: str
    text: str
    after_hours: float | None = None
    days_after: int | None = None
    at: str | None = None


@dataclass(frozen=True)
class Knowledge:
    clinic: Clinic
    references: dict[str, Reference]
    topics: tuple[Topic, ...]
    screening: Screening
    urgent_signs: tuple[UrgentSign, ...]
    urgent_messages: dict[str, str]
    promotions: tuple[Promotion, ...]
    aftercare: tuple[AftercareMessage, ...]
    vocabulary: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    messages: dict[str, MessageText] = field(default_factory=dict)
    responses: dict[str, Any] = field(default_factory=dict)

    def topic_for_intent(self, intent: str) -> Topic | None:
        for topic in self.topics:
            if topic.intent == intent:
                return topic
        return None

    def topic(self, topic_id: str) -> Topic:
        for topic in self.topics:
            if topic.id == topic_id:
                return topic
        raise KeyError(topic_id)

    def promotion(self, code: str) -> Promotion | None:
        wanted = code.strip().upper()
        for promotion in self.promotions:
            if promotion.code == wanted:
                return promotion
        return None

    def fill(self, text: str, **extra: object) -> str:
        """Fill the clinic placeholders ({clinic_name}, ...) of a knowledge text."""
        values: dict[str, object] = {
            "clinic_name": self.clinic.name,
            "clinic_phone": self.clinic.phone,
            "booking_url": self.clinic.booking_url,
            "emergency_number": self.clinic.emergency_number,
            "clinic_email": self.clinic.email,
            "clinic_hours": self.clinic.hours,
            "disclaimer": self.clinic.disclaimer,
        }
        # The two sentences every flow shares (knowledge/messages.yml, group common).
        for name, key in (("consultation_contact", CONSULTATION_CONTACT_KEY),
                          ("see_practitioner", SEE_PRACTITIONER_KEY)):
            shared = self.messages.get(key)
            if shared is not None:
                values[name] = shared.text.format(**values)
        values.update(extra)
        return text.format(**values)

    def say(self, message: Message, **values: object) -> str:
        """The text of a registered message (clinic.knowledge.messages), its placeholders filled.

        The keywords must be exactly the placeholders the message was registered with.
        """
        return self._text(message, values).text_filled

    def utter(self, message: Message, **values: object) -> dict[str, Any]:
        """``dispatcher.utter_message(**k.utter(M.X, ...))``: the text and its buttons."""
        rendered = self._text(message, values)
        reply: dict[str, Any] = {"text": rendered.text_filled}
        if rendered.buttons:
            reply["buttons"] = [dict(button) for button in rendered.buttons]
        return reply

    def buttons(self, message: Message) -> list[dict[str, str]]:
        """The buttons written with a message (titles in knowledge, payloads as written)."""
        return [dict(button) for button in self._entry(message).buttons]

    def _entry(self, message: Message) -> MessageText:
        try:
            return self.messages[message.key]
        except KeyError:
            raise KeyError(f"message {message.key!r} is not in knowledge/messages.yml") from None

    def _text(self, message: Message, values: dict[str, object]) -> _Rendered:
        given = set(values)
        if given != message.placeholders:
            raise TypeError(f"message {message.key!r} fills {sorted(message.placeholders)}, "
                            f"was given {sorted(given)}")
        entry = self._entry(message)
        return _Rendered(self.fill(entry.text, **values), entry.buttons)


@dataclass(frozen=True)
class MessageText:
    """One entry of knowledge/messages.yml: a text and the buttons shown with it."""

    text: str
    buttons: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class _Rendered:
    text_filled: str
    buttons: tuple[dict[str, str], ...]


CONSULTATION_CONTACT_KEY = "common.consultation_contact"
SEE_PRACTITIONER_KEY = "common.see_practitioner"


# --------------------------------------------------------------------------- reading


class _Entry:
    """Typed access to one mapping of a knowledge file, raising KnowledgeError."""

    def __init__(self, data: Any, file: str, entry: str) -> None:
        if not isinstance(data, dict):
            raise KnowledgeError(
                file, entry, f"expected a mapping of fields, found {type(data).__name__}",
                "write the entry as 'field: value' lines",
            )
        self.data, self.file, self.entry = data, file, entry

    def fail(self, problem: str, fix: str) -> KnowledgeError:
        return KnowledgeError(self.file, self.entry, problem, fix)

    def text(self, key: str, required: bool = True, default: str = "",
             placeholders: tuple[str, ...] = ()) -> str:
        value = self.data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise self.fail(f"field '{key}' is missing or empty", f"add '{key}: <text>'")
            return default
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise self.fail(f"field '{key}' must be text", f"write '{key}' as a plain sentence")
        value = " ".join(str(value).split())
        _check_placeholders(self, key, value, placeholders)
        return value

    def ident(self, key: str = "id") -> str:
        value = self.text(key)
        if not _ID.match(value):
            raise self.fail(
                f"'{key}' is '{value}', not a valid id",
                "use lower-case letters, digits and underscores, starting with a letter",
            )
        return value

    def text_list(self, key: str, required: bool = True) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(f"field '{key}' is missing", f"add '{key}: [..]'")
            return ()
        if not isinstance(value, list) or not all(
            isinstance(item, (str, int)) and str(item).strip() for item in value
        ):
            raise self.fail(f"field '{key}' must be a list of words", f"write '{key}: [a, b]'")
        return tuple(" ".join(str(item).split()) for item in value)

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in options:
            raise self.fail(
                f"'{key}' is '{value}'", f"use one of: {', '.join(options)}"
            )
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"'{key}' must be true or false", f"write '{key}: true' or 'false'")
        return value

    def date(self, key: str) -> dt.date:
        value = self.data.get(key)
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.fail(f"'{key}' is not a date ({value!r})", f"write '{key}: YYYY-MM-DD'")

    def number(self, key: str, required: bool = True) -> float | None:
        value = self.data.get(key)
        if value is None and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise self.fail(f"'{key}' must be a number of 0 or more", f"write '{key}: 3'")
        return value


def _check_placeholders(entry: _Entry, key: str, value: str,
                        extra: tuple[str, ...] = ()) -> None:
    for name in re.findall(r"\{([^{}]*)\}", value):
        if name not in PLACEHOLDERS + extra:
            raise entry.fail(
                f"field '{key}' uses an unknown placeholder '{{{name}}}'",
                f"use only {', '.join('{' + p + '}' for p in PLACEHOLDERS + extra)}",
            )


def _read_yaml(directory: Path, name: str) -> tuple[Any, str]:
    path = directory / name
    label = f"knowledge/{name}" if directory == DEFAULT_KNOWLEDGE_DIR else str(path)
    if not path.is_file():
        raise KnowledgeError(label, "(file)", "the file is missing", f"restore {name}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise KnowledgeError(label, "(file)", "the file is not UTF-8 text", "save it as UTF-8") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        problem = getattr(error, "problem", None) or str(error)
        raise KnowledgeError(
            label, where, f"the YAML cannot be read ({problem})",
            "check indentation and quotes; put text containing ':' in quotes",
        ) from None
    if not isinstance(data, dict):
        raise KnowledgeError(label, "(file)", "the file is empty or not a mapping",
                             "start the file with its top-level key, as in git history")
    return data, label


def _entries(data: dict[str, Any], key: str, label: str) -> list[Any]:
    items = data.get(key)
    if not isinstance(items, list) or not items:
        raise KnowledgeError(label, key, f"'{key}' is missing or not a list",
                             f"write '{key}:' followed by '- ' entries")
    return items


def _unique(ids: list[str], label: str, what: str) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise KnowledgeError(label, f"{what} '{item}'", "the id is used twice",
                                 "give every entry its own id")
        seen.add(item)


def _load_clinic(directory: Path) -> Clinic:
    data, label = _read_yaml(directory, "clinic.yml")
    entry = _Entry(data, label, "clinic")
    env = os.environ
    treatments = []
    for index, raw in enumerate(_entries(data, "treatments", label)):
        item = _Entry(raw, label, f"treatments[{index}]")
        treatments.append(Treatment(item.ident(), item.text("label"), item.flag("facial")))
    _unique([t.id for t in treatments], label, "treatment")
    return Clinic(
        name=env.get("CLINIC_NAME") or entry.text("name"),
        phone=env.get("CLINIC_PHONE") or entry.text("phone"),
        email=env.get("CLINIC_EMAIL") or entry.text("email"),
        booking_url=env.get("CLINIC_BOOKING_URL") or entry.text("booking_url"),
        address=entry.text("address", required=False),
        hours=env.get("CLINIC_HOURS") or entry.text("hours"),
        emergency_number=entry.text("emergency_number"),
        disclaimer=entry.text("disclaimer"),
        treatments=tuple(treatments),
        sms_consent_wording=entry.text("sms_consent_wording"),
        unavailable_message=entry.text("unavailable_message", required=False),
    )


def _load_references(directory: Path) -> dict[str, Reference]:
    data, label = _read_yaml(directory, "references.yml")
    refs = []
    for index, raw in enumerate(_entries(data, "references", label)):
        item = _Entry(raw, label, f"references[{index}]")
        ref_id = item.ident()
        item.entry = f"reference '{ref_id}'"
        refs.append(Reference(ref_id, item.text("short"), item.text("citation")))
    _unique([r.id for r in refs], label, "reference")
    return {r.id: r for r in refs}


def _load_topics(directory: Path, references: dict[str, Reference]) -> tuple[Topic, ...]:
    data, label = _read_yaml(directory, "topics.yml")
    topics = []
    for index, raw in enumerate(_entries(data, "topics", label)):
        item = _Entry(raw, label, f"topics[{index}]")
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
    _unique([t.id for t in topics], label, "topic")
    _unique([t.intent for t in topics], label, "intent")
    ids = {t.id for t in topics}
    for topic in topics:
        for related in topic.related:
            if related not in ids:
                raise KnowledgeError(label, f"topic '{topic.id}'",
                                     f"related topic '{related}' does not exist",
                                     "use the id of another topic in this file")
    return tuple(topics)


def _load_screening(directory: Path, references: dict[str, Reference]) -> Screening:
    data, label = _read_yaml(directory, "screening.yml")
    rules = {}
    for index, raw in enumerate(_entries(data, "contraindications", label)):
        item = _Entry(raw, label, f"contraindications[{index}]")
        rule_id = item.ident()
        item.entry = f"contraindication '{rule_id}'"
        outcome = Outcome(item.choice("outcome", YES_OUTCOMES))
        rule = Contraindication(
            id=rule_id,
            question=item.text("question"),
            explanation=item.text("explanation"),
            outcome=outcome,
            terms=item.text_list("terms"),
            what_would_change=item.text(
                "what_would_change", required=outcome == OUTCOME_NOT_SUITABLE_NOW
            ),
        )
        if rule_id in rules:
            raise item.fail("the id is used twice", "give every contraindication its own id")
        rules[rule_id] = rule
    order = data.get("order")
    if order is None:
        order = list(rules)
    if not isinstance(order, list) or sorted(order) != sorted(rules):
        missing = sorted(set(rules) - set(order or []))
        extra = sorted(set(order or []) - set(rules))
        raise KnowledgeError(
            label, "order",
            f"the question order must list every contraindication once "
            f"(missing: {missing or 'none'}, unknown: {extra or 'none'})",
            "list each contraindication id exactly once under 'order'",
        )
    source = str(data.get("source", ""))
    if source not in references:
        raise KnowledgeError(label, "source", f"'{source}' is not a known reference",
                             "use an id from knowledge/references.yml")
    outcomes_entry = _Entry(data.get("outcomes"), label, "outcomes")
    outcomes = {
        name: outcomes_entry.text(name)
        for name in (OUTCOME_ELIGIBLE, OUTCOME_NOT_SUITABLE_NOW, OUTCOME_PRACTITIONER_REVIEW,
                     OUTCOME_INCOMPLETE)
    }
    unsure = _Entry(data, label, "screening").text("unsure_reason")
    return Screening(source, tuple(rules[rule_id] for rule_id in order), outcomes, unsure)


def _load_urgent(directory: Path) -> tuple[tuple[UrgentSign, ...], dict[str, str]]:
    data, label = _read_yaml(directory, "urgent.yml")
    signs = []
    for index, raw in enumerate(_entries(data, "signs", label)):
        item = _Entry(raw, label, f"signs[{index}]")
        sign_id = item.ident()
        item.entry = f"sign '{sign_id}'"
        signs.append(UrgentSign(sign_id, item.choice("level", URGENT_LEVELS),
                                item.text_list("terms")))
    _unique([s.id for s in signs], label, "sign")
    messages = _Entry(data.get("messages"), label, "messages")
    return tuple(signs), {level: messages.text(level) for level in URGENT_LEVELS}


# Outcomes a promotion may require. not_suitable_now (and an unfinished screening) can
# never be: nobody the screening rules out is offered or given a promotion.
PROMOTABLE_OUTCOMES = (OUTCOME_ELIGIBLE, OUTCOME_PRACTITIONER_REVIEW)


def _promotion_requires(item: _Entry) -> tuple[str, ...]:
    """``requires``: one outcome or a list of them, each one a promotion may require."""
    value = item.data.get("requires")
    values: list[Any] = value if isinstance(value, list) else [value]
    texts = [v.strip() for v in values if isinstance(v, str) and v.strip()]
    if not values or len(texts) != len(values):
        raise item.fail("field 'requires' is missing or not a list of screening outcomes",
                        f"write 'requires: [{OUTCOME_ELIGIBLE}]'")
    outcomes = tuple(texts)
    for outcome in outcomes:
        if outcome in (OUTCOME_NOT_SUITABLE_NOW, OUTCOME_INCOMPLETE):
            raise item.fail(f"'requires' includes '{outcome}': a promotion is never offered to "
                            "people the screening rules out or has not finished",
                            f"remove '{outcome}'; use only {', '.join(PROMOTABLE_OUTCOMES)}")
        if outcome not in PROMOTABLE_OUTCOMES:
            raise item.fail(f"'requires' includes '{outcome}', which is not a screening outcome",
                            f"use one or more of: {', '.join(PROMOTABLE_OUTCOMES)}")
    return outcomes


def _promotion_description(item: _Entry, amount_usd: int) -> str:
    """``description`` with ``{amount}`` filled from ``amount_usd`` (the one place it is said)."""
    text = item.text("description", placeholders=("amount",))
    if re.search(r"\$\s*\d", text):
        raise item.fail("'description' writes the amount out", "write ${amount} instead: it is "
                        "filled from amount_usd, so the amount is changed in one place")
    return text.replace("{amount}", str(amount_usd))


def _load_promotions(directory: Path, clinic: Clinic) -> tuple[Promotion, ...]:
    data, label = _read_yaml(directory, "promotions.yml")
    promotions = []
    treatment_ids = {t.id for t in clinic.treatments}
    for index, raw in enumerate(_entries(data, "promotions", label)):
        item = _Entry(raw, label, f"promotions[{index}]")
        code = item.text("code").upper()
        item.entry = f"promotion '{code}'"
        if not re.fullmatch(r"[A-Z0-9]{3,20}", code):
            raise item.fail(f"code '{code}' is not valid", "use 3 to 20 letters and digits")
        amount_usd = int(item.number("amount_usd") or 0)
        promotion = Promotion(
            code=code,
            description=_promotion_description(item, amount_usd),
            amount_usd=amount_usd,
            treatments=item.text_list("treatments"),
            valid_from=item.date("valid_from"),
            valid_until=item.date("valid_until"),
            once_per_person=item.flag("once_per_person", True),
            requires=_promotion_requires(item),
        )
        for treatment in promotion.treatments:
            if treatment not in treatment_ids:
                raise item.fail(f"treatment '{treatment}' is not in knowledge/clinic.yml",
                                f"use one of: {', '.join(sorted(treatment_ids))}")
        if promotion.valid_until < promotion.valid_from:
            raise item.fail("valid_until is before valid_from", "swap or correct the dates")
        promotions.append(promotion)
    _unique([p.code for p in promotions], label, "promotion")
    return tuple(promotions)


def _load_aftercare(directory: Path) -> tuple[AftercareMessage, ...]:
    data, label = _read_yaml(directory, "aftercare_plan.yml")
    messages = []
    for index, raw in enumerate(_entries(data, "messages", label)):
        item = _Entry(raw, label, f"messages[{index}]")
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
    _unique([m.id for m in messages], label, "message")
    return tuple(messages)


def _load_vocabulary(directory: Path) -> dict[str, dict[str, tuple[str, ...]]]:
    data, label = _read_yaml(directory, "vocabulary.yml")
    vocabulary: dict[str, dict[str, tuple[str, ...]]] = {}
    for group in ("treatments", "conditions"):
        entry = _Entry(data.get(group), label, group)
        vocabulary[group] = {
            key: entry.text_list(key) for key in entry.data
        }
    return vocabulary


_FIELD = re.compile(r"\{([^{}]*)\}")


def _message_text(data: Any, label: str, key: str) -> MessageText:
    """A message written as a string, or as ``{text: ..., buttons: [{title, payload}]}``."""
    if isinstance(data, str):
        data = {"text": data}
    entry = _Entry(data, label, key)
    unknown = set(entry.data) - {"text", "buttons"}
    if unknown:
        raise entry.fail(f"unknown field(s) {sorted(unknown)}", "write only 'text' and 'buttons'")
    text = entry.data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise entry.fail("the text is missing, empty or not text", "write 'text: <sentence>'")
    text = text.strip()
    buttons = entry.data.get("buttons") or []
    if not isinstance(buttons, list):
        raise entry.fail("'buttons' is not a list", "write '- title: ...' / 'payload: ...' items")
    parsed = []
    for number, button in enumerate(buttons, start=1):
        item = _Entry(button, label, f"{key} button {number}")
        parsed.append({"title": item.text("title"), "payload": item.text("payload")})
    return MessageText(text, tuple(parsed))


def _load_messages(directory: Path) -> tuple[dict[str, MessageText], dict[str, Any]]:
    """knowledge/messages.yml, checked against the registry of clinic/knowledge/messages.py."""
    data, label = _read_yaml(directory, "messages.yml")
    unknown_groups = set(data) - set(GROUPS) - {RESPONSES_GROUP}
    if unknown_groups:
        raise KnowledgeError(label, ", ".join(sorted(unknown_groups)), "unknown group",
                             f"use the groups {', '.join(GROUPS + (RESPONSES_GROUP,))}")
    messages: dict[str, MessageText] = {}
    for group in GROUPS:
        entries = data.get(group) or {}
        if not isinstance(entries, dict):
            raise KnowledgeError(label, group, "the group is not a mapping",
                                 "write 'name: text' lines under the group")
        for name, value in entries.items():
            key = f"{group}.{name}"
            message = REGISTRY.get(key)
            if message is None:
                raise KnowledgeError(
                    label, key, "no code says this message (a misspelled or unused key)",
                    "use a key registered in clinic/knowledge/messages.py, or register it there")
            text = _message_text(value, label, key)
            allowed = message.placeholders | STANDARD_PLACEHOLDERS
            for placeholder in _FIELD.findall(text.text):
                if placeholder not in allowed:
                    raise KnowledgeError(
                        label, key, f"the code doesn't fill the placeholder '{{{placeholder}}}'",
                        "use only " + (", ".join("{" + p + "}" for p in sorted(allowed))))
            messages[key] = text
    missing = sorted(set(REGISTRY) - set(messages))
    if missing:
        raise KnowledgeError(label, missing[0], "the message is missing",
                             f"add '{missing[0].split('.', 1)[1]}:' under "
                             f"'{missing[0].split('.', 1)[0]}:' (the code says it)")
    responses = data.get(RESPONSES_GROUP) or {}
    if not isinstance(responses, dict):
        raise KnowledgeError(label, RESPONSES_GROUP, "the group is not a mapping",
                             "write 'utter_name:' entries, as in git history")
    for name, variants in responses.items():
        if not str(name).startswith("utter_"):
            raise KnowledgeError(label, f"{RESPONSES_GROUP}.{name}", "a response name must start "
                                 "with 'utter_'", "rename it utter_<name>")
        if not isinstance(variants, list) or not variants:
            raise KnowledgeError(label, f"{RESPONSES_GROUP}.{name}", "no variant is written",
                                 "write '- text: ...' (optionally with buttons)")
        for number, variant in enumerate(variants, start=1):
            _message_text(variant, label, f"{RESPONSES_GROUP}.{name} variant {number}")
    return messages, responses


def load_knowledge(directory: Path | str | None = None) -> Knowledge:
    """Read and check every knowledge file; raise KnowledgeError on the first problem."""
    directory = knowledge_dir(directory)
    clinic = _load_clinic(directory)
    references = _load_references(directory)
    signs, urgent_messages = _load_urgent(directory)
    messages, responses = _load_messages(directory)
    return Knowledge(
        clinic=clinic,
        references=references,
        topics=_load_topics(directory, references),
        screening=_load_screening(directory, references),
        urgent_signs=signs,
        urgent_messages=urgent_messages,
        promotions=_load_promotions(directory, clinic),
        aftercare=_load_aftercare(directory),
        vocabulary=_load_vocabulary(directory),
        messages=messages,
        responses=responses,
    )


@lru_cache(maxsize=1)
def knowledge() -> Knowledge:
    """The project's knowledge, loaded once per process."""
    return load_knowledge()
