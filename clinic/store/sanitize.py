"""Control characters out of stored text and out of the staff terminal.

Anyone can type anything into the chat or an SMS: a NUL byte breaks PostgreSQL (it
refuses NUL in text), an ESC sequence printed by the staff tool can move the cursor,
rewrite what staff see or retitle their terminal, and bidirectional overrides can make
a name read backwards. :func:`clean_text` removes them:

* every C0 control (U+0000-U+001F) except TAB and LF in multi-line text, DEL (U+007F)
  and every C1 control (U+0080-U+009F);
* a CR becomes a line break (a CRLF one LF): printed alone it returns the cursor to the
  start of the line, so a later part of the text could hide an earlier one;
* the explicit bidirectional embedding, override and isolate marks (U+202A-U+202E,
  U+2066-U+2069). Ordinary right-to-left text needs none of them.

Single-line text (names, phone numbers, ids) gets TAB, CR and LF replaced by a space.
:mod:`clinic.store.models` applies this to every string column on the way into the database;
the staff tool (:mod:`clinic.cli.commands`) filters everything it prints with :func:`clean_output`.
"""

from __future__ import annotations

import re
from typing import Any

_BIDI = "\u202a-\u202e\u2066-\u2069"
# Always removed: C0 controls except TAB/LF/CR (handled below), DEL, C1, bidi controls.
_CONTROLS = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")
_CRLF = re.compile(r"\r\n?")


def clean_text(value: str, *, multiline: bool = True) -> str:
    """``value`` without control characters (see the module docstring)."""
    if not value:
        return value
    value = _CRLF.sub("\n", value) if multiline else value.replace("\r", " ")
    value = _CONTROLS.sub("", value)
    if not multiline:
        value = value.replace("\t", " ").replace("\n", " ")
    return value


def clean_json(value: Any) -> Any:
    """A JSON-like value with :func:`clean_text` applied to every string (keys too)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_json(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(item) for item in value]
    return value


_OUTPUT_CONTROLS = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]|\r(?!\n)")


def clean_output(text: str) -> str:
    """Text safe to print on a terminal: as :func:`clean_text`, but a CRLF stays a CRLF
    (CSV written to the screen uses it)."""
    return _OUTPUT_CONTROLS.sub("", text)


class SafeStream:
    """A text stream wrapper that writes everything through :func:`clean_output`."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` without control characters."""
        self._stream.write(clean_output(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
