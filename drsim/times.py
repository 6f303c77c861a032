"""Times and durations as drsim writes and reads them: one text form of a UTC instant (ISO 8601 with
a Z, for journals, results, ARM bodies and JSON output), one parser of it, and the one way a
measured duration is shown to people (reports, history, terminal summaries, comparisons).

Document durations (`90s`, `4h`, `1h30m`) are a document type: drsim.model.types.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Literal

Timespec = Literal["auto", "seconds"]


class NoTimeZone(ValueError):
    """A time without a zone, where drsim needs to know it is UTC."""


def utc_text(moment: datetime, timespec: Timespec = "auto") -> str:
    """`2026-11-20T14:00:00Z` (microseconds kept when present, unless timespec="seconds")."""
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def parse_utc(text: str, *, naive_is_utc: bool = False) -> datetime:
    """An ISO 8601 time (a Z or an offset; fractions beyond microseconds, as ARM writes them, are
    cut) as an aware UTC datetime. ValueError when it is not one, or has no zone (unless
    `naive_is_utc`: then a time without a zone is taken as UTC)."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise NoTimeZone(f"{text!r} has no time zone")
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


Rounding = Literal["up", "down", "exact"]

ROUNDING_NOTE = (
    "Measured and predicted durations are rounded up to the second unit shown (11h 59m 10s reads 12h 00m), "
    "margins to spare down; objectives are shown exactly."
)
"""What reports say of the durations they show (`duration`)."""

_UNITS = ((86400, "d"), (3600, "h"), (60, "m"), (1, "s"))
_TOLERANCE = 1e-6
"""Below a microsecond (what a journal's times resolve): float noise, not a duration."""


def duration(seconds: float | None, rounding: Rounding = "up") -> str:
    """How a duration is shown to people: `4m 50s`, `2h 05m`, `1d 03h` (two units, the larger first), an
    em dash when unknown. What the second unit leaves out is rounded so that a figure never reads better
    than it is:

    - `up` (the default), for what is measured or predicted (an RTO, an RPO, a wait, a miss "over by"):
      11h 59m 10s shows as `12h 00m`, so a measure over its objective never reads as within it;
    - `down`, for a margin "to spare";
    - `exact`, for objectives and other configured durations: every unit down to the last one that is
      not zero (`6h 00m`, `1h 30m 15s`), so that an objective is never shown rounded either way.

    result.json and the JSON and CSV exports keep the figures in seconds."""
    if seconds is None:
        return "—"
    sign = "-" if seconds < 0 else ""
    magnitude = abs(seconds)
    if rounding == "up":
        total = math.ceil(magnitude - _TOLERANCE)
    elif rounding == "down":
        total = math.floor(magnitude + _TOLERANCE)
    else:
        total = round(magnitude)
    total = max(total, 0)
    if rounding != "exact":
        unit = 3600 if total >= 86400 else 60 if total >= 3600 else 1  # the second unit shown
        total = -(-total // unit) * unit if rounding == "up" else total // unit * unit
    parts: list[tuple[int, str]] = []
    rest = total
    for size, name in _UNITS:
        count, rest = divmod(rest, size)
        if count or parts:
            parts.append((count, name))
    if not parts:
        return f"{sign}0s"
    shown = parts[:2]
    if rounding == "exact":
        last = max(i for i, (count, _) in enumerate(parts) if count)
        shown = parts[: max(last + 1, 2)]
    first, *others = shown
    return sign + " ".join([f"{first[0]}{first[1]}", *(f"{count:02d}{name}" for count, name in others)])
