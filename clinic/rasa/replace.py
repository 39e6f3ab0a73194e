"""How each narrow fix of ``clinic/rasa/patches.py`` puts its function in Rasa's place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def replace_method(owner: Any, name: str, replacement: Callable[..., Any],
                   wrap: bool = False) -> None:
    """Put ``replacement`` (or, with ``wrap``, ``replacement(original)``) in place of
    ``owner.name`` (a class's method or a module's function), once: the installed one is
    marked ``_clinic_patched`` and the original stays reachable as ``rasa_original``."""
    original = getattr(owner, name)
    if getattr(original, "_clinic_patched", False):
        return
    installed: Any = replacement(original) if wrap else replacement
    installed._clinic_patched = True  # noqa: SLF001 - our marker
    installed.rasa_original = original
    setattr(owner, name, installed)
