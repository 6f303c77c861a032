"""How reports write values (durations, times, money) and how they escape text for Markdown.

Every value a template prints into Markdown goes through `escape_markdown` (the Markdown environment's
finalize hook), so a VM named `<script>` reaches both GitHub and the HTML rendering as text.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from markupsafe import Markup

from drsim.times import duration

# Backslash escapes that both GitHub and Python-Markdown honour; the rest become numeric entities,
# which both render as the character (an entity is never markup, and never splits a table cell).
_BACKSLASHED = "\\`*_[]{}#+!"
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;", "|": "&#124;", "~": "&#126;", "$": "&#36;"}


_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x85\u2028\u2029]+")


def escape_markdown(value: object) -> str:
    """Text that GitHub-flavoured Markdown and Python-Markdown both show literally, on one line."""
    if isinstance(value, Markup):
        return str(value)
    if value is None:
        return ""
    text = _LINE_BREAKS.sub(" ", str(value))  # a line break would end a table row or start a block
    out = []
    for char in text:
        if char in _BACKSLASHED:
            out.append("\\" + char)
        elif char in _ENTITIES:
            out.append(_ENTITIES[char])
        else:
            out.append(char)
    return "".join(out)


def utc(moment: datetime | None) -> str:
    """`2026-11-20 14:00:00Z`: a time as an auditor reads it, always UTC."""
    if moment is None:
        return "—"
    from datetime import UTC

    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def offset(moment: datetime | None, origin: datetime) -> str:
    """`T+12m 05s`: a time relative to the incident."""
    if moment is None:
        return "—"
    delta = (moment - origin) / timedelta(seconds=1)
    return f"T{'+' if delta >= 0 else '-'}{duration(abs(delta))}"


def usd(amount: float | None) -> str:
    if amount is None:
        return "—"
    if 0 < amount < 0.01:
        return "< USD 0.01"
    return f"USD {amount:,.2f}"


def verdict(met: bool | None) -> str:
    """The verdict word of one objective or check."""
    return {True: "met", False: "MISSED", None: "not measured"}[met]


def plural(count: int, word: str) -> str:
    """`1 trial`, `2 trials`: a count and its noun."""
    return f"{count} {word}{'' if count == 1 else 's'}"
