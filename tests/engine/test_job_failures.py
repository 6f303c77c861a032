"""A long-running job that fails for a reason a retry can cure is retried like any retryable error.

Target capacity is best-effort (azure-facts.md, Site Recovery): a test failover whose job ends
FAILED with a capacity error must use the step's `retries`, and a later attempt may succeed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drsim.cloud.api import Job, JobErrorKind, JobKind, JobStatus
from drsim.cloud.sim import Catalog, load_catalog
from drsim.drills import simulate_run
from drsim.engine.actions import job_failed
from drsim.engine.run import RunOutcome
from drsim.errors import CapacityError, ProviderError, TransientError
from drsim.measure.events import FailureCategory, TaskFailed, TaskFinished, TaskRetrying
from drsim.measure.result import RunStatus
from drsim.model import Estate, ProtectionPlan, Runbook, load

DATA = Path(__file__).resolve().parents[1] / "compare" / "data"
INCIDENT = datetime(2026, 10, 6, 7, 57, 8, tzinfo=UTC)


def capacity_catalog(tmp_path: Path, probability: float) -> Catalog:
    calibration = tmp_path / "capacity.yaml"
    calibration.write_text(
        f"calibration: capacity\nsite_recovery:\n  capacity_failure_probability: {{dist: fixed, value: {probability}, source: test}}\n"
    )
    return load_catalog(calibration)


def failover_runbook(retries: int) -> Runbook:
    body: dict[str, Any] = {
        "apiVersion": "drsim/v1",
        "kind": "Runbook",
        "metadata": {"name": "store-asr-failover"},
        "scenario": {"incident": "region-outage", "region": "eastus2"},
        "objectives": [{"app": "store", "rto": "2h", "rpo": "15m"}],
        "steps": [
            {"id": "bubble", "action": "network.isolate", "with": {"region": "centralus", "cidr": "10.250.0.0/16"}},
            {
                "id": "failover",
                "action": "asr.test_failover",
                "needs": ["bubble"],
                "with": {"vms": {"app": "store"}, "network": "bubble", "recovery_point": "latest-processed"},
                "retries": retries,
            },
            {"id": "verify", "action": "check.canary", "needs": ["failover"], "with": {"app": "store"}},
        ],
        "cleanup": "always",
    }
    return Runbook.model_validate(body)


def simulate(catalog: Catalog, *, retries: int, seed: int) -> RunOutcome:
    estate = load(DATA / "estate.yaml", Estate)
    plan = load(DATA / "plans" / "asr.yaml", ProtectionPlan)
    return simulate_run(failover_runbook(retries), estate, plan, incident_at=INCIDENT, seed=seed, catalog=catalog)


def test_a_test_failover_without_capacity_uses_the_steps_retries_then_fails_as_a_recovery_finding(tmp_path: Path) -> None:
    outcome = simulate(capacity_catalog(tmp_path, 1.0), retries=2, seed=1)
    retried = [e for e in outcome.events if isinstance(e, TaskRetrying) and e.task == "failover/db-01"]
    assert [e.attempt for e in retried] == [1, 2]
    assert all("CapacityError" in e.error and e.retry_in_s > 0 for e in retried)
    failed = next(e for e in outcome.events if isinstance(e, TaskFailed) and e.task == "failover/db-01")
    assert (failed.attempts, failed.error_type, failed.category) == (3, "CapacityError", FailureCategory.RECOVERY)
    assert outcome.result is not None and outcome.result.status is RunStatus.FAILED
    assert outcome.result.cleanup.status == "done" and outcome.result.cleanup.leftovers == []


def test_a_retry_after_a_capacity_failure_can_succeed(tmp_path: Path) -> None:
    # With a 50 % chance per attempt, seed 7's first attempt finds no capacity and its second does.
    outcome = simulate(capacity_catalog(tmp_path, 0.5), retries=2, seed=7)
    retried = [e for e in outcome.events if isinstance(e, TaskRetrying) and e.task == "failover/db-01"]
    assert len(retried) == 1 and "CapacityError" in retried[0].error
    done = next(e for e in outcome.events if isinstance(e, TaskFinished) and e.task == "failover/db-01")
    assert done.attempts == 2
    assert outcome.result is not None and outcome.result.status is RunStatus.PASSED


def test_a_failed_jobs_kind_decides_the_error_and_whether_it_is_retried() -> None:
    def failed(kind: JobErrorKind | None) -> ProviderError:
        job = Job("job-1", JobKind.TEST_FAILOVER, JobStatus.FAILED, "vm-1", INCIDENT, INCIDENT, error="why", error_kind=kind)
        return job_failed(job, "test failover of vm-1")

    assert isinstance(failed(JobErrorKind.CAPACITY), CapacityError) and failed(JobErrorKind.CAPACITY).retryable
    assert isinstance(failed(JobErrorKind.TRANSIENT), TransientError) and failed(JobErrorKind.TRANSIENT).retryable
    unknown = failed(None)
    assert type(unknown) is ProviderError and not unknown.retryable
    assert str(unknown) == "test failover of vm-1 failed: why"
