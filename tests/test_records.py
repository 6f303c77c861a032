"""drsim.records: quick_init, a faster __init__ that makes the very same frozen record; json_line, which
decodes a journal line exactly as json.loads does."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import pytest

from drsim.records import json_line, quick_init


@dataclass(frozen=True)
class _Plain:
    a: int
    tags: dict[str, str] = field(default_factory=dict)
    b: float | None = None


def test_a_slots_record_is_made_the_same_and_stays_frozen() -> None:
    fast = quick_init(dataclass(frozen=True, slots=True)(type("S", (), {"__annotations__": {"a": "int", "b": "str"}, "b": "x"})))
    assert fast.__init__.__qualname__.endswith("__init__")
    one, two = fast(1), fast(a=1, b="x")
    assert one == two and hash(one) == hash(two) and repr(one) == "S(a=1, b='x')"
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.a = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        fast()  # a required field is still required


def test_a_plain_record_gets_its_default_factory_each_time() -> None:
    fast = quick_init(_Plain)
    first, second = fast(1), fast(1)
    assert first.tags == {} and first.tags is not second.tags
    assert fast(1, {"k": "v"}, 2.0) == _Plain(a=1, tags={"k": "v"}, b=2.0)
    assert dataclasses.replace(first, b=3.0).b == 3.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.b = 1.0  # type: ignore[misc]


def test_records_it_cannot_speed_up_keep_their_init() -> None:
    @dataclass(frozen=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            if self.a < 0:
                raise ValueError("negative")

    init = Checked.__init__
    assert quick_init(Checked).__init__ is init
    with pytest.raises(ValueError, match="negative"):
        Checked(-1)

    @dataclass
    class Mutable:
        a: int

    assert quick_init(Mutable).__init__ is Mutable.__dict__["__init__"]


# ---------------------------------------------------------------------------------------- json_line

_LINES = [
    b'{"event":"run.finished","at":"2026-11-20T14:00:00Z","status":"passed","error":null,"prev":"00"}',
    b'{"a": [1, 2.5, {"b": "\\u00e9\\ud800"}], "c": NaN, "d": Infinity}',  # escapes, a lone surrogate, what json.loads allows
    '{"name":"é, ünïcode ✓"}'.encode(),
    b'{"a":1}  \t',  # whitespace after the object
    b'{"a":1} {"b":2}',  # two values on one line
    b'{"a":1,}',
    b'{"a":',
    b"{",
    b"{}",
    b'{"a":1}\r',
    b'{"a":"\xff"}',  # not UTF-8
    b'{\x00"\x00a\x00"\x00:\x001\x00}\x00',  # UTF-16-LE by json.loads's detection
    b'\xef\xbb\xbf{"a":1}',  # a byte-order mark
    b' {"a":1}',
    b"[1, 2]",
    b"7",
    b"",
    b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # nested deeper than the recursion limit
]


def _outcome(decode: object, line: bytes) -> tuple[str, object]:
    try:
        return "value", repr(decode(line))  # type: ignore[operator]
    except BaseException as exc:  # what json.loads raises, whatever it is
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("line", _LINES)
def test_a_journal_line_decodes_as_json_loads_decodes_it_errors_included(line: bytes) -> None:
    assert _outcome(json_line, line) == _outcome(json.loads, line)
