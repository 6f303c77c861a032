"""Durations, selectors and the closed sets of drsim.model.types."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drsim.model import ProtectionPlan, load
from drsim.model.types import describe_selector, format_duration, parse_duration, selector_matches

TEN_YEARS = 10 * 365 * 86400


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("4h", 14400), ("7d", 604800), ("1h30m", 5400), ("0s", 0), (" 2d12h ", 216000), ("1d1h1m1s", 90061)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("soon", "is not a duration"),
        ("", "is not a duration"),
        ("-5m", "is negative"),
        ("30m1h", "is not a duration"),
        ("1.5h", "is not a duration"),
        ("5 m", "is not a duration"),
        ("4H", "is not a duration"),
        (90, "needs a unit"),
        (1.5, "needs a unit"),
        (True, "is a string such as"),
        (None, "is a string such as"),
        ("3651d", "longer than ten years"),
    ],
)
def test_parse_duration_rejects(value: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_duration(value)


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (59, "59s"), (5400, "1h30m"), (86400, "1d"), (90061, "1d1h1m1s")])
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


@given(st.integers(min_value=0, max_value=TEN_YEARS))
def test_format_then_parse_round_trips(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@given(st.integers(0, 3650), st.integers(0, 500), st.integers(0, 500), st.integers(0, 500), st.lists(st.booleans(), min_size=4, max_size=4))
def test_parse_then_format_is_canonical(days: int, hours: int, minutes: int, seconds: int, present: list[bool]) -> None:
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    text = "".join(f"{n}{unit}" for (n, unit), keep in zip(parts, present, strict=True) if keep)
    if not text:
        text = "0s"
    total = sum(n * size for (n, _), keep, size in zip(parts, present, (86400, 3600, 60, 1), strict=True) if keep)
    if total > TEN_YEARS:
        with pytest.raises(ValueError):
            parse_duration(text)
        return
    parsed = parse_duration(text)
    assert parsed == timedelta(seconds=total)
    assert parse_duration(format_duration(parsed)) == parsed
    assert format_duration(parse_duration(format_duration(parsed))) == format_duration(parsed)


@given(st.text(max_size=20))
def test_parse_duration_raises_only_value_error(text: str) -> None:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        assert str(exc)
    else:
        assert timedelta(0) <= value <= timedelta(seconds=TEN_YEARS)


def test_selector_matches_every_pair() -> None:
    tags = {"app": "shop", "tier": "db"}
    assert selector_matches({"app": "shop"}, "sql-01", tags)
    assert selector_matches({"app": "shop", "tier": "db"}, "sql-01", tags)
    assert not selector_matches({"app": "shop", "tier": "web"}, "sql-01", tags)
    assert not selector_matches({"role": "golden-image"}, "sql-01", tags)


def test_selector_name_key_matches_the_vm_name_unless_a_tag_is_called_name() -> None:
    assert selector_matches({"name": "sql-01"}, "sql-01", {})
    assert not selector_matches({"name": "sql-02"}, "sql-01", {})
    assert selector_matches({"name": "db"}, "sql-01", {"name": "db"})


def test_describe_selector() -> None:
    assert describe_selector({"app": "shop", "tier": "db"}) == "{app: shop, tier: db}"


def test_tag_values_typed_by_yaml_become_strings(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(
        "apiVersion: drsim/v1\nkind: ProtectionPlan\nmetadata: {name: p, labels: {since: 2026-01-01, pinned: true, cost: 4711}}\n"
        "rules:\n  - vms: {release: 2.5}\n    snapshots: {every: 6h}\n"
    )
    plan = load(path, ProtectionPlan).doc
    assert dict(plan.metadata.labels) == {"since": "2026-01-01", "pinned": "true", "cost": "4711"}
    assert dict(plan.rules[0].vms) == {"release": "2.5"}


@pytest.mark.parametrize(
    ("step_id", "ok"), [("Declare", True), ("step.2", True), ("db_1", True), ("x.", False), ("-x", False), ("a/b", False)]
)
def test_step_ids(step_id: str, ok: bool) -> None:
    from pydantic import TypeAdapter, ValidationError

    from drsim.model.types import StepId

    adapter: TypeAdapter[str] = TypeAdapter(StepId)
    if ok:
        assert adapter.validate_python(step_id) == step_id
    else:
        with pytest.raises(ValidationError):
            adapter.validate_python(step_id)
