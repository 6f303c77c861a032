"""Which runbooks the fast model (drsim.compare.fast) supports: an explicit check that names what it does not.

`--model auto` runs a comparison with the fast model only when every candidate passes this check;
otherwise with the engine, and the outputs say which was used and why.
"""

from __future__ import annotations

from drsim.measure.timeline import recovered_vm_names
from drsim.model.checks import protection_of
from drsim.model.documents import (
    AsrStep,
    BackupStep,
    CheckBootStep,
    CheckCanaryStep,
    Estate,
    ImageDeployStep,
    IsolateStep,
    ManualApproveStep,
    ManualDeclareStep,
    ProtectionPlan,
    Runbook,
    SnapshotCloneStep,
    WaitStep,
)
from drsim.model.types import IncidentKind, PowerState, RestoreAs, SnapshotSource
from drsim.times import duration

SUPPORTED_INCIDENTS = frozenset(
    {
        IncidentKind.REGION_OUTAGE,
        IncidentKind.VM_LOSS,
        IncidentKind.ACCIDENTAL_DELETE,
        IncidentKind.DATA_CORRUPTION,
        IncidentKind.RANSOMWARE,
    }
)
CONCURRENCY = 50
"""The drill concurrency a comparison's trials run with (simulate_run's default)."""
PARALLEL_COPIES = 100
"""Cross-region snapshot copies per region (catalog snapshots.parallel_copies_per_region): never reached
while the drill runs at most CONCURRENCY operations at once."""


def unsupported(runbook: Runbook, estate: Estate, plan: ProtectionPlan) -> list[str]:
    """What in this candidate the fast model does not model (empty: the fast model supports it)."""
    reasons: list[str] = []
    scenario = runbook.scenario
    if scenario.incident not in SUPPORTED_INCIDENTS:
        reasons.append(f"incident {scenario.incident.value}")
    outage = scenario.region if scenario.incident is IncidentKind.REGION_OUTAGE else None
    vms = {vm.name: vm for vm in estate.vms}
    for name in sorted(recovered_vm_names(runbook, estate)):
        if vms[name].power is not PowerState.RUNNING:
            reasons.append(f"VM {name}, which the runbook recovers, is not running (a stopped workload)")
    for step in runbook.steps:
        where = f"step '{step.id}'"
        if isinstance(step, ManualDeclareStep | ManualApproveStep | WaitStep):
            # The fast model takes a manual step or a wait as its duration: one that reaches its timeout
            # times out (and is retried) in the engine, which the fast model does not model.
            if step.timeout is not None and step.with_.duration >= step.timeout:
                reasons.append(
                    f"{where}: its duration {duration(step.with_.duration.total_seconds())} reaches its timeout "
                    f"{duration(step.timeout.total_seconds())} (a step that times out)"
                )
            continue
        if isinstance(step, CheckBootStep | CheckCanaryStep):
            continue
        if isinstance(step, IsolateStep):
            if step.with_.region == outage:
                reasons.append(f"{where}: an isolated network in the failed region")
            continue
        selector = getattr(step.with_, "vms", None)
        selected = estate.select(selector) if selector is not None else []
        if isinstance(step, BackupStep):
            w = step.with_
            if w.restore_as is not RestoreAs.VM:
                reasons.append(f"{where}: backup.restore as: disks")
            for vm in selected:
                rule = protection_of(plan, vm.name, vm.tags).backup
                if rule is None or rule.backup is None:
                    reasons.append(f"{where}: {vm.name} has no backup in the plan")
                    continue
                cross = w.region is not None and w.region != vm.region
                if cross and not rule.backup.cross_region_restore:
                    reasons.append(f"{where}: cross-region restore of {vm.name} without cross_region_restore")
                if not cross and vm.region == outage:
                    reasons.append(f"{where}: restore of {vm.name} from a vault in the failed region")
                if cross and w.region == outage:
                    reasons.append(f"{where}: cross-region restore of {vm.name} into the failed region")
        elif isinstance(step, AsrStep):
            for vm in selected:
                rule = protection_of(plan, vm.name, vm.tags).site_recovery
                if rule is None or rule.site_recovery is None:
                    reasons.append(f"{where}: {vm.name} is not replicated in the plan")
                elif rule.site_recovery.target_region == outage:
                    reasons.append(f"{where}: {vm.name} fails over into the failed region")
        elif isinstance(step, SnapshotCloneStep):
            fresh = step.with_.source is SnapshotSource.FRESH
            for vm in selected:
                # Fresh snapshots of a VM the incident took fail at once, in both models.
                if not fresh:
                    rule = protection_of(plan, vm.name, vm.tags).snapshots
                    if rule is None or rule.snapshots is None:
                        reasons.append(f"{where}: {vm.name} has no scheduled snapshots in the plan")
                    elif vm.region == outage:
                        reasons.append(f"{where}: scheduled snapshots of {vm.name} in the failed region")
                if any(d.sku in ("UltraSSD_LRS", "PremiumV2_LRS") for d in vm.disks):
                    reasons.append(f"{where}: {vm.name} has Ultra / Premium v2 disks (snapshot hydration)")
        elif isinstance(step, ImageDeployStep):
            if step.with_.count is not None:
                reasons.append(f"{where}: image.deploy with count")
            golden = vms.get(step.with_.image_of)
            rule = protection_of(plan, golden.name, golden.tags).image if golden is not None else None
            if rule is None or rule.image is None or step.with_.region not in rule.image.regions:
                reasons.append(f"{where}: no image of {step.with_.image_of} in {step.with_.region} in the plan")
            if step.with_.region == outage:
                reasons.append(f"{where}: deploys into the failed region")
        else:  # pragma: no cover - the Step union is closed; a new action is unsupported until modelled
            reasons.append(f"{where}: action {step.action}")
    return reasons
