"""Why trials fail: the causes found in each failed trial, grouped and counted per candidate (failures.csv).

A trial fails when an objective is missed or the drill did not pass. Its causes are read from the
run itself, never guessed:
- every task that failed (and was not allowed to): its step, the step's action and the error's class
  (CapacityError, StepTimeout, CheckFailure, ...); the tasks skipped because of it are consequences,
  not causes;
- every objective missed by a measured RTO or RPO (a recovery that was too slow or too old): the
  operation is the app's objective, the kind `rto-missed` or `rpo-missed`;
- when neither explains the failure: an app never recovered, cleanup left resources, or the run
  ended with an error.
A trial counts once per cause however many VMs failed the same way; one trial may have several
causes, so the shares of a candidate's causes may add up to more than its share of failed trials.

Each cause names an example trial and the `drsim drill run` command that replays it: the comparison
writes, per candidate, the documents it ran (replay/) and a Drill over them.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from drsim.measure.events import CleanupFinished, Event, RunFinished, TaskFailed
from drsim.measure.result import DrillResult, RunStatus
from drsim.times import duration, utc_text

if TYPE_CHECKING:
    import pandas as pd

OBJECTIVE = "objective"
"""The category of a cause that is a missed objective rather than a failed task."""

REPLAY_DIR = "replay"
"""Beside the outputs: the documents each candidate ran, and a Drill per candidate that replays a trial."""


@dataclass(frozen=True)
class FailureCause:
    """One reason one trial failed."""

    step: str  # the runbook step, "" when no step failed (an objective missed, cleanup, the run)
    operation: str  # the step's action (asr.test_failover), or `objective of APP`, `cleanup`, `run`
    error_kind: str  # the error's class, or rto-missed | rpo-missed | not-recovered | incomplete | error
    category: str  # check | recovery | execution (as the engine classifies task failures) | objective
    error: str  # what this trial reported (the example shown for the group)


class MeasuredApp(Protocol):
    """What a trial measured for one app (drsim.measure.result.AppResult, compare.trials.AppOutcome)."""

    @property
    def app(self) -> str: ...
    @property
    def rto_s(self) -> float | None: ...
    @property
    def rpo_s(self) -> float | None: ...
    @property
    def rto_met(self) -> bool | None: ...
    @property
    def rpo_met(self) -> bool | None: ...


def trial_failures(events: Iterable[Event], result: DrillResult) -> tuple[FailureCause, ...]:
    """The causes of one trial's failure (empty when it passed and met every objective), one per kind."""
    failed_tasks: list[FailureCause] = []
    cleanup: CleanupFinished | None = None
    run_error: str | None = None
    for event in events:
        if isinstance(event, TaskFailed) and not event.allowed:
            failed_tasks.append(FailureCause(event.step, event.action.value, event.error_type, event.category.value, event.error))
        elif isinstance(event, CleanupFinished):
            cleanup = event
        elif isinstance(event, RunFinished):
            run_error = event.error
    objectives = {a.app: (a.rto_objective_s, a.rpo_objective_s) for a in result.apps}
    left = tuple(sorted(r.name for r in cleanup.leftovers)) if cleanup is not None and cleanup.status.value == "incomplete" else None
    return trial_causes(failed_tasks, result.apps, objectives, result.status.value, cleanup_left=left, run_error=run_error)


