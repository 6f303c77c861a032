"""Trials: when each simulated incident happens, and running a batch of trials through the drill engine.

Trial k draws its incident time and engine seed from (comparison seed, k) alone, with numpy's
SeedSequence, so the same seed gives the same trials whatever the number of workers or the executor.
Every candidate meets the same incident at the same time with the same seed (a paired design): the
differences between candidates come from their plans, not from luck.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from drsim.compare.failures import FailureCause, trial_failures
from drsim.compare.inputs import ComparisonInputs
from drsim.errors import DrsimError, ExecutionError
from drsim.model import Estate, Loaded, ProtectionPlan, Runbook


@dataclass(frozen=True)
class TrialSpec:
    """One trial: the incident time and engine seed every candidate runs with."""

    trial: int
    incident_at: datetime
    seed: int


def trial_spec(seed: int, trial: int, window_start: datetime, window: timedelta) -> TrialSpec:
    """Trial `trial` of a comparison seeded `seed`: a whole second drawn uniformly in [start, start + window)."""
    state = np.random.SeedSequence(entropy=seed, spawn_key=(trial,)).generate_state(2, dtype=np.uint64)
    fraction = int(state[0] >> np.uint64(11)) * 2.0**-53  # 53 random bits: uniform in [0, 1)
    offset = int(fraction * window.total_seconds())
    return TrialSpec(trial, window_start + timedelta(seconds=offset), int(state[1] >> np.uint64(1)))


def trial_specs(inputs: ComparisonInputs, trials: Sequence[int] | range) -> list[TrialSpec]:
    return [trial_spec(inputs.seed, k, inputs.window_start, inputs.window) for k in trials]


@dataclass(frozen=True)
class TrialChunk:
    """A run of consecutive trials, sent to one worker as one task (every candidate runs each trial)."""

    first: int
    stop: int

    @property
    def trials(self) -> range:
        return range(self.first, self.stop)

    def __len__(self) -> int:
        return self.stop - self.first


def chunks(trials: int, workers: int, *, per_worker: int = 8, largest: int = 100) -> list[TrialChunk]:
    """Split trials into a few chunks per worker: large enough that task overhead is small, small enough to balance."""
    size = max(1, min(largest, -(-trials // (max(1, workers) * per_worker))))
    return [TrialChunk(first, min(trials, first + size)) for first in range(0, trials, size)]


@dataclass(frozen=True)
class AppOutcome:
    """What one trial measured for one application."""

    app: str
    rto_s: float | None
    rpo_s: float | None
    rpo_claimed_s: float | None
    consistent: bool | None
    rto_met: bool | None
    rpo_met: bool | None


@dataclass(frozen=True)
class TrialOutcome:
    """One candidate's simulated drill in one trial (what every back end produces per candidate and trial)."""

    candidate: str
    trial: int
    incident_at: datetime
    seed: int
    status: str
    drill_cost: float
    apps: tuple[AppOutcome, ...]
    failures: tuple[FailureCause, ...] = ()  # why the trial failed (compare.failures); empty when it passed


@dataclass(frozen=True)
class WorkerCandidate:
    name: str
    plan: Loaded[ProtectionPlan]
    runbook: Loaded[Runbook]


@dataclass(frozen=True)
class WorkerDocuments:
    """The documents a worker validated once from a comparison's plain data."""

    estate: Loaded[Estate]
    candidates: tuple[WorkerCandidate, ...]


_built: dict[str, WorkerDocuments] = {}
_built_lock = threading.Lock()


def worker_documents(inputs: ComparisonInputs) -> WorkerDocuments:
    """The comparison's documents, validated once per process (threads of a Dask worker share them)."""
    with _built_lock:
        found = _built.get(inputs.digest)
        if found is None:
            found = WorkerDocuments(
                inputs.estate.load(Estate),
                tuple(WorkerCandidate(c.name, c.plan.load(ProtectionPlan), c.runbook.load(Runbook)) for c in inputs.candidates),
            )
            _built.clear()  # one comparison at a time per process: do not keep old ones alive
            _built[inputs.digest] = found
        return found


def run_trials(inputs: ComparisonInputs, chunk: TrialChunk) -> list[TrialOutcome]:
    """Run every candidate through every trial of the chunk; what a worker does with one task."""
    documents = worker_documents(inputs)
    outcomes = []
    for spec in trial_specs(inputs, chunk.trials):
        for candidate in documents.candidates:
            outcomes.append(run_trial(documents.estate, candidate, spec))
    return outcomes


def iter_trial_outcomes(inputs: ComparisonInputs, specs: Sequence[TrialSpec]) -> Iterator[TrialOutcome]:
    """Every candidate through the given trials in this process (for a single worker and for tests)."""
    documents = worker_documents(inputs)
    for spec in specs:
        for candidate in documents.candidates:
            yield run_trial(documents.estate, candidate, spec)


def run_trial(estate: Loaded[Estate], candidate: WorkerCandidate, spec: TrialSpec) -> TrialOutcome:
    """One simulated drill through the same engine and measurement as `drsim drill run`, and what it cost."""
    from drsim.cloud.sim.catalog import default_catalog
    from drsim.compare.drillcost import drill_cost
    from drsim.drills import simulate_run

    catalog = default_catalog()
    try:
        # Named after the candidate, as the Drill that replays its trials is (compare.failures.replay_drill).
        outcome = simulate_run(
            candidate.runbook,
            estate,
            candidate.plan,
            incident_at=spec.incident_at,
            seed=spec.seed,
            catalog=catalog,
            drill_name=candidate.name,
        )
    except DrsimError as exc:
        # Re-raised as a plain ExecutionError: it crosses process boundaries and names the trial.
        trial = f"candidate {candidate.name}, trial {spec.trial} (incident at {spec.incident_at:%Y-%m-%dT%H:%M:%SZ}, seed {spec.seed})"
        raise ExecutionError(f"{trial}: {exc.format_message()}") from None
    result = outcome.result
    if result is None:  # only a dry run has no result
        raise ExecutionError(f"candidate {candidate.name}, trial {spec.trial}: the engine returned no result")
    apps = tuple(AppOutcome(a.app, a.rto_s, a.rpo_s, a.rpo_claimed_s, a.consistent, a.rto_met, a.rpo_met) for a in result.apps)
    cost = drill_cost(outcome.events, estate.doc, catalog, candidate.runbook.doc)
    failures = trial_failures(outcome.events, result)
    return TrialOutcome(candidate.name, spec.trial, spec.incident_at, spec.seed, result.status.value, cost, apps, failures)
