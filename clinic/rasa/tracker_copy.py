"""A tracker's copy made from its state, not by replaying every event of the session.

Rasa's ``DialogueStateTracker.copy`` (the processor copies the tracker before every action
it runs) builds an empty tracker and replays the whole session on it, so each action of a
turn cost more with every turn of the conversation. A tracker's state is, by Rasa's own
rule, what replaying its events gives ("MUST be re-creatable by processing all the
events"), so the copy here takes that state directly: the same events (a new deque of the
same event objects, as the replay appends them), copies of the slots and of the active loop
(the only state edited in place), the rest of the attributes as they are, and what Rasa's
replayed copy does not carry over (the sender source, the model and assistant ids) unset as
there. Subclasses, rule trackers (whose slots Rasa's copy turns into a plain dict), and
trackers whose event history is capped (``max_event_history``, where the replay of the kept
events may differ from the state) are copied Rasa's way.
``tests/unit/rasa/test_tracker_copy.py`` compares it with Rasa's copy on every story, rule
and test story, event by event.
"""

from __future__ import annotations

import copy
from typing import Any

from clinic.rasa.replace import replace_method


def tracker_copy(self: Any) -> Any:
    """Rasa's ``DialogueStateTracker.copy``, from the tracker's state."""
    from rasa.shared.core.trackers import AnySlotDict, DialogueStateTracker

    if (type(self) is not DialogueStateTracker or self._max_event_history is not None
            or isinstance(self.slots, AnySlotDict)):
        return tracker_copy.rasa_original(self)  # type: ignore[attr-defined]
    duplicate: Any = object.__new__(DialogueStateTracker)
    duplicate.__dict__.update(self.__dict__)
    duplicate.events = self._create_events(list(self.events))
    duplicate.slots = {name: copy.copy(slot) for name, slot in self.slots.items()}
    duplicate.active_loop = copy.copy(self.active_loop)
    # What Rasa's copy (init_copy, then a replay) does not carry over.
    duplicate.sender_source = None
    duplicate.model_id = None
    duplicate.assistant_id = None
    return duplicate


def patch_trackers(module: Any) -> None:
    """Install the copy on ``rasa.shared.core.trackers.DialogueStateTracker``."""
    replace_method(module.DialogueStateTracker, "copy", tracker_copy)
