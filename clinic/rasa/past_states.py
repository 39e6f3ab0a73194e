"""Past dialogue states resumed from the conversation's last turn, not replayed from its start.

Rasa's ``Domain.states_for_tracker_history`` (what ``tracker.past_states`` returns) replays
every applied event of the session on a fresh tracker and computes a state before each
action. The policies ask for it about seven times per message (RulePolicy, Memoization and
TED, before the action and before the listen), so a turn cost more with every turn of the
conversation.

Here the replay is resumed: per conversation (and per set of arguments) a *checkpoint*
keeps the applied events up to the start of the latest user turn, the replayed tracker at
that point and the states computed before it. A call whose applied events begin with the
checkpoint's events (the very same event objects, compared by identity) replays only the
events after it. Anything else (another conversation under the same sender id, a new
session, a revert or a loop that rewrote the history before the checkpoint, another
domain, other rule-only data) replays the whole history, exactly as Rasa does. The
checkpoint sits before the latest user message's ``action_listen``, which is as far back as
a ``UserUtteranceReverted`` (the FAQ action's) or a form's happy path rewrites.

The states handed out are copies (two levels: a state and its sub-states), so that the
featurizers' in-place edits (``_choose_last_user_input`` deletes a state's text or intent)
never reach the checkpoint. The result is equal to Rasa's for every tracker
(``tests/unit/rasa/test_past_states.py`` compares them turn by turn; the test stories run
with it).

**Only the states a prediction reads** (:data:`WINDOW`). Even resumed, handing out a copy of
every state of the session made a turn cost more with every turn, and so did what the
policies then do with all of them (RulePolicy formats them for a debug line and walks back
through all of them for every rule it matched). But a prediction reads a bounded tail:
MemoizationPolicy its ``max_history`` states (its featurizer slices the rest away), and
RulePolicy no more than its longest rule (``_get_possible_keys`` accepts a rule as soon as
it has walked back past the rule's length; states further back decide nothing). So while a
policy predicts, the featurizer (``max_history``) or RulePolicy (its longest rule, see
:func:`rule_window`) sets :data:`WINDOW` and only those last states are copied and handed
out: the policies' predictions are Rasa's own (``tests/unit/rasa/test_state_window.py``
compares them on every turn of the project's stories). Training and every other caller
set no window and get every state, as before. What changes is only RulePolicy's debug log
line of the current states, which shows the last states a rule can read.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import operator
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from clinic.rasa.replace import replace_method

State = dict[str, Any]

CHECKPOINTS = 256  # conversations whose checkpoint is kept (least recently used dropped)


@dataclass(frozen=True)
class Checkpoint:
    """The replay of one conversation up to the start of its latest user turn."""

    domain: Any
    rule_only_data: Any
    events: tuple[Any, ...]  # the applied events before the checkpoint
    replay: Any  # the tracker after them (its own copy; never handed out)
    states: tuple[State, ...]  # the states before them (never handed out)
    last_ml_action: Any
    turn_was_hidden: bool


K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    """The entries of the last ``size`` conversations, least recently used dropped
    (thread-safe); ``resumed`` and ``replayed`` count what the patched calls did."""

    def __init__(self, size: int = CHECKPOINTS) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.resumed = 0
        self.replayed = 0

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: K, entry: V) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# The checkpoints of the last conversations and argument sets.
Checkpoints = Recent[tuple[Any, ...], Checkpoint]


CACHE = Checkpoints()


@dataclass(frozen=True)
class Window:
    """The last ``states`` states a prediction reads; ``skip_unlikely``: not counting states
    after ``action_unlikely_intent`` (the featurizer removes those before it slices)."""

    states: int
    skip_unlikely: bool = False


# The window of the prediction being made in this context (None: every state).
WINDOW: ContextVar[Window | None] = ContextVar("clinic_state_window", default=None)


@contextlib.contextmanager
def window(wanted: Window | None) -> Iterator[None]:
    """``states_for_tracker_history`` hands out only ``wanted``'s states meanwhile."""
    token = WINDOW.set(wanted)
    try:
        yield
    finally:
        WINDOW.reset(token)


def _tail(states: list[State], wanted: Window | None) -> list[State]:
    """The last states of ``wanted`` (all of them without a window)."""
    if wanted is None or wanted.states >= len(states):
        return states
    if not wanted.skip_unlikely:
        return states[-wanted.states:]
    from rasa.core.featurizers.tracker_featurizers import (
        _is_prev_action_unlikely_intent_in_state as unlikely,
    )

    counted, start = 0, len(states)
    while start > 0 and counted < wanted.states:
        start -= 1
        counted += not unlikely(states[start])
    return states[start:]


def copy_state(state: State) -> State:
    """A state whose sub-states can be edited without touching ``state``'s."""
    return {key: (dict(sub) if isinstance(sub, dict) else sub) for key, sub in state.items()}


def _starts_with(events: Any, prefix: tuple[Any, ...]) -> bool:
    """Whether ``events`` begins with the very objects of ``prefix`` (a different but equal
    object, e.g. from a tracker rebuilt from the database, only costs a full replay)."""
    if len(events) < len(prefix):
        return False
    return all(map(operator.is_, prefix, events))


