"""A patient's own visit: "when is my appointment?", "move it to Friday", "cancel it",
"what happens next?", "I'm running late", and the reminder's C / R / X replies (issue 20).

Thin adapters: what the words mean is read by clinic/nlu/visit_request.py (pure), who the
person is and what may be done by clinic/services/visit_self_service.py (which checks, on
every call, that the visit is the person's own). ``action_manage_visit`` answers the
request, or starts ``manage_visit_form`` when it needs a reply: the reference and mobile
number (widget without a booking from this chat), yes/no before cancelling, a day to move to,
or a pick among the free times.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.tracker_reading import kb, latest_intent, latest_text
from clinic.knowledge import messages as M
from clinic.nlu import visit_request as V
from clinic.nlu.visit_dialogue import default_window
from clinic.rules.availability import Window, parse_window, spoken_slot
from clinic.services import appointments, visit_self_service
from clinic.services.visit_lookup import Owner, OwnVisit, find_by_reference
from clinic.store.caldav_calendar import CalendarUnavailable
from clinic.store.db import DatabaseUnavailable
from clinic.store.models import utcnow

scheduler = appointments.shared_scheduler

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # wrong reference + number pairs before the assistant stops looking
FORM_SLOTS = ("manage_reply", "manage_step", "manage_request", "manage_visit_id",
              "manage_offers", "manage_note")
CLEAR = [SlotSet(slot, None) for slot in FORM_SLOTS]
FINISHED = CLEAR + [SlotSet("manage_next", "done")]
DONE = "done"
WHEN_MESSAGE = {"held": M.MANAGE_WHEN_HELD, "confirmed": M.MANAGE_WHEN_CONFIRMED,
                "pending_calendar": M.MANAGE_WHEN_PENDING}
NEXT_MESSAGE = {"held": M.MANAGE_NEXT_HELD, "confirmed": M.MANAGE_NEXT_CONFIRMED,
                "pending_calendar": M.MANAGE_WHEN_PENDING}


def _ways(tracker: Tracker) -> list[Owner]:
    return visit_self_service.ways_to_find(tracker.get_latest_input_channel() or "",
                                           tracker.sender_id, tracker.get_slot("manage_ref"),
                                           tracker.get_slot("manage_phone"))


def _say(dispatcher: CollectingDispatcher, message: M.Message, visit: OwnVisit,
         start: dt.datetime | None = None) -> None:
    k = kb()
    when = spoken_slot((start or visit.starts_at).astimezone(scheduler().tz))
    try:
        treatment = str(k.clinic.treatment(visit.treatment).label)
    except KeyError:
        treatment = visit.treatment
    dispatcher.utter_message(**k.utter(message, treatment=treatment, when=when,
                                       reference=visit.reference))


def requested(tracker: Tracker) -> str:
    """The change asked for: the reminder reply's payload entity, else read from the words."""
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == "visit_request" and entity.get("value") in V.REQUESTS:
            return str(entity["value"])
    return V.read_request(latest_text(tracker))


async def _find(tracker: Tracker) -> tuple[Owner | None, list[OwnVisit]]:
    return await asyncio.to_thread(visit_self_service.find, _ways(tracker), utcnow())


async def _offers(owner: Owner, visit: OwnVisit, window: Window) -> list[dt.datetime]:
    sched = scheduler()
    now = utcnow()
    found = await asyncio.to_thread(visit_self_service.move_offers, sched, owner,
                                    visit.appointment_id, window, now)
    if not found:
        found = await asyncio.to_thread(
            visit_self_service.move_offers, sched, owner, visit.appointment_id,
            default_window(now, sched.tz, sched.rules.horizon_days), now)
    return found


