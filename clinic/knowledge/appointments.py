"""The appointment rules of ``knowledge/appointments.yml``, read and checked.

Durations and buffers per treatment, the slot grid, notice, horizon, how many times are
offered, hold expiry and the reminder's lead time. :func:`rules` refuses a malformed file
with a :class:`clinic.knowledge.kb.KnowledgeError` naming the entry and the fix.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from clinic.knowledge.kb import KnowledgeError, knowledge_dir

FILE = "appointments.yml"


@dataclass(frozen=True)
class VisitLength:
    minutes: int
    buffer_minutes: int

    @property
    def duration(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.minutes)

    @property
    def buffer(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.buffer_minutes)


@dataclass(frozen=True)
class AppointmentRules:
    lengths: dict[str, VisitLength]
    slot_step_minutes: int
    minimum_notice_hours: float
    horizon_days: int
    offer_count: int
    hold_expiry_hours: float
    reminder_lead_hours: float

    def length(self, treatment_id: str) -> VisitLength:
        try:
            return self.lengths[treatment_id]
        except KeyError:
            raise KeyError(f"treatment {treatment_id!r} has no entry in knowledge/{FILE}") from None

    @property
    def step(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.slot_step_minutes)

    @property
    def notice(self) -> dt.timedelta:
        return dt.timedelta(hours=self.minimum_notice_hours)

    @property
    def hold_expiry(self) -> dt.timedelta:
        return dt.timedelta(hours=self.hold_expiry_hours)

    @property
    def reminder_lead(self) -> dt.timedelta:
        return dt.timedelta(hours=self.reminder_lead_hours)


def _positive(data: dict[str, Any], key: str, where: str, label: str,
              allow_zero: bool = False) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (
            value == 0 and not allow_zero):
        raise KnowledgeError(label, where, f"'{key}' is missing or not a positive number",
                             f"write '{key}: 30' (a number)")
    return float(value)


def parse_rules(data: Any, label: str = f"knowledge/{FILE}") -> AppointmentRules:
    if not isinstance(data, dict):
        raise KnowledgeError(label, "(file)", "the file is empty or not a mapping",
                             "start it with 'treatments:'")
    lengths: dict[str, VisitLength] = {}
    items = data.get("treatments")
    if not isinstance(items, list) or not items:
        raise KnowledgeError(label, "treatments", "'treatments' is missing or not a list",
                             "write 'treatments:' followed by '- id: ...' entries")
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise KnowledgeError(label, "treatments", "an entry has no id", "add 'id: <treatment id>'")
        where = f"treatments/{item['id']}"
        lengths[item["id"]] = VisitLength(
            int(_positive(item, "minutes", where, label)),
            int(_positive(item, "buffer_minutes", where, label, allow_zero=True)))
    step = int(_positive(data, "slot_step_minutes", "slot_step_minutes", label))
    if 60 % step and step % 60:
        raise KnowledgeError(label, "slot_step_minutes", "the grid does not divide an hour",
                             "use 5, 10, 15, 20, 30 or 60")
    return AppointmentRules(
        lengths=lengths, slot_step_minutes=step,
        minimum_notice_hours=_positive(data, "minimum_notice_hours", "minimum_notice_hours", label,
                                       allow_zero=True),
        horizon_days=int(_positive(data, "horizon_days", "horizon_days", label)),
        offer_count=int(_positive(data, "offer_count", "offer_count", label)),
        hold_expiry_hours=_positive(data, "hold_expiry_hours", "hold_expiry_hours", label),
        reminder_lead_hours=_positive(data, "reminder_lead_hours", "reminder_lead_hours", label))


def load_rules(directory: Path | str | None = None) -> AppointmentRules:
    path = knowledge_dir(directory) / FILE
    if not path.is_file():
        raise KnowledgeError(str(path), "(file)", "the file is missing", f"restore {FILE}")
    return parse_rules(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


@lru_cache(maxsize=1)
def rules() -> AppointmentRules:
    """The rules of this process's knowledge folder, read once."""
    return load_rules()
