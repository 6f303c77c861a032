"""The timing, limit and price catalog of the simulated world, loaded from catalog.yaml into typed models.

Every figure the world uses is an entry with a `source:`; uncertain (L-confidence) figures are
distributions so that a calibration file measured on real drills can replace them. A calibration
file mirrors the catalog's sections and replaces whole entries (docs/simulator.md); its problems are
reported as `path:line:col: message` like every other drsim document.
"""

from __future__ import annotations

import math
import os
from functools import cache
from statistics import NormalDist
from typing import Annotated, Any, Literal, Union

from pydantic import BeforeValidator, Field, ValidationError, model_validator

from drsim.cloud.arm import Bucket, BucketLimit, RequestClass, bucket_limits
from drsim.cloud.figures import Figure, Strict, packaged_catalog
from drsim.cloud.prices import PriceList
from drsim.errors import DocumentError, Problem
from drsim.model.loader import Source, problems_from_validation, read_yaml
from drsim.model.types import parse_duration

_UNIT_NORMAL = NormalDist()


def _number(value: object) -> object:
    """A parameter is a number, or a duration string (`90s`, `15m`, `2h`) read as seconds."""
    if isinstance(value, str):
        return parse_duration(value).total_seconds()
    return value


Number = Annotated[float, BeforeValidator(_number)]


# ------------------------------------------------------------------------------------ distributions


class Fixed(Figure):
    """Always the same value (H-confidence figures)."""

    dist: Literal["fixed"]
    value: Number

    def sample(self, u: float) -> float:
        return self.value


class Uniform(Figure):
    dist: Literal["uniform"]
    low: Number
    high: Number

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("high must not be below low")
        return self

    def sample(self, u: float) -> float:
        return self.low + (self.high - self.low) * u


class Triangular(Figure):
    dist: Literal["triangular"]
    low: Number
    mode: Number
    high: Number

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not self.low <= self.mode <= self.high:
            raise ValueError("a triangular distribution needs low <= mode <= high")
        return self

    def sample(self, u: float) -> float:
        span = self.high - self.low
        if span == 0:
            return self.low
        cut = (self.mode - self.low) / span
        if u < cut:
            return self.low + math.sqrt(u * span * (self.mode - self.low))
        return self.high - math.sqrt((1 - u) * span * (self.high - self.mode))


class Lognormal(Figure):
    """exp(N(ln median, sigma)), clipped to [low, high] when given."""

    dist: Literal["lognormal"]
    median: Number = Field(gt=0)
    sigma: float = Field(ge=0, le=5)
    low: Number = 0.0
    high: Number | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Lognormal:
        if self.high is not None and self.high < self.low:
            raise ValueError("high must not be below low")
        return self

    def sample(self, u: float) -> float:
        z = _UNIT_NORMAL.inv_cdf(min(max(u, 1e-12), 1 - 1e-12))
        value = self.median * math.exp(self.sigma * z)
        value = max(value, self.low)
        return min(value, self.high) if self.high is not None else value


Distribution = Annotated[Union[Fixed, Uniform, Triangular, Lognormal], Field(discriminator="dist")]  # noqa: UP007


class Limit(Figure):
    value: int = Field(ge=0)


# ----------------------------------------------------------------------------------------- sections


class WorkloadTimings(Strict):
    canary_interval: Distribution
    flush_lag: Distribution
    stopped_for: Distribution


class BackupTimings(Strict):
    schedule_jitter: Distribution
    snapshot_phase: Distribution
    transfer_phase: Distribution
    restore_snapshot_tier: Distribution
    restore_vault_base: Distribution
    restore_vault_throughput_mbps: Distribution
    restores_per_vm_per_day: Limit
    crr_lag: Distribution


class SiteRecoveryTimings(Strict):
    crash_point_interval: Distribution
    replication_lag: Distribution
    point_processing: Distribution
    pending_processing: Distribution
    test_failover: Distribution
    test_failover_cleanup: Distribution
    capacity_failure_probability: Distribution
    pruning_recent: Distribution
    pruning_bucket: Distribution
    churn_limit_vm_mbps: Limit
    churn_limit_standard_disk_mbps: Limit
    churn_limit_premium_disk_mbps: Limit


class SnapshotTimings(Strict):
    capture_latency: Distribution
    create: Distribution
    scheduled_spread: Distribution
    copy_base: Distribution
    copy_throughput_mbps: Distribution
    hydration_throughput_mbps: Distribution
    parallel_copies_per_region: Limit


