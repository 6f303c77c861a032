"""A failed job whose error says a retry may cure it (capacity, passing failures) stays retryable
through the ARM emulator and the Azure provider, as it is in the simulated world."""

from __future__ import annotations

from datetime import UTC, datetime

from drsim.cloud.api import Job, JobErrorKind, JobKind, JobStatus
from drsim.cloud.azure.provider import job_error_kind
from drsim.cloud.emulator.arm import job_error_code

AT = datetime(2026, 11, 20, 14, tzinfo=UTC)


def failed(kind: JobErrorKind | None) -> Job:
    return Job(
        id="j",
        kind=JobKind.TEST_FAILOVER,
        status=JobStatus.FAILED,
        vm_id="vm",
        started_at=AT,
        ended_at=AT,
        error="CapacityError: no capacity",
        error_kind=kind,
    )


def test_the_emulator_reports_a_lack_of_capacity_as_azures_allocation_failure() -> None:
    assert job_error_code(failed(JobErrorKind.CAPACITY), "TestFailoverFailed") == "AllocationFailed"
    assert job_error_code(failed(JobErrorKind.TRANSIENT), "TestFailoverFailed") == "InternalServerError"
    assert job_error_code(failed(None), "TestFailoverFailed") == "TestFailoverFailed"


def test_the_provider_reads_allocation_failures_as_capacity_and_service_failures_as_transient() -> None:
    assert job_error_kind(["AllocationFailed"]) is JobErrorKind.CAPACITY
    assert job_error_kind(["SkuNotAvailable", "InternalServerError"]) is JobErrorKind.CAPACITY
    assert job_error_kind(["InternalServerError"]) is JobErrorKind.TRANSIENT
    assert job_error_kind(["TestFailoverFailed", None]) is None
    assert job_error_kind([]) is None


def test_every_kind_survives_the_round_trip_through_the_emulator_and_the_provider() -> None:
    for kind in (JobErrorKind.CAPACITY, JobErrorKind.TRANSIENT, None):
        assert job_error_kind([job_error_code(failed(kind), "TestFailoverFailed")]) is kind


def test_the_provider_reads_backups_cancelling_and_cancelled_job_statuses() -> None:
    """Backup's JobStatus (GetJobDetails.json's `properties.status`): Cancelling is still running, Cancelled
    has ended without success (it was read as Failed before cancel_job existed)."""
    from drsim.cloud.azure.provider import _status

    assert _status("Cancelling") is JobStatus.CANCELLING and not JobStatus.CANCELLING.ended
    assert _status("Cancelled") is JobStatus.CANCELLED and JobStatus.CANCELLED.ended
    assert _status("Canceled") is JobStatus.CANCELLED
    assert _status("Completed") is JobStatus.SUCCEEDED and _status("InProgress") is JobStatus.IN_PROGRESS