async def act(request: str, text: str, owner: Owner, visits: list[OwnVisit],
              dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """Answer ``request`` for the person's soonest visit; the slots to set (a next step for
    the form, or ``manage_reply: done``)."""
    visit = visits[0]
    done: dict[str, Any] = {"manage_reply": DONE, "manage_step": None}
    now = utcnow()
    if request == V.WHEN:
        _say(dispatcher, WHEN_MESSAGE.get(visit.state, M.MANAGE_WHEN_HELD), visit)
        if len(visits) > 1:
            dispatcher.utter_message(text=kb().say(M.MANAGE_MORE_VISITS, count=len(visits) - 1))
        return done
    if request == V.NEXT:
        _say(dispatcher, NEXT_MESSAGE.get(visit.state, M.MANAGE_NEXT_HELD), visit)
        return done
    if request in (V.LATE, V.CONFIRM):
        kind = "running_late" if request == V.LATE else "patient_confirmed"
        await asyncio.to_thread(visit_self_service.note, owner, visit.appointment_id, kind, now)
        if request == V.LATE:
            _say(dispatcher, M.MANAGE_LATE, visit)
        else:
            _say(dispatcher, M.MANAGE_PATIENT_CONFIRMED if visit.state == "confirmed"
                 else M.MANAGE_PATIENT_CONFIRMED_HELD, visit)
        return done
    step: dict[str, Any] = {"manage_reply": None, "manage_visit_id": visit.appointment_id}
    if request == V.CANCEL:
        return {**step, "manage_step": V.CONFIRM_CANCEL}
    sched = scheduler()
    window = parse_window(text, now, sched.tz, sched.rules.horizon_days)
    if window is None:
        return {**step, "manage_step": V.MOVE_WHEN}
    return await _offer_step(owner, visit, window, dispatcher, step)


async def _offer_step(owner: Owner, visit: OwnVisit, window: Window,
                      dispatcher: CollectingDispatcher, step: dict[str, Any]) -> dict[str, Any]:
    try:
        found = await _offers(owner, visit, window)
    except CalendarUnavailable:
        _say(dispatcher, M.MANAGE_CALENDAR_DOWN, visit)
        return {"manage_reply": DONE, "manage_step": None}
    if not found:
        _say(dispatcher, M.MANAGE_MOVE_NOTHING_FREE, visit)
        return {"manage_reply": DONE, "manage_step": None}
    return {**step, "manage_step": V.MOVE_PICK, "manage_offers": [s.isoformat() for s in found]}


def _events(values: dict[str, Any]) -> list[EventType]:
    """The slots, and ``manage_next``: the rules start manage_visit_form on ``ask``."""
    events: list[EventType] = [SlotSet(k, v) for k, v in values.items() if k != "manage_reply"]
    events.append(SlotSet("manage_next", "done" if values.get("manage_reply") == DONE else "ask"))
    return events


class ActionManageVisit(Action):
    """The entry: a request about one's own visit (intent manage_visit)."""

    def name(self) -> str:
        return "action_manage_visit"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        request = requested(tracker)
        text = latest_text(tracker)
        k = kb()
        try:
            owner, visits = await _find(tracker)
            if owner is not None:
                values = await act(request, text, owner, visits, dispatcher)
                return CLEAR + _events({**values, "manage_request": request})
        except (DatabaseUnavailable, CalendarUnavailable, appointments.NotAllowed) as error:
            logger.warning("self-service failed: %s", type(error).__name__)
            dispatcher.utter_message(text=k.say(M.MANAGE_FAILED))
            return FINISHED
        # nothing found for this conversation (or number)
        if request == V.LATE:
            dispatcher.utter_message(text=k.say(M.MANAGE_LATE_UNKNOWN))
            return FINISHED
        if request == V.NEXT:
            if tracker.get_slot("booking_reference"):  # a request without a held time
                dispatcher.utter_message(text=k.say(M.BOOKING_SAVED_NEXT))
            else:
                dispatcher.utter_message(**k.utter(M.MANAGE_NEXT_NOTHING_BOOKED))
            return FINISHED
        if (tracker.get_latest_input_channel() or "") == "twilio":
            dispatcher.utter_message(text=k.say(M.MANAGE_NOT_FOUND_SMS))
            return FINISHED
        if (tracker.get_slot("manage_attempts") or 0) >= MAX_ATTEMPTS:
            dispatcher.utter_message(text=k.say(M.MANAGE_VERIFY_LOCKED))
            return FINISHED
        return CLEAR + _events({"manage_request": request, "manage_step": V.VERIFY,
                                "manage_reply": None, "manage_text": text})


def _visit_in(visits: list[OwnVisit], appointment_id: Any) -> OwnVisit | None:
    for visit in visits:
        if appointment_id is not None and visit.appointment_id == int(appointment_id):
            return visit
    return None


class ActionAskManageReply(Action):
    """The prompt of the current step, after a note (not understood, wrong pair ...)."""

    def name(self) -> str:
        return "action_ask_manage_reply"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        k = kb()
        step = tracker.get_slot("manage_step")
        note = tracker.get_slot("manage_note") or ""
        notes = {"verify_help": M.MANAGE_VERIFY_HELP, "verify_both": M.MANAGE_VERIFY_BOTH,
                 "verify_wrong": M.MANAGE_VERIFY_WRONG,
                 "cancel_unclear": M.MANAGE_CANCEL_NOT_UNDERSTOOD,
                 "move_unclear": M.MANAGE_MOVE_NOT_UNDERSTOOD,
                 "pick_unclear": M.BOOKING_VISIT_NOT_UNDERSTOOD}
        if note in notes:
            dispatcher.utter_message(text=k.say(notes[note]))
        elif note.startswith("taken:"):
            dispatcher.utter_message(text=k.say(
                M.BOOKING_VISIT_TAKEN,
                when=spoken_slot(dt.datetime.fromisoformat(note[6:]).astimezone(scheduler().tz))))
        if step == V.VERIFY:
            if note != "verify_help":
                dispatcher.utter_message(text=k.say(M.MANAGE_VERIFY))
            return [SlotSet("manage_note", None)]
        try:
            owner, visits = await _find(tracker)
        except DatabaseUnavailable:
            owner, visits = None, []
        visit = _visit_in(visits, tracker.get_slot("manage_visit_id"))
        if owner is None or visit is None:  # gone meanwhile: nothing to ask
            dispatcher.utter_message(text=k.say(M.MANAGE_FAILED))
            return [SlotSet("manage_note", None)]
        if step == V.CONFIRM_CANCEL:
            _say(dispatcher, M.MANAGE_CANCEL_ASK, visit)
        elif step == V.MOVE_WHEN:
            _say(dispatcher, M.MANAGE_MOVE_WHEN, visit)
        elif step == V.MOVE_PICK:
            tz = scheduler().tz
            offers = [dt.datetime.fromisoformat(v) for v in tracker.get_slot("manage_offers") or []]
            when = spoken_slot(visit.starts_at.astimezone(tz))
            label = kb().say(M.MANAGE_MOVE_OFFER, treatment=visit.treatment, when=when,
                             reference=visit.reference)
            dispatcher.utter_message(text=label, buttons=[
                {"title": spoken_slot(s.astimezone(tz)), "payload": s.isoformat()}
                for s in offers])
        return [SlotSet("manage_note", None)]


class ValidateManageVisitForm(FormValidationAction):
    """Reads the reply at each step; does what it asks, on the person's own visit only."""

    def name(self) -> str:
        return "validate_manage_visit_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        return ["manage_reply"]

    def extract_manage_reply(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot(REQUESTED_SLOT) != "manage_reply":
            return {}
        if latest_intent(tracker)[0] == "report_urgent_symptoms":
            return {}  # the rules take over (urgent care advice)
        return {"manage_reply": latest_text(tracker) or "?"}

    async def validate_manage_reply(self, value: Any, dispatcher: CollectingDispatcher,
                                    tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if value is None or tracker.get_slot(REQUESTED_SLOT) != "manage_reply":
            # the form's activation validates the slots action_manage_visit just cleared:
            # nothing has been answered yet
            return {"manage_reply": None}
        sched = scheduler()
        now = utcnow()
        step = tracker.get_slot("manage_step") or ""
        offers = [dt.datetime.fromisoformat(v) for v in tracker.get_slot("manage_offers") or []]
        reply = V.read_step_reply(step, str(value), offers, now, sched.tz,
                                  sched.rules.horizon_days)
        k = kb()
        try:
            if step == V.VERIFY:
                return await self._verify(reply, dispatcher, tracker)
            owner, visits = await _find(tracker)
            visit = _visit_in(visits, tracker.get_slot("manage_visit_id"))
            if owner is None or visit is None:
                dispatcher.utter_message(text=k.say(M.MANAGE_FAILED))
                return {"manage_reply": DONE}
            if step == V.CONFIRM_CANCEL:
                return await self._cancel(reply, owner, visit, dispatcher)
            return await self._move(step, reply, owner, visit, dispatcher)
        except CalendarUnavailable:
            visit_or_none = None
            try:
                _, visits = await _find(tracker)
                visit_or_none = _visit_in(visits, tracker.get_slot("manage_visit_id"))
            except DatabaseUnavailable:
                pass
            if visit_or_none is not None:
                _say(dispatcher, M.MANAGE_CALENDAR_DOWN, visit_or_none)
            else:
                dispatcher.utter_message(text=k.say(M.MANAGE_FAILED))
            return {"manage_reply": DONE}
        except (DatabaseUnavailable, appointments.NotAllowed) as error:
            logger.warning("self-service step failed: %s", type(error).__name__)
            dispatcher.utter_message(text=k.say(M.MANAGE_FAILED))
            return {"manage_reply": DONE}

    async def _verify(self, reply: V.StepReply, dispatcher: CollectingDispatcher,
                      tracker: Tracker) -> dict[str, Any]:
        k = kb()
        if reply.meaning in (V.NO, V.STOP):
            dispatcher.utter_message(text=k.say(M.MANAGE_VERIFY_STOPPED))
            return {"manage_reply": DONE}
        if reply.meaning == V.PARTIAL_IDENTITY:
            return {"manage_reply": None, "manage_note": "verify_both"}
        identity = reply.identity
        if reply.meaning != V.IDENTITY or identity is None or not identity.reference \
                or not identity.phone:
            return {"manage_reply": None, "manage_note": "verify_help"}
        owner = Owner(reference=identity.reference, reference_phone=identity.phone)
        visits = await asyncio.to_thread(find_by_reference, identity.reference, identity.phone,
                                         utcnow())
        if visits is None:  # this reference failed too often, from any conversation
            dispatcher.utter_message(text=k.say(M.MANAGE_VERIFY_LOCKED))
            return {"manage_reply": DONE, "manage_attempts": MAX_ATTEMPTS}
        if not visits:
            attempts = int(tracker.get_slot("manage_attempts") or 0) + 1
            if attempts >= MAX_ATTEMPTS:
                dispatcher.utter_message(text=k.say(M.MANAGE_VERIFY_LOCKED))
                return {"manage_reply": DONE, "manage_attempts": attempts}
            return {"manage_reply": None, "manage_note": "verify_wrong",
                    "manage_attempts": attempts}
        found = {"manage_ref": identity.reference, "manage_phone": identity.phone}
        request = tracker.get_slot("manage_request") or V.WHEN
        values = await act(request, tracker.get_slot("manage_text") or "", owner, visits,
                           dispatcher)
        return {**found, **values}

    async def _cancel(self, reply: V.StepReply, owner: Owner, visit: OwnVisit,
                      dispatcher: CollectingDispatcher) -> dict[str, Any]:
        if reply.meaning in (V.NO, V.STOP):
            _say(dispatcher, M.MANAGE_KEPT, visit)
            return {"manage_reply": DONE}
        if reply.meaning != V.YES:
            return {"manage_reply": None, "manage_note": "cancel_unclear"}
        await asyncio.to_thread(visit_self_service.cancel, scheduler(), owner,
                                visit.appointment_id, utcnow())
        _say(dispatcher, M.MANAGE_CANCELLED, visit)
        return {"manage_reply": DONE}

    async def _move(self, step: str, reply: V.StepReply, owner: Owner, visit: OwnVisit,
                    dispatcher: CollectingDispatcher) -> dict[str, Any]:
        if reply.meaning in (V.NO, V.STOP):
            _say(dispatcher, M.MANAGE_KEPT, visit)
            return {"manage_reply": DONE}
        step_values: dict[str, Any] = {"manage_reply": None}
        if reply.meaning == V.WINDOW and reply.window is not None:
            return await _offer_step(owner, visit, reply.window, dispatcher, step_values)
        if reply.meaning != V.CHOSEN or reply.start is None:
            return {"manage_reply": None,
                    "manage_note": "pick_unclear" if step == V.MOVE_PICK else "move_unclear"}
        result = await asyncio.to_thread(visit_self_service.move, scheduler(), owner,
                                         visit.appointment_id, reply.start, utcnow())
        if result.outcome == appointments.HELD and result.start is not None:
            _say(dispatcher, M.MANAGE_MOVED, visit, start=result.start)
            return {"manage_reply": DONE}
        if result.outcome == appointments.TAKEN and result.alternatives:
            return {"manage_reply": None, "manage_step": V.MOVE_PICK,
                    "manage_offers": [s.isoformat() for s in result.alternatives],
                    "manage_note": f"taken:{reply.start.isoformat()}"}
        if result.outcome == appointments.TAKEN:
            _say(dispatcher, M.MANAGE_MOVE_NOTHING_FREE, visit)
            return {"manage_reply": DONE}
        _say(dispatcher, M.MANAGE_CALENDAR_DOWN, visit)
        return {"manage_reply": DONE}


class ActionManageVisitDone(Action):
    """The self-service form is over: its slots are cleared (what was said stays said)."""

    def name(self) -> str:
        return "action_manage_visit_done"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        return CLEAR + [SlotSet("manage_text", None), SlotSet("manage_next", None)]
