"""`drsim calibrate`: fit the twin's catalog to the durations real drills measured, and check the twin.

The samples are the operation.finished events of the runs a history store lists: drills against
Azure only (a simulated run measures the twin itself; runs against drsim's ARM emulator only with
`include_emulated`, and the file then says so). Each operation kind maps to the catalog entry the
simulated world draws it from, keyed as the catalog keys it: by OS (VM creation, boot), by image or
disk (generalized or specialized boot) and by restore tier; the catalog has no region or size keys,
so those are pooled, and the file records each entry's samples by region and VM size. The duration
is what the cloud reports its long-running operations and jobs took (startTime to endTime) when it
reports it, else the operation's time on the run's clock.

Each entry with enough samples becomes a maximum-likelihood lognormal: mu and sigma are the mean and
the (1/n) standard deviation of the log durations; median = exp(mu). Entries with fewer samples keep
the built-in figure, and the file says so in a comment. The file is in the calibration format of
docs/simulator.md, and is loaded onto the catalog before it is written, so it validates.

`check` replays each past real drill on the twin (drsim.compare.predict, its own documents as run,
kept in the run's inputs/) and tells whether each measured RTO lies inside the predicted p5-p95.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from drsim.cloud.sim.catalog import Catalog, default_catalog, load_catalog
from drsim.compare.predict import DEFAULT_TRIALS, TwinDocuments, predict
from drsim.errors import DocumentError, UsageError
from drsim.measure.events import Event, OperationFinished, ResourceCreated, RunStarted, TaskFinished
from drsim.measure.twin import outside
from drsim.model.documents import AsrStep, Drill, Estate, ProtectionPlan, Runbook
from drsim.model.loader import load
from drsim.model.types import Action, ReplicationPointChoice
from drsim.report.evidence import write_atomically
from drsim.report.recorded import read_events, read_result
from drsim.store.history import HistoryStore, RunRecord

DEFAULT_MIN_SAMPLES = 5
"""An entry is fitted from this many samples or more; below, it keeps the built-in figure."""
REAL_PROVIDERS = ("azure",)
"""Providers whose runs measure the real cloud (a simulated run measures the twin itself)."""


@dataclass(frozen=True)
class Sample:
    """One measured duration of a catalog entry."""

    entry: str  # section.entry of the catalog
    seconds: float
    run: str  # the run directory
    region: str | None
    size: str | None


@dataclass(frozen=True)
class PastRun:
    """A recorded real run, read from its directory: its events and the documents it ran (inputs/)."""

    record: RunRecord
    run_dir: Path
    started: RunStarted
    events: tuple[Event, ...]


@dataclass(frozen=True)
class Entry:
    """One catalog entry: fitted from its samples, or kept built-in (too few)."""

    name: str
    samples: int
    runs: int
    fitted: bool
    mu: float | None
    sigma: float | None
    built_in_median_s: float
    by_region: tuple[tuple[str, int], ...]
    by_size: tuple[tuple[str, int], ...]

    @property
    def median_s(self) -> float | None:
        return math.exp(self.mu) if self.mu is not None else None


@dataclass(frozen=True)
class Calibration:
    """What `drsim calibrate` fitted and wrote."""

    name: str
    path: Path
    entries: tuple[Entry, ...]
    runs: tuple[str, ...]  # run directories whose samples were used
    skipped: tuple[str, ...]  # runs left out, with the reason
    emulated: bool  # some runs were made against drsim's ARM emulator
    min_samples: int


# --------------------------------------------------------------------------------- the runs


def past_runs(
    store: str | os.PathLike[str],
    *,
    since: date | None = None,
    provider: str = "azure",
    include_emulated: bool = False,
) -> tuple[list[PastRun], list[str]]:
    """The real runs a history store lists (oldest first), read from their directories; and why the
    others were left out."""
    if provider not in REAL_PROVIDERS:
        raise UsageError(f"--provider {provider}: calibration reads real runs only ({', '.join(REAL_PROVIDERS)})")
    if not Path(store).is_file():
        raise UsageError(f"{store}: no history store here (drsim drill run records runs into <out>/history.sqlite)")
    with HistoryStore(store, read_only=True) as opened:
        records = opened.runs()
    found: list[PastRun] = []
    skipped: list[str] = []
    for record in records:
        if record.provider != provider:
            continue
        where = record.run_dir or record.run_id
        if record.run_dir is None or not (Path(record.run_dir) / "journal.jsonl").is_file():
            skipped.append(f"{where}: its run directory or journal is not there any more")
            continue
        try:
            events, chain, _ = read_events(Path(record.run_dir) / "journal.jsonl")
        except (DocumentError, UsageError) as exc:
            skipped.append(f"{where}: its journal cannot be read ({exc.format_message()})")
            continue
        if not chain.intact:
            skipped.append(f"{where}: its journal's hash chain is broken: not evidence of what Azure did")
            continue
        started = next((e for e in events if isinstance(e, RunStarted)), None)
        if started is None:
            skipped.append(f"{where}: its journal has no run.started")
            continue
        if started.emulated and not include_emulated:
            skipped.append(f"{where}: made against drsim's ARM emulator, not Azure (--include-emulated counts it)")
            continue
        when = started.performed.started if started.performed is not None else started.incident_at
        if since is not None and when.date() < since:
            continue
        found.append(PastRun(record, Path(record.run_dir), started, tuple(events)))
    return found, skipped


def _inputs(run: PastRun, role: str) -> Path:
    path = run.run_dir / "inputs" / f"{role}.yaml"
    if not path.is_file():
        raise UsageError(f"{run.run_dir}: no inputs/{role}.yaml (the documents the run was made from)")
    return path


# ------------------------------------------------------------------------------ the samples


def catalog_entry(op_kind: str, action: Action, os_name: str | None, tier: str | None, asr_latest: bool) -> str | None:
    """The catalog entry the simulated world draws an operation's duration from (None: no one entry,
    e.g. a vault-tier restore, a base plus a size over a throughput)."""
    if op_kind == "create-network":
        return "compute.network_create"
    if op_kind == "snapshot":
        return "snapshots.create"
    if op_kind == "create-disk":
        return "compute.disk_create"
    if op_kind == "read-canary":
        return "compute.run_command"
    if os_name is None:
        return None
    if op_kind in ("create-vm", "deploy-image"):
        return f"compute.vm_create_{os_name}"
    if op_kind == "wait-boot":
        image = "generalized" if action is Action.IMAGE_DEPLOY else "specialized"
        return f"compute.boot_{image}_{os_name}"
    if op_kind == "restore" and tier == "snapshot":
        return "backup.restore_snapshot_tier"
    if op_kind == "test-failover" and not asr_latest:  # `latest` adds the pending data's processing
        return "site_recovery.test_failover"
    return None


def run_samples(run: PastRun) -> list[Sample]:
    """The samples of one run: each operation.finished, keyed by the catalog entry its kind draws from."""
    estate = load(_inputs(run, "estate"), Estate).doc
    runbook = load(_inputs(run, "runbook"), Runbook).doc
    vms = {vm.name: vm for vm in estate.vms}
    latest = {s.id for s in runbook.steps if isinstance(s, AsrStep) and s.with_.recovery_point is ReplicationPointChoice.LATEST}
    tiers = {e.task: e.recovery_point.tier for e in run.events if isinstance(e, TaskFinished) and e.recovery_point is not None}
    regions: dict[str, str] = {}
    for event in run.events:
        if isinstance(event, ResourceCreated) and event.task is not None:
            regions.setdefault(event.task, event.region)
    found = []
    for event in run.events:
        if not isinstance(event, OperationFinished):
            continue
        spec = vms.get(event.vm) if event.vm is not None else None
        entry = catalog_entry(event.op_kind, event.action, spec.os.value if spec else None, tiers.get(event.task), event.step in latest)
        seconds = event.cloud_s if event.cloud_s is not None and event.cloud_s > 0 else event.seconds
        if entry is None or seconds <= 0:
            continue
        region = regions.get(event.task) or (spec.region if spec else None)
        found.append(Sample(entry, seconds, str(run.run_dir), region, spec.size if spec else None))
    return found


# ---------------------------------------------------------------------------------- fitting


def fit_lognormal(values: Sequence[float]) -> tuple[float, float]:
    """Maximum-likelihood lognormal: (mu, sigma) = mean and 1/n standard deviation of the logs."""
    logs = [math.log(v) for v in values]
    mu = sum(logs) / len(logs)
    return mu, math.sqrt(sum((x - mu) ** 2 for x in logs) / len(logs))


def fit(samples: Iterable[Sample], catalog: Catalog, min_samples: int) -> tuple[Entry, ...]:
    """One entry per catalog entry that has samples (in the catalog's order)."""
    by_entry: dict[str, list[Sample]] = {}
    for sample in samples:
        by_entry.setdefault(sample.entry, []).append(sample)
    figures = catalog.entries()
    entries = []
    for name, figure in figures.items():
        found = by_entry.get(name)
        if not found:
            continue
        sampler = getattr(figure, "sample", None)
        built_in = float(sampler(0.5)) if callable(sampler) else float("nan")
        enough = len(found) >= min_samples
        mu, sigma = fit_lognormal([s.seconds for s in found]) if enough else (None, None)
        entries.append(
            Entry(
                name,
                len(found),
                len({s.run for s in found}),
                enough,
                mu,
                sigma,
                built_in,
                tuple(sorted(Counter(s.region or "unknown" for s in found).items())),
                tuple(sorted(Counter(s.size or "unknown" for s in found).items())),
            )
        )
    return tuple(entries)


# ---------------------------------------------------------------------------------- writing


def _counts(pairs: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{key} {count}" for key, count in pairs)


def calibration_text(
    name: str, entries: Sequence[Entry], *, runs: int, store: str, since: date | None, emulated: bool, min_samples: int
) -> str:
    """The calibration file (docs/simulator.md): a comment header, the name, the fitted entries by section."""
    origin = "drsim's ARM emulator (EMULATED runs, --include-emulated: not Azure)" if emulated else "Azure"
    lines = [
        f"# Written by `drsim calibrate` from {runs} drill run(s) against {origin}, recorded in {store}"
        + (f", performed on or after {since.isoformat()}." if since else "."),
    ]
    if emulated:
        lines.append("# EMULATED: these durations are those of drsim's ARM emulator's world, not measurements of Azure.")
    lines += [
        "# Each fitted entry is a maximum-likelihood lognormal of the measured durations: mu and sigma are the mean",
        "# and standard deviation of their logarithms (seconds), median = exp(mu); it replaces the built-in entry whole.",
        f"# Entries with fewer than {min_samples} samples keep the built-in figure (listed below, not in the file's sections).",
    ]
    kept = [e for e in entries if not e.fitted]
    for entry in kept:
        lines.append(f"#   kept built-in: {entry.name}: {entry.samples} sample(s), fewer than {min_samples}")
    lines.append(f"calibration: {json.dumps(name)}")
    sections: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry.fitted:
            sections.setdefault(entry.name.split(".", 1)[0], []).append(entry)
    what = "emulated run(s) (drsim's ARM emulator, not Azure)" if emulated else "drill run(s) against Azure"
    for section, fitted in sections.items():
        lines.append(f"{section}:")
        for entry in fitted:
            assert entry.mu is not None and entry.sigma is not None
            median = round(math.exp(entry.mu), 3)
            sigma = round(min(entry.sigma, 5.0), 4)
            lines.append(
                f"  # {entry.samples} samples from {entry.runs} run(s); mu {entry.mu:.4f}, sigma {entry.sigma:.4f} (log seconds); "
                f"built-in median {entry.built_in_median_s:.1f}s"
            )
            lines.append(f"  #   by region: {_counts(entry.by_region)}; by VM size: {_counts(entry.by_size)}")
            source = (
                f"drsim calibrate: maximum-likelihood lognormal of {entry.samples} durations measured by {entry.runs} {what}; "
                f"mu {entry.mu:.4f}, sigma {entry.sigma:.4f}"
            )
            body = f"{{dist: lognormal, median: {median}, sigma: {sigma}, source: {json.dumps(source)}}}"
            lines.append(f"  {entry.name.split('.', 1)[1]}:")
            lines.append(f"    {body}")
    return "\n".join(lines) + "\n"


def calibrate(
    store: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    since: date | None = None,
    provider: str = "azure",
    include_emulated: bool = False,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    name: str | None = None,
) -> Calibration:
    """Fit the catalog to the store's real runs and write the calibration file to `out` (checked by
    loading it onto the catalog first: a file that would not load is never written)."""
    if min_samples < 2:
        raise UsageError(f"--min-samples must be 2 or more (a lognormal needs a spread), got {min_samples}")
    target = Path(out)
    if not target.parent.is_dir() or target.is_dir():
        raise UsageError(f"--out {out}: " + ("is a directory" if target.is_dir() else f"no directory {target.parent} to write it in"))
    runs, skipped = past_runs(store, since=since, provider=provider, include_emulated=include_emulated)
    if not runs:
        reasons = "; ".join(skipped) if skipped else "it lists none"
        raise UsageError(f"{store}: no real drill run ({provider}) to calibrate from: {reasons}")
    samples: list[Sample] = []
    used: list[str] = []
    for run in runs:
        try:
            found = run_samples(run)
        except (DocumentError, UsageError) as exc:
            skipped.append(f"{run.run_dir}: {exc.format_message()}")
            continue
        samples += found
        used.append(str(run.run_dir))
    label = name or target.stem
    entries = fit(samples, default_catalog(), min_samples)
    emulated = any(r.started.emulated for r in runs if str(r.run_dir) in used)
    text = calibration_text(label, entries, runs=len(used), store=str(store), since=since, emulated=emulated, min_samples=min_samples)
    staged = target.with_name(f".{target.name}.checking")
    try:
        staged.write_text(text, encoding="utf-8")
        load_catalog(staged)  # the file validates and loads, or it is not written
        write_atomically(target, text.encode("utf-8"))
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write it ({exc.strerror or exc})") from None
    finally:
        staged.unlink(missing_ok=True)
    return Calibration(label, target, entries, tuple(used), tuple(skipped), emulated, min_samples)


# ---------------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class CheckedApp:
    """One application of one past real drill: its measured RTO against the twin's prediction."""

    run: str
    app: str
    measured_s: float | None
    p5_s: float | None
    p50_s: float | None
    p95_s: float | None

    @property
    def inside(self) -> bool | None:
        from drsim.measure.events import PredictedSpread

        out = outside(PredictedSpread(self.app, 1, self.p5_s, self.p50_s, self.p95_s), self.measured_s)
        return None if out is None else not out


@dataclass(frozen=True)
class CheckOutcome:
    apps: tuple[CheckedApp, ...]
    skipped: tuple[str, ...]
    catalog_version: str

    @property
    def compared(self) -> int:
        return sum(1 for a in self.apps if a.inside is not None)

    @property
    def inside(self) -> int:
        return sum(1 for a in self.apps if a.inside)


def check(
    store: str | os.PathLike[str],
    *,
    calibration: str | os.PathLike[str] | None = None,
    since: date | None = None,
    provider: str = "azure",
    include_emulated: bool = False,
    trials: int = DEFAULT_TRIALS,
    progress: Callable[[str], None] | None = None,
) -> CheckOutcome:
    """Replay each past real drill on the twin (with `calibration`, else the catalog the run had) at its
    incident time and seed, and hold each measured RTO against the predicted p5-p95."""
    runs, skipped = past_runs(store, since=since, provider=provider, include_emulated=include_emulated)
    if not runs and not skipped:  # as calibrate says it: a store of simulated runs only has nothing to check
        raise UsageError(f"{store}: no real drill run ({provider}) to check the twin against: it lists none")
    chosen = load_catalog(calibration) if calibration is not None else None
    apps: list[CheckedApp] = []
    version = chosen.label if chosen is not None else default_catalog().label
    for run in runs:
        try:
            drill = load(_inputs(run, "drill"), Drill).doc
            own = run.run_dir / "inputs" / "calibration.yaml"
            catalog = chosen if chosen is not None else load_catalog(own if own.is_file() else None)
            documents = TwinDocuments(
                drill.name,
                load(_inputs(run, "runbook"), Runbook).doc,
                load(_inputs(run, "estate"), Estate).doc,
                load(_inputs(run, "plan"), ProtectionPlan).doc,
                catalog,
                drill.sim,
                run.started.concurrency,
            )
            result, _ = read_result(run.run_dir / "result.json")
        except (DocumentError, UsageError) as exc:
            skipped.append(f"{run.run_dir}: {exc.format_message()}")
            continue
        if progress is not None:
            progress(f"replaying {run.run_dir} ({trials} trials)")
        made = predict(documents, incident_at=run.started.incident_at, trials=trials, seed=run.started.seed)
        predicted = {p.name: p for p in made.apps}
        for app in result.apps:
            spread = predicted.get(app.app)
            apps.append(
                CheckedApp(
                    str(run.run_dir),
                    app.app,
                    app.rto_s,
                    spread.p5_s if spread else None,
                    spread.p50_s if spread else None,
                    spread.p95_s if spread else None,
                )
            )
    return CheckOutcome(tuple(apps), tuple(skipped), version)
