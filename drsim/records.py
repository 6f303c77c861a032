"""Frozen records that are cheap to make, and journal lines that are cheap to read: the simulated hot
path makes hundreds of thousands, and a report of a large drill reads as many back.

A frozen dataclass's generated `__init__` sets each field through `object.__setattr__` (the class's
own `__setattr__` refuses); `quick_init` gives a frozen dataclass an `__init__` that sets each slot
through its descriptor (slots classes) or stores into the instance's `__dict__` instead: the same
signature, defaults and values, in about half the time. The record stays frozen (assignment still
raises FrozenInstanceError), equal and hashable as before.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from json.scanner import make_scanner
from typing import Any, TypeVar

_C = TypeVar("_C", bound=type)
_FACTORY: Any = object()  # "not given": the field's default factory makes its value


def quick_init(cls: _C) -> _C:
    """Give the frozen dataclass `cls` the faster `__init__` (see module docstring); returns it.

    Classes with a `__post_init__`, `InitVar`s, keyword-only fields or fields left out of `__init__`
    keep their generated `__init__`."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or hasattr(cls, "__post_init__"):
        return cls
    slots = "__slots__" in cls.__dict__
    fields = dataclasses.fields(cls)
    if any(not f.init or f.kw_only for f in fields):
        return cls
    if len(inspect.signature(cls.__dict__["__init__"]).parameters) != len(fields) + 1:
        return cls  # an InitVar: the generated __init__ takes more than the fields
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    args, body = [], [] if slots else ["    values = self.__dict__"]
    for f in fields:
        if slots:
            setter = f"_set_{f.name}"
            namespace[setter] = getattr(cls, f.name).__set__  # the slot's member descriptor
            body.append(f"    {setter}(self, {f.name})")
        else:
            body.append(f"    values[{f.name!r}] = {f.name}")
        if f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{f.name}"] = f.default_factory
            args.append(f"{f.name}=_FACTORY")
            body.insert(len(body) - 1, f"    if {f.name} is _FACTORY:\n        {f.name} = _factory_{f.name}()")
        elif f.default is dataclasses.MISSING:
            args.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            args.append(f"{f.name}=_default_{f.name}")
    source = f"def __init__(self, {', '.join(args)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, namespace)  # generated from the dataclass's own field names, as dataclasses does
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__dict__["__init__"].__doc__
    cls.__init__ = init  # type: ignore[misc]
    return cls


_LINE_SCANNER = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # the scanner json.loads runs (typeshed wants its own type)


def json_line(line: bytes) -> Any:
    """The JSON value of one journal line: `json.loads(line)`, values and exceptions alike, without its
    per-call detours (encoding detection, whitespace scans) on a line that starts an object as the
    journal writes it; anything else is left to `json.loads` itself."""
    if line[:1] == b"{" and line[1:2] != b"\x00":  # UTF-8, as json.loads would detect it
        try:
            text = line.decode("utf-8", "surrogatepass")
            value, end = _LINE_SCANNER(text, 0)
        except Exception:
            pass  # json.loads raises its own error for it, below
        else:
            if end == len(text):
                return value
    return json.loads(line)
