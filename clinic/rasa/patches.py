"""Narrow fixes to Rasa 3.6.21, loaded by the project's virtual environment.

The project's venv loads this module at start-up (``tools/clinic_rasa_patches.pth``,
installed by ``make``). Each fix applies when its Rasa module is first imported; nothing
else in Rasa changes.

1. **Data discovery** (``rasa.shared.data``): ``rasa test`` with no arguments looks for
   stories in ``.``, walking the whole project, including ``.venv`` (where it finds Rasa's
   own ``rasa init`` stories), ``node_modules`` and ``.rasa/cache`` (whose JSON files make it
   crash). Staff run plain ``rasa test`` from the project root, so the walk skips build and
   tool folders.
2. **Action-server replies** (``rasa.core.actions.action``): Rasa checks every custom
   action's reply against its event schema with ``jsonschema.validate``, which rebuilds and
   re-checks the (large) schema on every call: about 35 ms per action on this hardware,
   more than the rest of a turn. The same check is made with a validator built once; an
   invalid reply still raises the same ``ValidationError`` with the same message.
3. **Private logs** (``rasa.utils.log_utils``): Rasa's structlog anonymiser step is replaced
   by one that redacts message texts and conversation ids, and every log record is scrubbed
   of phone numbers, emails and tokens (``clinic.config.log_privacy``). Telemetry is off by default.
4. **Secrets for local tools**: ``endpoints.yml`` sends ``${CLINIC_ACTIONS_TOKEN}``; so that
   plain ``rasa test`` and ``rasa shell`` work from the project root, the secrets `make run`
   wrote to ``var/secrets.env`` (or ``CLINIC_SECRETS_FILE``) fill in any that the environment
   does not set, and a still-missing action token is set empty (the action server refuses
   empty tokens, so this opens nothing).
5. **Unavailable stores** (``rasa.core.tracker_store``, ``rasa.core.agent``): when the
   tracker store's database or the Redis lock store cannot be reached, the person is asked
   to try again instead of Rasa silently starting a new conversation held in one server's
   memory (``clinic/rasa/resilience.py``).
6. **Unreachable action server** (``rasa.core.actions.action``, ``rasa.core.processor``):
   the person is asked to try again and nothing of the message is saved, instead of no
   reply and a lost answer (``clinic/rasa/resilience.py``).
7. **Host headers** (``rasa.core.run``): the Rasa server answers only requests whose
   ``Host`` is this machine or a configured name (``clinic.rasa.channels.blueprint.guard_hosts``).
8. **What the action server is sent** (``rasa.core.actions.action``): Rasa sends the whole
   conversation's events with every action call (``EventVerbosity.ALL``), so a call cost
   more with every turn and a long conversation would pass the action server's body
   limit. The clinic's actions read the slots, the latest message, the active loop (sent
   apart from the events) and events of the last two turns only (``pending_offer``,
   ``slots_to_validate``); the call now carries the events of the last
   ``ACTION_EVENT_TURNS`` user turns, the rest of the tracker state unchanged. Rasa also
   sends the whole domain (responses included, most of a call's bytes) to every form
   validation action (``validate_*``) whatever ``enable_selective_domain`` says; they get the
   parts Rasa SDK's form validation reads (``VALIDATION_DOMAIN_KEYS``: the slots and forms).
9. **Past dialogue states** (``rasa.shared.core.domain``): the policies ask for the states
   of the whole session about seven times per message, and Rasa replays every event of the
   session for each. The replay now resumes from the start of the conversation's latest
   user turn when the history before it is unchanged (the same event objects); otherwise it
   replays from the start as Rasa does. Likewise the tracker's applied events (a fold over
   every event, about nine times per message) resume after the events of the last call
   (``clinic/rasa/past_states.py``). And a tracker's copy (before every action) is made from
   its state instead of a replay of the session (``clinic/rasa/tracker_copy.py``).
10. **One kept-alive session per endpoint** (``rasa.utils.endpoints``): Rasa opened a new
   HTTP session, and a new connection, for every call to the action server; the calls now
   share one session per endpoint whose connections stay open between calls
   (``clinic/rasa/http_session.py``).
11. **Only the states a prediction reads** (``rasa.core.featurizers.tracker_featurizers``,
   ``rasa.core.policies.rule_policy``): every prediction was handed a copy of every state of
   the session, and RulePolicy then formatted and walked back through all of them, so a
   turn cost more with every turn. MemoizationPolicy reads its ``max_history`` states and
   RulePolicy no more than its longest rule; while they predict, only those last states are
   copied and handed out (``clinic/rasa/past_states.py``, ``WINDOW``). Their predictions are
   unchanged; training reads every state as before.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import types
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

from clinic.rasa.replace import replace_method

SKIPPED_DIRECTORIES = frozenset(
    {".rasa", ".venv", "venv", "node_modules", ".git", "__pycache__", ".pytest_cache",
     ".hypothesis", ".ruff_cache", "build", "models", "results", "var", "bench", "widget"}
)


def find_data_files_in_directory(
    directory: str, filter_property: Callable[[str], bool]
) -> set[str]:
    """Rasa's ``_find_data_files_in_directory``, minus build and tool folders."""
    # Imports in this module stay lazy: it is loaded (by a .pth file) into every Python
    # process of the venv; each patch imports what it needs when its Rasa module loads.
    from rasa.shared.data import is_valid_filetype

    found: set[str] = set()
    for root, dirs, files in os.walk(directory, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRECTORIES)
        for name in sorted(files):
            path = os.path.join(root, name)
            if is_valid_filetype(path) and filter_property(path):
                found.add(path)
    return found


