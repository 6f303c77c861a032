"""Journal events as JSON objects: round trips, fields added later, and what a bad object gives."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from drsim.cloud.api import ResourceKind
from drsim.measure.events import (
    CleanupFinished,
    LeftoverResource,
    ResourceCreated,
    RunFinished,
    RunStarted,
    event_from_dict,
    event_to_dict,
)
from drsim.measure.result import RunStatus

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
VM = "/subscriptions/s/resourceGroups/drsim-drills/providers/Microsoft.Compute/virtualMachines/dr1-sql-01"


def started(**extra: object) -> RunStarted:
    fields: dict[str, object] = {
        "at": T0,
        "run_id": "20261120T140000Z-s42",
        "drill": "2026-q4-shop-asr",
        "runbook": "shop-asr-region-failover",
        "estate": "contoso",
        "plan": "asr-and-daily-backup",
        "provider": "sim",
        "seed": 42,
        "incident_at": T0,
        "detected_at": T0 + timedelta(minutes=5),
        "drsim_version": "0.1.0",
        "catalog_version": None,
        "concurrency": 50,
        "cleanup": "always",
    }
    return RunStarted(**{**fields, **extra})  # type: ignore[arg-type]


def round_trip(event: object) -> object:
    return event_from_dict(json.loads(json.dumps(event_to_dict(event))))  # type: ignore[arg-type]


def test_the_drills_controls_and_the_price_of_a_resource_round_trip() -> None:
    run = started(controls=("iso27001-2022:A.5.30", "soc2:A1.3"))
    created = ResourceCreated(
        at=T0,
        id=VM,
        resource_kind="Microsoft.Compute/virtualMachines",
        name="dr1-sql-01",
        region="centralus",
        task="db/sql-01",
        cost_per_day=12.096,
    )
    assert round_trip(run) == run
    assert round_trip(created) == created
    assert event_to_dict(created)["cost_per_day"] == 12.096
    assert event_to_dict(run)["controls"] == ["iso27001-2022:A.5.30", "soc2:A1.3"]


def test_nested_records_and_enums_round_trip() -> None:
    finished = CleanupFinished(
        at=T0, status="incomplete", leftovers=(LeftoverResource(VM, "Microsoft.Compute/virtualMachines", "dr1", "centralus", 4.608),)
    )
    assert round_trip(finished) == finished
    aborted = RunFinished(at=T0, status=RunStatus.ERROR, error="aborted")
    assert round_trip(aborted) == aborted


def test_a_line_written_before_prices_and_controls_were_journaled_reads_with_none_and_no_controls() -> None:
    old = event_to_dict(started())
    del old["controls"]
    assert event_from_dict(old) == started()
    created = {
        "event": "resource.created",
        "at": "2026-11-20T14:00:29.5Z",
        "id": VM,
        "resource_kind": "Microsoft.Compute/virtualMachines",
        "name": "dr1-sql-01",
        "region": "centralus",
        "task": None,
    }
    decoded = event_from_dict(created)
    assert isinstance(decoded, ResourceCreated)
    assert decoded.cost_per_day is None and decoded.at == T0 + timedelta(seconds=29.5)


def test_a_whole_number_price_is_a_float() -> None:
    data = event_to_dict(ResourceCreated(at=T0, id=VM, resource_kind=ResourceKind.VM, name="n", region="r", task=None, cost_per_day=2.0))
    data["cost_per_day"] = 2
    decoded = event_from_dict(data)
    assert isinstance(decoded, ResourceCreated) and type(decoded.cost_per_day) is float


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "unknown fields ['colour'] for RunStarted"),
        ({"at": 5}, "bad run.started event"),
        ({"controls": 7}, "bad run.started event"),
        ({"event": "run.begun"}, "unknown event 'run.begun'"),
    ],
)
def test_a_bad_object_is_a_value_error_saying_what_is_wrong(change: dict[str, object], message: str) -> None:
    data = {**event_to_dict(started()), **change}
    with pytest.raises(ValueError, match=re.escape(message)):
        event_from_dict(data)


def test_a_missing_field_is_a_value_error() -> None:
    data = event_to_dict(started())
    del data["seed"]
    with pytest.raises(ValueError, match=r"bad run\.started event"):
        event_from_dict(data)


@pytest.mark.parametrize(
    ("change", "error"),
    [  # a line holding every field is made in one call of its class; what is wrong with it is worded as before
        ({"at": 5}, "bad run.started event: 'int' object has no attribute 'strip'"),
        ({"controls": 7}, "bad run.started event: 'int' object is not iterable"),
        ({"cleanup": "sometimes"}, "'sometimes' is not a valid CleanupPolicy"),
        ({"cleanup": ["x"]}, "['x'] is not a valid CleanupPolicy"),
        ({"at": "yesterday"}, "Invalid isoformat string: 'yesterday'"),
        (
            {"inputs": [{"role": "drill"}]},
            "bad run.started event: InputFile.__init__() missing 2 required positional arguments: 'path' and 'sha256'",
        ),
        ({"inputs": [{"role": "drill", "path": "p", "sha256": "s", "x": 1}]}, "unknown fields ['x'] for InputFile"),
        ({"performed": {"started": "bad", "drsim_version": "1", "host": "h", "user": "u"}}, "Invalid isoformat string: 'bad'"),
    ],
)
def test_a_whole_line_with_a_bad_value_says_what_is_wrong(change: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError) as raised:
        event_from_dict({**event_to_dict(started()), **change})
    assert str(raised.value) == error


def test_consecutive_events_get_each_its_own_time_and_values() -> None:
    later = T0 + timedelta(seconds=1.5)
    times = [T0, T0, later, T0, later, later]
    events = [started(at=moment, incident_at=T0 - timedelta(hours=k), seed=k) for k, moment in enumerate(times)]
    decoded = [event_from_dict(json.loads(json.dumps(event_to_dict(e)))) for e in events]
    assert decoded == events
    assert [e.at for e in decoded] == times  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="Invalid isoformat string: 'later'"):  # a time it cannot parse is never taken for the last one
        event_from_dict({**event_to_dict(events[-1]), "at": "later"})
    assert event_from_dict(event_to_dict(events[-1])) == events[-1]
