"""The twin's prediction of a drill: many simulated trials of the same documents, before the real drill.

Every trial runs the drill's runbook, estate and plan in the simulated world with the drill's catalog
(its calibration applied) at the real drill's incident time; what varies is the engine and world seed,
drawn for trial k from (seed, k) exactly as a comparison draws it (drsim.compare.trials.trial_spec,
over a window of zero length). Each trial is the same engine and measurement as `drsim drill run`
(drsim.drills.simulate_run). The spread of RTO per application, of each step's span and of one
operation's duration per kind (drsim.measure.twin) is the prediction, journaled by the real run as
prediction.made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from drsim.cloud.sim.catalog import Catalog
from drsim.compare.trials import trial_spec
from drsim.engine.taskgraph import OpKind
from drsim.errors import DrsimError, ExecutionError, UsageError
from drsim.measure.events import PredictionMade
from drsim.measure.twin import operation_seconds, spread, step_spans
from drsim.model.checks import DrillBundle
from drsim.model.documents import Estate, ProtectionPlan, Runbook, SimOptions

DEFAULT_TRIALS = 200
"""Trials of a prediction unless `--predict-trials` says otherwise (0: no prediction)."""

Progress = Callable[[int, int], None]
"""Called after each trial with (trials done, trials in all)."""


@dataclass(frozen=True)
class TwinDocuments:
    """What the twin runs: a drill's documents, catalog and options."""

    drill: str
    runbook: Runbook
    estate: Estate
    plan: ProtectionPlan
    catalog: Catalog
    sim_options: SimOptions | None = None
    concurrency: int = 50


def drill_documents(bundle: DrillBundle) -> TwinDocuments:
    """The twin of a loaded drill: its documents, its catalog (with `sim.calibration`), its sim options."""
    from drsim.cloud.sim.drill import drill_catalog

    drill = bundle.drill.doc
    return TwinDocuments(
        drill.name, bundle.runbook.doc, bundle.estate.doc, bundle.plan.doc, drill_catalog(bundle), drill.sim, drill.concurrency
    )


def predict(
    documents: TwinDocuments, *, incident_at: datetime, trials: int = DEFAULT_TRIALS, seed: int = 0, progress: Progress | None = None
) -> PredictionMade:
    """`trials` simulated runs of the documents at `incident_at`, summarized as p5 / p50 / p95 per
    application (RTO), step (span) and operation kind (one operation's duration). Its `at` is the
    incident time; the run that journals it gives it its own time."""
    from drsim.drills import simulate_run  # the engine's orchestration, as compare.trials.run_trial uses it

    if trials < 1:
        raise UsageError(f"a prediction needs at least one trial, got {trials}")
    if incident_at.tzinfo is None:
        raise UsageError(f"incident time {incident_at.isoformat()} has no time zone; give it in UTC")
    incident_at = incident_at.astimezone(UTC)
    rto: dict[str, list[float]] = {}
    spans: dict[str, list[float]] = {}
    operations: dict[str, list[float]] = {}
    for k in range(trials):
        spec = trial_spec(seed, k, incident_at, timedelta(0))
        try:
            outcome = simulate_run(
                documents.runbook,
                documents.estate,
                documents.plan,
                incident_at=spec.incident_at,
                seed=spec.seed,
                sim_options=documents.sim_options,
                concurrency=documents.concurrency,
                drill_name=documents.drill,
                catalog=documents.catalog,
                journal_operations=True,
            )
        except DrsimError as exc:
            raise ExecutionError(
                f"predicting drill {documents.drill}: trial {k} (seed {spec.seed}): {exc.format_message()} "
                "(nothing was created; --predict-trials 0 runs the drill without the twin's prediction)"
            ) from None
        assert outcome.result is not None
        for app in outcome.result.apps:
            values = rto.setdefault(app.app, [])
            if app.rto_s is not None:
                values.append(app.rto_s)
        for step, seconds in step_spans(outcome.events).items():
            spans.setdefault(step, []).append(seconds)
        for kind, values in operation_seconds(outcome.events).items():
            operations.setdefault(kind, []).extend(values)
        if progress is not None:
            progress(k + 1, trials)
    steps = [s.id for s in documents.runbook.steps]
    kinds = [k.value for k in OpKind]
    return PredictionMade(
        at=incident_at,
        trials=trials,
        seed=seed,
        incident_at=incident_at,
        catalog_version=documents.catalog.label,
        apps=tuple(spread(app, values) for app, values in sorted(rto.items())),
        steps=tuple(spread(step, spans.get(step, ())) for step in steps),
        operations=tuple(spread(kind, operations[kind]) for kind in kinds if kind in operations),
    )
