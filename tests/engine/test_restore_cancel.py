"""Cleanup cancels a Backup restore the run stopped following (here a step timeout), in the simulated world:
the cancel is journaled (cleanup.restore_cancelled) with the job's status when cleanup stopped waiting; a
cancelled restore creates nothing; one that completed before the cancel took is recorded and deleted as before;
one whose job does not end within the wait leaves the cleanup incomplete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_restore_timeouts_azure import restore_drill

import drsim.engine.cleanup as cleanup
from drsim.cloud.sim.backup import BackupService
from drsim.drills import simulate_run
from drsim.engine.run import RunOutcome
from drsim.errors import ConflictError
from drsim.measure.events import CleanupRestoreCancelled, OperationAccepted, ResourceCreated, ResourceDeleted
from drsim.model.checks import load_drill

INCIDENT = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def timed_out_restore(tmp_path: Path, restore_as: str = "vm") -> RunOutcome:
    bundle = load_drill(restore_drill(tmp_path, restore_as=restore_as))
    return simulate_run(bundle.runbook, bundle.estate, bundle.plan, incident_at=INCIDENT, seed=42)


def restored(outcome: RunOutcome) -> set[str]:
    return {e.id for e in outcome.events if isinstance(e, ResourceCreated) and e.task is None}


@pytest.mark.parametrize("restore_as", ["vm", "disks"])
def test_a_restore_in_flight_at_cleanup_is_cancelled_and_creates_nothing(tmp_path: Path, restore_as: str) -> None:
    outcome = timed_out_restore(tmp_path, restore_as)
    (accepted,) = [e for e in outcome.events if isinstance(e, OperationAccepted)]
    (cancel,) = [e for e in outcome.events if isinstance(e, CleanupRestoreCancelled)]
    assert (cancel.vm, cancel.job, cancel.status, cancel.error) == ("app-01", accepted.job, "Cancelled", None)
    assert restored(outcome) == set()
    assert outcome.result is not None
    assert outcome.result.cleanup.status == "done" and outcome.result.cleanup.leftovers == []


def test_a_restore_that_ends_before_the_cancel_takes_is_still_found_and_deleted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def refused(self: BackupService, job_id: str) -> None:
        raise ConflictError(f"job {job_id} has already ended: it cannot be cancelled")

    monkeypatch.setattr(BackupService, "cancel_job", refused)
    outcome = timed_out_restore(tmp_path)
    (cancel,) = [e for e in outcome.events if isinstance(e, CleanupRestoreCancelled)]
    assert cancel.status == "Succeeded" and cancel.error is not None and "cannot be cancelled" in cancel.error
    made = restored(outcome)
    assert any("/virtualMachines/" in rid for rid in made) and any("/disks/" in rid for rid in made)
    assert made <= {e.id for e in outcome.events if isinstance(e, ResourceDeleted)}
    assert outcome.result is not None
    assert outcome.result.cleanup.status == "done" and outcome.result.cleanup.leftovers == []


def test_a_restore_whose_job_does_not_end_within_the_wait_leaves_cleanup_incomplete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def ignored(self: BackupService, job_id: str) -> None:
        return None

    monkeypatch.setattr(BackupService, "cancel_job", ignored)
    monkeypatch.setattr(cleanup, "CANCEL_WAIT", timedelta(0))
    outcome = timed_out_restore(tmp_path)
    (cancel,) = [e for e in outcome.events if isinstance(e, CleanupRestoreCancelled)]
    assert (cancel.status, cancel.error) == ("InProgress", None)
    assert outcome.result is not None
    assert outcome.result.cleanup.status == "incomplete"
