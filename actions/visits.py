"""Choosing a visit time after the booking request is saved (issue 20).

Thin adapters over clinic/services/appointments.py (calendar and database) and
clinic/nlu/visit_dialogue.py (what a reply means). ``offer_after_booking`` is called by
action_submit_booking: with free times, the ``visit_form`` asks which one (buttons with the
date spelled out; typed "the second one", "4:30", "friday afternoon" or "none" work too).
Without the calendar (down, slow, not configured) nothing is offered and the booking request
stands as before: no time is ever promised that was not held.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.tracker_reading import kb, latest_intent, latest_text, safety_mentions
from clinic.knowledge import messages as M
from clinic.nlu.safety_mention import MentionKind
from clinic.nlu.visit_dialogue import CHOSEN, OTHER_WINDOW, SKIP, default_window, read_reply
from clinic.rules.availability import Window, parse_window, spoken_slot
from clinic.services import appointments
from clinic.store.caldav_calendar import CalendarUnavailable
from clinic.store.db import DatabaseUnavailable
from clinic.store.models import utcnow

logger = logging.getLogger(__name__)

VISIT_SLOTS = ("visit_choice", "visit_offers", "visit_note", "visit_booking_id", "visit_treatment")
CLEAR = [SlotSet(slot, None) for slot in VISIT_SLOTS]


# The clinic's scheduler, made once per process (shared with actions/manage_visit.py).
scheduler = appointments.shared_scheduler


def _offer(treatment: str, window: Window, now: dt.datetime) -> list[dt.datetime]:
    return appointments.offer(scheduler(), treatment, window, now)


async def offers_for(treatment: str, said: str, now: dt.datetime) -> tuple[list[str], str | None]:
    """Free times (ISO) for what the person said, else the nearest ones; and a note key."""
    sched = scheduler()
    horizon = sched.rules.horizon_days
    window = parse_window(said, now, sched.tz, horizon) or default_window(now, sched.tz, horizon)
    found = await asyncio.to_thread(_offer, treatment, window, now)
    note = None
    if not found:
        found = await asyncio.to_thread(_offer, treatment, default_window(now, sched.tz, horizon),
                                        now)
        note = "none_then"
    return [slot.isoformat() for slot in found], note


async def offer_after_booking(tracker: Tracker, reference: str) -> list[EventType]:
    """Events that start the visit form when the calendar has free times; [] otherwise."""
    treatment = tracker.get_slot("booking_treatment") or ""
    try:
        booking_id = await asyncio.to_thread(appointments.booking_id_for, reference)
        offers, note = await offers_for(treatment, tracker.get_slot("booking_times") or "",
                                        utcnow())
    except (CalendarUnavailable, DatabaseUnavailable, KeyError, OSError) as error:
        logger.warning("no visit times offered: %s", type(error).__name__)
        return []
    except Exception as error:  # noqa: BLE001 - the request is saved: never fail the person now
        logger.error("no visit times offered (unexpected %s)", type(error).__name__)
        return []
    if not offers or booking_id is None:
        return []
    return [SlotSet("visit_offers", offers), SlotSet("visit_note", note),
            SlotSet("visit_booking_id", booking_id), SlotSet("visit_choice", None),
            SlotSet("visit_treatment", treatment),
            FollowupAction("visit_form")]


def _offered(tracker: Tracker) -> list[dt.datetime]:
    return [dt.datetime.fromisoformat(value) for value in (tracker.get_slot("visit_offers") or [])]


class ActionAskVisitChoice(Action):
    """The offered times as buttons, after a note (not understood, taken, none then)."""

    def name(self) -> str:
        return "action_ask_visit_choice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        k = kb()
        note = tracker.get_slot("visit_note") or ""
        lines = []
        if note == "none_then":
            lines.append(k.say(M.BOOKING_VISIT_NONE_THEN))
        elif note == "unclear":
            lines.append(k.say(M.BOOKING_VISIT_NOT_UNDERSTOOD))
        elif note.startswith("taken:"):
            lines.append(k.say(M.BOOKING_VISIT_TAKEN,
                               when=spoken_slot(dt.datetime.fromisoformat(note[6:]))))
        lines.append(k.say(M.BOOKING_VISIT_OFFER))
        buttons = [{"title": spoken_slot(slot), "payload": slot.isoformat()}
                   for slot in _offered(tracker)]
        dispatcher.utter_message(text=" ".join(lines), buttons=buttons)
        return [SlotSet("visit_note", None)]


class ValidateVisitForm(FormValidationAction):
    """Reads the reply to the offered times; holds the chosen one right away."""

    def name(self) -> str:
        return "validate_visit_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        return ["visit_choice"]

    def extract_visit_choice(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot(REQUESTED_SLOT) != "visit_choice":
            return {}
        # an urgent sign: the rules take over (urgent care advice)
        if latest_intent(tracker)[0] == "report_urgent_symptoms":
            return {}
        # a new contraindication: no time is held; the practitioner calls (the request stands)
        if any(m.is_recorded for m in safety_mentions(tracker, MentionKind.CONTRAINDICATION)):
            return {"visit_choice": "skipped"}
        return {"visit_choice": latest_text(tracker)}

    async def validate_visit_choice(self, value: Any, dispatcher: CollectingDispatcher,
                                    tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if value is None or tracker.get_slot(REQUESTED_SLOT) != "visit_choice":
            # the form's activation validates the slot offer_after_booking just cleared:
            # nothing has been answered yet (it said "didn't catch which time" to the
            # "yes, send it" that submitted the booking request)
            return {"visit_choice": None}
        sched = scheduler()
        now = utcnow()
        reply = read_reply(str(value or ""), _offered(tracker), now, sched.tz,
                           sched.rules.horizon_days)
        if str(value) == "skipped" or reply.kind == SKIP:
            return {"visit_choice": "skipped"}
        if reply.kind == OTHER_WINDOW and reply.window is not None:
            treatment = tracker.get_slot("visit_treatment") or ""
            try:
                found = await asyncio.to_thread(_offer, treatment, reply.window, now)
                note = None
                if not found:
                    found = await asyncio.to_thread(
                        _offer, treatment, default_window(now, sched.tz, sched.rules.horizon_days),
                        now)
                    note = "none_then"
            except CalendarUnavailable:
                return {"visit_choice": "pending:"}
            if not found:
                return {"visit_choice": "nothing_free"}
            return {"visit_choice": None, "visit_offers": [s.isoformat() for s in found],
                    "visit_note": note}
        if reply.kind != CHOSEN or reply.start is None:
            return {"visit_choice": None, "visit_note": "unclear"}
        booking_id = tracker.get_slot("visit_booking_id")
        try:
            result = await asyncio.to_thread(appointments.hold, sched, int(booking_id), reply.start)
        except (appointments.NotAllowed, DatabaseUnavailable, TypeError, ValueError) as error:
            logger.warning("visit not held: %s", type(error).__name__)
            return {"visit_choice": "skipped"}
        except Exception as error:  # noqa: BLE001 - the request stands; the clinic calls
            logger.error("visit not held (unexpected %s)", type(error).__name__)
            return {"visit_choice": "skipped"}
        if result.outcome == appointments.HELD:
            return {"visit_choice": f"held:{reply.start.isoformat()}"}
        if result.outcome == appointments.PENDING:
            return {"visit_choice": f"pending:{reply.start.isoformat()}"}
        if not result.alternatives:
            return {"visit_choice": "nothing_free"}
        return {"visit_choice": None,
                "visit_offers": [s.isoformat() for s in result.alternatives],
                "visit_note": f"taken:{reply.start.isoformat()}"}


class ActionVisitChosen(Action):
    """What happened to the visit, said once the form is done; the visit slots are cleared."""

    def name(self) -> str:
        return "action_visit_chosen"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        k = kb()
        choice = str(tracker.get_slot("visit_choice") or "skipped")
        reference = tracker.get_slot("booking_reference") or ""
        kind, _, when = choice.partition(":")
        spoken = spoken_slot(dt.datetime.fromisoformat(when)) if when else ""
        if kind == "held":
            dispatcher.utter_message(text=k.say(M.BOOKING_VISIT_HELD, when=spoken,
                                                reference=reference))
        elif kind == "pending":
            if spoken:
                dispatcher.utter_message(text=k.say(M.BOOKING_VISIT_PENDING, when=spoken))
            else:
                dispatcher.utter_message(text=k.say(M.BOOKING_SAVED_NEXT))
        elif kind == "nothing_free":
            dispatcher.utter_message(text=k.say(M.BOOKING_VISIT_NOTHING_FREE))
        else:
            dispatcher.utter_message(text=k.say(M.BOOKING_VISIT_SKIPPED, reference=reference))
        return CLEAR