def trial_causes(
    failed_tasks: Iterable[FailureCause],
    apps: Iterable[MeasuredApp],
    objectives: Mapping[str, tuple[float | None, float | None]],
    status: str,
    *,
    cleanup_left: Sequence[str] | None = None,
    run_error: str | None = None,
) -> tuple[FailureCause, ...]:
    """One trial's causes from what every back end knows of it: the tasks that failed and were not
    allowed to (in the order they failed), what it measured per app with the app's RTO and RPO
    objectives in seconds, its status (passed | failed | error), the resources cleanup left (None:
    cleanup was complete) and the run's error. One cause per (step, operation, error kind): the first."""
    missed: list[FailureCause] = []
    unrecovered: list[FailureCause] = []
    for app in apps:
        where = f"objective of {app.app}"
        rto_objective_s, rpo_objective_s = objectives.get(app.app, (None, None))
        if app.rto_met is False and app.rto_s is not None and rto_objective_s is not None:
            error = f"{app.app}: RTO {duration(app.rto_s)} over the objective {duration(rto_objective_s, 'exact')}"
            missed.append(FailureCause("", where, "rto-missed", OBJECTIVE, error))
        if app.rpo_met is False and app.rpo_s is not None and rpo_objective_s is not None:
            objective = duration(rpo_objective_s, "exact")
            if app.rpo_s > rpo_objective_s:
                error = f"{app.app}: measured RPO {duration(app.rpo_s)} over the objective {objective}"
            else:  # recent enough, but data that is inconsistent or corrupted meets no RPO (drsim.measure.timeline)
                error = (
                    f"{app.app}: measured RPO {duration(app.rpo_s)} within the objective {objective}, "
                    "but the data read back was inconsistent or corrupted, which meets no RPO"
                )
            missed.append(FailureCause("", where, "rpo-missed", OBJECTIVE, error))
        if app.rto_s is None:
            unrecovered.append(FailureCause("", where, "not-recovered", OBJECTIVE, f"{app.app} never became healthy"))
    causes = [*failed_tasks, *missed]
    if not causes:
        if unrecovered:
            causes = unrecovered
        elif cleanup_left is not None:
            left = ", ".join(cleanup_left) or "resources"
            causes = [FailureCause("", "cleanup", "incomplete", "execution", f"cleanup left {left}")]
        elif status != RunStatus.PASSED.value:
            causes = [FailureCause("", "run", status, "execution", run_error or f"the drill {status}")]
    unique: dict[tuple[str, str, str], FailureCause] = {}
    for cause in causes:
        unique.setdefault((cause.step, cause.operation, cause.error_kind), cause)
    return tuple(unique.values())


FAILURE_COLUMNS = [
    "candidate",
    "step",
    "operation",
    "error_kind",
    "category",
    "trials",
    "share",
    "failed_trials",
    "example_trial",
    "example_incident_at",
    "example_seed",
    "example_error",
    "replay",
]


def replay_drill(out_dir: Path, candidate: str) -> Path:
    """The Drill that replays a candidate's trials (written by the comparison)."""
    return out_dir / REPLAY_DIR / candidate / "drill.yaml"


def replay_command(out_dir: Path, candidate: str, seed: int, incident_at: datetime) -> str:
    """The command line that runs one trial of a candidate again as a drill (`drsim drill run`)."""
    drill = shlex.quote(str(replay_drill(out_dir, candidate)))
    return f"drsim drill run {drill} --seed {seed} --incident-at {utc_text(incident_at, 'seconds')}"


def failures_frame(causes: pd.DataFrame, failed: pd.Series, trials: int, candidate_order: Sequence[str], out_dir: Path) -> pd.DataFrame:
    """Per candidate and cause: how many trials it failed, their share, and an example trial with its replay.

    `causes` has a row per candidate, trial and cause (analysis.causes_frame); `failed` counts the
    failed trials per candidate; `trials` is the number of trials each candidate ran.
    """
    import pandas as pd  # here, not at the top: a worker that runs trials needs no frames

    rows = []
    for candidate in candidate_order:
        mine = causes[causes["candidate"] == candidate]
        groups = []
        for key, group in mine.groupby(["step", "operation", "error_kind", "category"], sort=True):
            first = group.sort_values("trial", kind="stable").iloc[0]
            groups.append((key, int(group["trial"].nunique()), first))
        groups.sort(key=lambda g: (-g[1], g[0]))
        for (step, operation, error_kind, category), count, first in groups:
            incident_at = first["incident_at"].to_pydatetime()
            rows.append(
                {
                    "candidate": candidate,
                    "step": step,
                    "operation": operation,
                    "error_kind": error_kind,
                    "category": category,
                    "trials": count,
                    "share": count / trials if trials else float("nan"),
                    "failed_trials": int(failed.get(candidate, 0)),
                    "example_trial": int(first["trial"]),
                    "example_incident_at": utc_text(incident_at, "seconds"),
                    "example_seed": int(first["seed"]),
                    "example_error": first["error"],
                    "replay": replay_command(out_dir, candidate, int(first["seed"]), incident_at),
                }
            )
    return pd.DataFrame(rows, columns=FAILURE_COLUMNS)
