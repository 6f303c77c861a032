"""Microsoft.RecoveryServices for Azure Backup: vaults, protected items, policies, recovery points,
restores, their operation status, and backup jobs.

A restore answers 202 with Location (`.../operationResults/<op>`) and Azure-AsyncOperation
(`.../operationsStatus/<op>`); the operation ends when the restore JOB exists, and its status names
the job (OperationStatusJobExtendedInfo.jobId), which `backupJobs/<job>` then follows to its end
(azure-sdk-notes.md: the restore poller ends when the job is created, not when it finishes).
Fabric `Azure`, containers `IaasVMContainer;iaasvmcontainerv2;<rg>;<vm>` and items
`VM;iaasvmcontainerv2;<rg>;<vm>` are Backup's own names for an Azure VM (azure-sdk-notes.md).

Shapes follow the examples of azure-rest-api-specs, specification/recoveryservicesbackup/
resource-manager/Microsoft.RecoveryServices/stable/2025-08-01/examples/ (TriggerRestore_*,
ProtectedItemOperationStatus, ProtectedItemOperationResults, GetJobDetails, ListJobs,
RecoveryPoints_*, BackupProtectedItems_List); a restore job's property bag is the one Microsoft Learn
shows (backup-azure-vms-automation, tutorial-restore-disk): 'Target Storage Account Name', 'Config Blob
Container Name', 'Config Blob Name', 'Config Blob Uri', 'Template Blob Uri', 'Job Type', 'Recovery point
time ' (with its trailing space), 'Target resource group'. The staging storage account a restore names
must exist here (`storage_accounts`), be in the vault's region and not be zone-redundant
(backup-azure-arm-restore-vms); the config and template blobs a disk restore writes there are served
path-style, as Azurite serves blobs: `http://<emulator>/<account>/<container>/<blob>`.
"""

from __future__ import annotations

import json
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from drsim.cloud.api import BackupPoint, Job, JobKind, JobStatus, PointTier, RestoreMode
from drsim.cloud.arm import id_key, try_parse_id
from drsim.cloud.emulator.arm import (
    PASSIVE_STAMP_API_VERSIONS,
    ArmError,
    Body,
    ErrorCode,
    JsonObject,
    Router,
    arm_time,
    invalid_content,
    job_error_code,
    listing,
)
from drsim.cloud.emulator.operations import Outcome, poll_headers
from drsim.cloud.emulator.resources import parse_filter
from drsim.cloud.emulator.service import ResourceProviderService
from drsim.cloud.emulator.state import DEFAULT_STAGING_ACCOUNT, JobFamily, JobRecord, StorageAccount
from drsim.cloud.sim.resources import DRILL_GROUP, ProtectedItem, Vault
from drsim.model.checks import protection_of
from drsim.model.documents import BackupRule
from drsim.model.types import BackupPolicyKind, OsType, Redundancy
from drsim.times import utc_text

if TYPE_CHECKING:
    from drsim.cloud.emulator.app import Emulator

