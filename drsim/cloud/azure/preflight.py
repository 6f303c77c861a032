"""The read-only preflight of a drill against Azure: is the subscription ready for this runbook?

`drsim drill run --dry-run` of a `provider: azure` drill asks Azure, with reads only, and lists every
problem at once:

- each VM the runbook acts on exists and matches the estate (size, region, disks);
- each is protected by Azure Backup or replicated by Site Recovery as its steps need;
- a recovery point of the kind each step asks for exists (Backup point and tier, Site Recovery point,
  scheduled snapshots, a managed image in the target region);
- the drill's resource group exists and holds nothing of production;
- the caller's permissions on each scope cover what the runbook will do (`GET {scope}/providers/
  Microsoft.Authorization/permissions`, Permissions_ListForResourceGroup / _ListForResource,
  Microsoft.Authorization 2022-04-01), with the roles of docs/azure.md: Contributor on the drill group,
  Backup Operator on the Backup vault and Virtual Machine Contributor on each source VM of a restore
  (backup-rbac-rs-vault), Site Recovery Operator on the Site Recovery vault
  (site-recovery-role-based-linked-access-control), Storage Account Contributor on the staging account;
- the staging storage account of a Backup restore exists, is in the vault's region and is not ZRS
  (backup-azure-arm-restore-vms);
- the regional vCPU quota (`GET .../providers/Microsoft.Compute/locations/{location}/usages`, Usage_List:
  `cores`) covers the VMs the drill will create there.

An action is covered when one entry of the permissions list has an `actions` pattern matching it and no
`notActions` pattern of that entry does (role-definitions: wildcards, case-insensitive).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from azure.core.rest import HttpRequest

from drsim.cloud.api import RUN_TAG, PointTier, PointType
from drsim.cloud.arm import parse_id, resource_group_id, vcpus_of
from drsim.cloud.azure import records
from drsim.cloud.azure.errors import translated
from drsim.cloud.azure.provider import AzureProvider
from drsim.cloud.azure.safety import ListedResource, production_in
from drsim.errors import DrsimError
from drsim.model.documents import (
    AsrStep,
    AzureOptions,
    BackupStep,
    CheckCanaryStep,
    Estate,
    ImageDeployStep,
    IsolateStep,
    Runbook,
    SnapshotCloneStep,
    VmSpec,
)
from drsim.model.types import BackupPointChoice, BackupTier, ReplicationPointChoice, RestoreAs, SnapshotSource

PERMISSIONS_API_VERSION = "2022-04-01"
STORAGE_API_VERSION = "2023-05-01"
VAULT_API_VERSION = "2025-02-01"  # Microsoft.RecoveryServices/vaults (the Backup SDK has no vaults client)
VAULT_REGION = "the vault's region"
CORES_USAGE = "cores"  # Usage_List: "Total Regional vCPUs"


class Area(StrEnum):
    """What a readiness check looks at (the rows of the readiness table, in this order)."""

    VM = "vm"
    PROTECTION = "protection"
    RECOVERY_POINT = "recovery point"
    RESOURCE_GROUP = "resource group"
    PERMISSIONS = "permissions"
    STAGING = "staging account"
    QUOTA = "quota"
    TWIN = "twin"


@dataclass(frozen=True)
class Check:
    """One line of the readiness table: what was checked, on what, and what Azure answered."""

    area: Area
    subject: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Readiness:
    """Every check of a preflight; ready when all passed."""

    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def problems(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)


@dataclass(frozen=True)
class PlannedVm:
    """A VM the drill will create: whose, where, of what size."""

    source: str
    region: str
    size: str


@dataclass
class Needs:
    """What the runbook will do, worked out from its steps: the VMs per kind of step, the actions per
    scope kind, the VMs it will create."""

    backup: list[tuple[BackupStep, VmSpec]] = field(default_factory=list)
    crr: list[tuple[BackupStep, VmSpec]] = field(default_factory=list)  # restores in the paired region (cross-region restore)
    asr: list[tuple[AsrStep, VmSpec]] = field(default_factory=list)
    clone: list[tuple[SnapshotCloneStep, VmSpec]] = field(default_factory=list)
    images: list[ImageDeployStep] = field(default_factory=list)
    group_actions: dict[str, str] = field(default_factory=dict)  # action -> why
    created: list[PlannedVm] = field(default_factory=list)

    def need(self, why: str, *actions: str) -> None:
        for action in actions:
            self.group_actions.setdefault(action, why)

    @property
    def vms(self) -> list[VmSpec]:
        found: dict[str, VmSpec] = {}
        for _, vm in (*self.backup, *self.asr, *self.clone):
            found.setdefault(vm.name, vm)
        return list(found.values())


_NETWORK_WRITE = (
    "Microsoft.Network/virtualNetworks/write",
    "Microsoft.Network/virtualNetworks/delete",
    "Microsoft.Network/networkSecurityGroups/write",
    "Microsoft.Network/networkSecurityGroups/delete",
)
_VM_WRITE = (
    "Microsoft.Compute/virtualMachines/write",
    "Microsoft.Compute/virtualMachines/delete",
    "Microsoft.Network/networkInterfaces/write",
    "Microsoft.Network/networkInterfaces/delete",
    "Microsoft.Network/virtualNetworks/subnets/join/action",
)
BACKUP_RESTORE_ACTION = "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/recoveryPoints/restore/action"
BACKUP_JOBS_READ = "Microsoft.RecoveryServices/Vaults/backupJobs/read"
ASR_ITEMS = "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems"
ASR_ACTIONS = (
    f"{ASR_ITEMS}/testFailover/action",
    f"{ASR_ITEMS}/testFailoverCleanup/action",
    "Microsoft.RecoveryServices/vaults/replicationJobs/read",
)
SOURCE_VM_WRITE = "Microsoft.Compute/virtualMachines/write"
CRR_TOKEN_ACTION = "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems/recoveryPoints/accessToken/action"
CRR_ACTIONS = (
    # backup-rbac-rs-vault, "Cross region restore": on the subscription of the vault (read here through the
    # vault's resource group, whose permissions include what is assigned on the subscription).
    "Microsoft.RecoveryServices/locations/backupAadProperties/read",
    "Microsoft.RecoveryServices/locations/backupCrrJobs/action",
    "Microsoft.RecoveryServices/locations/backupCrrJob/action",
    "Microsoft.RecoveryServices/locations/backupCrossRegionRestore/action",
    "Microsoft.RecoveryServices/locations/backupCrrOperationResults/read",
    "Microsoft.RecoveryServices/locations/backupCrrOperationsStatus/read",
)
STAGING_WRITE = "Microsoft.Storage/storageAccounts/write"


def runbook_needs(runbook: Runbook, estate: Estate) -> Needs:
    """What the runbook's steps will do to which VMs, and with which rights in the drill group."""
    needs = Needs()
    regions = {s.id: s.with_.region for s in runbook.steps if isinstance(s, IsolateStep)}
    for step in runbook.steps:
        if isinstance(step, IsolateStep):
            needs.need(f"{step.id}: isolated network", *_NETWORK_WRITE)
        elif isinstance(step, BackupStep):
            for vm in estate.select(step.with_.vms):
                needs.backup.append((step, vm))
                if step.with_.region is not None and step.with_.region != vm.region:
                    needs.crr.append((step, vm))
                if step.with_.restore_as is RestoreAs.VM:
                    needs.created.append(PlannedVm(vm.name, regions.get(step.with_.network, vm.region), vm.size))
            # Restore VM / disks: Contributor (resourceGroups/write) on the target group (backup-rbac-rs-vault).
            needs.need(f"{step.id}: Backup restore into the drill group", "Microsoft.Resources/subscriptions/resourceGroups/write")
            needs.need(f"{step.id}: restored VMs and disks", *_VM_WRITE, "Microsoft.Compute/disks/delete", "Microsoft.Resources/tags/write")
        elif isinstance(step, AsrStep):
            for vm in estate.select(step.with_.vms):
                needs.asr.append((step, vm))
                needs.created.append(PlannedVm(vm.name, regions.get(step.with_.network, vm.region), vm.size))
            needs.need(f"{step.id}: tag the test VMs", "Microsoft.Resources/tags/write")
        elif isinstance(step, SnapshotCloneStep):
            for vm in estate.select(step.with_.vms):
                needs.clone.append((step, vm))
                needs.created.append(PlannedVm(vm.name, regions.get(step.with_.network, vm.region), vm.size))
            needs.need(
                f"{step.id}: snapshots, disks and a VM",
                "Microsoft.Compute/snapshots/write",
                "Microsoft.Compute/snapshots/delete",
                "Microsoft.Compute/disks/write",
                "Microsoft.Compute/disks/delete",
                *_VM_WRITE,
            )
        elif isinstance(step, ImageDeployStep):
            needs.images.append(step)
            golden = estate.vm(step.with_.image_of)
            deployed = estate.select(step.with_.vms) if step.with_.vms is not None else []
            for vm in deployed or [golden] * (step.with_.count or 1):
                needs.created.append(PlannedVm(vm.name, step.with_.region, vm.size))
            needs.need(f"{step.id}: VMs from an image", *_VM_WRITE, "Microsoft.Compute/disks/delete", "Microsoft.Resources/tags/write")
        elif isinstance(step, CheckCanaryStep):
            needs.need(f"{step.id}: Run Command (canary check)", "Microsoft.Compute/virtualMachines/runCommand/action")
    return needs


