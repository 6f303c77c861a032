"""The document reference (docs/reference.md) rendered from the pydantic models, so it cannot drift.

Run `python -m drsim.model.reference > docs/reference.md` after changing a model; a test compares
the committed file with `render_reference()`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from enum import Enum
from ipaddress import IPv4Network
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from drsim.model.documents import KINDS, Document, Metadata, Runbook, StepBase
from drsim.model.types import Duration, Name, NonNegativeDuration, Region, Selector, StepId, Tags, TimeOfDay, format_duration

_ALIASES: list[tuple[Any, str]] = [
    (Duration, "[duration](#durations)"),
    (NonNegativeDuration, "[duration](#durations) (`0s` allowed)"),
    (Selector, "[selector](#selectors)"),
    (Tags, "mapping of string to string"),
    (Name, "name"),
    (StepId, "step id"),
    (Region, "region"),
    (TimeOfDay, '`"HH:MM"` (UTC)'),
]
_PLAIN: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "`true` \\| `false`",
    datetime: "time (ISO 8601, UTC)",
    time: '`"HH:MM"`',
    timedelta: "[duration](#durations)",
    IPv4Network: "IPv4 CIDR",
}
_STEP_UNION = typing.get_type_hints(Runbook, include_extras=True)["steps"]  # tuple[Annotated[Union[...], ...], ...]
_STEP_MODELS: tuple[type[StepBase], ...] = get_args(get_args(get_args(_STEP_UNION)[0])[0])

_INTRO = """\
# Document reference

Generated from the models in `drsim/model/documents.py` by `python -m drsim.model.reference`;
do not edit by hand. FORMAT.md-style examples of each kind are in `drills/` and `runbooks/`;
[concepts.md](concepts.md) explains what the documents mean.

