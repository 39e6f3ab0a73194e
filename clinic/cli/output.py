"""What the staff tool's commands share: exit codes, one-line errors, times, tables, CSV cells.

Used by :mod:`clinic.cli.commands`, :mod:`clinic.sms.cli`, :mod:`clinic.console.cli` and the console's
CSV export. It imports nothing of theirs, so they can all import it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from clinic.config.settings import settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """A problem to report as one line, with exit code 1."""


def local_time(moment: dt.datetime | None, *, seconds: bool = False, zone: bool = False) -> str:
    """A stored UTC time in the clinic's time zone, e.g. '2025-06-02 10:00' ('' for None)."""
    if moment is None:
        return ""
    return moment.astimezone(settings().tz).strftime(
        "%Y-%m-%d %H:%M" + (":%S" if seconds else "") + (" %Z" if zone else ""))


def clip(value: object, width: int, cut: str = "…") -> str:
    """``value`` on one line, cut to ``width`` characters (ending in ``cut``) if longer."""
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - len(cut)] + cut


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, width: int = 60,
          max_widths: Mapping[int, int] | None = None, cut: str = "…") -> str:
    """Rows as an aligned plain-text table under upper-case headers (for humans).

    Each cell is on one line and cut to ``width`` characters (column ``i``: ``max_widths[i]``);
    None is empty and a time is shown in the clinic's time zone.
    """
    max_widths = max_widths or {}

    def cell(value: object, column: int) -> str:
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            value = local_time(value, zone=True)
        return clip(value, max_widths.get(column, width), cut)

    cells = [[cell(value, i) for i, value in enumerate(row)] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    lines = [line([h.upper() for h in headers]), line(["-" * w for w in widths])]
    return "\n".join(lines + [line(row) for row in cells])


def spreadsheet_safe(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (names are typed by anyone)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