def _checkpoint_index(events: list[Any]) -> int:
    """The index of the ``action_listen`` before the latest user message (0 if none)."""
    from rasa.shared.core.events import ActionExecuted, UserUttered

    index = len(events) - 1
    while index >= 0 and not isinstance(events[index], UserUttered):
        index -= 1
    while index >= 0 and not isinstance(events[index], ActionExecuted):
        index -= 1
    return max(index, 0)


def _snapshot(replay: Any) -> Any:
    """An independent copy of a replayed tracker (its slots and loop; it keeps no events).

    What events change on a tracker: attributes they assign (latest message and action,
    follow-up action), slot values and the active loop's flags (edited in place, hence
    copied, as Rasa's own tracker constructor copies slots).
    """
    snapshot = copy.copy(replay)
    slots = copy.copy(replay.slots)
    for name, slot in replay.slots.items():
        slots[name] = copy.copy(slot)
    snapshot.slots = slots
    snapshot.active_loop = copy.copy(replay.active_loop)
    snapshot.events = replay._create_events([])  # noqa: SLF001 - Rasa's own constructor does this
    return snapshot


def states_for_tracker_history(
    self: Any,
    tracker: Any,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, Any] | None = None,
) -> list[State]:
    """Rasa's ``Domain.states_for_tracker_history``, resumed from the conversation's checkpoint.

    The loop body is Rasa 3.6.21's, line for line; only where the replay starts differs.
    """
    from rasa.shared.core import constants
    from rasa.shared.core.events import ActionExecuted

    applied: list[Any] = tracker.applied_events()
    key = (tracker.sender_id, bool(omit_unset_slots), bool(ignore_rule_only_turns),
           repr(rule_only_data))
    entry = CACHE.get(key)
    if (entry is not None and entry.domain is self and entry.rule_only_data == rule_only_data
            and _starts_with(applied, entry.events)):
        CACHE.resumed += 1
        start = len(entry.events)
        replay = _snapshot(entry.replay)
        # The checkpoint's own states, read but never edited here; copies are handed out.
        states: list[State] = list(entry.states)
        last_ml_action_sub_state = copy.copy(entry.last_ml_action)
        turn_was_hidden = entry.turn_was_hidden
    else:
        CACHE.replayed += 1
        start = 0
        replay = tracker.init_copy()
        states = []
        last_ml_action_sub_state = None
        turn_was_hidden = False
    checkpoint = _checkpoint_index(applied)
    fresh_from = len(states)

    def step(tr: Any, hide_rule_turn: bool) -> None:
        nonlocal last_ml_action_sub_state, turn_was_hidden
        if ignore_rule_only_turns:
            if not turn_was_hidden:
                last_ml_action_sub_state = self._get_prev_action_sub_state(tr)
            if not tr.followup_action and not tr.latest_action_name == tr.active_loop_name:
                turn_was_hidden = hide_rule_turn
            if turn_was_hidden:
                return
        state = self.get_active_state(tr, omit_unset_slots=omit_unset_slots)
        if ignore_rule_only_turns:
            self._remove_rule_only_features(state, rule_only_data)
            if states:
                self._substitute_rule_only_user_input(state, states[-1])
            if last_ml_action_sub_state:
                state[constants.PREVIOUS_ACTION] = last_ml_action_sub_state
        states.append(self._clean_state(state))

    for index in range(start, len(applied)):
        if index == checkpoint and index > start:
            kept = entry.states if entry is not None and start else ()
            CACHE.put(key, Checkpoint(
                self, copy.deepcopy(rule_only_data), tuple(applied[:index]), _snapshot(replay),
                tuple(kept) + tuple(states[fresh_from:]),
                copy.copy(last_ml_action_sub_state), turn_was_hidden))
        event = applied[index]
        if isinstance(event, ActionExecuted):
            step(replay, event.hide_rule_turn)
        replay.update(event)
    step(replay, False)
    return [copy_state(state) for state in _tail(states, WINDOW.get())]


@dataclass(frozen=True)
class Applied:
    """A conversation's events at the last call, and what was applied of them."""

    events: tuple[Any, ...]
    loop_names: frozenset[str]
    applied: tuple[Any, ...]


# The applied events of the last conversations.
AppliedCache = Recent[Any, Applied]


APPLIED = AppliedCache()