VAULT_TYPE = "Microsoft.RecoveryServices/vaults"
ITEM_TYPE = "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems"
POINT_TYPE = ITEM_TYPE + "/recoveryPoints"
BACKUP_FABRIC = "Azure"
_TIER_NAMES = {PointTier.SNAPSHOT: "InstantRP", PointTier.VAULT: "HardenedRP"}  # RecoveryPointTierType
_JOB_STATUS = {
    JobStatus.IN_PROGRESS: "InProgress",
    JobStatus.SUCCEEDED: "Completed",
    JobStatus.FAILED: "Failed",
    JobStatus.CANCELLING: "Cancelling",
    JobStatus.CANCELLED: "Cancelled",
}
_STORAGE = {Redundancy.LRS: "LocallyRedundant", Redundancy.ZRS: "ZoneRedundant", Redundancy.GRS: "GeoRedundant"}
_OPERATION = {JobKind.RESTORE: "Restore"}  # Backup's job operation names (JobOperationType)
CRR_OPERATION = "CrossRegionRestore"  # a cross-region restore job's operation (GetCrrJob_Post.json)
_RECOVERY_TYPES = {"alternatelocation": RestoreMode.VM, "restoredisks": RestoreMode.DISKS}
STORAGE_TYPE = "Microsoft.Storage/storageAccounts"
_BAG_TIME = "%m/%d/%Y %I:%M:%S %p"  # how a Backup job's property bag writes a time ('1/7/2021 10:11:19 AM')
_POINT_FILTER_FORMATS = ("%Y-%m-%d %I:%M:%S %p", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")


def iso_duration(span: timedelta) -> str:
    """ISO 8601 duration (`PT1503.5S`), as Backup jobs report `duration`."""
    return f"PT{max(0.0, span.total_seconds()):g}S"


def _filter_time(text: str) -> datetime:
    for fmt in _POINT_FILTER_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ArmError(400, ErrorCode.INVALID_PARAMETER, f"'{text}' is not a time: write it as 2026-11-20 02:00:00 AM (UTC).", target="$filter")


def policy_name(rule: BackupRule) -> str:
    """A name that says what the plan's backup rule does: drsim-standard-24h-0200-ir2-r30."""
    hours = int(rule.interval.total_seconds() // 3600)
    return f"drsim-{rule.policy.value}-{hours}h-{rule.start.strftime('%H%M')}-ir{rule.snapshot_days}-r{rule.retention_days}"


def _clock_time(at: time) -> str:
    # Backup writes a time of day as an instant of an arbitrary date (SimpleSchedulePolicy.scheduleRunTimes).
    return utc_text(datetime.combine(datetime(2020, 1, 1).date(), at, tzinfo=UTC))


@dataclass(frozen=True)
class ConfigBlob:
    """A blob a disk restore wrote to its staging account: the VM config or the deployment template."""

    job: str  # the restore job's name
    template: bool


@dataclass(frozen=True)
class CrrGrant:
    """What a cross-region restore access token stands for: one point of one item, restorable in `region`."""

    item: ProtectedItem
    point: BackupPoint
    region: str


def staging_account(subscription_id: str, group: str = DRILL_GROUP, name: str = DEFAULT_STAGING_ACCOUNT) -> str:
    """The id of the staging storage account the emulator keeps (by default; drsim.cloud.sim's drill group)."""
    return f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/{STORAGE_TYPE}/{name}"


def container_name(container: str) -> str:
    """A protected item's `containerName` as Backup writes it: the container's name without its type
    ('iaasvmcontainerv2;<rg>;<vm>', BackupProtectedItems_List.json)."""
    kind, _, rest = container.partition(";")
    return rest if kind.lower() == "iaasvmcontainer" and rest else container


def bag_time(moment: datetime) -> str:
    """'1/7/2021 10:11:19 AM': a time as a Backup job's property bag writes it (tutorial-restore-disk)."""
    return f"{moment.month}/{moment.day}/{moment.year} {moment.strftime('%I:%M:%S %p').lstrip('0')}"


def passive_stamp(request: web.Request) -> bool:
    """Whether a request is to Backup's cross-region restore (passive stamp) API: its vault paths are the
    active stamp's, its api-versions its own (PASSIVE_STAMP_API_VERSIONS)."""
    return request.query.get("api-version", "") in PASSIVE_STAMP_API_VERSIONS


def active_stamp_only(request: web.Request) -> None:
    """Refuse a passive-stamp api-version on an operation the passive stamp does not have, as ARM refuses
    an api-version a resource type does not have."""
    if passive_stamp(request):
        raise ArmError(
            400,
            ErrorCode.NO_REGISTERED_PROVIDER,
            f"No registered resource provider found for API version '{request.query['api-version']}' of this operation: "
            "the cross-region restore API serves recovery points, protected items and storage config of a vault, "
            "and the locations/{region}/backupCrr* operations.",
        )


class BackupService(ResourceProviderService):
    """Azure Backup of Azure VMs in Recovery Services vaults."""

    def __init__(self, emulator: Emulator) -> None:
        super().__init__(emulator)
        # Staging accounts are the emulator's storage accounts (state.storage_accounts, served by
        # storage.py): drsimstaging in the drill group and the primary region, and any it is told of.
        self.storage_accounts = self.state.storage_accounts
        self.blobs: dict[str, ConfigBlob] = {}  # by lower-case '/<account>/<container>/<blob>'
        self._blob_base: dict[str, str] = {}  # job name (lower) -> the scheme and host its restore was asked on
        self.crr_tokens: dict[str, CrrGrant] = {}  # cross-region restore access tokens handed out, by token

    def register(self, router: Router) -> None:
        sub = "/subscriptions/{subscription}"
        router.add("GET", sub + "/providers/Microsoft.RecoveryServices/vaults", self.list_vaults)
        vaults = sub + "/resourceGroups/{resource_group}/providers/Microsoft.RecoveryServices/vaults"
        router.add("GET", vaults, self.list_vaults)
        v = vaults + "/{vault}"
        router.add("GET", v, self.get_vault)
        router.add("GET", v + "/backupstorageconfig/vaultstorageconfig", self.storage_config)
        router.add("GET", v + "/backupPolicies", self.list_policies)
        router.add("GET", v + "/backupPolicies/{policy}", self.get_policy)
        router.add("GET", v + "/backupProtectedItems", self.list_items)
        item = v + "/backupFabrics/{fabric}/protectionContainers/{container}/protectedItems/{item}"
        router.add("GET", item, self.get_item)
        router.add("GET", item + "/recoveryPoints", self.list_points)
        router.add("GET", item + "/recoveryPoints/{point}", self.get_point)
        router.add("POST", item + "/recoveryPoints/{point}/restore", self.restore)
        router.add("GET", item + "/operationsStatus/{operation}", self.operation_status)
        router.add("GET", item + "/operationResults/{operation}", self.operation_result)
        router.add("GET", v + "/backupOperations/{operation}", self.operation_status)
        router.add("GET", v + "/backupOperationResults/{operation}", self.operation_result)
        router.add("GET", v + "/backupJobs", self.list_jobs)
        router.add("GET", v + "/backupJobs/{job}", self.get_job)
        router.add("POST", v + "/backupJobs/{job}/cancel", self.cancel_job)
        router.add("GET", v + "/backupJobs/{job}/operationResults/{operation}", self.cancel_result)
        # Cross-region restore, the passive stamp's API (api-version 2021-11-15): a point's access token
        # on the vault's path, the rest at the secondary region's location.
        router.add("POST", item + "/recoveryPoints/{point}/accessToken", self.access_token)
        location = sub + "/providers/Microsoft.RecoveryServices/locations/{region}"
        router.add("GET", location + "/backupAadProperties", self.aad_properties)
        router.add("POST", location + "/backupCrossRegionRestore", self.cross_region_restore)
        router.add("GET", location + "/backupCrrOperationsStatus/{operation}", self.crr_operation_status)
        router.add("GET", location + "/backupCrrOperationResults/{operation}", self.crr_operation_result)
        router.add("POST", location + "/backupCrrJob", self.crr_job)
        router.add("POST", location + "/backupCrrJobs", self.crr_jobs)

    # ------------------------------------------------------------------------ staging storage

    def _staging(self, body: Body, vault: Vault, *, region: str | None = None) -> StorageAccount:
        """The restore's staging account: given, existing, in the vault's region (a cross-region restore's:
        in the secondary region, `region`), not zone-redundant."""
        where = region or vault.region
        target = body.path("storageAccountId")
        given = body.optional_string("storageAccountId")
        if not given:
            raise ArmError(
                400,
                ErrorCode.INVALID_PARAMETER,
                "storageAccountId is required: a restore stages through a storage account in the vault's region.",
                target=target,
            )
        account = self.storage_accounts.get(id_key(given))
        if account is None:
            raise ArmError(400, ErrorCode.INVALID_PARAMETER, f"Storage account '{given}' was not found.", target=target)
        if account.region.lower() != where.lower():
            what = "the secondary region of the cross-region restore" if region else "the vault's region"
            raise ArmError(
                400,
                ErrorCode.INVALID_PARAMETER,
                f"Storage account {account.name} is in {account.region}: the staging account must be in {what}, {where}.",
                target=target,
            )
        if "zrs" in account.sku.lower():
            raise ArmError(
                400,
                ErrorCode.INVALID_PARAMETER,
                f"Storage account {account.name} is {account.sku}: zone-redundant storage accounts cannot stage a restore.",
                target=target,
            )
        return account

    def serves_blob(self, path: str) -> bool:
        """Whether a request path is a blob of a staging account (path-style, not an ARM path)."""
        return path.lower() in self.blobs

    async def get_blob(self, request: web.Request) -> web.StreamResponse:
        """A restore's config (UTF-16, NUL-padded, as Azure Backup writes it) or deployment template."""
        blob = self.blobs[request.path.lower()]
        record = self.state.jobs.get(blob.job.lower())
        job = await self._refresh(record) if record is not None else None
        if record is None or job is None or job.status is not JobStatus.SUCCEEDED:
            return web.Response(status=404, headers={"x-ms-error-code": "BlobNotFound"})
        config = self._vm_config(record, job)
        if blob.template:
            return web.json_response(self._template(config))
        data = json.dumps(config).encode("utf-16") + b"\x00\x00"
        return web.Response(body=data, content_type="application/octet-stream", headers={"x-ms-blob-type": "BlockBlob"})

    def _vm_config(self, record: JobRecord, job: Job) -> JsonObject:
        spec = next((s for s in self.world.estate.vms if s.name == record.vm_name), None)
        disks = [d.rsplit("/", 1)[-1] for d in job.created if "/disks/" in d.lower()]
        os_type = "Windows" if spec is not None and spec.os is OsType.WINDOWS else "Linux"
        return {
            "properties.hardwareProfile": {"vmSize": spec.size if spec is not None else ""},
            "properties.storageProfile": {
                "osDisk": {"osType": os_type, "name": disks[0] if disks else "", "createOption": "Attach"},
                "dataDisks": [{"lun": lun, "name": name, "createOption": "Attach"} for lun, name in enumerate(disks[1:])],
            },
        }

    def _template(self, config: JsonObject) -> JsonObject:
        profile = config["properties.storageProfile"]
        group = f"[resourceId('{self.state.drill_group}', 'Microsoft.Compute/disks', '{{}}')]"
        return {
            "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0",
            "parameters": {"VirtualMachineName": {"type": "String"}},
            "resources": [
                {
                    "type": "Microsoft.Compute/virtualMachines",
                    "name": "[parameters('VirtualMachineName')]",
                    "properties": {
                        "hardwareProfile": config["properties.hardwareProfile"],
                        "storageProfile": {
                            "osDisk": {**profile["osDisk"], "managedDisk": {"id": group.format(profile["osDisk"]["name"])}},
                            "dataDisks": [{**d, "managedDisk": {"id": group.format(d["name"])}} for d in profile["dataDisks"]],
                        },
                    },
                }
            ],
        }

    # ---------------------------------------------------------------------------------- vaults

    def vault_json(self, vault: Vault) -> JsonObject:
        properties: JsonObject = {"provisioningState": "Succeeded"}
        if vault.redundancy is not None:
            properties["redundancySettings"] = {
                "standardTierStorageRedundancy": _STORAGE[vault.redundancy],
                "crossRegionRestore": "Enabled" if vault.cross_region_restore else "Disabled",
            }
        return {
            "id": vault.id,
            "name": vault.name,
            "type": VAULT_TYPE,
            "location": vault.region,
            "tags": self.state.tags_of(vault.id, {}),
            "sku": {"name": "RS0", "tier": "Standard"},
            "properties": properties,
        }

    def vault(self, p: dict[str, str]) -> Vault:
        vault_id = self.state.resource_id(p["resource_group"], VAULT_TYPE, p["vault"])
        found = next((v for v in self.world.inventory.vaults() if id_key(v.id) == id_key(vault_id)), None)
        if found is None:
            raise ArmError(
                404,
                ErrorCode.RESOURCE_NOT_FOUND,
                f"The Resource '{VAULT_TYPE}/{p['vault']}' under resource group '{p['resource_group']}' was not found.",
            )
        return found

    async def list_vaults(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        group = p.get("resource_group")
        vaults = [
            v
            for v in self.world.inventory.vaults()
            if group is None or ((parsed := try_parse_id(v.id)) is not None and parsed.resource_group.lower() == group.lower())
        ]
        return web.json_response(listing([self.vault_json(v) for v in vaults]))

    async def get_vault(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        return web.json_response(self.vault_json(self.vault(p)))

    async def storage_config(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        vault = self.vault(p)
        redundancy = _STORAGE[vault.redundancy or Redundancy.GRS]
        return web.json_response(
            {
                "id": f"{vault.id}/backupstorageconfig/vaultstorageconfig",
                "name": "vaultstorageconfig",
                "type": "Microsoft.RecoveryServices/vaults/backupstorageconfig",
                "properties": {
                    "storageModelType": redundancy,
                    "storageType": redundancy,
                    "storageTypeState": "Locked",
                    "crossRegionRestoreFlag": vault.cross_region_restore,
                },
            }
        )

    # ------------------------------------------------------------------------------ policies

    def _rule(self, item: ProtectedItem) -> BackupRule:
        spec = next(s for s in self.world.estate.vms if s.name == item.vm_name)
        rule = protection_of(self.world.plan, spec.name, spec.tags).backup
        assert rule is not None and rule.backup is not None, f"{item.vm_name} is protected without a backup rule"
        return rule.backup

    def policy_json(self, vault: Vault, rule: BackupRule, count: int) -> JsonObject:
        name = policy_name(rule)
        hours = int(rule.interval.total_seconds() // 3600)
        if rule.policy is BackupPolicyKind.ENHANCED and hours < 24:
            window = int((rule.window or timedelta(hours=24)).total_seconds() // 3600)
            schedule: JsonObject = {
                "schedulePolicyType": "SimpleSchedulePolicyV2",
                "scheduleRunFrequency": "Hourly",
                "hourlySchedule": {"interval": hours, "scheduleWindowStartTime": _clock_time(rule.start), "scheduleWindowDuration": window},
            }
        elif rule.policy is BackupPolicyKind.ENHANCED:
            schedule = {
                "schedulePolicyType": "SimpleSchedulePolicyV2",
                "scheduleRunFrequency": "Daily",
                "dailySchedule": {"scheduleRunTimes": [_clock_time(rule.start)]},
            }
        else:
            schedule = {
                "schedulePolicyType": "SimpleSchedulePolicy",
                "scheduleRunFrequency": "Daily",
                "scheduleRunTimes": [_clock_time(rule.start)],
            }
        return {
            "id": f"{vault.id}/backupPolicies/{name}",
            "name": name,
            "type": "Microsoft.RecoveryServices/vaults/backupPolicies",
            "properties": {
                "backupManagementType": "AzureIaasVM",
                "policyType": "V2" if rule.policy is BackupPolicyKind.ENHANCED else "V1",
                "instantRpRetentionRangeInDays": rule.snapshot_days,
                "timeZone": "UTC",
                "protectedItemsCount": count,
                "schedulePolicy": schedule,
                "retentionPolicy": {
                    "retentionPolicyType": "LongTermRetentionPolicy",
                    "dailySchedule": {
                        "retentionTimes": [_clock_time(rule.start)],
                        "retentionDuration": {"count": rule.retention_days, "durationType": "Days"},
                    },
                },
            },
        }

    def _policies(self, vault: Vault) -> dict[str, JsonObject]:
        rules: dict[str, tuple[BackupRule, int]] = {}
        for item in self.world.inventory.protected_items(vault.id):
            rule = self._rule(item)
            name = policy_name(rule)
            rules[name.lower()] = (rule, rules.get(name.lower(), (rule, 0))[1] + 1)
        return {key: self.policy_json(vault, rule, count) for key, (rule, count) in rules.items()}

    async def list_policies(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        return web.json_response(listing(list(self._policies(self.vault(p)).values())))

    async def get_policy(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        vault = self.vault(p)
        found = self._policies(vault).get(p["policy"].lower())
        if found is None:
            raise ArmError(404, ErrorCode.RESOURCE_NOT_FOUND, f"Backup policy '{p['policy']}' was not found in vault {vault.name}.")
        return web.json_response(found)

    # --------------------------------------------------------------------------------- items

    def item_json(self, item: ProtectedItem) -> JsonObject:
        rule = self._rule(item)
        name = policy_name(rule)
        return {
            "id": item.id,
            "name": item.item,
            "type": ITEM_TYPE,
            "location": item.vault.region,
            "properties": {
                "protectedItemType": "Microsoft.Compute/virtualMachines",
                "backupManagementType": "AzureIaasVM",
                "workloadType": "VM",
                "containerName": container_name(item.container),
                "sourceResourceId": item.vm_id,
                "virtualMachineId": item.vm_id,
                "friendlyName": item.vm_name,
                "policyId": f"{item.vault.id}/backupPolicies/{name}",
                "policyName": name,
                "policyType": "V2" if rule.policy is BackupPolicyKind.ENHANCED else "V1",
                "protectionStatus": "Healthy",
                "protectionState": "Protected",
                "healthStatus": "Passed",
                "vaultId": item.vault.id,
                "sourceLocation": next((s.region for s in self.world.estate.vms if s.name == item.vm_name), item.vault.region),
            },
        }

    def item(self, p: dict[str, str]) -> ProtectedItem:
        vault = self.vault(p)
        if p["fabric"].lower() != BACKUP_FABRIC.lower():
            raise ArmError(
                404,
                ErrorCode.RESOURCE_NOT_FOUND,
                f"Backup fabric '{p['fabric']}' was not found: Azure VMs are in fabric '{BACKUP_FABRIC}'.",
            )
        found = next(
            (
                i
                for i in self.world.inventory.protected_items(vault.id)
                if p["container"].lower() in (i.container.lower(), container_name(i.container).lower())
                and i.item.lower() == p["item"].lower()
            ),
            None,
        )
        if found is None:
            raise ArmError(
                404,
                ErrorCode.RESOURCE_NOT_FOUND,
                f"Protected item '{p['item']}' was not found in container '{p['container']}' of vault {vault.name}.",
            )
        return found

    async def list_items(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        vault = self.vault(p)
        if passive_stamp(request):
            self._require_crr(vault)  # BackupProtectedItemsCrr_List: the items as the secondary region knows them
        wanted = parse_filter(
            request.query.get("$filter", ""), ("backupManagementType", "itemType", "policyName", "containerName", "friendlyName")
        )
        items = []
        for item in self.world.inventory.protected_items(vault.id):
            body = self.item_json(item)
            props = body["properties"]
            values = {
                "backupManagementType": props["backupManagementType"],
                "itemType": props["workloadType"],
                "policyName": props["policyName"],
                "containerName": item.container,
                "friendlyName": item.vm_name,
            }
            if all(values[k].lower() == v.lower() for k, v in wanted.items()):
                items.append(body)
        return web.json_response(listing(items))

    async def get_item(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        return web.json_response(self.item_json(self.item(p)))

    # -------------------------------------------------------------------------------- points

    def point_json(self, item: ProtectedItem, point: BackupPoint) -> JsonObject:
        spec = next((s for s in self.world.estate.vms if s.name == item.vm_name), None)
        props: JsonObject = {
            "objectType": "IaasVMRecoveryPoint",
            "recoveryPointType": point.type.value,
            "recoveryPointTime": arm_time(point.time),
            "recoveryPointTierDetails": [{"type": _TIER_NAMES[t], "status": "Valid"} for t in sorted(point.tiers, key=lambda t: t.value)],
            "isManagedVirtualMachine": True,
            "isSourceVMEncrypted": False,
            "sourceVMStorageType": "NormalStorage",
            "originalStorageAccountOption": False,
        }
        if spec is not None:
            props["osType"] = "Windows" if spec.os is OsType.WINDOWS else "Linux"
            props["virtualMachineSize"] = spec.size
        return {"id": point.id, "name": point.id.rsplit("/", 1)[-1], "type": POINT_TYPE, "properties": props}

    async def _points(self, item: ProtectedItem, *, secondary: bool = False) -> list[BackupPoint]:
        """The item's points; `secondary`: those of its vault's secondary region (cross-region restore)."""
        if secondary:
            self._require_crr(item.vault)
            return await self.world.list_backup_points(item.vm_id, region=item.vault.paired_region)
        return await self.world.list_backup_points(item.vm_id)

    async def list_points(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        item = self.item(p)
        secondary = passive_stamp(request)
        wanted = parse_filter(request.query.get("$filter", ""), ("startDate", "endDate", "restorePointQueryType", "extendedInfo"))
        start = _filter_time(wanted["startDate"]) if "startDate" in wanted else None
        end = _filter_time(wanted["endDate"]) if "endDate" in wanted else None
        listed = await self._points(item, secondary=secondary)
        points = [pt for pt in listed if (start is None or pt.time >= start) and (end is None or pt.time <= end)]
        # Backup lists the newest point first.
        return web.json_response(listing([self.point_json(item, pt) for pt in sorted(points, key=lambda pt: pt.time, reverse=True)]))

    async def _point(self, item: ProtectedItem, name: str, *, secondary: bool = False) -> BackupPoint:
        listed = await self._points(item, secondary=secondary)
        point = next((pt for pt in listed if pt.id.rsplit("/", 1)[-1].lower() == name.lower()), None)
        if point is None:
            raise ArmError(
                404, ErrorCode.RESOURCE_NOT_FOUND, f"Recovery point '{name}' of {item.vm_name} was not found (it may have expired)."
            )
        return point

    async def get_point(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        item = self.item(p)
        return web.json_response(self.point_json(item, await self._point(item, p["point"], secondary=passive_stamp(request))))

    # ------------------------------------------------------------------------------- restore

    async def restore(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        active_stamp_only(request)
        body = (await Body.of(request)).child("properties")
        item = self.item(p)
        work = await self._restore_work(request, body, item, p["point"])
        op = await self.start(
            work,
            name=f"{ITEM_TYPE}/recoveryPoints/restore/action",
            status_path=lambda op: f"{item.id}/operationsStatus/{op}",
            result_path=lambda op: f"{item.id}/operationResults/{op}",
        )
        return self.operations.answer(request, op, status=202)

    async def _restore_work(
        self, request: web.Request, body: Body, item: ProtectedItem, point_name: str, *, secondary: str | None = None
    ) -> Coroutine[Any, Any, Outcome]:
        """Check an IaasVMRestoreRequest (`body`) and make the work that carries it out: the world's restore,
        then the job record as its vault names it (or, for a cross-region restore, as the `secondary`
        region does: a point of that region, staged there)."""
        kind = body.string("objectType")
        if kind.lower() not in ("iaasvmrestorerequest", "iaasvmrestorewithrehydrationrequest"):
            raise invalid_content(body.path("objectType"), f"'{kind}': the emulator restores Azure VMs (IaasVMRestoreRequest)")
        recovery_type = body.string("recoveryType")
        mode = _RECOVERY_TYPES.get(recovery_type.lower())
        if mode is None:
            raise ArmError(
                400,
                ErrorCode.INVALID_PARAMETER,
                f"recoveryType '{recovery_type}' is not served: a drill restores as a new VM (AlternateLocation) "
                "or as disks (RestoreDisks), never over production.",
                target=body.path("recoveryType"),
            )
        point = await self._point(item, point_name, secondary=secondary is not None)
        staging = self._staging(body, item.vault, region=secondary)
        region = secondary or body.optional_string("region") or point.region
        group_id = body.optional_string("targetResourceGroupId")
        if group_id is not None:
            self.state.require_drill_group(group_id.rstrip("/").rsplit("/", 1)[-1], "restored resources")
        if mode is RestoreMode.VM:
            target = body.string("targetVirtualMachineId")
            parsed = try_parse_id(target)
            if parsed is None:
                raise invalid_content(body.path("targetVirtualMachineId"), f"'{target}' is not a virtual machine id")
            self.state.require_drill_group(parsed.resource_group, "restored virtual machines")
            name = parsed.name
            network_id = body.string("virtualNetworkId")
        else:
            name = f"{item.vm_name}-restore-{point.time.strftime('%Y%m%d%H%M')}"
            network_id = body.optional_string("virtualNetworkId") or ""
        vault = item.vault

        async def trigger() -> Outcome:
            job = await self.world.restore_backup(
                item.vm_id, point.id, mode=mode, tier=None, region=region, network_id=network_id, name=name, tags={}
            )
            job_name = job.id.rstrip("/").rsplit("/", 1)[-1]
            # The property bag of a restore job (tutorial-restore-disk, backup-azure-vms-automation).
            details = {
                "Recovery point time ": bag_time(point.time),
                "Target Storage Account Name": staging.name,
                "Target resource group": self.state.drill_group,
            }
            if mode is RestoreMode.DISKS:
                details["Job Type"] = "Recover disks"
            family = JobFamily.CROSS_REGION if secondary else JobFamily.BACKUP
            self.state.jobs[job_name.lower()] = JobRecord(
                job_name, family, job.id, vault.id, item.id, item.vm_name, job.kind, details, job, region=secondary or ""
            )
            self._blob_base[job_name.lower()] = f"{request.scheme}://{request.host}/{staging.name}"
            return Outcome(job_id=job_name)

        return trigger()

    async def operation_status(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """Backup's OperationStatus (ProtectedItemOperationStatus.json): `id` and `name` are the operation's
        id, and a finished restore names its job (OperationStatusJobExtendedInfo)."""
        active_stamp_only(request)
        self.vault(p)
        answer = self.operations.status_response(p["operation"])
        op = self.operations.get(p["operation"])
        body = op.status_body()
        body["id"] = body["name"] = op.id
        return web.json_response(body, headers={k: v for k, v in answer.headers.items() if k.lower() != "content-type"})

    async def operation_result(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        self.vault(p)
        return self.operations.result_response(request, p["operation"])

    # ---------------------------------------------------------------------------------- jobs

    async def _refresh(self, record: JobRecord) -> Job:
        record.last = await self.world.get_job(record.world_id)
        return record.last

    def _bag(self, record: JobRecord, job: Job) -> dict[str, str]:
        """The job's property bag; a finished disk restore adds where its config and template blobs are."""
        bag = dict(record.details)
        base = self._blob_base.get(record.name.lower())
        if job.status is JobStatus.SUCCEEDED and base is not None and bag.get("Job Type") == "Recover disks":
            account = bag["Target Storage Account Name"]
            container = f"{record.vm_name}-{self.state.stable_guid(record.world_id).replace('-', '')}".lower()
            config, template = f"config-{record.vm_name}-{record.name}.json", f"azuredeploy{record.name}.json"
            bag["Config Blob Container Name"] = container
            bag["Config Blob Name"] = config
            bag["Config Blob Uri"] = f"{base}/{container}/{config}"
            bag["Template Blob Uri"] = f"{base}/{container}/{template}"
            self.blobs[f"/{account}/{container}/{config}".lower()] = ConfigBlob(record.name, template=False)
            self.blobs[f"/{account}/{container}/{template}".lower()] = ConfigBlob(record.name, template=True)
        return bag

    def job_json(self, record: JobRecord, job: Job, *, extended: bool = True) -> JsonObject:
        """A backup job (GetJobDetails.json); a listing leaves out extendedInfo (ListJobs.json)."""
        now = self.world.now()
        props: JsonObject = {
            "jobType": "AzureIaaSVMJob",
            "entityFriendlyName": record.vm_name,
            "backupManagementType": "AzureIaasVM",
            "operation": CRR_OPERATION if record.family is JobFamily.CROSS_REGION else _OPERATION[record.kind],
            "status": _JOB_STATUS[job.status],
            "startTime": arm_time(job.started_at),
            "duration": iso_duration((job.ended_at or now) - job.started_at),
            "activityId": self.state.stable_guid(record.world_id),
            "containerName": next(
                (container_name(i.container) for i in self.world.inventory.protected_items() if i.id == record.item_id), None
            ),
            "isUserTriggered": True,
            "virtualMachineVersion": "Compute",
            "errorDetails": [],
        }
        if extended:
            props["extendedInfo"] = {"propertyBag": self._bag(record, job), "tasksList": []}
        if job.ended_at is not None:
            props["endTime"] = arm_time(job.ended_at)
        if job.status is JobStatus.FAILED:
            props["errorDetails"] = [
                {
                    "errorCode": job_error_code(job, "UserErrorRestoreFailed"),
                    "errorTitle": "Restore failed",
                    "errorString": job.error or "the restore failed",
                    "recommendations": [],
                }
            ]
        if record.family is JobFamily.CROSS_REGION:
            # A cross-region restore job lives in the secondary region (GetCrrJob_Post.json's id).
            where = f"/subscriptions/{self.state.subscription_id}/providers/Microsoft.RecoveryServices/locations/{record.region}"
        else:
            where = record.vault_id
        return {"id": f"{where}/backupJobs/{record.name}", "name": record.name, "type": f"{VAULT_TYPE}/backupJobs", "properties": props}

    def _records(self, vault: Vault) -> list[JobRecord]:
        return [r for r in self.state.jobs.values() if r.family is JobFamily.BACKUP and id_key(r.vault_id) == id_key(vault.id)]

    async def list_jobs(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        active_stamp_only(request)
        vault = self.vault(p)
        wanted = parse_filter(request.query.get("$filter", ""), ("status", "operation", "backupManagementType"))
        items = []
        for record in self._records(vault):
            body = self.job_json(record, await self._refresh(record), extended=False)
            props = body["properties"]
            if all(str(props[k]).lower() == v.lower() for k, v in wanted.items()):
                items.append(body)
        return web.json_response(listing(items))

    async def get_job(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        active_stamp_only(request)
        record = self._job_record(self.vault(p), p["job"])
        return web.json_response(self.job_json(record, await self._refresh(record)))

    def _job_record(self, vault: Vault, name: str) -> JobRecord:
        record = next((r for r in self._records(vault) if r.name.lower() == name.lower()), None)
        if record is None:
            raise ArmError(404, ErrorCode.RESOURCE_NOT_FOUND, f"Backup job '{name}' was not found in vault {vault.name}.")
        return record

    async def cancel_job(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """JobCancellations_Trigger (TriggerCancelJob.json): 202 with Location
        (`.../backupJobs/<job>/operationResults/<op>`) and Retry-After, no body and no Azure-AsyncOperation.
        The job then reads Cancelling, then Cancelled (GetJobDetails: `properties.status`); a cancelled
        restore creates nothing (the world's restores appear only when their job completes). A cancel of a
        job that has already ended fails on its operation result (the world's conflict), not on this answer."""
        active_stamp_only(request)
        vault = self.vault(p)
        record = self._job_record(vault, p["job"])

        async def cancel() -> Outcome:
            await self.world.cancel_job(record.world_id)
            return Outcome()

        op = await self.start(
            cancel(),
            name=f"{VAULT_TYPE}/backupJobs/cancel/action",
            status_path=lambda op: f"{record.vault_id}/backupJobs/{record.name}/operationsStatus/{op}",
            result_path=lambda op: f"{record.vault_id}/backupJobs/{record.name}/operationResults/{op}",
        )
        location = f"{request.scheme}://{request.host}{op.result_path}?api-version={request.query.get('api-version', '')}"
        return web.Response(status=202, headers={"Location": location, **poll_headers(self.emulator.speed)})

    async def cancel_result(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """JobOperationResults_Get (CancelJobOperationResult.json): 202 with Location and Retry-After while
        the cancel is being asked, then 204 (or the error that refused it)."""
        active_stamp_only(request)
        self._job_record(self.vault(p), p["job"])
        return self.operations.result_response(request, p["operation"])

    # ------------------------------------------------------------------ cross-region restore

    def _require_crr(self, vault: Vault) -> None:
        """The passive stamp answers only for a vault with cross-region restore (GRS and the vault's
        crossRegionRestoreFlag): else 400, as Azure answers (Azure/azure-rest-api-specs#23842)."""
        if not vault.cross_region_restore or vault.paired_region is None:
            raise ArmError(
                400,
                ErrorCode.CRR_NOT_ENABLED,
                "Cross Region Restore is not enabled in this vault. Please enable Cross Region Restore in this vault.",
            )

    def _secondary(self, p: dict[str, str]) -> str:
        region = p["region"].replace(" ", "").lower()
        if region not in {r.lower() for r in self.state.regions} | {(v.paired_region or "").lower() for v in self.world.inventory.vaults()}:
            raise ArmError(404, ErrorCode.RESOURCE_NOT_FOUND, f"The location '{p['region']}' is not served.")
        return region

    def _aad(self, region: str) -> JsonObject:
        """The secondary region's Backup service principal: what a point's access token is asked with."""
        return {
            "tenantId": self.state.stable_guid(f"{self.state.subscription_id}/tenant"),
            "audience": f"https://RecoveryServices/IaasCoord/aadmgmt/{region}",
            "servicePrincipalObjectId": self.state.stable_guid(f"{self.state.subscription_id}/backup-crr/{region}"),
        }

    async def aad_properties(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """AadProperties_Get (BackupAadProperties_Get.json): `{"properties": {tenantId, audience, servicePrincipalObjectId}}`."""
        return web.json_response({"properties": self._aad(self._secondary(p))})

    async def access_token(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """RecoveryPoints_GetAccessToken (GetAccessToken_Get.json): a token for restoring one point of the
        secondary region, asked with that region's AAD properties; the restore request carries it back."""
        if not passive_stamp(request):
            raise ArmError(
                400,
                ErrorCode.NO_REGISTERED_PROVIDER,
                f"No registered resource provider found for API version '{request.query.get('api-version')}' of "
                "recoveryPoints/accessToken: it is an operation of the cross-region restore API "
                f"({', '.join(PASSIVE_STAMP_API_VERSIONS)}).",
            )
        asked = (await Body.of(request)).child("properties")
        audience = asked.string("audience")
        item = self.item(p)
        self._require_crr(item.vault)
        secondary = item.vault.paired_region or ""
        if audience != self._aad(secondary)["audience"]:
            raise ArmError(
                400,
                ErrorCode.INVALID_PARAMETER,
                f"The audience '{audience}' is not that of the vault's secondary region {secondary} (read it from backupAadProperties).",
                target=asked.path("audience"),
            )
        point = await self._point(item, p["point"], secondary=True)
        token = self.operations.new_id().replace("-", "")
        self.crr_tokens[token] = CrrGrant(item, point, secondary)
        spec = next((s for s in self.world.estate.vms if s.name == item.vm_name), None)
        vault = try_parse_id(item.vault.id)
        metadata = (
            '<IaaSVMRecoveryPointMetadataBase xmlns:i="http://www.w3.org/2001/XMLSchema-instance" '
            'i:type="IaaSVMRecoveryPointMetadata_V2015_09" xmlns="http://windowscloudbackup.com/CloudCommon/V2011_09">'
            "<MetadataVersion>V2015_09</MetadataVersion><IsManagedVirtualMachine>true</IsManagedVirtualMachine>"
            f"<OsType>{'Windows' if spec is not None and spec.os is OsType.WINDOWS else 'Linux'}</OsType>"
            f"<RecoveryPointConsistencyType>{point.type.value}</RecoveryPointConsistencyType>"
            f"<VMSizeDescription>{spec.size if spec is not None else ''}</VMSizeDescription></IaaSVMRecoveryPointMetadataBase>"
        )
        container = container_name(item.container)
        properties: JsonObject = {
            "objectType": "WorkloadCrrAccessToken",
            "accessTokenString": token,
            "subscriptionId": self.state.subscription_id,
            "resourceGroupName": vault.resource_group if vault is not None else "",
            "resourceName": item.vault.name,
            "recoveryPointId": point.id.rsplit("/", 1)[-1],
            "recoveryPointTime": bag_time(point.time),
            "containerName": container,
            "containerType": "IaasVMContainer",
            "backupManagementType": "AzureIaasVM",
            "datasourceType": "VM",
            "datasourceName": item.vm_name,
            "datasourceContainerName": container,
            "tokenExtendedInformation": metadata,
        }
        return web.json_response({"id": point.id, "name": point.id.rsplit("/", 1)[-1], "type": POINT_TYPE, "properties": properties})

    async def cross_region_restore(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """CrossRegionRestore_Trigger (TriggerCrossRegionRestore_Post.json): 202 with Location
        (`locations/<region>/backupCrrOperationResults/<op>`), Azure-AsyncOperation
        (`.../backupCrrOperationsStatus/<op>`) and Retry-After; the operation ends when the job exists in the
        secondary region, and its status names the job."""
        region = self._secondary(p)
        body = await Body.of(request)
        access = body.child("crossRegionRestoreAccessDetails")
        kind = access.string("objectType")
        if kind.lower() not in ("workloadcrraccesstoken", "crraccesstoken"):
            raise invalid_content(access.path("objectType"), f"'{kind}': an Azure VM's access token is a WorkloadCrrAccessToken")
        token = access.string("accessTokenString")
        grant = self.crr_tokens.get(token)
        if grant is None:
            raise ArmError(
                400,
                ErrorCode.INVALID_PARAMETER,
                "The access token is not valid: ask for one on the recovery point (recoveryPoints/{id}/accessToken).",
                target=access.path("accessTokenString"),
            )
        if grant.region != region:
            raise ArmError(
                400,
                ErrorCode.INVALID_PARAMETER,
                f"The access token is for a restore in {grant.region}, the vault's secondary region, not {region}.",
                target="azureRegion",
            )
        restore = body.child("restoreRequest")
        asked_region = restore.optional_string("region")
        if asked_region is not None and asked_region.replace(" ", "").lower() != region:
            raise ArmError(
                400,
                ErrorCode.INVALID_PARAMETER,
                f"restoreRequest.region '{asked_region}' is not the secondary region {region} the restore runs in.",
                target=restore.path("region"),
            )
        work = await self._restore_work(request, restore, grant.item, grant.point.id.rsplit("/", 1)[-1], secondary=region)
        location = f"/subscriptions/{self.state.subscription_id}/providers/Microsoft.RecoveryServices/locations/{region}"
        op = await self.start(
            work,
            name="Microsoft.RecoveryServices/locations/backupCrossRegionRestore/action",
            status_path=lambda op: f"{location}/backupCrrOperationsStatus/{op}",
            result_path=lambda op: f"{location}/backupCrrOperationResults/{op}",
        )
        return self.operations.answer(request, op, status=202)

    async def crr_operation_status(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """CrrOperationStatus_Get (GetCrrOperationStatus_Get.json): `id` the status path, `name` the operation,
        and, once the job exists, its name (OperationStatusJobExtendedInfo.jobId, what the Azure CLI reads)."""
        self._secondary(p)
        return self.operations.status_response(p["operation"])

    async def crr_operation_result(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """CrrOperationResults_Get (GetCrrOperationResults_Get.json): 202 with the polling headers, then 200."""
        self._secondary(p)
        return self.operations.result_response(request, p["operation"])

    async def _crr_request(self, request: web.Request, p: dict[str, str]) -> tuple[str, Vault, str | None]:
        region = self._secondary(p)
        body = await Body.of(request)
        vault_id = body.string("resourceId")
        vault = next((v for v in self.world.inventory.vaults() if id_key(v.id) == id_key(vault_id)), None)
        if vault is None:
            raise ArmError(404, ErrorCode.RESOURCE_NOT_FOUND, f"The vault '{vault_id}' was not found.", target="resourceId")
        self._require_crr(vault)
        return region, vault, body.optional_string("jobName")

    def _crr_records(self, region: str, vault: Vault) -> list[JobRecord]:
        return [
            r
            for r in self.state.jobs.values()
            if r.family is JobFamily.CROSS_REGION and r.region == region and id_key(r.vault_id) == id_key(vault.id)
        ]

    async def crr_job(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """BackupCrrJobDetails_Get (GetCrrJob_Post.json): the job, asked by its vault's id and its name."""
        region, vault, name = await self._crr_request(request, p)
        record = next((r for r in self._crr_records(region, vault) if name is not None and r.name.lower() == name.lower()), None)
        if record is None:
            raise ArmError(
                404, ErrorCode.RESOURCE_NOT_FOUND, f"Cross-region restore job '{name}' of vault {vault.name} was not found in {region}."
            )
        return web.json_response(self.job_json(record, await self._refresh(record)))

    async def crr_jobs(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """BackupCrrJobs_List (ListCrrJobs_Post.json): the vault's cross-region restore jobs, without extendedInfo.
        Not paged: the SDK would follow a nextLink with GET, on a path that takes POST."""
        region, vault, _ = await self._crr_request(request, p)
        records = self._crr_records(region, vault)
        return web.json_response(listing([self.job_json(r, await self._refresh(r), extended=False) for r in records]))
