"""Estate discovery: read a subscription (or one resource group) into an Estate and a ProtectionPlan.

What ARM can tell is discovered: VMs (size, region, OS, power, generalized, tags, Trusted Launch), their managed
disks (names, sizes, SKUs), their virtual networks (address space, peerings, gateways), Azure Backup
protected items and their policies, the vault's storage redundancy, Site Recovery replicated items
and their replication policies, and managed images of generalized VMs. What ARM cannot tell is
left for the user and said in the documents' header and in `Discovery.notes`: used size of a disk
(the provisioned size is written, an upper bound), churn, guest volumes, and snapshot schedules
(ARM has no snapshot schedule). Apps are grouped by the `app` tag. Resources a drill created (those
carrying the run tag) are left out.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from azure.mgmt.compute import models as compute
from azure.mgmt.network import models as network
from azure.mgmt.recoveryservicesbackup import models as backup
from azure.mgmt.recoveryservicessiterecovery import models as asr

from drsim.cloud.api import RUN_TAG
from drsim.cloud.arm import parse_id, same_id
from drsim.cloud.azure import records
from drsim.cloud.azure.clients import AzureClients
from drsim.cloud.azure.errors import translated
from drsim.cloud.azure.provider import BACKUP_ITEM_FILTER
from drsim.errors import UsageError
from drsim.model.documents import API_VERSION
from drsim.times import utc_text

VAULT_TYPE = "Microsoft.RecoveryServices/vaults"
APP_TAG = "app"
_REDUNDANCY = {"locallyredundant": "LRS", "zoneredundant": "ZRS", "georedundant": "GRS", "readaccessgeozoneredundant": "GRS"}
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@dataclass
class Discovery:
    """The discovered documents (as plain data in FORMAT.md's shape) and what discovery could not tell."""

    estate: dict[str, Any]
    plan: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _name(text: str) -> str:
    """A drsim Name from an Azure name: characters outside [A-Za-z0-9._-] become '-', at most 80."""
    cleaned = "".join(c if c in _NAME_OK else "-" for c in text)[:80]
    return cleaned if cleaned[:1].isalnum() else f"x{cleaned}"[:80]


def _disk_name(vm_name: str, disk_name: str) -> str:
    """`web-01-os` or `web-01_OsDisk_1_...` on the VM web-01 -> `os` / `OsDisk_1_...`."""
    for sep in ("-", "_", "."):
        prefix = vm_name + sep
        if disk_name.lower().startswith(prefix.lower()) and len(disk_name) > len(prefix):
            return _name(disk_name[len(prefix) :])
    return _name(disk_name)


def _hhmm(moment: datetime | None) -> str | None:
    return None if moment is None else f"{moment.hour:02d}:{moment.minute:02d}"


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if rest:
        return f"{minutes}m"
    days, hours_left = divmod(hours, 24)
    return f"{days}d" if not hours_left and days else f"{hours}h"


class Discoverer:
    """Reads one subscription through the SDK clients; `run()` returns the Discovery."""

    def __init__(self, clients: AzureClients, *, resource_group: str | None = None, recovery_region: str | None = None) -> None:
        self.clients = clients
        self.resource_group = resource_group
        self.recovery_region = recovery_region
        self.notes: list[str] = []

    # ------------------------------------------------------------------------------------ compute

    async def _vms(self) -> list[compute.VirtualMachine]:
        where = f"resource group {self.resource_group}" if self.resource_group else f"subscription {self.clients.subscription_id}"
        async with translated(f"listing VMs of {where}"):
            if self.resource_group:
                listed = [vm async for vm in self.clients.compute.virtual_machines.list(self.resource_group)]
            else:
                listed = [vm async for vm in self.clients.compute.virtual_machines.list_all()]
        kept = [vm for vm in listed if vm.id and RUN_TAG not in (vm.tags or {})]
        if len(kept) < len(listed):
            self.notes.append(f"left out {len(listed) - len(kept)} VM(s) tagged {RUN_TAG} (created by a drill)")

        async def full(vm: compute.VirtualMachine) -> compute.VirtualMachine:
            ref = parse_id(vm.id or "")
            async with translated(f"reading VM {ref.name}"):
                return await self.clients.compute.virtual_machines.get(ref.resource_group, ref.name, expand="instanceView")

        return list(await asyncio.gather(*(full(vm) for vm in kept)))

    async def _disk(self, disk_id: str) -> compute.Disk:
        ref = parse_id(disk_id)
        async with translated(f"reading disk {ref.name}"):
            return await self.clients.compute.disks.get(ref.resource_group, ref.name)

    async def _vnet_of(self, vm: compute.VirtualMachine) -> str | None:
        for nic_id in records.nic_ids(vm)[:1]:
            ref = parse_id(nic_id)
            async with translated(f"reading network interface {ref.name}"):
                nic = await self.clients.network.network_interfaces.get(ref.resource_group, ref.name)
            return records.nic_network(nic)
        return None

    async def _vnet(self, vnet_id: str) -> network.VirtualNetwork:
        ref = parse_id(vnet_id)
        async with translated(f"reading virtual network {ref.name}"):
            return await self.clients.network.virtual_networks.get(ref.resource_group, ref.name)

    async def _images(self) -> list[compute.Image]:
        async with translated("listing images"):
            return [i async for i in self.clients.compute.images.list() if RUN_TAG not in (i.tags or {})]

    # ------------------------------------------------------------------------------------ vaults

    async def _vaults(self) -> list[tuple[str, str]]:
        """(resource group, name) of every Recovery Services vault, through the Resources API."""
        async with translated("listing Recovery Services vaults"):
            found = [r async for r in self.clients.resources.resources.list(filter=f"resourceType eq '{VAULT_TYPE}'")]
        return [(parse_id(r.id).resource_group, parse_id(r.id).name) for r in found if r.id]

    async def _backup(self, group: str, vault: str) -> tuple[list[records.BackupItem], dict[str, Any], str, bool]:
        async with translated(f"listing protected items of vault {vault}"):
            listed = [
                i
                async for i in self.clients.backup.backup_protected_items.list(
                    vault_name=vault, resource_group_name=group, filter=BACKUP_ITEM_FILTER
                )
            ]
        items = [item for item in map(records.backup_item, listed) if item is not None]
        policies: dict[str, Any] = {}
        redundancy, crr = "GRS", False
        if not items:
            return items, policies, redundancy, crr
        for policy_id in {i.policy_id for i in items if i.policy_id}:
            name = parse_id(policy_id).name
            async with translated(f"reading backup policy {name}"):
                resource = await self.clients.backup.protection_policies.get(vault_name=vault, resource_group_name=group, policy_name=name)
            policies[policy_id.lower()] = resource.properties
        async with translated(f"reading the storage redundancy of vault {vault}"):
            config = await self.clients.backup.backup_resource_storage_configs_non_crr.get(vault_name=vault, resource_group_name=group)
        if config.properties is not None:
            kind = records.text(config.properties.storage_type or config.properties.storage_model_type)
            redundancy = _REDUNDANCY.get(kind.lower(), "GRS")
            crr = bool(config.properties.cross_region_restore_flag)
        return items, policies, redundancy, crr

    async def _site_recovery(self, group: str, vault: str) -> tuple[list[records.ReplicatedItem], dict[str, Any]]:
        async with translated(f"listing replicated items of vault {vault}"):
            listed = [
                i async for i in self.clients.site_recovery.replication_protected_items.list(resource_group_name=group, resource_name=vault)
            ]
        items = [item for item in map(records.replicated_item, listed) if item is not None]
        policies: dict[str, Any] = {}
        for policy_id in {i.policy_id for i in items if i.policy_id}:
            name = parse_id(policy_id).name
            async with translated(f"reading replication policy {name}"):
                policy = await self.clients.site_recovery.replication_policies.get(
                    resource_group_name=group, resource_name=vault, policy_name=name
                )
            policies[policy_id.lower()] = policy.properties.provider_specific_details if policy.properties else None
        return items, policies

    # ------------------------------------------------------------------------------------ documents

    def _backup_rule(self, vm_name: str, policy: Any, redundancy: str, crr: bool) -> dict[str, Any] | None:
        if not isinstance(policy, backup.AzureIaaSVMProtectionPolicy):
            self.notes.append(f"{vm_name}: its backup policy is not an Azure VM policy; no backup rule written")
            return None
        schedule = policy.schedule_policy
        enhanced = records.text(policy.policy_type).upper() == "V2"
        rule: dict[str, Any] = {"policy": "enhanced" if enhanced else "standard"}
        hourly = getattr(schedule, "hourly_schedule", None)
        frequency = records.text(getattr(schedule, "schedule_run_frequency", None)).lower()
        if enhanced and frequency == "hourly" and hourly is not None and hourly.interval:
            rule["every"] = f"{hourly.interval}h"
            start = _hhmm(hourly.schedule_window_start_time)
        elif frequency in ("daily", ""):
            rule["every"] = "24h"
            daily_times = getattr(getattr(schedule, "daily_schedule", None), "schedule_run_times", None)
            times = getattr(schedule, "schedule_run_times", None) or daily_times
            start = _hhmm(times[0]) if times else None
        else:
            runs = frequency or "on an unknown schedule"
            self.notes.append(f"{vm_name}: backup policy runs {runs}; drsim models daily or hourly policies only")
            return None
        if start is not None:
            rule["at"] = start
        if policy.instant_rp_retention_range_in_days:
            rule["instant_restore_days"] = policy.instant_rp_retention_range_in_days
        rule["vault_redundancy"] = redundancy
        if crr and redundancy == "GRS":
            rule["cross_region_restore"] = True
        retention = policy.retention_policy
        daily = getattr(retention, "daily_schedule", None)
        duration = daily.retention_duration if daily is not None else getattr(retention, "retention_duration", None)
        if duration is not None and duration.count and (records.text(duration.duration_type) or "Days").lower() == "days":
            rule["retention_days"] = max(7, min(9999, duration.count))
        return rule

    @staticmethod
    def _site_recovery_rule(item: records.ReplicatedItem, policy: Any) -> dict[str, Any] | None:
        if not item.target_region:
            return None
        rule: dict[str, Any] = {"target_region": item.target_region}
        if isinstance(policy, asr.A2APolicyDetails):
            if policy.app_consistent_frequency_in_minutes:
                rule["app_consistent_every"] = _duration(max(60, policy.app_consistent_frequency_in_minutes))
            if policy.recovery_point_history:
                rule["retention"] = _duration(min(policy.recovery_point_history, 15 * 24 * 60))
        if item.group:
            rule["consistency_group"] = _name(item.group)
        return rule

    async def run(self) -> Discovery:
        vms = await self._vms()
        if not vms:
            scope = f"resource group {self.resource_group}" if self.resource_group else f"subscription {self.clients.subscription_id}"
            raise UsageError(f"{scope} has no VMs to discover")
        names = Counter((vm.name or "").lower() for vm in vms)
        clashes = sorted(n for n, count in names.items() if count > 1)
        if clashes:
            raise UsageError(f"VM names {clashes} occur in several resource groups: discover one group at a time (--resource-group)")
        vnet_of = dict(zip((vm.id for vm in vms), await asyncio.gather(*(self._vnet_of(vm) for vm in vms)), strict=True))
        disks = {d.id.lower(): d for d in await asyncio.gather(*(self._disk(i) for vm in vms for i in records.disk_ids(vm))) if d.id}

        vnet_ids = {v.lower(): v for v in vnet_of.values() if v}
        vnets: dict[str, network.VirtualNetwork] = {}
        todo = list(vnet_ids.values())
        while todo:  # the estate's networks, and the networks they peer with (peerings name estate networks)
            vnet_id = todo.pop()
            if vnet_id.lower() in vnets:
                continue
            vnet = await self._vnet(vnet_id)
            vnets[vnet_id.lower()] = vnet
            for peering in vnet.virtual_network_peerings or []:
                remote = peering.remote_virtual_network.id if peering.remote_virtual_network is not None else None
                if remote and remote.lower() not in vnets:
                    todo.append(remote)

        backup_items: list[tuple[records.BackupItem, Any, str, bool]] = []
        replicated: list[tuple[records.ReplicatedItem, Any]] = []
        for group, vault in await self._vaults():
            items, policies, redundancy, crr = await self._backup(group, vault)
            backup_items += [(i, policies.get((i.policy_id or "").lower()), redundancy, crr) for i in items]
            rep_items, rep_policies = await self._site_recovery(group, vault)
            replicated += [(i, rep_policies.get((i.policy_id or "").lower())) for i in rep_items]
        images = await self._images()

        estate = self._estate(vms, vnet_of, disks, vnets, replicated)
        plan = self._plan(vms, backup_items, replicated, images)
        self.notes.append("used_gib is the provisioned size of each disk (ARM reports no used size): lower it for realistic backup times")
        self.notes.append("churn_gib_per_day, guest volumes and snapshot schedules are not discoverable: add them by hand")
        return Discovery(estate=estate, plan=plan, notes=self.notes)

    def _estate(
        self,
        vms: list[compute.VirtualMachine],
        vnet_of: Mapping[str | None, str | None],
        disks: Mapping[str, compute.Disk],
        vnets: Mapping[str, network.VirtualNetwork],
        replicated: list[tuple[records.ReplicatedItem, Any]],
    ) -> dict[str, Any]:
        vnet_names = {key: _name(v.name or parse_id(key).name) for key, v in vnets.items()}
        networks = []
        for key, vnet in sorted(vnets.items(), key=lambda kv: vnet_names[kv[0]]):
            prefixes = vnet.address_space.address_prefixes if vnet.address_space is not None else None
            if not prefixes:
                self.notes.append(f"virtual network {vnet.name} has no address space; left out")
                continue
            report = records.isolation(vnet, {})
            entry: dict[str, Any] = {"name": vnet_names[key], "region": vnet.location, "cidr": prefixes[0]}
            entry["resource_group"] = parse_id(vnet.id or key).resource_group
            peers = [vnet_names[p.lower()] for p in report.peerings if p.lower() in vnet_names]
            if peers:
                entry["peerings"] = peers
            if report.gateways:
                entry["gateway"] = True
            networks.append(entry)
        entries = []
        for vm in sorted(vms, key=lambda v: v.name or ""):
            record = records.virtual_machine(vm, vnet_of.get(vm.id))
            disk_entries = []
            for disk_id in record.disk_ids:
                disk = disks.get(disk_id.lower())
                if disk is None:
                    continue
                size = disk.disk_size_gb or 1
                item: dict[str, Any] = {"name": _disk_name(record.name, disk.name or disk_id), "size_gib": size, "used_gib": size}
                item["resource_group"] = parse_id(disk.id or disk_id).resource_group
                if disk.sku is not None and disk.sku.name:
                    item["sku"] = records.text(disk.sku.name)
                disk_entries.append(item)
            if not record.network_id or record.network_id.lower() not in vnet_names:
                self.notes.append(f"VM {record.name} has no virtual network drsim could read; left out")
                continue
            entry = {
                "name": _name(record.name),
                "os": record.os.value,
                "size": record.size,
                "region": record.region,
                "network": vnet_names[record.network_id.lower()],
                "resource_group": parse_id(record.id).resource_group,
            }
            if vm.vm_id:
                entry["vm_uuid"] = vm.vm_id.lower()  # what its canary writer writes in every marker
            if record.tags:
                entry["tags"] = dict(sorted(record.tags.items()))
            entry["disks"] = disk_entries
            if record.generalized:
                entry["generalized"] = True
            if record.power.value != "running":
                entry["power"] = record.power.value
            security = vm.security_profile
            if security is not None and records.text(security.security_type).lower() == "trustedlaunch":
                uefi = security.uefi_settings
                entry["trusted_launch"] = {
                    "secure_boot": bool(uefi.secure_boot_enabled) if uefi is not None else False,
                    "vtpm": bool(uefi.v_tpm_enabled) if uefi is not None else False,
                }
            entries.append(entry)
        regions = Counter(e["region"] for e in entries)
        primary = regions.most_common(1)[0][0]
        recovery = self.recovery_region or next(
            (r for r, _ in Counter(i.target_region for i, _ in replicated if i.target_region).most_common() if r != primary), None
        )
        recovery = recovery or next((r for r, _ in regions.most_common() if r != primary), None)
        if recovery is None:
            raise UsageError(f"every VM is in {primary} and nothing replicates elsewhere: give the recovery region with --recovery-region")
        apps = sorted({e["tags"][APP_TAG] for e in entries if APP_TAG in e.get("tags", {})})
        group = _production_group(networks, entries)
        return {
            "apiVersion": API_VERSION,
            "kind": "Estate",
            "metadata": {"name": _name(self.resource_group or f"subscription-{self.clients.subscription_id}")},
            "resource_group": group,
            "regions": {"primary": primary, "recovery": recovery},
            "networks": networks,
            "vms": entries,
            "apps": [{"name": _name(a), "vms": {APP_TAG: a}} for a in apps],
        }

    def _plan(
        self,
        vms: list[compute.VirtualMachine],
        backup_items: list[tuple[records.BackupItem, Any, str, bool]],
        replicated: list[tuple[records.ReplicatedItem, Any]],
        images: list[compute.Image],
    ) -> dict[str, Any]:
        rules = []
        for vm in sorted(vms, key=lambda v: v.name or ""):
            record = records.virtual_machine(vm, None)
            rule: dict[str, Any] = {"vms": {"name": _name(record.name)}}
            found = next(((i, p, r, c) for i, p, r, c in backup_items if same_id(i.vm_id, record.id)), None)
            if found is not None:
                backup_rule = self._backup_rule(record.name, found[1], found[2], found[3])
                if backup_rule is not None:
                    rule["backup"] = backup_rule
            rep = next(((i, p) for i, p in replicated if same_id(i.vm_id, record.id)), None)
            if rep is not None:
                site_rule = self._site_recovery_rule(*rep)
                if site_rule is not None:
                    rule["site_recovery"] = site_rule
            regions = sorted(
                {
                    i.location
                    for i in images
                    if i.location and i.source_virtual_machine is not None and same_id(i.source_virtual_machine.id, record.id)
                }
            )
            if regions and record.generalized:
                rule["image"] = {"regions": regions}
            if len(rule) > 1:
                rules.append(rule)
        if not rules:
            raise UsageError("no discovered VM is protected by Azure Backup, Site Recovery or a managed image: there is no plan to write")
        return {
            "apiVersion": API_VERSION,
            "kind": "ProtectionPlan",
            "metadata": {"name": "discovered"},
            "rules": rules,
        }


def _production_group(networks: list[dict[str, Any]], vms: list[dict[str, Any]]) -> str:
    """The resource group most of the estate lives in, written once for the estate; each network, VM
    and disk keeps its own `resource_group` only where it differs (a drill is refused in any of them)."""
    counted = Counter(e["resource_group"].lower() for e in [*networks, *vms, *(d for vm in vms for d in vm["disks"])])
    group = next(e["resource_group"] for e in [*vms, *networks] if e["resource_group"].lower() == counted.most_common(1)[0][0])
    for entry in networks:
        if entry["resource_group"].lower() == group.lower():
            del entry["resource_group"]
    for vm in vms:
        own = vm["resource_group"]
        for disk in vm["disks"]:
            if disk["resource_group"].lower() == own.lower():
                del disk["resource_group"]
        if own.lower() == group.lower():
            del vm["resource_group"]
    return group


async def discover(
    subscription_id: str,
    *,
    resource_group: str | None = None,
    endpoint: str | None = None,
    recovery_region: str | None = None,
    credential: Any = None,
) -> Discovery:
    """Discover a subscription's estate and protection through the Azure SDK (or the ARM emulator)."""
    async with AzureClients(subscription_id, credential=credential, endpoint=endpoint) as clients:
        return await Discoverer(clients, resource_group=resource_group, recovery_region=recovery_region).run()


def document_header(subscription_id: str, notes: list[str]) -> str:
    stamp = utc_text(datetime.now(UTC), "seconds")
    lines = [f"Discovered by `drsim discover` from subscription {subscription_id} at {stamp}.", *notes]
    return "".join(f"# {line}\n" for line in lines)
