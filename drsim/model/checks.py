"""Checks that span a document or several documents, each problem located in its own file.

`load_drill` and `load_comparison` load a document and everything it references and raise one
DocumentError listing every problem in every file. `validate_paths` is what `drsim validate` runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drsim.errors import DocumentError, Problem
from drsim.model.documents import (
    AsrStep,
    BackupStep,
    CheckBootStep,
    CheckCanaryStep,
    Comparison,
    Document,
    Drill,
    Estate,
    ImageDeployStep,
    IsolateStep,
    PlanRule,
    ProtectionPlan,
    Runbook,
    SnapshotCloneStep,
    StepBase,
)
from drsim.model.judged import judged_runbook, like_for_like_problems, stated_problems
from drsim.model.loader import Loaded, Source, file_problem, load, parse_document, read_yaml
from drsim.model.regions import paired_region
from drsim.model.types import (
    BackupTier,
    ProviderKind,
    ReplicationPointChoice,
    RestoreAs,
    SnapshotSource,
    describe_selector,
    selector_matches,
)

MAX_CONSISTENCY_GROUP = 16  # multi-VM consistency: up to 16 VMs (azure-to-azure-common-questions)


@dataclass(frozen=True)
class Protection:
    """The rules of a plan that apply to one VM (a VM takes every rule whose selector matches it)."""

    backup: PlanRule | None = None
    site_recovery: PlanRule | None = None
    snapshots: PlanRule | None = None
    image: PlanRule | None = None


def protection_of(plan: ProtectionPlan, vm_name: str, tags: Mapping[str, str]) -> Protection:
    """The first rule of each kind that matches the VM (conflicts are reported by check_plan)."""
    found: dict[str, PlanRule] = {}
    for rule in plan.rules:
        if selector_matches(rule.vms, vm_name, tags):
            for kind in ("backup", "site_recovery", "snapshots", "image"):
                if getattr(rule, kind) is not None:
                    found.setdefault(kind, rule)
    return Protection(**found)


def _duplicates(source: Source, items: Iterable[tuple[tuple[int | str, ...], str]], what: str) -> list[Problem]:
    seen: dict[str, tuple[int | str, ...]] = {}
    problems = []
    for loc, name in items:
        if name in seen:
            line, _ = source.locate(seen[name])
            problems.append(source.problem(loc, f"duplicate {what} '{name}' (first defined on line {line})"))
        else:
            seen[name] = loc
    return problems


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle in a directed graph as a list of nodes (first == last), or None."""
    colour: dict[str, int] = {}
    for start in edges:
        if colour.get(start):
            continue
        stack: list[tuple[str, Any]] = [(start, iter(edges.get(start, ())))]
        path = [start]
        colour[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
                path.pop()
                continue
            if child not in edges:
                continue
            if colour.get(child) == 1:
                return [*path[path.index(child) :], child]
            if not colour.get(child):
                colour[child] = 1
                stack.append((child, iter(edges.get(child, ()))))
                path.append(child)
    return None


# ---------------------------------------------------------------------------------------- Estate


def check_estate(loaded: Loaded[Estate]) -> list[Problem]:
    estate, src = loaded.doc, loaded.source
    problems: list[Problem] = []
    problems += _duplicates(src, ((("vms", i, "name"), vm.name) for i, vm in enumerate(estate.vms)), "VM")
    problems += _duplicates(src, ((("networks", i, "name"), n.name) for i, n in enumerate(estate.networks)), "network")
    problems += _duplicates(src, ((("apps", i, "name"), a.name) for i, a in enumerate(estate.apps)), "app")
    uuids = ((("vms", i, "vm_uuid"), vm.vm_uuid.lower()) for i, vm in enumerate(estate.vms) if vm.vm_uuid)  # GUIDs: any case
    problems += _duplicates(src, uuids, "vm_uuid")  # Azure's vmId is one VM's: the canary check tells VMs apart by it
    networks = {n.name: n for n in estate.networks}
    for i, net in enumerate(estate.networks):
        for j, peer in enumerate(net.peerings):
            if peer not in networks:
                problems.append(src.problem(("networks", i, "peerings", j), f"peering names unknown network '{peer}'"))
    for i, vm in enumerate(estate.vms):
        problems += _duplicates(src, ((("vms", i, "disks", j, "name"), d.name) for j, d in enumerate(vm.disks)), f"disk of VM {vm.name}")
        vm_net = networks.get(vm.network)
        if vm_net is None:
            problems.append(src.problem(("vms", i, "network"), f"network '{vm.network}' is not in this estate's networks"))
        elif vm_net.region != vm.region:
            problems.append(src.problem(("vms", i, "network"), f"network '{vm.network}' is in {vm_net.region}, the VM in {vm.region}"))
        disk_names = {d.name for d in vm.disks}
        in_volume: dict[str, str] = {}
        for j, volume in enumerate(vm.volumes):
            for k, disk in enumerate(volume.disks):
                if disk not in disk_names:
                    problems.append(
                        src.problem(("vms", i, "volumes", j, "disks", k), f"volume '{volume.name}' names unknown disk '{disk}'")
                    )
                elif disk in in_volume:
                    problems.append(
                        src.problem(("vms", i, "volumes", j, "disks", k), f"disk '{disk}' is already in volume '{in_volume[disk]}'")
                    )
                else:
                    in_volume[disk] = volume.name
            if vm.disks and vm.disks[0].name in volume.disks and len(volume.disks) > 1:
                problems.append(src.problem(("vms", i, "volumes", j), "the OS disk (the first disk) cannot be striped"))
    apps = {a.name: a for a in estate.apps}
    for i, app in enumerate(estate.apps):
        if not estate.select(app.vms):
            problems.append(src.problem(("apps", i, "vms"), f"selector {describe_selector(app.vms)} matches no VM"))
        for j, dep in enumerate(app.depends_on):
            if dep not in apps:
                problems.append(src.problem(("apps", i, "depends_on", j), f"depends on unknown app '{dep}'"))
            elif dep == app.name:
                problems.append(src.problem(("apps", i, "depends_on", j), f"app '{app.name}' depends on itself"))
    cycle = find_cycle({a.name: [d for d in a.depends_on if d != a.name] for a in estate.apps})
    if cycle:
        index = next(i for i, a in enumerate(estate.apps) if a.name == cycle[0])
        problems.append(src.problem(("apps", index, "depends_on"), "app dependency cycle: " + " -> ".join(cycle)))
    return problems


# ------------------------------------------------------------------------------- ProtectionPlan


def check_plan(loaded: Loaded[ProtectionPlan], estate: Loaded[Estate] | None) -> list[Problem]:
    plan, src = loaded.doc, loaded.source
    problems: list[Problem] = []
    if estate is None:
        return problems
    est = estate.doc
    groups: dict[str, set[str]] = {}
    group_loc: dict[str, tuple[int | str, ...]] = {}
    for i, rule in enumerate(plan.rules):
        matched = est.select(rule.vms)
        if not matched:
            problems.append(src.problem(("rules", i, "vms"), f"selector {describe_selector(rule.vms)} matches no VM in estate {est.name}"))
        for vm in matched:
            if rule.site_recovery and rule.site_recovery.target_region == vm.region:
                problems.append(
                    src.problem(
                        ("rules", i, "site_recovery", "target_region"),
                        f"VM {vm.name} is already in {vm.region}: Site Recovery replicates to another region",
                    )
                )
            if rule.image and not vm.generalized:
                # A managed image needs a generalized, deallocated VM (capture-image-resource).
                problems.append(
                    src.problem(("rules", i, "image"), f"VM {vm.name} is not generalized: an image needs a generalized, deallocated VM")
                )
            if rule.snapshots and rule.snapshots.copy_to_region == vm.region:
                problems.append(src.problem(("rules", i, "snapshots", "copy_to_region"), f"VM {vm.name} is already in {vm.region}"))
            if rule.site_recovery and rule.site_recovery.consistency_group:
                groups.setdefault(rule.site_recovery.consistency_group, set()).add(vm.name)
                group_loc.setdefault(rule.site_recovery.consistency_group, ("rules", i, "site_recovery", "consistency_group"))
    for name, members in groups.items():
        if len(members) > MAX_CONSISTENCY_GROUP:
            problems.append(
                src.problem(
                    group_loc[name],
                    f"consistency group '{name}' has {len(members)} VMs; Site Recovery allows at most {MAX_CONSISTENCY_GROUP}",
                )
            )
    for vm in est.vms:
        for kind in ("backup", "site_recovery"):
            rules = [i for i, r in enumerate(plan.rules) if getattr(r, kind) is not None and selector_matches(r.vms, vm.name, vm.tags)]
            if len(rules) > 1:
                problems.append(
                    src.problem(
                        ("rules", rules[1], kind),
                        f"VM {vm.name} already has a {kind} rule (rule {rules[0] + 1}): a VM is protected by one {kind} policy",
                    )
                )
    return problems


# ----------------------------------------------------------------------------------------- Runbook


@dataclass(frozen=True)
class _StepRef:
    """What the step-graph checks need of one step; built from a valid model or, failing that, raw data."""

    index: int
    id: str
    needs: tuple[str, ...]
    action: str | None
    network: str | None
    region: str | None = None


def _step_graph(src: Source, steps: list[_StepRef]) -> list[Problem]:
    """Duplicate ids, unknown needs, cycles (named), and `network:` naming an upstream isolate step."""
    problems = _duplicates(src, ((("steps", s.index, "id"), s.id) for s in steps), "step id")
    by_id: dict[str, _StepRef] = {}
    for step in steps:
        by_id.setdefault(step.id, step)
    for step in steps:
        first_at: dict[str, int] = {}
        for j, need in enumerate(step.needs):
            if need in first_at:
                # A need named twice would run the task twice (issue 13): refused, at the repeat.
                problems.append(
                    src.problem(
                        ("steps", step.index, "needs", j), f"step '{step.id}' needs '{need}' twice (item {first_at[need] + 1} already)"
                    )
                )
                continue
            first_at[need] = j
            if need not in by_id:
                problems.append(src.problem(("steps", step.index, "needs", j), f"step '{step.id}' needs unknown step '{need}'"))
            elif need == step.id:
                problems.append(src.problem(("steps", step.index, "needs", j), f"step '{step.id}' needs itself"))
    edges: dict[str, list[str]] = {}
    for step in steps:
        edges.setdefault(step.id, []).extend(n for n in step.needs if n in by_id)
    cycle = find_cycle(edges)
    if cycle and len(cycle) > 2:
        problems.append(src.problem(("steps", by_id[cycle[0]].index, "needs"), "dependency cycle: " + " -> ".join(cycle)))
    for step in steps:
        if step.network is None:
            continue
        target = by_id.get(step.network)
        if target is None or target.action != "network.isolate":
            what = f"step '{step.network}' is a {target.action}" if target is not None else f"there is no step '{step.network}'"
            problems.append(src.problem(("steps", step.index, "with", "network"), f"network: must name a network.isolate step; {what}"))
        elif step.network not in upstream_of(edges, step.id):
            problems.append(
                src.problem(
                    ("steps", step.index, "with", "network"),
                    f"network.isolate step '{step.network}' must run before '{step.id}': add it to needs",
                )
            )
        elif step.action in ("image.deploy", "backup.restore") and step.region not in (None, target.region):
            problems.append(
                src.problem(
                    ("steps", step.index, "with", "region"),
                    f"region {step.region} differs from network '{step.network}' in {target.region}",
                )
            )
    return problems


def upstream_of(edges: Mapping[str, Iterable[str]], step_id: str) -> set[str]:
    """Every step that must finish before `step_id` (its needs, their needs, ...)."""
    seen: set[str] = set()
    todo = list(edges.get(step_id, ()))
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(edges.get(current, ()))
    return seen


def _raw_step_refs(data: Any) -> list[_StepRef]:
    """Step references read from raw YAML data, skipping whatever is too broken to read."""
    steps = data.get("steps") if isinstance(data, dict) else None
    refs: list[_StepRef] = []
    for i, raw in enumerate(steps if isinstance(steps, list) else []):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            continue
        needs = raw.get("needs")
        raw_with = raw.get("with")
        with_: dict[str, Any] = raw_with if isinstance(raw_with, dict) else {}
        action, network, region = raw.get("action"), with_.get("network"), with_.get("region")
        refs.append(
            _StepRef(
                i,
                raw["id"],
                tuple(n for n in needs if isinstance(n, str)) if isinstance(needs, list) else (),
                action if isinstance(action, str) else None,
                network if isinstance(network, str) else None,
                region if isinstance(region, str) else None,
            )
        )
    return refs


def raw_runbook_problems(data: Any, source: Source) -> list[Problem]:
    """The step-graph problems of a runbook that failed validation, so one run reports them too."""
    if not isinstance(data, dict) or data.get("kind") != "Runbook":
        return []
    return _step_graph(source, _raw_step_refs(data))


def check_runbook(loaded: Loaded[Runbook], estate: Loaded[Estate] | None, plan: Loaded[ProtectionPlan] | None) -> list[Problem]:
    rb, src = loaded.doc, loaded.source
    refs = [
        _StepRef(i, s.id, s.needs, s.action, getattr(s.with_, "network", None), getattr(s.with_, "region", None))
        for i, s in enumerate(rb.steps)
    ]
    problems = _step_graph(src, refs)
    problems += _duplicates(src, ((("objectives", i, "app"), o.app) for i, o in enumerate(rb.objectives)), "objective for app")
    if estate is not None:
        problems += _runbook_against_estate(loaded, estate, plan)
    return problems


def _runbook_against_estate(loaded: Loaded[Runbook], estate: Loaded[Estate], plan: Loaded[ProtectionPlan] | None) -> list[Problem]:
    rb, src, est = loaded.doc, loaded.source, estate.doc
    problems: list[Problem] = []
    app_names = {a.name for a in est.apps}
    region_names = {est.regions.primary, est.regions.recovery} | {vm.region for vm in est.vms}
    sc = rb.scenario
    if sc.vms is not None and not est.select(sc.vms):
        problems.append(src.problem(("scenario", "vms"), f"selector {describe_selector(sc.vms)} matches no VM in estate {est.name}"))
    if sc.region is not None and sc.region not in region_names:
        problems.append(src.problem(("scenario", "region"), f"region {sc.region} has no VM in estate {est.name}"))
    for i, objective in enumerate(rb.objectives):
        if objective.app not in app_names:
            problems.append(src.problem(("objectives", i, "app"), f"unknown app '{objective.app}'; the estate has {sorted(app_names)}"))
    for i, step in enumerate(rb.steps):
        w = step.with_
        selector = getattr(w, "vms", None)
        matched = est.select(selector) if selector is not None else []
        if selector is not None and not matched:
            problems.append(
                src.problem(("steps", i, "with", "vms"), f"selector {describe_selector(selector)} matches no VM in estate {est.name}")
            )
        if isinstance(step, CheckCanaryStep) and step.with_.app is not None and step.with_.app not in app_names:
            problems.append(src.problem(("steps", i, "with", "app"), f"unknown app '{step.with_.app}'"))
        if isinstance(step, ImageDeployStep):
            try:
                golden = est.vm(step.with_.image_of)
            except KeyError:
                problems.append(src.problem(("steps", i, "with", "image_of"), f"image_of names unknown VM '{step.with_.image_of}'"))
                golden = None
            if golden is not None and not golden.generalized:
                problems.append(
                    src.problem(
                        ("steps", i, "with", "image_of"), f"VM {golden.name} is not generalized: images need a generalized, deallocated VM"
                    )
                )
        if plan is None:
            continue
        pl = plan.doc
        if isinstance(step, AsrStep):
            for vm in matched:
                rule = protection_of(pl, vm.name, vm.tags).site_recovery
                if rule is None or rule.site_recovery is None:
                    problems.append(
                        src.problem(
                            ("steps", i, "with", "vms"),
                            f"VM {vm.name} is not replicated by plan {pl.name}: asr.test_failover needs site_recovery",
                        )
                    )
                elif (
                    step.with_.recovery_point is ReplicationPointChoice.LATEST_MULTI_VM_PROCESSED
                    and not rule.site_recovery.consistency_group
                ):
                    # Multi-VM points exist only for VMs of a multi-VM consistency group (azure-facts.md, Site Recovery).
                    problems.append(
                        src.problem(
                            ("steps", i, "with", "recovery_point"),
                            f"VM {vm.name} is in no consistency group of plan {pl.name}: latest-multi-vm-processed needs "
                            "site_recovery.consistency_group",
                        )
                    )
        if isinstance(step, BackupStep):
            for vm in matched:
                rule = protection_of(pl, vm.name, vm.tags).backup
                if rule is None or rule.backup is None:
                    problems.append(
                        src.problem(
                            ("steps", i, "with", "vms"), f"VM {vm.name} is not backed up by plan {pl.name}: backup.restore needs backup"
                        )
                    )
                elif step.with_.region not in (None, vm.region):
                    # Cross-region restore: GRS vault with CRR, never from the snapshot tier, and only into
                    # the vault region's Azure pair (reliability-backup; drsim/model/regions.py).
                    pair = paired_region(vm.region, primary=est.regions.primary, recovery=est.regions.recovery)
                    if not rule.backup.cross_region_restore:
                        problems.append(
                            src.problem(
                                ("steps", i, "with", "region"),
                                f"restoring VM {vm.name} in {step.with_.region} needs cross_region_restore in plan {pl.name}",
                            )
                        )
                    elif pair != step.with_.region:
                        where = f"its paired region, {pair}" if pair else f"nowhere: {vm.region} has no Azure paired region"
                        problems.append(
                            src.problem(
                                ("steps", i, "with", "region"),
                                f"cross-region restore of VM {vm.name} (in {vm.region}) restores in {where}, not {step.with_.region}",
                            )
                        )
                    if step.with_.tier.value == "snapshot":
                        problems.append(
                            src.problem(
                                ("steps", i, "with", "tier"), "cross-region restore never uses the snapshot tier: use tier: vault or auto"
                            )
                        )
        if isinstance(step, SnapshotCloneStep) and step.with_.source is SnapshotSource.SCHEDULED:
            for vm in matched:
                if protection_of(pl, vm.name, vm.tags).snapshots is None:
                    problems.append(
                        src.problem(
                            ("steps", i, "with", "source"),
                            f"VM {vm.name} has no scheduled snapshots in plan {pl.name}: use source: fresh or add snapshots",
                        )
                    )
        if isinstance(step, ImageDeployStep):
            try:
                golden = est.vm(step.with_.image_of)
            except KeyError:
                continue
            rule = protection_of(pl, golden.name, golden.tags).image
            if rule is None or rule.image is None:
                problems.append(src.problem(("steps", i, "with", "image_of"), f"plan {pl.name} keeps no image of VM {golden.name}"))
            elif step.with_.region not in rule.image.regions:
                problems.append(
                    src.problem(
                        ("steps", i, "with", "region"),
                        f"plan {pl.name} keeps the image of {golden.name} only in {list(rule.image.regions)}: images are regional",
                    )
                )
    for i, step in enumerate(rb.steps):
        if isinstance(step, IsolateStep) and step.with_.region not in region_names:
            problems.append(src.problem(("steps", i, "with", "region"), f"region {step.with_.region} is not a region of estate {est.name}"))
        if isinstance(step, IsolateStep):
            for net in est.networks:
                if net.cidr.overlaps(step.with_.cidr) and net.region == step.with_.region:
                    problems.append(
                        src.problem(("steps", i, "with", "cidr"), f"{step.with_.cidr} overlaps production network {net.name} ({net.cidr})")
                    )
    problems += _checks_cover_recovered(loaded, est)
    problems += _networks_in_recovery_region(loaded, est, plan.doc if plan is not None else None)
    return problems


def _recovered_by(step: StepBase, est: Estate) -> list[str]:
    """The estate VMs whose recovered counterparts a recovery step creates (image.deploy by count: its source)."""
    if isinstance(step, AsrStep | BackupStep | SnapshotCloneStep):
        return [vm.name for vm in est.select(step.with_.vms)]
    if isinstance(step, ImageDeployStep):
        if step.with_.vms is not None:
            return [vm.name for vm in est.select(step.with_.vms)]
        return [step.with_.image_of]
    return []


def _checks_cover_recovered(loaded: Loaded[Runbook], est: Estate) -> list[Problem]:
    """A check step checks recovered counterparts, so a step upstream of it must recover those VMs."""
    rb, src = loaded.doc, loaded.source
    problems: list[Problem] = []
    edges = {s.id: list(s.needs) for s in rb.steps}
    by_id = {s.id: s for s in rb.steps}
    for i, step in enumerate(rb.steps):
        if not isinstance(step, CheckBootStep | CheckCanaryStep):
            continue
        recovered: dict[str, StepBase] = {}
        for before in sorted(upstream_of(edges, step.id)):
            if before in by_id:
                for name in _recovered_by(by_id[before], est):
                    recovered.setdefault(name, by_id[before])
        if step.with_.vms is not None:
            for vm in est.select(step.with_.vms):
                origin = recovered.get(vm.name)
                if origin is None:
                    problems.append(
                        src.problem(
                            ("steps", i, "with", "vms"),
                            f"no step before '{step.id}' recovers VM {vm.name}: add the step that does to needs",
                        )
                    )
                elif _as_disks(origin):
                    problems.append(src.problem(("steps", i, "with", "vms"), _no_vm_to_check(step, origin, vm.name)))
        elif isinstance(step, CheckCanaryStep) and step.with_.app is not None:
            try:
                members = est.select(est.app(step.with_.app).vms)
            except KeyError:
                continue  # reported as an unknown app
            if not any(vm.name in recovered for vm in members):
                problems.append(
                    src.problem(("steps", i, "with", "app"), f"no step before '{step.id}' recovers a VM of app {step.with_.app}")
                )
            for vm in members:
                origin = recovered.get(vm.name)
                if origin is not None and _as_disks(origin):
                    problems.append(src.problem(("steps", i, "with", "app"), _no_vm_to_check(step, origin, vm.name)))
    return problems


def _as_disks(step: StepBase) -> bool:
    return isinstance(step, BackupStep) and step.with_.restore_as is RestoreAs.DISKS


def _no_vm_to_check(check: StepBase, origin: StepBase, vm: str) -> str:
    # The canary is read on the running VM (Run Command) and a boot needs a VM: restored disks have neither.
    what = "boot" if isinstance(check, CheckBootStep) else "read the canary on"
    return f"step '{origin.id}' restores VM {vm} as disks: there is no VM for '{check.id}' to {what} (restore it as: vm)"


def _networks_in_recovery_region(loaded: Loaded[Runbook], est: Estate, plan: ProtectionPlan | None) -> list[Problem]:
    """Recovered VMs land in one region; the isolated network a step names must be in that region."""
    rb, src = loaded.doc, loaded.source
    isolates = {s.id: s for s in rb.steps if isinstance(s, IsolateStep)}
    problems: list[Problem] = []
    for i, step in enumerate(rb.steps):
        network = isolates.get(getattr(step.with_, "network", None) or "")
        if network is None or not isinstance(step, AsrStep | BackupStep | SnapshotCloneStep):
            continue
        where = network.with_.region
        for vm in est.select(step.with_.vms):
            allowed: set[str] = set()
            if isinstance(step, BackupStep):
                allowed = {step.with_.region or vm.region}
            elif isinstance(step, SnapshotCloneStep):
                allowed = {vm.region}
                rule = protection_of(plan, vm.name, vm.tags).snapshots if plan is not None else None
                if (
                    step.with_.source is SnapshotSource.SCHEDULED
                    and rule is not None
                    and rule.snapshots is not None
                    and rule.snapshots.copy_to_region
                ):
                    allowed.add(rule.snapshots.copy_to_region)  # the cross-region copy (disks-copy-incremental-snapshot-across-regions)
            elif plan is not None:
                rule = protection_of(plan, vm.name, vm.tags).site_recovery
                if rule is None or rule.site_recovery is None:
                    continue  # reported as not replicated
                allowed = {rule.site_recovery.target_region}  # a test failover lands in the target region
            if allowed and where not in allowed:
                problems.append(
                    src.problem(
                        ("steps", i, "with", "network"),
                        f"network '{network.id}' is in {where}, but {step.action} brings VM {vm.name} back"
                        f" in {' or '.join(sorted(allowed))}",
                    )
                )
    return problems


# ------------------------------------------------------------------------------ documents together


@dataclass(frozen=True)
class DrillBundle:
    """A drill with the runbook, estate and plan it references, all valid together."""

    drill: Loaded[Drill]
    runbook: Loaded[Runbook]
    estate: Loaded[Estate]
    plan: Loaded[ProtectionPlan]


@dataclass(frozen=True)
class Candidate:
    name: str
    runbook: Loaded[Runbook]
    plan: Loaded[ProtectionPlan]


@dataclass(frozen=True)
class ComparisonBundle:
    comparison: Loaded[Comparison]
    estate: Loaded[Estate]
    candidates: tuple[Candidate, ...]


def _resolve(base: Loaded[Any], relative: str) -> str:
    path = Path(relative)
    if not path.is_absolute():
        path = Path(base.source.path).parent / path
    return os.path.normpath(path)


class _Collector:
    """Loads referenced documents once each, collecting problems instead of stopping."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self._cache: dict[str, Loaded[Any] | None] = {}

    def load(self, owner: Loaded[Any], loc: tuple[int | str, ...], relative: str, kind: type[Document]) -> Loaded[Any] | None:
        path = _resolve(owner, relative)
        if path in self._cache:
            return self._cache[path]
        result: Loaded[Any] | None = None
        problem = file_problem(path)
        if problem is not None:
            what = f"no such file {relative!r}" if problem == "no such file" else f"{relative!r} {problem}"
            self.problems.append(owner.source.problem(loc, f"{loc[-1]}: {what} (resolved to {os.path.abspath(path)})"))
        else:
            try:
                result = _load_reporting_all(path, kind)
            except DocumentError as exc:
                self.problems += exc.problems
                # ... and where it was named, so the reader knows which reference brought it in.
                self.problems.append(owner.source.problem(loc, f"{loc[-1]}: {relative!r} is not a valid {kind.__name__}"))
        self._cache[path] = result
        return result

    def checked(self, loaded: Loaded[Any] | None, check: Any, *args: Any) -> Loaded[Any] | None:
        if loaded is None:
            return None
        found = check(loaded, *args)
        self.problems += found
        return loaded


def _load_reporting_all(path: str, kind: type[Document]) -> Loaded[Any]:
    """`load`, adding the step-graph problems of a runbook that failed validation."""
    data, source = read_yaml(path)
    try:
        return Loaded(parse_document(data, source, kind), source)
    except DocumentError as exc:
        raise DocumentError(exc.problems + (raw_runbook_problems(data, source) if kind is Runbook else [])) from None


def check_drill_group(drill: Loaded[Drill], estate: Loaded[Estate]) -> list[Problem]:
    """A drill against Azure creates its resources in a resource group of its own, never one that holds
    production: there, cleanup and the isolated network's NSG would act beside production resources."""
    options = drill.doc.azure
    if drill.doc.provider is not ProviderKind.AZURE or options is None:
        return []
    holds = estate.doc.production_groups().get(options.resource_group.lower())
    if holds is None:
        return []
    return [
        drill.source.problem(
            ("azure", "resource_group"),
            f"resource_group: {options.resource_group} holds production ({holds} of estate {estate.doc.name}): "
            "give the drill a resource group of its own",
        )
    ]


def load_drill(path: str | os.PathLike[str]) -> DrillBundle:
    """Load a drill and everything it references; raise DocumentError with every problem."""
    drill = load(path, Drill)
    c = _Collector()
    estate = c.checked(c.load(drill, ("estate",), drill.doc.estate, Estate), check_estate)
    plan = c.checked(c.load(drill, ("plan",), drill.doc.plan, ProtectionPlan), check_plan, estate)
    runbook = c.checked(c.load(drill, ("runbook",), drill.doc.runbook, Runbook), check_runbook, estate, plan)
    if estate is not None:
        c.problems += check_drill_group(drill, estate)
    if runbook is not None:
        c.problems += check_azure_restores(drill, runbook, estate)
    if c.problems or estate is None or plan is None or runbook is None:
        raise DocumentError(c.problems)
    return DrillBundle(drill, runbook, estate, plan)


def check_azure_restores(drill: Loaded[Drill], runbook: Loaded[Runbook], estate: Loaded[Estate] | None = None) -> list[Problem]:
    """What a `provider: azure` drill needs for its Backup restores: a staging storage account (Restore disks
    needs one, a vault-tier restore stages there: backup-azure-arm-restore-vms), one in the secondary region
    for a cross-region restore, and no `tier: vault`, which Azure cannot honour (IaasVMRestoreRequest has no
    tier: a restore uses the snapshot when the point has one). Without an `azure:` block the environment
    gives the accounts (checked when the drill runs)."""
    if drill.doc.provider is not ProviderKind.AZURE:
        return []
    problems = []
    restores = [(i, step) for i, step in enumerate(runbook.doc.steps) if isinstance(step, BackupStep)]
    for i, step in restores:
        if step.with_.tier is BackupTier.VAULT:
            problems.append(
                runbook.source.problem(
                    ("steps", i, "with", "tier"),
                    f"drill {drill.doc.name} runs on Azure, which cannot choose the vault tier: a restore uses the snapshot when the "
                    "point still has one (IaasVMRestoreRequest has no tier); use tier: auto (reported as the tier Azure used) or snapshot",
                )
            )
    azure = drill.doc.azure
    if restores and azure is not None and not azure.staging_storage_account:
        problems.append(
            drill.source.problem(
                ("azure",),
                f"azure.staging_storage_account is required: step '{restores[0][1].id}' restores from Azure Backup, which stages "
                "restores in a storage account (an ARM id, in the vault's region, not zone-redundant)",
                key=True,
            )
        )
    crr = [step for _, step in restores if estate is not None and cross_region_vms(step, estate.doc)]
    if crr and azure is not None and not azure.crr_staging_storage_account:
        problems.append(
            drill.source.problem(
                ("azure",),
                f"azure.crr_staging_storage_account is required: step '{crr[0].id}' restores in {crr[0].with_.region} with "
                "cross-region restore, which stages in a storage account of that (the secondary) region",
                key=True,
            )
        )
    return problems


def cross_region_vms(step: BackupStep, estate: Estate) -> list[str]:
    """The VMs a backup.restore step restores in another region than their own (cross-region restore)."""
    region = step.with_.region
    if region is None:
        return []
    return [vm.name for vm in estate.vms if vm.region != region and selector_matches(step.with_.vms, vm.name, vm.tags)]


def load_comparison(path: str | os.PathLike[str], *, like_for_like: bool = True) -> ComparisonBundle:
    """Load a comparison with its estate and every candidate's plan and runbook. With `like_for_like`
    (what `drsim validate` checks), candidates that face different incidents or objectives are a
    problem unless the comparison states them or sets `mixed: true` (drsim.model.judged)."""
    comparison = load(path, Comparison)
    c = _Collector()
    doc = comparison.doc
    problems = _duplicates(comparison.source, ((("candidates", i, "name"), x.name) for i, x in enumerate(doc.candidates)), "candidate")
    stated = ((("objectives", i, "app"), o.app) for i, o in enumerate(doc.objectives or ()))
    problems += _duplicates(comparison.source, stated, "objective for app")
    estate = c.checked(c.load(comparison, ("estate",), doc.estate, Estate), check_estate)
    problems += stated_problems(comparison, estate)
    candidates = []
    for i, cand in enumerate(doc.candidates):
        plan = c.checked(c.load(comparison, ("candidates", i, "plan"), cand.plan, ProtectionPlan), check_plan, estate)
        runbook = c.load(comparison, ("candidates", i, "runbook"), cand.runbook, Runbook)
        if runbook is not None:
            c.problems += check_runbook(runbook, estate, plan)
        if plan is not None and runbook is not None:
            candidates.append(Candidate(cand.name, runbook, plan))
    problems += c.problems
    if like_for_like and not problems and len(candidates) == len(doc.candidates):
        problems += like_for_like_problems(comparison, [(x.name, judged_runbook(x.runbook.doc, doc)) for x in candidates])
    if problems or estate is None:
        raise DocumentError(problems)
    return ComparisonBundle(comparison, estate, tuple(candidates))


def validate_path(path: str | os.PathLike[str]) -> list[Problem]:
    """Every problem in one document of any kind (and, for a Drill or Comparison, what it references)."""
    try:
        data, source = read_yaml(path)
        try:
            doc: Document = parse_document(data, source)
        except DocumentError as exc:
            return sorted(set(exc.problems + raw_runbook_problems(data, source)))
        loaded: Loaded[Any] = Loaded(doc, source)
        if isinstance(doc, Drill):
            load_drill(path)
        elif isinstance(doc, Comparison):
            load_comparison(path)
        elif isinstance(doc, Estate):
            return sorted(set(check_estate(loaded)))
        elif isinstance(doc, ProtectionPlan):
            return sorted(set(check_plan(loaded, None)))
        elif isinstance(doc, Runbook):
            return sorted(set(check_runbook(loaded, None, None)))
    except DocumentError as exc:
        return exc.problems
    return []


def validate_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Problem]:
    problems: list[Problem] = []
    for path in paths:
        problems += validate_path(path)
    return problems
