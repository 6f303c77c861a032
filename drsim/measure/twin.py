"""The measures the twin predicts and a real run is held against: RTO per application, each step's span,
each operation's duration per kind; their spread over many trials (p5 / p50 / p95).

One set of functions for both sides, so that the prediction (drsim.compare.predict, over simulated
trials) and the measurement (the report of a real run, over its journal) count the same things:
- a step's span runs from the first start of any of its tasks to the end of the last, and counts
  only when every task of the step succeeded (a failed or skipped step has no duration to compare);
- an operation's duration is its operation.finished `seconds` (the last request to the end, on the
  run's clock).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from drsim.measure.events import Event, OperationFinished, PredictedSpread, TaskFailed, TaskFinished, TaskSkipped, TaskStarted


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of sorted values, interpolated linearly between closest ranks
    (numpy's default method)."""
    if not ordered:
        raise ValueError("no values")
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(name: str, values: Iterable[float]) -> PredictedSpread:
    """p5 / p50 / p95 of the values (None when there are none), rounded to the millisecond."""
    ordered = sorted(values)
    if not ordered:
        return PredictedSpread(name, 0, None, None, None)
    return PredictedSpread(
        name, len(ordered), round(percentile(ordered, 5), 3), round(percentile(ordered, 50), 3), round(percentile(ordered, 95), 3)
    )


def step_spans(events: Iterable[Event]) -> dict[str, float]:
    """Seconds from the first start of a step's tasks to the end of its last, for each step whose every
    task succeeded (in the order the steps first started)."""
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    broken: set[str] = set()
    for event in events:
        cls = event.__class__
        if cls is TaskStarted:
            assert isinstance(event, TaskStarted)
            if event.step not in first:
                first[event.step] = event.at
        elif cls is TaskFinished:
            assert isinstance(event, TaskFinished)
            if event.step not in last or event.at > last[event.step]:
                last[event.step] = event.at
        elif cls is TaskFailed or cls is TaskSkipped:
            assert isinstance(event, TaskFailed | TaskSkipped)
            broken.add(event.step)
    return {step: (last[step] - start).total_seconds() for step, start in first.items() if step in last and step not in broken}


def operation_seconds(events: Iterable[Event]) -> dict[str, list[float]]:
    """Each operation's duration, by operation kind (from operation.finished)."""
    found: dict[str, list[float]] = {}
    for event in events:
        if event.__class__ is OperationFinished:
            assert isinstance(event, OperationFinished)
            found.setdefault(event.op_kind, []).append(event.seconds)
    return found


def outside(predicted: PredictedSpread, value: float | None) -> bool | None:
    """Whether a measure lies outside the predicted p5-p95 (None: nothing to compare)."""
    if value is None or predicted.p5_s is None or predicted.p95_s is None:
        return None
    return value < predicted.p5_s or value > predicted.p95_s


@dataclass(frozen=True)
class Held:
    """One measure of a real run held against the twin's prediction of it."""

    name: str
    predicted: PredictedSpread
    measured_s: float | None  # an app's RTO, a step's span, the median of an operation kind's durations
    count: int = 1  # how many measured values (operations of the kind); 0 when there is none
    outside_count: int = 0  # of those, how many lie outside the predicted p5-p95

    @property
    def outside(self) -> bool | None:
        return outside(self.predicted, self.measured_s)


def hold(
    predicted: Sequence[PredictedSpread], measured: Mapping[str, float | None] | Mapping[str, list[float]], *, pooled: bool = False
) -> tuple[Held, ...]:
    """Each predicted measure beside what was measured. `pooled`: the measured values are lists (one
    per operation), held by their median, each counted when outside p5-p95."""
    rows = []
    for spread_ in predicted:
        value = measured.get(spread_.name)
        if pooled:
            values = sorted(value) if isinstance(value, list) else []
            median = percentile(values, 50) if values else None
            count = sum(1 for v in values if outside(spread_, v))
            rows.append(Held(spread_.name, spread_, median, len(values), count))
        else:
            single = value if isinstance(value, int | float) else None
            rows.append(Held(spread_.name, spread_, single, 0 if single is None else 1, 1 if outside(spread_, single) else 0))
    return tuple(rows)