Every document is YAML with `apiVersion: drsim/v1`, a `kind` and [`metadata`](#metadata). Keys not
listed here are errors. Paths inside a document are relative to that document's file.

## Value types

### Durations
A duration is a number and a unit, largest unit first: `90s`, `15m`, `4h`, `7d`, `1h30m`. A bare
number is an error (which unit?), and so are negatives. Where zero makes no sense (timeouts, RTO,
intervals) the duration must be longer than zero.

### Selectors
A selector is a mapping of tag to value, such as `{app: shop, tier: db}`: it matches every VM whose
tags have all the pairs. The key `name` also matches the VM's name when the VM has no `name` tag.
A selector needs at least one pair, and in a drill it must match at least one VM of the estate.

### Names
Names (documents, VMs, disks, networks, apps) are letters, digits, `.`, `_` and `-`, starting with a
letter or digit, at most 80 characters. Step ids are lower-case letters, digits, `_` and `-`.
Regions are written as ARM writes them (`eastus2`).
"""


def _is_alias(hint: Any, alias: Any) -> bool:
    return bool(hint == alias)


def _type_text(hint: Any) -> str:
    """A short Markdown description of a type annotation."""
    for alias, text in _ALIASES:
        if _is_alias(hint, alias):
            return text
    if _is_alias(hint, _STEP_UNION):
        return "list of [steps](#steps)"
    origin = get_origin(hint)
    if origin is Annotated:
        return _type_text(get_args(hint)[0])
    if origin in (Union, types.UnionType):
        parts = [a for a in get_args(hint) if a is not type(None)]
        return " or ".join(_type_text(a) for a in parts)
    if origin is Literal:
        return " \\| ".join(f"`{v}`" for v in get_args(hint))
    if origin is tuple:
        return f"list of {_type_text(get_args(hint)[0])}"
    if origin is dict:
        return "mapping"
    if isinstance(hint, type) and issubclass(hint, Enum):
        return " \\| ".join(f"`{m.value}`" for m in hint)
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return f"[{hint.__name__}](#{hint.__name__.lower()})"
    return _PLAIN.get(hint, getattr(hint, "__name__", str(hint)))


def _default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
        if isinstance(value, BaseModel):
            return "see below"
    else:
        value = field.default
    if value is None or value is PydanticUndefined:
        return "-"
    if isinstance(value, Enum):
        return f"`{value.value}`"
    if isinstance(value, timedelta):
        return f"`{format_duration(value)}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple | list):
        return "`[]`" if not value else f"`{list(value)}`"
    if isinstance(value, dict):
        return "`{}`"
    return f"`{value}`"


def _models_in(hint: Any) -> Iterator[type[BaseModel]]:
    """The models a field's type refers to, in order."""
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        yield hint
    for arg in get_args(hint):
        yield from _models_in(arg)


def _table(model: type[BaseModel], skip: frozenset[str] = frozenset()) -> list[str]:
    hints = typing.get_type_hints(model, include_extras=True)
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        key = field.alias or name
        meaning = (field.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{key}` | {_type_text(hints[name])} | {_default_text(field)} | {meaning} |")
    return rows


def _doc(model: type[BaseModel]) -> str:
    text = (model.__doc__ or "").strip()
    return " ".join(text.split()) if text and not text.startswith(("Usage docs", "!!!")) else ""


def _section(model: type[BaseModel], skip: frozenset[str] = frozenset()) -> list[str]:
    lines = [f"### {model.__name__}", ""]
    if _doc(model):
        lines += [_doc(model), ""]
    return [*lines, *_table(model, skip), ""]


def _with_model(step: type[StepBase]) -> type[BaseModel]:
    """The model of a step's `with` block."""
    model = step.model_fields["with_"].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return model


def _step_section() -> list[str]:
    lines = [
        "### Steps",
        "",
        "Every step has these keys, plus `action` and its `with` (below). Steps run as soon as every step",
        "they `need` has finished; a step with a `vms` selector becomes one task per matched VM.",
        "",
        *_table(StepBase),
        "",
        "| action | `with` |",
        "|---|---|",
    ]
    for member in _STEP_MODELS:
        action = get_args(member.model_fields["action"].annotation)[0]
        with_model = _with_model(member)
        lines.append(f"| `{action}` | [{with_model.__name__}](#{with_model.__name__.lower()}) |")
    return [*lines, ""]


def _walk(root: type[BaseModel], seen: set[type[BaseModel]]) -> list[str]:
    """The sections of a model and every model under it not yet documented, depth first."""
    lines: list[str] = []
    queue: list[type[BaseModel]] = [root]
    while queue:
        model = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        skip = frozenset({"api_version", "metadata"}) if issubclass(model, Document) else frozenset()
        if model is not root or not issubclass(model, Document):
            lines += _section(model, skip)
        else:
            lines += [*_table(model, skip), ""]
        hints = typing.get_type_hints(model, include_extras=True)
        nested: list[type[BaseModel]] = []
        for name in model.model_fields:
            if _is_alias(hints[name], _STEP_UNION):
                lines += _step_section()
                seen.add(StepBase)
                for member in _STEP_MODELS:
                    seen.add(member)
                    nested.append(_with_model(member))
                continue
            nested += [m for m in _models_in(hints[name]) if m not in seen]
        queue = nested + queue
    return lines


def render_reference() -> str:
    """The whole Markdown reference of the five document kinds."""
    lines = [_INTRO, "## Every document", "", "| key | type | meaning |", "|---|---|---|"]
    lines += [
        "| `apiVersion` | `drsim/v1` | the format version |",
        "| `kind` | " + " \\| ".join(f"`{k}`" for k in KINDS) + " | which document this is |",
        "| `metadata` | [Metadata](#metadata) | its name |",
        "",
    ]
    seen: set[type[BaseModel]] = set()
    lines += _section(Metadata)
    seen.add(Metadata)
    for kind, model in KINDS.items():
        lines += [f"## {kind}", "", _doc(model) or f"A {kind} document.", ""]
        lines += _walk(model, seen)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render_reference(), end="")