@lru_cache(maxsize=1)
def action_result_validator() -> Any:
    """A jsonschema validator for action-server replies, built and checked once."""
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """Rasa's ``RemoteAction._validate_action_result`` with a validator built once."""
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(action_result_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            "from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


# User turns whose events go to the action server (the clinic's actions look back two).
ACTION_EVENT_TURNS = 4


def recent_events(events: Iterable[Any], turns: int = ACTION_EVENT_TURNS) -> list[Any]:
    """The events from the ``turns``-th latest user message on (all if there are fewer).

    Walks back from the end (Rasa keeps events in a deque: no slicing, slow middle access).
    """
    kept: list[Any] = []
    seen = 0
    for event in reversed(events):  # type: ignore[call-overload]
        kept.append(event)
        if getattr(event, "type_name", None) == "user":
            seen += 1
            if seen == turns:
                break
    kept.reverse()
    return kept


# What Rasa SDK's form validation reads of the domain (``FormValidationAction``: the form's
# required slots and ignored intents, the slots' mappings).
VALIDATION_DOMAIN_KEYS = ("version", "slots", "forms")


# id(domain) -> (the domain, it as a dict, the parts a form validation reads, the actions
# declared with ``send_domain: true``). Keyed by identity: Rasa's Domain hashes by a
# fingerprint of its whole content. A model's domain does not change once loaded.
_DOMAIN_PARTS: dict[int, tuple[Any, dict[str, Any], dict[str, Any], frozenset[str]]] = {}


def _domain_parts(domain: Any) -> tuple[dict[str, Any], dict[str, Any], frozenset[str]]:
    """The domain as a dict, whole and as a form validation reads it, and the actions that
    ask for it in domain.yml (built once per domain)."""
    from rasa.shared.core.constants import ACTION_SHOULD_SEND_DOMAIN

    kept = _DOMAIN_PARTS.get(id(domain))
    if kept is None or kept[0] is not domain:
        whole: dict[str, Any] = domain.as_dict()
        asked = frozenset(
            name for action in whole.get("actions", []) if isinstance(action, dict)
            for name, config in action.items() if (config or {}).get(ACTION_SHOULD_SEND_DOMAIN))
        kept = (domain, whole, {key: whole[key] for key in VALIDATION_DOMAIN_KEYS if key in whole},
                asked)
        if len(_DOMAIN_PARTS) >= 8:
            _DOMAIN_PARTS.clear()
        _DOMAIN_PARTS[id(domain)] = kept
    return kept[1], kept[2], kept[3]


def action_call_format(self: Any, tracker: Any, domain: Any) -> dict[str, Any]:
    """Rasa's ``RemoteAction._action_call_format``, with the recent events only, and, for the
    form validation actions Rasa always sends the domain to, the parts they read."""
    import rasa
    from rasa.shared.core.trackers import EventVerbosity

    state: dict[str, Any] = tracker.current_state(EventVerbosity.NONE)
    state["events"] = [event.as_dict() for event in recent_events(tracker.events)]
    result: dict[str, Any] = {"next_action": self._name, "sender_id": tracker.sender_id,
                              "tracker": state, "version": rasa.__version__}
    if not self._is_selective_domain_enabled():
        result["domain"] = domain.as_dict()
    elif domain.does_custom_action_explicitly_need_domain(self.name()):
        whole, for_validation, asked = _domain_parts(domain)
        # Rasa adds every ``validate_*`` action to this list itself; an action that asks
        # for the domain in domain.yml (``send_domain: true``) still gets all of it.
        result["domain"] = whole if self.name() in asked else for_validation
    return result


def _patch_data(module: Any) -> None:
    module._find_data_files_in_directory = find_data_files_in_directory  # noqa: SLF001 - a patch


def _patch_actions(module: Any) -> None:
    from clinic.rasa.resilience import patch_remote_action

    module.RemoteAction._validate_action_result = validate_action_result  # noqa: SLF001 - a patch
    module.RemoteAction._action_call_format = action_call_format  # noqa: SLF001 - a patch
    patch_remote_action(module)


def _patch_processor(module: Any) -> None:
    from clinic.rasa.resilience import patch_processor

    patch_processor(module)


def _patch_log_utils(module: Any) -> None:
    from clinic.config.log_privacy import patch_rasa_log_utils

    patch_rasa_log_utils(module)


def _patch_tracker_store(module: Any) -> None:
    from clinic.rasa.resilience import patch_tracker_store

    patch_tracker_store(module)


def _patch_agent(module: Any) -> None:
    from clinic.rasa.resilience import patch_agent

    patch_agent(module)


def _patch_domain(module: Any) -> None:
    from clinic.rasa.past_states import patch_domain

    patch_domain(module)


def _patch_trackers(module: Any) -> None:
    from clinic.rasa import tracker_copy
    from clinic.rasa.past_states import patch_trackers

    patch_trackers(module)
    tracker_copy.patch_trackers(module)


def _patch_featurizers(module: Any) -> None:
    from clinic.rasa.past_states import patch_featurizers

    patch_featurizers(module)


def _patch_rule_policy(module: Any) -> None:
    from clinic.rasa.past_states import patch_rule_policy

    patch_rule_policy(module)


def _patch_endpoints(module: Any) -> None:
    from clinic.rasa.http_session import patch_endpoints

    patch_endpoints(module)


def _guarded_app(original: Callable[..., Any]) -> Callable[..., Any]:
    def configure_app(*args: Any, **kwargs: Any) -> Any:
        from clinic.rasa.channels.blueprint import guard_hosts
        from clinic.rasa.http_session import close_sessions

        app = original(*args, **kwargs)
        guard_hosts(app)

        async def close_http_sessions(*_: Any) -> None:
            await close_sessions()

        app.register_listener(close_http_sessions, "after_server_stop")
        return app

    return configure_app


def _patch_run(module: Any) -> None:
    replace_method(module, "configure_app", _guarded_app, wrap=True)


PATCHES: dict[str, Callable[[Any], None]] = {
    "rasa.shared.data": _patch_data,
    "rasa.core.actions.action": _patch_actions,
    "rasa.utils.log_utils": _patch_log_utils,
    # 5. Unavailable tracker or lock store: "please try again", never a silent new
    #    conversation (clinic/rasa/resilience.py).
    "rasa.core.tracker_store": _patch_tracker_store,
    "rasa.core.agent": _patch_agent,
    # 6. Unreachable action server: "please try again" and nothing saved, never a silent
    #    turn that loses the person's answer (clinic/rasa/resilience.py).
    "rasa.core.processor": _patch_processor,
    # 7. Unknown Host headers (DNS rebinding) get 421 from every route of the Rasa server.
    "rasa.core.run": _patch_run,
    # 9. Past dialogue states resumed from the latest user turn (clinic/rasa/past_states.py).
    "rasa.shared.core.domain": _patch_domain,
    "rasa.shared.core.trackers": _patch_trackers,
    # 11. A prediction reads only the states its policy can use (clinic/rasa/past_states.py).
    "rasa.core.featurizers.tracker_featurizers": _patch_featurizers,
    "rasa.core.policies.rule_policy": _patch_rule_policy,
    # 10. One kept-alive HTTP session per endpoint (clinic/rasa/http_session.py).
    "rasa.utils.endpoints": _patch_endpoints,
}


# The names _secret_defaults filled in from the secrets file (not from the environment), so
# that a test session can forget them (tests/conftest.py): a developer's `make run` leaves
# var/secrets.env behind, and the tests must run as on a clean machine.
SECRETS_FROM_FILE: set[str] = set()


def _secret_defaults() -> None:
    from pathlib import Path

    default = Path(__file__).resolve().parents[2] / "var" / "secrets.env"
    path = Path(os.environ.get("CLINIC_SECRETS_FILE") or default)
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    except OSError:
        lines = []
    for line in lines:
        key, sep, value = line.strip().partition("=")
        name = key.strip()
        if sep and name.startswith("CLINIC_") and name not in os.environ:
            os.environ[name] = value.strip()
            SECRETS_FROM_FILE.add(name)
    os.environ.setdefault("CLINIC_ACTIONS_TOKEN", "")


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        patch = PATCHES.get(fullname)
        if patch is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        original_exec = spec.loader.exec_module

        def exec_module(module: types.ModuleType) -> None:
            original_exec(module)
            patch(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Apply each fix now if its module is loaded, else when it is imported."""
    from clinic.config.log_privacy import install_log_scrubbing

    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    _secret_defaults()
    install_log_scrubbing()
    for name, patch in PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    if not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())