def applied_events(self: Any) -> list[Any]:
    """Rasa's ``DialogueStateTracker.applied_events``, resumed after the events of the last call.

    Rasa folds over every event of the tracker, from the start, on every call (about nine
    per message). The fold reads the events in order and, beyond the current event, only
    the names of the loops activated anywhere in the conversation; so when the tracker's
    events begin with the very objects of the conversation's last call and no new loop
    name appeared, the fold resumes where that call ended. Anything else folds from the
    start, exactly as Rasa does. The loop body is Rasa 3.6.21's.
    """
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        ActiveLoop,
        Restarted,
        SessionStarted,
        UserUtteranceReverted,
        UserUttered,
    )

    events = self.events
    entry = APPLIED.get(self.sender_id)
    applied: list[Any]
    if entry is not None and _starts_with(events, entry.events):
        todo = list(itertools.islice(events, len(entry.events), None))
        new_loops = {e.name for e in todo if isinstance(e, ActiveLoop) and e.name}
        if new_loops <= entry.loop_names:
            APPLIED.resumed += 1
            loop_names = entry.loop_names
            applied = list(entry.applied)
        else:
            entry = None
    else:
        entry = None
    if entry is None:
        APPLIED.replayed += 1
        todo = list(events)
        loop_names = frozenset(e.name for e in todo if isinstance(e, ActiveLoop) and e.name)
        applied = []

    for event in todo:
        if isinstance(event, (Restarted, SessionStarted)):
            applied = []
        elif isinstance(event, ActionReverted):
            self._undo_till_previous(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            self._undo_till_previous(UserUttered, applied)
            self._undo_till_previous(ActionExecuted, applied)
        elif (isinstance(event, ActionExecuted) and event.action_name in loop_names
              and not self._first_loop_execution_or_unhappy_path(event.action_name, applied)):
            self._undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)

    APPLIED.put(self.sender_id, Applied(tuple(events), loop_names, tuple(applied)))
    return applied


def rule_window(policy: Any) -> Window:
    """RulePolicy's window: its longest rule or loop-unhappy-path rule, in states.

    ``_get_possible_keys`` walks back from the latest state and keeps a rule once it has
    walked past the rule's states (``_is_rule_applicable``: ``turn_index >= len(rule)``), so
    no state further back than the longest rule changes which rules apply. Recomputed when
    the lookup changes (kept per policy with the lookup's identity and size).
    """
    from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH

    lookups = (policy.lookup.get(RULES) or {}, policy.lookup.get(RULES_FOR_LOOP_UNHAPPY_PATH) or {})
    key = tuple((id(lookup), len(lookup)) for lookup in lookups)
    kept = getattr(policy, "_clinic_window", None)
    if kept is not None and kept[0] == key:
        return kept[1]  # type: ignore[no-any-return]
    longest = max((len(policy._rule_key_to_state(rule)) for lookup in lookups  # noqa: SLF001
                   for rule in lookup), default=1)
    wanted = Window(max(longest, 1))
    policy._clinic_window = (key, wanted)  # noqa: SLF001 - our own attribute
    return wanted


def _rule_prediction(original: Callable[..., Any]) -> Callable[..., Any]:
    """RulePolicy's ``predict_action_probabilities`` with its window set (training calls
    ``_predict`` directly and reads every state, as before)."""

    # functools.wraps gives it Rasa's signature and type hints (these annotations are
    # replaced), which Rasa's graph validation reads before it trains or loads a model.
    @functools.wraps(original)
    def predict_action_probabilities(self: Any, tracker: Any, domain: Any, *args: Any,
                                     **kwargs: Any) -> Any:
        with window(rule_window(self)):
            return original(self, tracker, domain, *args, **kwargs)

    return predict_action_probabilities


def _featurizer_prediction_states(original: Callable[..., Any]) -> Callable[..., Any]:
    """``MaxHistoryTrackerFeaturizer.prediction_states`` reading only the ``max_history``
    states it keeps (with no ``max_history``, the caller's window, if any, stands)."""

    @functools.wraps(original)
    def prediction_states(self: Any, trackers: Any, domain: Any,
                          use_text_for_last_user_input: bool = False,
                          ignore_rule_only_turns: bool = False,
                          rule_only_data: dict[str, Any] | None = None,
                          ignore_action_unlikely_intent: bool = False) -> Any:
        wanted = (Window(self.max_history, ignore_action_unlikely_intent) if self.max_history
                  else WINDOW.get())
        with window(wanted):
            return original(self, trackers, domain,
                            use_text_for_last_user_input=use_text_for_last_user_input,
                            ignore_rule_only_turns=ignore_rule_only_turns,
                            rule_only_data=rule_only_data,
                            ignore_action_unlikely_intent=ignore_action_unlikely_intent)

    return prediction_states


def patch_trackers(module: Any) -> None:
    """Install the resumed fold on ``rasa.shared.core.trackers.DialogueStateTracker``."""
    replace_method(module.DialogueStateTracker, "applied_events", applied_events)


def patch_domain(module: Any) -> None:
    """Install the resumed replay on ``rasa.shared.core.domain.Domain``."""
    replace_method(module.Domain, "states_for_tracker_history", states_for_tracker_history)


def patch_featurizers(module: Any) -> None:
    """Install the window on ``rasa.core.featurizers.tracker_featurizers``."""
    replace_method(module.MaxHistoryTrackerFeaturizer, "prediction_states",
                   _featurizer_prediction_states, wrap=True)


def patch_rule_policy(module: Any) -> None:
    """Install the window on ``rasa.core.policies.rule_policy.RulePolicy``."""
    replace_method(module.RulePolicy, "predict_action_probabilities", _rule_prediction, wrap=True)
