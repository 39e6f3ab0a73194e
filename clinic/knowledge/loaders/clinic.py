"""knowledge/clinic.yml: the clinic's name, contacts, hours and treatments (CLINIC_* overrides)."""

from __future__ import annotations

import os
from pathlib import Path

from clinic.knowledge.loaders.reading import Entry, entry_list, read_yaml, unique
from clinic.knowledge.model import Clinic, Treatment


def load(directory: Path) -> Clinic:
    data, label = read_yaml(directory, "clinic.yml")
    entry = Entry(data, label, "clinic")
    env = os.environ
    treatments = []
    for index, raw in enumerate(entry_list(data, "treatments", label)):
        item = Entry(raw, label, f"treatments[{index}]")
        treatments.append(Treatment(item.ident(), item.text("label"), item.flag("facial")))
    unique([t.id for t in treatments], label, "treatment")
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