def covered(permissions: Sequence[Mapping[str, Any]], action: str) -> bool:
    """Whether a permissions list (PermissionGetResult.value) allows `action`."""
    wanted = action.lower()
    for entry in permissions:
        actions = [str(a).lower() for a in entry.get("actions") or []]
        not_actions = [str(a).lower() for a in entry.get("notActions") or []]
        if any(fnmatchcase(wanted, a) for a in actions) and not any(fnmatchcase(wanted, n) for n in not_actions):
            return True
    return False


class Preflight:
    """The checks of one drill against one subscription (all reads)."""

    def __init__(self, provider: AzureProvider, options: AzureOptions, runbook: Runbook, estate: Estate) -> None:
        self.provider = provider
        self.clients = provider.clients
        self.options = options
        self.runbook = runbook
        self.estate = estate
        self.needs = runbook_needs(runbook, estate)
        self.checks: list[Check] = []
        self.vm_models: dict[str, Any] = {}  # estate VM name -> the compute model Azure answered
        self.crr_flags: dict[tuple[str, str], tuple[bool, str]] = {}  # (vault group, vault) -> (crossRegionRestoreFlag, storage type)

    def add(self, area: Area, subject: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(area, subject, ok, detail))

    # ------------------------------------------------------------------------------ raw reads

    async def _get(self, path: str, api_version: str) -> tuple[int, Any]:
        """GET an ARM path the SDK generation has no client for (permissions, storage accounts), through the
        same pipeline (credential, throttle, retries); every page of a list is read."""
        status, body = await self._get_one(path, {"api-version": api_version})
        while status == 200 and isinstance(body, dict) and body.get("nextLink"):
            more_status, more = await self._get_one(str(body["nextLink"]), None)
            if more_status != 200 or not isinstance(more, dict):
                return more_status, more
            body = {**more, "value": list(body.get("value") or []) + list(more.get("value") or [])}
        return status, body

    async def _get_one(self, url: str, params: dict[str, str] | None) -> tuple[int, Any]:
        async with translated(f"reading {url.split('?', 1)[0]}"):
            response = await self.clients.resources.send_request(HttpRequest("GET", url, params=params))
            raw = await response.read()
        try:
            return response.status_code, json.loads(raw) if raw.strip() else None
        except ValueError:
            return response.status_code, None

    # ----------------------------------------------------------------------------------- run

    async def run(self) -> Readiness:
        await self._check_vms()
        await self._check_protection_and_points()
        await self._check_group()
        await self._check_permissions()
        await self._check_staging()
        await self._check_quota()
        return Readiness(tuple(self.checks))

    async def _guarded(self, area: Area, subject: str, call: Any) -> Any:
        """Run a read; a refusal (403, 404, a transient failure that outlived its retries) is a problem of the table."""
        try:
            return await call
        except DrsimError as exc:
            self.add(area, subject, False, exc.format_message())
            return None

    async def _check_vms(self) -> None:
        listed = await self._guarded(Area.VM, "subscription", self._list_vms())
        if listed is None:
            return
        by_name = {vm.name.lower(): vm for vm in listed if vm.name}
        for spec in self.needs.vms:
            model = by_name.get(spec.name.lower())
            if model is None:
                self.add(Area.VM, spec.name, False, "no VM of that name in the subscription")
                continue
            self.vm_models[spec.name] = model
            found = []
            size = records.text(model.hardware_profile.vm_size) if model.hardware_profile is not None else ""
            if size.lower() != spec.size.lower():
                found.append(f"size {size}, the estate says {spec.size}")
            if (model.location or "").lower() != spec.region.lower():
                found.append(f"region {model.location}, the estate says {spec.region}")
            sizes = await self._disk_sizes(model)
            wanted = [d.size_gib for d in spec.disks]
            if sizes != wanted:
                found.append(f"disks of {sizes} GiB, the estate says {wanted} GiB")
            self.add(
                Area.VM, spec.name, not found, "; ".join(found) or f"{size} in {model.location}, {len(sizes)} disk(s) as the estate says"
            )

    async def _list_vms(self) -> list[Any]:
        async with translated("listing VMs"):
            return [vm async for vm in self.clients.compute.virtual_machines.list_all()]

    async def _disk_sizes(self, model: Any) -> list[int]:
        profile = model.storage_profile
        disks = [profile.os_disk] if profile is not None and profile.os_disk is not None else []
        disks += sorted(profile.data_disks or [], key=lambda d: d.lun) if profile is not None else []
        sizes = []
        for disk in disks:
            size = disk.disk_size_gb
            if size is None and disk.managed_disk is not None and disk.managed_disk.id:
                ref = parse_id(disk.managed_disk.id)
                async with translated(f"reading disk {ref.name}"):
                    size = (await self.clients.compute.disks.get(ref.resource_group, ref.name)).disk_size_gb
            sizes.append(int(size or 0))
        return sizes

    async def _check_protection_and_points(self) -> None:
        if self.needs.backup:
            items = await self._guarded(Area.PROTECTION, "Azure Backup", self.provider.backup_items())
            for backup_step, vm in self.needs.backup if items is not None else []:
                item = next((i for i in items if i.vm_name.lower() == vm.name.lower()), None)
                if item is None:
                    self.add(Area.PROTECTION, vm.name, False, f"{backup_step.id}: not protected by Azure Backup in {self._vault('backup')}")
                    continue
                self.add(Area.PROTECTION, vm.name, True, f"{backup_step.id}: Azure Backup, vault {item.vault}")
                if (backup_step, vm) in self.needs.crr and not await self._cross_region_restore(backup_step, vm, item):
                    continue  # no secondary-region points to look for
                await self._backup_point(backup_step, vm, item)
        if self.needs.asr:
            replicated = await self._guarded(Area.PROTECTION, "Site Recovery", self.provider.replicated_items())
            for asr_step, vm in self.needs.asr if replicated is not None else []:
                found = next((i for i in replicated if i.vm_name.lower() == vm.name.lower()), None)
                if found is None:
                    self.add(Area.PROTECTION, vm.name, False, f"{asr_step.id}: not replicated by Site Recovery in {self._vault('asr')}")
                    continue
                self.add(Area.PROTECTION, vm.name, True, f"{asr_step.id}: Site Recovery, vault {found.vault} to {found.target_region}")
                await self._replication_point(asr_step, vm, found.vm_id)
        for clone_step, vm in self.needs.clone:
            if clone_step.with_.source is SnapshotSource.SCHEDULED:
                await self._scheduled_snapshots(clone_step, vm)
        for image_step in self.needs.images:
            await self._image(image_step)

    async def _cross_region_restore(self, step: BackupStep, vm: VmSpec, item: records.BackupItem) -> bool:
        """Whether the vault restores in the paired region: GRS with cross-region restore on (the vault's
        backupstorageconfig crossRegionRestoreFlag; BackupStorageConfig_Get.json), read once per vault."""
        key = (item.vault_group.lower(), item.vault.lower())
        if key not in self.crr_flags:
            path = f"{self._vault_id(item.vault_group, item.vault)}/backupstorageconfig/vaultstorageconfig"
            try:
                status, body = await self._get(path, VAULT_API_VERSION)
            except DrsimError as exc:
                self.add(Area.PROTECTION, f"{vm.name} ({step.id})", False, exc.format_message())
                return False
            props = body.get("properties") if status == 200 and isinstance(body, dict) else None
            if not isinstance(props, dict):
                self.add(
                    Area.PROTECTION,
                    f"{vm.name} ({step.id})",
                    False,
                    f"cannot read the storage config of vault {item.vault} (HTTP {status})",
                )
                return False
            self.crr_flags[key] = (
                bool(props.get("crossRegionRestoreFlag")),
                str(props.get("storageType") or props.get("storageModelType") or ""),
            )
        enabled, storage = self.crr_flags[key]
        subject = f"{vm.name} ({step.id})"
        if not enabled:
            self.add(
                Area.PROTECTION,
                subject,
                False,
                f"restores in {step.with_.region} with cross-region restore, which vault {item.vault} ({storage}) does not have: "
                "enable Cross Region Restore on the vault (GRS only; up to 48 h before items appear in the secondary region)",
            )
            return False
        self.add(
            Area.PROTECTION,
            subject,
            True,
            f"vault {item.vault} ({storage}) has cross-region restore: points restorable in {step.with_.region}",
        )
        return True

    def _vault(self, kind: str) -> str:
        named = self.options.backup_vault if kind == "backup" else self.options.site_recovery_vault
        return f"vault {named}" if named else "any vault of the subscription"

    async def _backup_point(self, step: BackupStep, vm: VmSpec, item: records.BackupItem) -> None:
        w = step.with_
        subject = f"{vm.name} ({step.id})"
        cross_region = w.region is not None and w.region != vm.region
        points = await self._guarded(
            Area.RECOVERY_POINT, subject, self.provider.list_backup_points(item.vm_id, region=w.region if cross_region else None)
        )
        if points is None:
            return
        usable = list(points)
        if w.tier is BackupTier.SNAPSHOT:
            usable = [p for p in usable if PointTier.SNAPSHOT in p.tiers]
        elif w.tier is BackupTier.VAULT or cross_region:
            usable = [p for p in usable if PointTier.VAULT in p.tiers]
        if w.point is BackupPointChoice.LATEST_APP_CONSISTENT:
            usable = [p for p in usable if p.type is PointType.APP_CONSISTENT]
        wanted = f"point: {w.point.value}, tier: {w.tier.value}"
        if not usable:
            self.add(Area.RECOVERY_POINT, subject, False, f"no Azure Backup point matches {wanted} ({len(points)} point(s) in all)")
        else:
            newest = max(usable, key=lambda p: p.time)
            self.add(Area.RECOVERY_POINT, subject, True, f"{wanted}: newest {newest.time:%Y-%m-%d %H:%M}Z ({newest.type.value})")

    async def _replication_point(self, step: AsrStep, vm: VmSpec, vm_id: str) -> None:
        subject = f"{vm.name} ({step.id})"
        points = await self._guarded(Area.RECOVERY_POINT, subject, self.provider.list_replication_points(vm_id))
        if points is None:
            return
        usable = list(points)
        if step.with_.recovery_point is ReplicationPointChoice.LATEST_APP_CONSISTENT:
            usable = [p for p in usable if p.type is PointType.APP_CONSISTENT]
        if not usable:
            self.add(Area.RECOVERY_POINT, subject, False, f"no {step.with_.recovery_point.value} Site Recovery point")
        else:
            newest = max(usable, key=lambda p: p.time)
            self.add(Area.RECOVERY_POINT, subject, True, f"{step.with_.recovery_point.value}: newest {newest.time:%Y-%m-%d %H:%M}Z")

    async def _scheduled_snapshots(self, step: SnapshotCloneStep, vm: VmSpec) -> None:
        subject = f"{vm.name} ({step.id})"
        model = self.vm_models.get(vm.name)
        if model is None:
            return  # already a problem of its own (no such VM)
        profile = model.storage_profile
        disks = [profile.os_disk, *sorted(profile.data_disks or [], key=lambda d: d.lun)] if profile is not None else []
        snapshots = await self._guarded(Area.RECOVERY_POINT, subject, self.provider.list_snapshots())
        if snapshots is None:
            return
        missing = []
        for spec, disk in zip(vm.disks, disks, strict=False):
            disk_id = disk.managed_disk.id if disk.managed_disk is not None else None
            if not any(disk_id and s.disk_id.lower() == disk_id.lower() and RUN_TAG not in s.tags for s in snapshots):
                missing.append(spec.name)
        ok = not missing
        self.add(
            Area.RECOVERY_POINT,
            subject,
            ok,
            "a scheduled snapshot of every disk" if ok else f"no scheduled snapshot of disk(s) {', '.join(missing)}",
        )

    async def _image(self, step: ImageDeployStep) -> None:
        w = step.with_
        subject = f"{w.image_of} ({step.id})"
        images = await self._guarded(Area.RECOVERY_POINT, subject, self.provider.list_images())
        if images is None:
            return
        golden = self.vm_models.get(w.image_of)
        golden_id = golden.id if golden is not None else None
        found = [
            i
            for i in images
            if i.region == w.region and RUN_TAG not in i.tags and (golden_id is None or i.source_vm_id.lower() == golden_id.lower())
        ]
        self.add(
            Area.RECOVERY_POINT,
            subject,
            bool(found),
            f"managed image in {w.region}" if found else f"no managed image of {w.image_of} in {w.region}",
        )

    async def _check_group(self) -> None:
        group = self.options.resource_group
        try:
            async with translated(f"reading resource group {group}"):
                await self.clients.resources.resource_groups.get(group)
                listed = [r async for r in self.clients.resources.resources.list_by_resource_group(group)]
        except DrsimError as exc:
            self.add(Area.RESOURCE_GROUP, group, False, exc.format_message())
            return
        production = {vm.name.lower() for vm in self.estate.vms}
        production_ids = set()
        for model in self.vm_models.values():
            production_ids.add((model.id or "").lower())
            production_ids.update(n.lower() for n in records.nic_ids(model))
            profile = model.storage_profile
            for disk in [profile.os_disk, *(profile.data_disks or [])] if profile is not None else []:
                if disk.managed_disk is not None and disk.managed_disk.id:
                    production_ids.add(disk.managed_disk.id.lower())
        of_production = [
            r.name or ""
            for r in listed
            if (r.id or "").lower() in production_ids
            or ((r.type or "").lower() == "microsoft.compute/virtualmachines" and (r.name or "").lower() in production)
        ]
        # and what the run-time guard refuses (drsim.cloud.azure.safety): the estate's VMs, disks and networks by name
        named = production_in((ListedResource(r.type or "", r.name or "", dict(r.tags or {})) for r in listed), self.estate)
        of_production += [n.split(" ", 1)[-1].split(" of VM ")[0] for n in named]
        of_production = sorted(set(of_production))
        if of_production:
            self.add(Area.RESOURCE_GROUP, group, False, f"holds production resources: {', '.join(of_production)}")
        else:
            left = sum(1 for r in listed if RUN_TAG in (r.tags or {}))
            detail = f"exists, nothing of production in it ({len(listed)} resource(s)"
            self.add(Area.RESOURCE_GROUP, group, True, detail + (f", {left} left by earlier drills)" if left else ")"))

    # ------------------------------------------------------------------------ permissions

    async def _check_permissions(self) -> None:
        subscription = self.options.subscription_id
        scopes: dict[str, dict[str, str]] = defaultdict(dict)  # scope -> action -> why
        scopes[resource_group_id(subscription, self.options.resource_group)].update(self.needs.group_actions)
        for model in self.vm_models.values():
            scopes[resource_group_id(subscription, parse_id(model.id).resource_group)].setdefault(
                "Microsoft.Compute/virtualMachines/read", "read the production VMs"
            )
        restored = {vm.name.lower() for _, vm in self.needs.backup}
        replicated = {vm.name.lower() for _, vm in self.needs.asr}
        if self.needs.backup:
            for item in [i for i in await self._items("backup") if i.vm_name.lower() in restored]:
                vault = self._vault_id(item.vault_group, item.vault)
                scopes[vault].setdefault(BACKUP_RESTORE_ACTION, "Backup Operator: restore")
                scopes[vault].setdefault(BACKUP_JOBS_READ, "Backup Operator: follow restore jobs")
                scopes[item.vm_id].setdefault(SOURCE_VM_WRITE, "Restore VM: write on the source VM (backup-rbac-rs-vault)")
            crr = {vm.name.lower() for _, vm in self.needs.crr}
            for item in [i for i in await self._items("backup") if i.vm_name.lower() in crr]:
                vault = self._vault_id(item.vault_group, item.vault)
                scopes[vault].setdefault(CRR_TOKEN_ACTION, "Backup Operator: a cross-region restore's access token")
                group = resource_group_id(subscription, item.vault_group)
                for action in CRR_ACTIONS:
                    scopes[group].setdefault(action, "cross-region restore, on the vault's subscription (backup-rbac-rs-vault)")
            if self.options.staging_storage_account:
                scopes[self.options.staging_storage_account].setdefault(STAGING_WRITE, "Backup stages the restore there")
            if self.needs.crr and self.options.crr_staging_storage_account:
                scopes[self.options.crr_staging_storage_account].setdefault(STAGING_WRITE, "a cross-region restore stages there")
        if self.needs.asr:
            for item in [i for i in await self._items("asr") if i.vm_name.lower() in replicated]:
                vault = self._vault_id(item.vault_group, item.vault)
                for action in ASR_ACTIONS:
                    scopes[vault].setdefault(action, "Site Recovery Operator: test failover and its cleanup")
        for scope, actions in scopes.items():
            status, body = await self._guarded_get(scope, f"{scope}/providers/Microsoft.Authorization/permissions", PERMISSIONS_API_VERSION)
            if status is None:
                continue
            if status != 200 or not isinstance(body, dict):
                self.add(Area.PERMISSIONS, scope, False, f"cannot read the permissions of this scope (HTTP {status})")
                continue
            entries = [e for e in body.get("value") or [] if isinstance(e, dict)]
            missing = [f"{a} ({why})" for a, why in actions.items() if not covered(entries, a)]
            detail = f"missing {'; '.join(missing)}" if missing else f"{len(actions)} action(s) allowed"
            self.add(Area.PERMISSIONS, scope, not missing, detail)

    async def _guarded_get(self, subject: str, path: str, api_version: str) -> tuple[int | None, Any]:
        try:
            return await self._get(path, api_version)
        except DrsimError as exc:
            self.add(Area.PERMISSIONS, subject, False, exc.format_message())
            return None, None

    async def _items(self, kind: str) -> Iterable[Any]:
        try:
            return await (self.provider.backup_items() if kind == "backup" else self.provider.replicated_items())
        except DrsimError:
            return ()  # already reported by the protection checks

    def _vault_id(self, group: str, vault: str) -> str:
        return f"{resource_group_id(self.options.subscription_id, group)}/providers/Microsoft.RecoveryServices/vaults/{vault}"

    # ---------------------------------------------------------------------------- staging

    async def _check_staging(self) -> None:
        if not self.needs.backup:
            return
        if self.needs.crr:
            secondary = {step.with_.region or "" for step, _ in self.needs.crr}
            account = self.options.crr_staging_storage_account
            if not account:
                self.add(
                    Area.STAGING,
                    "-",
                    False,
                    "a cross-region restore stages in the secondary region: set azure.crr_staging_storage_account",
                )
            else:
                await self._check_account(account, secondary, "the secondary region of the cross-region restore")
        if all(step.with_.region is not None and step.with_.region != vm.region for step, vm in self.needs.backup):
            return  # every restore is cross-region: no primary staging account is used
        account = self.options.staging_storage_account
        if not account:
            self.add(Area.STAGING, "-", False, "Backup restores need a staging storage account: set azure.staging_storage_account")
            return
        await self._check_account(account, await self._backup_vault_regions(), VAULT_REGION)

    async def _check_account(self, account: str, regions: set[str], where: str) -> None:
        """A staging account exists, is in one of `regions` (`where` says which) and is not zone-redundant
        (backup-azure-arm-restore-vms)."""
        try:
            status, body = await self._get(account, STORAGE_API_VERSION)
        except DrsimError as exc:
            self.add(Area.STAGING, account, False, exc.format_message())
            return
        name = account.rstrip("/").rsplit("/", 1)[-1]
        if status == 404:
            self.add(Area.STAGING, name, False, "no such storage account")
            return
        if status != 200 or not isinstance(body, dict):
            self.add(Area.STAGING, name, False, f"cannot read the storage account (HTTP {status})")
            return
        region = str(body.get("location") or "")
        sku = str((body.get("sku") or {}).get("name") or "")
        problems = []
        if regions and region.lower() not in {r.lower() for r in regions}:
            label = "the vault in" if where == VAULT_REGION else "the secondary region"
            problems.append(f"in {region}, {label} {', '.join(sorted(regions))}: it must be in {where}")
        if sku.upper().endswith("ZRS"):
            problems.append(f"{sku} (zone-redundant) cannot stage a restore")
        self.add(Area.STAGING, name, not problems, "; ".join(problems) or f"{sku} in {region}")

    async def _backup_vault_regions(self) -> set[str]:
        """The regions of the vaults that protect the VMs the runbook restores (where restores stage)."""
        restored = {vm.name.lower() for _, vm in self.needs.backup}
        vaults = {(i.vault_group, i.vault) for i in await self._items("backup") if i.vm_name.lower() in restored}
        found = set()
        for group, vault in sorted(vaults):
            try:
                status, body = await self._get(self._vault_id(group, vault), VAULT_API_VERSION)
            except DrsimError:
                continue  # unreadable: the permissions check says why
            if status == 200 and isinstance(body, dict) and body.get("location"):
                found.add(str(body["location"]))
        return found

    # ------------------------------------------------------------------------------ quota

    async def _check_quota(self) -> None:
        per_region: dict[str, int] = defaultdict(int)
        count: dict[str, int] = defaultdict(int)
        for planned in self.needs.created:
            per_region[planned.region] += vcpus_of(planned.size)
            count[planned.region] += 1
        for region, needed in sorted(per_region.items()):
            try:
                async with translated(f"reading the compute usage of {region}"):
                    usages = [u async for u in self.clients.compute.usage.list(region)]
            except DrsimError as exc:
                self.add(Area.QUOTA, region, False, exc.format_message())
                continue
            cores = next((u for u in usages if u.name is not None and (u.name.value or "").lower() == CORES_USAGE), None)
            if cores is None:
                self.add(Area.QUOTA, region, False, "Azure reports no regional vCPU usage (cores) there")
                continue
            free = int(cores.limit or 0) - int(cores.current_value or 0)
            ok = free >= needed
            detail = f"{count[region]} VM(s) need {needed} vCPUs; {free} of {cores.limit} free"
            self.add(Area.QUOTA, region, ok, detail if ok else detail + ": ask for more quota")


async def preflight(provider: AzureProvider, options: AzureOptions, runbook: Runbook, estate: Estate) -> Readiness:
    """Every readiness check of the runbook against the subscription, with reads only."""
    return await Preflight(provider, options, runbook, estate).run()


def created_vms(runbook: Runbook, estate: Estate) -> list[PlannedVm]:
    """The VMs the drill will create (for the twin's cost estimate)."""
    return runbook_needs(runbook, estate).created
