"""result.json: the machine-readable outcome of one drill run, with exactly FORMAT.md's keys.

Everything else a report needs (recovery points used, canary readings per VM, resources created and
deleted) is in the run's journal.jsonl. Times are ISO 8601 UTC strings; durations are seconds.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class RunStatus(StrEnum):
    PASSED = "passed"  # every objective met, every check passed
    FAILED = "failed"  # it ran, and an objective or check failed (exit 1)
    ERROR = "error"  # it could not run to the end, or cleanup left resources (exit 3)

    @property
    def exit_code(self) -> int:
        return {RunStatus.PASSED: 0, RunStatus.FAILED: 1, RunStatus.ERROR: 3}[self]


class RunKind(StrEnum):
    """What a run evidences (docs/compliance.md): only a recovery executed against Azure is operating
    evidence; a simulation evidences the design; a run against drsim's emulator, neither."""

    SIMULATION = "simulation"
    EMULATION = "emulation"
    EXECUTED = "executed recovery"

    @property
    def banner(self) -> str | None:
        """The line at the top of every report of a run that is not an executed recovery."""
        if self is RunKind.SIMULATION:
            return "Simulation: this evidences the recovery design, not an executed recovery."
        if self is RunKind.EMULATION:
            return (
                "Emulation: this ran against drsim's ARM emulator, not Azure; it evidences neither the recovery design "
                "nor an executed recovery."
            )
        return None

    @property
    def label(self) -> str:
        """The run's kind in one word, as history listings show it: simulated, emulated or real."""
        return {RunKind.SIMULATION: "simulated", RunKind.EMULATION: "emulated", RunKind.EXECUTED: "real"}[self]


def run_kind(provider: str, emulated: bool) -> RunKind:
    """The kind of a run from its provider and whether Azure was drsim's emulator."""
    if provider == "sim":
        return RunKind.SIMULATION
    return RunKind.EMULATION if emulated else RunKind.EXECUTED


class TaskStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # a dependency failed, or the run was aborted first


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppMeasures(_Strict):
    """One application's measures in one run: the one definition from which result.json's `apps`, the
    history store's rows and the history exports derive (the journal's app.measured carries them too)."""

    app: str
    rto_s: float | None
    rpo_s: float | None
    rpo_claimed_s: float | None
    rto_objective_s: float | None
    rpo_objective_s: float | None
    rto_met: bool | None
    rpo_met: bool | None
    consistent: bool | None

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The measures' names, in result.json's order (the history store's columns follow it)."""
        return tuple(AppMeasures.model_fields)

    def passed(self) -> bool:
        """Whether the application met every objective it has (at least one) with data not found
        inconsistent: an objective the runbook does not set (None) is not a miss."""
        judged = [met for met in (self.rto_met, self.rpo_met) if met is not None]
        return bool(judged) and all(judged) and self.consistent is not False

    def rto_miss_reason(self) -> str | None:
        """Why a missed RTO was missed when its figure does not show it: `never recovered` (no RTO)."""
        return "never recovered" if self.rto_met is False and self.rto_s is None else None

    def rpo_miss_reason(self) -> str | None:
        """Why a missed RPO was missed when its figures do not show it (an RPO within its objective, or
        none): `data inconsistent`, `no data read back`, or `data corrupted` (data that is inconsistent or
        corrupted meets no RPO, however recent: drsim.measure.timeline). None when the figure says it."""
        if self.rpo_met is not False:
            return None
        if self.consistent is False:
            return "data inconsistent"
        if self.rpo_s is None:
            return "no data read back"
        if self.rpo_objective_s is not None and self.rpo_s <= self.rpo_objective_s:
            return "data corrupted"
        return None

    @classmethod
    def of(cls, source: object) -> AppMeasures:
        """The measures of anything that carries them by name (an app.measured event, an AppResult)."""
        return AppMeasures(**{name: getattr(source, name) for name in AppMeasures.model_fields})


class AppResult(AppMeasures):
    """An application in result.json: its measures, and when it was triggered, ready and healthy."""

    trigger_at: str | None
    infra_ready_at: str | None
    healthy_at: str | None


class TaskResult(_Strict):
    step: str
    action: str
    vm: str | None
    status: TaskStatus
    started_at: str | None
    ended_at: str | None
    attempts: int
    recovery_point_at: str | None


class Leftover(_Strict):
    id: str
    kind: str
    name: str
    region: str
    cost_per_day: float


class CleanupResult(_Strict):
    status: Literal["done", "incomplete", "skipped"]
    leftovers: list[Leftover]


class InputRef(_Strict):
    """A document the run was made from: its copy in the run directory and its SHA-256."""

    path: str
    sha256: str


class DrillResult(_Strict):
    drill: str
    runbook: str
    provider: str
    seed: int
    incident_at: str
    status: RunStatus
    apps: list[AppResult]
    tasks: list[TaskResult]
    cleanup: CleanupResult
    # FORMAT.md's additions (2026-12); None in the results of runs whose journal does not say them.
    simulated: bool | None = None
    emulated: bool | None = None
    inputs: dict[str, InputRef] | None = None

    def to_json(self) -> str:
        """The canonical text of result.json: same result, same bytes (keys a run's journal does not
        give are left out, so an older run's result.json recomputes to its own bytes)."""
        unknown = {key for key in ("simulated", "emulated", "inputs") if getattr(self, key) is None}
        return self.model_dump_json(indent=2, exclude=unknown or None) + "\n"