class ComputeTimings(Strict):
    vm_create_linux: Distribution
    vm_create_windows: Distribution
    boot_specialized_linux: Distribution
    boot_specialized_windows: Distribution
    boot_generalized_linux: Distribution
    boot_generalized_windows: Distribution
    disk_create: Distribution
    image_create: Distribution
    image_concurrent_deployments: Limit
    deallocate: Distribution
    generalize: Distribution
    network_create: Distribution
    run_command: Distribution
    delete_vm: Distribution
    delete_other: Distribution


class ArmLimits(Strict):
    request_latency: Distribution
    read_bucket: Bucket
    write_bucket: Bucket
    delete_bucket: Bucket

    def limits(self) -> dict[RequestClass, BucketLimit]:
        """ARM's token buckets by request class (drsim.cloud.arm)."""
        return bucket_limits(dict(self))


class Catalog(Strict):
    """Every duration, rate, limit and price of the simulated world, each with its source."""

    version: str = Field(min_length=1)
    calibration: str | None = None
    workload: WorkloadTimings
    backup: BackupTimings
    site_recovery: SiteRecoveryTimings
    snapshots: SnapshotTimings
    compute: ComputeTimings
    arm: ArmLimits
    prices: PriceList

    @property
    def label(self) -> str:
        """The version string reports show: the catalog version, plus the calibration applied."""
        return f"{self.version}+{self.calibration}" if self.calibration else self.version

    def entries(self) -> dict[str, Figure]:
        """Every entry by its dotted name (`backup.schedule_jitter`), for listing and source checks."""
        found: dict[str, Figure] = {}
        for section_name in _SECTIONS:
            section = getattr(self, section_name)
            for entry_name in type(section).model_fields:
                found[f"{section_name}.{entry_name}"] = getattr(section, entry_name)
        return found


_SECTIONS = ("workload", "backup", "site_recovery", "snapshots", "compute", "arm", "prices")


def _validate(merged: dict[str, Any], base: Source, calibration: Source | None, calibration_data: dict[str, Any]) -> Catalog:
    """Validate the merged catalog; each problem is located in the file that wrote the entry."""
    try:
        return Catalog.model_validate(merged)
    except ValidationError as exc:
        problems: list[Problem] = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            section = calibration_data.get(str(loc[0])) if loc else None
            from_calibration = calibration is not None and (
                (len(loc) == 1 and loc[0] in calibration_data) or (len(loc) >= 2 and isinstance(section, dict) and str(loc[1]) in section)
            )
            source = calibration if from_calibration and calibration is not None else base
            if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                kinds = "fixed, uniform, triangular, lognormal"
                got = error.get("ctx", {}).get("tag")
                text = f"unknown dist {got!r}; expected one of {kinds}" if got is not None else f"missing required key 'dist' ({kinds})"
                problems.append(source.problem(loc[:2], text))
                continue
            single = ValidationError.from_exception_data(exc.title, [error])  # type: ignore[list-item]
            problems += problems_from_validation(source, single)
        raise DocumentError(problems) from None


@cache
def default_catalog() -> Catalog:
    """The packaged catalog (catalog.yaml) without calibration."""
    data, source = packaged_catalog()
    return _validate(data, source, None, {})


def load_catalog(calibration: str | os.PathLike[str] | None = None) -> Catalog:
    """The packaged catalog with a user calibration file applied (whole entries replaced)."""
    if calibration is None:
        return default_catalog()
    base_data, base_source = packaged_catalog()
    data, source = read_yaml(calibration)
    if not isinstance(data, dict):
        raise DocumentError([source.problem((), "a calibration file is a mapping: calibration: <name>, then catalog sections")])
    problems: list[Problem] = []
    name = data.get("calibration")
    if not isinstance(name, str) or not name.strip():
        where = ("calibration",) if "calibration" in data else ()
        problems.append(source.problem(where, "missing required key 'calibration' (a name for this calibration, e.g. drills-2026-q3)"))
    merged: dict[str, Any] = {key: (dict(value) if isinstance(value, dict) else value) for key, value in base_data.items()}
    for key, value in data.items():
        if key == "calibration":
            continue
        if key == "version":
            problems.append(
                source.problem((key,), "version belongs to the packaged catalog; name the calibration with 'calibration:'", key=True)
            )
        elif key not in _SECTIONS:
            problems.append(source.problem((key,), f"unknown catalog section '{key}'; expected one of {', '.join(_SECTIONS)}", key=True))
        elif not isinstance(value, dict):
            problems.append(source.problem((key,), f"section '{key}' must be a mapping of entry: {{...}}"))
        else:
            merged[key].update(value)  # an entry is replaced whole: a calibration states its own source
    if problems:
        raise DocumentError(problems)
    merged["calibration"] = name
    return _validate(merged, base_source, source, data)
