"""Times and durations as drsim writes and reads them: one text form of a UTC instant (ISO 8601 with
a Z, for journals, results, ARM bodies and JSON output), one parser of it, and the one way a
measured duration is shown to people (reports, history, terminal summaries, comparisons).

Document durations (`90s`, `4h`, `1h30m`) are a document type: drsim.model.types.
"""

from __future__ import annotations

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


def duration(seconds: float | None) -> str:
    """`4m 50s`, `2h 05m`, `1d 03h`: two units, the larger first; an em dash when unknown."""
    if seconds is None:
        return "—"
    sign = "-" if seconds < 0 else ""
    total = round(abs(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours:02d}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m {secs:02d}s"
    return f"{sign}{secs}s"
