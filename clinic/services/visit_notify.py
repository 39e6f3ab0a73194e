"""Telling the patient in the chat widget when staff confirm or decline their visit.

If the booking came from the widget (socket.io), the sentence is appended to that
conversation through Rasa's HTTP API with the widget as output channel: an open tab shows
it at once (the SMS text, if the person agreed to texts, is queued by clinic.services.appointments).
A closed tab, Rasa being down, or a conversation from another channel: nothing more happens
here, and the staff action itself is never undone.
"""

from __future__ import annotations

import logging

from clinic.config.settings import settings
from clinic.knowledge import messages as M
from clinic.knowledge.kb import knowledge
from clinic.rules.availability import spoken_slot
from clinic.store.db import read_scope
from clinic.store.models import Appointment, BookingRequest

log = logging.getLogger(__name__)
WIDGET = "socketio"
KINDS = {"confirmed": M.BOOKING_VISIT_CONFIRMED_CHAT, "declined": M.BOOKING_VISIT_DECLINED_CHAT}


def widget_message(appointment_id: int, kind: str, url: str | None = None
                   ) -> tuple[str, str] | None:
    """(conversation id, sentence) for a widget booking, else None."""
    with read_scope(url) as session:
        appointment = session.get(Appointment, appointment_id)
        booking = None if appointment is None else session.get(BookingRequest,
                                                               appointment.booking_id)
        if appointment is None or booking is None or booking.channel != WIDGET:
            return None
        k = knowledge()
        try:
            label = k.clinic.treatment(str(appointment.treatment)).label
        except KeyError:
            label = str(appointment.treatment)
        text = k.say(KINDS[kind], treatment=label, reference=booking.reference,
                     when=spoken_slot(appointment.starts_at.astimezone(settings().tz)))
        return str(booking.conversation_id), text


async def tell_in_widget(appointment_id: int, kind: str, rasa_url: str | None = None) -> bool:
    """Push the sentence for ``kind`` into the widget conversation; True if Rasa took it."""
    import asyncio

    from clinic.console.takeover import TakeoverError, append_events
    from clinic.store.models import utcnow

    found = await asyncio.to_thread(widget_message, appointment_id, kind)
    if found is None:
        return False
    sender_id, text = found
    event = {"event": "bot", "text": text, "timestamp": utcnow().timestamp()}
    try:
        await append_events(sender_id, [event], deliver_to=WIDGET, rasa_url=rasa_url)
    except TakeoverError as error:
        log.info("Visit news not pushed to the widget: %s", error)
        return False
    return True
