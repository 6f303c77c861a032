"""Microsoft.RecoveryServices for Site Recovery (Azure to Azure): fabrics, protection containers,
replication protected items, their recovery points and policies, test failover and its cleanup, and
replication jobs, as the 2025-08-01 spec examples show them (tests/cloud/emulator/test_emulator_contracts.py).

testFailover and testFailoverCleanup answer 202 once Site Recovery has accepted the job, with
`Azure-AsyncOperation` under the vault's `replicationOperationStatus/{id}`
(ReplicationProtectedItems_TestFailover.json) and `Location` under `replicationOperationResults/{id}`
(the TypeSpec declares a Location header whose final result is the replicated item); neither names the
job. The job shows in the item's `properties.currentScenario` (scenarioName, jobId, startTime) from
the failover's start until its cleanup starts, then the cleanup's until it ends (scenario `None`
after), and in the vault's replicationJobs listing (`$filter` on startTime, endTime, jobStatus). The
operation lasts as long as its job. Every other answer of the provider also carries an
`Azure-AsyncOperation` of its own, already succeeded, as the examples of GET show. Recovery points
listed are the processed ones; a test failover with no recovery point id fails over to the latest,
processing pending data first (A2A FAQ).
"""

from __future__ import annotations

import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from aiohttp import web

from drsim.cloud.api import Job, JobKind, JobStatus, ReplicationPoint
from drsim.cloud.arm import id_key, try_parse_id
from drsim.cloud.emulator.arm import ArmError, Body, ErrorCode, JsonObject, Router, arm_time, invalid_content, job_error_code, listing
from drsim.cloud.emulator.operations import poll_headers
from drsim.cloud.emulator.service import ResourceProviderService
from drsim.cloud.emulator.state import JobFamily, JobRecord
from drsim.cloud.sim.resources import ReplicatedItem, Vault
from drsim.model.checks import protection_of
from drsim.model.documents import SiteRecoveryRule
from drsim.model.types import OsType, ReplicationPointChoice, format_duration
from drsim.times import parse_utc

if TYPE_CHECKING:
    from drsim.cloud.emulator.app import Emulator

VAULT_TYPE = "Microsoft.RecoveryServices/vaults"
FABRIC_TYPE = VAULT_TYPE + "/replicationFabrics"
CONTAINER_TYPE = FABRIC_TYPE + "/replicationProtectionContainers"
ITEM_TYPE = CONTAINER_TYPE + "/replicationProtectedItems"
CRASH_CONSISTENT_MINUTES = 5  # A2A takes crash-consistent points every 5 minutes, fixed (azure-to-azure-architecture)
_JOB_STATE = {
    JobStatus.IN_PROGRESS: "InProgress",
    JobStatus.SUCCEEDED: "Succeeded",
    JobStatus.FAILED: "Failed",
    JobStatus.CANCELLING: "Cancelling",
    JobStatus.CANCELLED: "Cancelled",
}
_SCENARIO = {
    JobKind.TEST_FAILOVER: ("TestFailover", "Test failover"),
    JobKind.TEST_FAILOVER_CLEANUP: ("TestFailoverCleanup", "Cleanup test failover"),
}
_TASKS = {
    JobKind.TEST_FAILOVER: (
        ("TestFailoverPrerequisitesCheck", "Prerequisites check for test failover"),
        ("CreateTestVirtualMachine", "Create test virtual machine"),
        ("StartTestVirtualMachine", "Start the virtual machine"),
    ),
    JobKind.TEST_FAILOVER_CLEANUP: (("DeleteTestVirtualMachine", "Delete test virtual machine"),),
}
NO_SCENARIO_START = "1753-01-01T01:01:01Z"  # currentScenario of an item with none (ReplicationProtectedItems_TestFailoverCleanup.json)
READ_OPERATIONS_KEPT = 256  # the succeeded operations of recent reads whose status can still be read
_FILTER_TERM = re.compile(r"^\s*(\w+)\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)
_FILTER_KEYS = {"starttime": "startTime", "endtime": "endTime", "jobstatus": "jobStatus"}


class TestFailoverState(StrEnum):
    """Where an item is in its test failover cycle, as `testFailoverState` reports it: a finished test
    failover waits for its cleanup ('WaitingForCompletion', ReplicationProtectedItems_TestFailover.json),
    a cleanup running marks it for deletion ('MarkedForDeletion', _TestFailoverCleanup.json)."""

    NONE = "None"
    IN_PROGRESS = "InProgress"
    COMPLETED = "WaitingForCompletion"
    FAILED = "Failed"
    CLEANUP_IN_PROGRESS = "MarkedForDeletion"


_STATE_DESCRIPTION = {
    TestFailoverState.NONE: "None",
    TestFailoverState.IN_PROGRESS: "Test failover in progress",
    TestFailoverState.COMPLETED: "Waiting for user input",
    TestFailoverState.FAILED: "Test failover failed",
    TestFailoverState.CLEANUP_IN_PROGRESS: "Cleaning up test environment",
}


@dataclass(frozen=True)
class ItemNames:
    """A replicated item's names in its vault, read from its id."""

    fabric: str
    container: str
    item: str


@dataclass(frozen=True)
class JobOperation:
    """The long-running operation of a test failover or cleanup: it lasts as long as its job."""

    id: str
    job_name: str
    item_id: str
    vault_id: str
    started_at: datetime


@dataclass(frozen=True)
class ReadOperation:
    """The operation a read answered with (already succeeded), as Site Recovery names one on every answer."""

    id: str
    vault_id: str
    at: datetime


def names_of(item: ReplicatedItem) -> ItemNames:
    parsed = try_parse_id(item.id)
    assert parsed is not None
    parts = {kind.lower(): name for kind, name in parsed.path}
    return ItemNames(parts["replicationfabrics"], parts["replicationprotectioncontainers"], parts["replicationprotecteditems"])


def policy_name(rule: SiteRecoveryRule) -> str:
    """drsim-a2a-24h-app4h: retention, and the app-consistent interval (or none)."""
    app = format_duration(rule.app_consistent_every) if rule.app_consistent_every else "none"
    return f"drsim-a2a-{format_duration(rule.retention)}-app{app}"


class SiteRecoveryService(ResourceProviderService):
    """Azure Site Recovery (A2A) in Recovery Services vaults."""

    def __init__(self, emulator: Emulator) -> None:
        super().__init__(emulator)
        self.job_operations: dict[str, JobOperation] = {}
        self.read_operations: OrderedDict[str, ReadOperation] = OrderedDict()
        self._reads = 0
        self.cleanups: dict[str, str] = {}  # item id key -> job name of its latest cleanup
        self.tested: dict[str, datetime] = {}  # item id key -> end of its last test failover that succeeded
        self.failover_points: dict[str, str] = {}  # item id key -> the recovery point its last test failover was given

    def register(self, router: Router) -> None:
        v = "/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.RecoveryServices/vaults/{vault}"
        router.add("GET", v + "/replicationFabrics", self.list_fabrics)
        router.add("GET", v + "/replicationFabrics/{fabric}", self.get_fabric)
        router.add("GET", v + "/replicationFabrics/{fabric}/replicationProtectionContainers", self.list_containers)
        router.add("GET", v + "/replicationFabrics/{fabric}/replicationProtectionContainers/{container}", self.get_container)
        router.add("GET", v + "/replicationProtectedItems", self.list_items)
        items = v + "/replicationFabrics/{fabric}/replicationProtectionContainers/{container}/replicationProtectedItems"
        router.add("GET", items, self.list_items)
        router.add("GET", items + "/{item}", self.get_item)
        router.add("GET", items + "/{item}/recoveryPoints", self.list_points)
        router.add("GET", items + "/{item}/recoveryPoints/{point}", self.get_point)
        router.add("POST", items + "/{item}/testFailover", self.test_failover)
        router.add("POST", items + "/{item}/testFailoverCleanup", self.test_failover_cleanup)
        router.add("GET", v + "/replicationPolicies", self.list_policies)
        router.add("GET", v + "/replicationPolicies/{policy}", self.get_policy)
        router.add("GET", v + "/replicationJobs", self.list_jobs)
        router.add("GET", v + "/replicationJobs/{job}", self.get_job)
        router.add("GET", v + "/replicationOperationStatus/{operation}", self.operation_status)
        router.add("GET", v + "/replicationOperationResults/{operation}", self.operation_result)

    def vault(self, p: dict[str, str]) -> Vault:
        return self.emulator.backup.vault(p)

    def _operation_urls(self, request: web.Request, vault_id: str, op_id: str) -> dict[str, str]:
        base = f"{request.scheme}://{request.host}{vault_id}"
        api = request.query.get("api-version", "")
        return {
            "Azure-AsyncOperation": f"{base}/replicationOperationStatus/{op_id}?api-version={api}",
            "Location": f"{base}/replicationOperationResults/{op_id}?api-version={api}",
        }

    def _read(self, request: web.Request, p: dict[str, str], body: JsonObject) -> web.Response:
        """A read's answer: Site Recovery names an operation (already succeeded) on every answer, as the
        examples of ReplicationJobs_Get, ReplicationJobs_List and RecoveryPoints_List show."""
        vault_id = self.vault(p).id
        self._reads += 1
        op_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{id_key(vault_id)}#read-{self._reads}"))
        self.read_operations[op_id] = ReadOperation(op_id, vault_id, self.world.now())
        while len(self.read_operations) > READ_OPERATIONS_KEPT:
            self.read_operations.popitem(last=False)
        url = self._operation_urls(request, vault_id, op_id)["Azure-AsyncOperation"]
        return web.json_response(body, headers={"Azure-AsyncOperation": url})

    def _items(self, vault: Vault) -> list[ReplicatedItem]:
        return self.world.inventory.replicated_items(vault.id)

    # -------------------------------------------------------------------- fabrics, containers

    def _fabrics(self, vault: Vault) -> dict[str, tuple[str, list[str]]]:
        """Fabric name -> (its region, its container names)."""
        found: dict[str, tuple[str, list[str]]] = {}
        for item in self._items(vault):
            names = names_of(item)
            _, containers = found.setdefault(names.fabric, (item.source_region, []))
            if names.container not in containers:
                containers.append(names.container)
        return found

    def fabric_json(self, vault: Vault, name: str, region: str, containers: list[str]) -> JsonObject:
        fabric_id = f"{vault.id}/replicationFabrics/{name}"
        return {
            "id": fabric_id,
            "name": name,
            "type": FABRIC_TYPE,
            "location": vault.region,
            "properties": {
                "friendlyName": name,
                "health": "Normal",
                "customDetails": {
                    "instanceType": "Azure",
                    "location": region,
                    "containerIds": [f"{fabric_id}/replicationProtectionContainers/{c}" for c in containers],
                },
            },
        }

    def _fabric(self, vault: Vault, name: str) -> tuple[str, str, list[str]]:
        found = next(((n, r, c) for n, (r, c) in self._fabrics(vault).items() if n.lower() == name.lower()), None)
        if found is None:
            raise ArmError(404, ErrorCode.RESOURCE_NOT_FOUND, f"Replication fabric '{name}' was not found in vault {vault.name}.")
        return found

    async def list_fabrics(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        vault = self.vault(p)
        return self._read(request, p, listing([self.fabric_json(vault, n, r, c) for n, (r, c) in sorted(self._fabrics(vault).items())]))

    async def get_fabric(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        vault = self.vault(p)
        return self._read(request, p, self.fabric_json(vault, *self._fabric(vault, p["fabric"])))

    def container_json(self, vault: Vault, fabric: str, container: str) -> JsonObject:
        return {
            "id": f"{vault.id}/replicationFabrics/{fabric}/replicationProtectionContainers/{container}",
            "name": container,
            "type": CONTAINER_TYPE,
            "location": vault.region,
            "properties": {
                "friendlyName": container,
                "fabricFriendlyName": fabric,
                "fabricType": "Azure",
                "protectedItemCount": sum(1 for i in self._items(vault) if names_of(i).container.lower() == container.lower()),
                "role": "Primary",
                "fabricSpecificDetails": {"instanceType": "Azure"},
            },
        }

    async def list_containers(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        vault = self.vault(p)
        name, _, containers = self._fabric(vault, p["fabric"])
        return self._read(request, p, listing([self.container_json(vault, name, c) for c in containers]))

    async def get_container(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        vault = self.vault(p)
        name, _, containers = self._fabric(vault, p["fabric"])
        container = next((c for c in containers if c.lower() == p["container"].lower()), None)
        if container is None:
            raise ArmError(404, ErrorCode.RESOURCE_NOT_FOUND, f"Protection container '{p['container']}' was not found in fabric {name}.")
        return self._read(request, p, self.container_json(vault, name, container))

    # ------------------------------------------------------------------------------ policies

    def _rule(self, item: ReplicatedItem) -> SiteRecoveryRule:
        spec = next(s for s in self.world.estate.vms if s.name == item.vm_name)
        rule = protection_of(self.world.plan, spec.name, spec.tags).site_recovery
        assert rule is not None and rule.site_recovery is not None, f"{item.vm_name} is replicated without a site_recovery rule"
        return rule.site_recovery

    def policy_json(self, vault: Vault, rule: SiteRecoveryRule) -> JsonObject:
        name = policy_name(rule)
        app = int(rule.app_consistent_every.total_seconds() // 60) if rule.app_consistent_every else 0
        return {
            "id": f"{vault.id}/replicationPolicies/{name}",
            "name": name,
            "type": VAULT_TYPE + "/replicationPolicies",
            "properties": {
                "friendlyName": name,
                "providerSpecificDetails": {
                    "instanceType": "A2A",
                    "recoveryPointHistory": int(rule.retention.total_seconds() // 60),
                    "appConsistentFrequencyInMinutes": app,
                    "crashConsistentFrequencyInMinutes": CRASH_CONSISTENT_MINUTES,
                    "multiVmSyncStatus": "Enabled" if rule.consistency_group else "Disabled",
                },
            },
        }

    def _policies(self, vault: Vault) -> dict[str, JsonObject]:
        return {policy_name(r).lower(): self.policy_json(vault, r) for r in (self._rule(i) for i in self._items(vault))}

    async def list_policies(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        return self._read(request, p, listing(list(self._policies(self.vault(p)).values())))

    async def get_policy(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        vault = self.vault(p)
        found = self._policies(vault).get(p["policy"].lower())
        if found is None:
            raise ArmError(404, ErrorCode.RESOURCE_NOT_FOUND, f"Replication policy '{p['policy']}' was not found in vault {vault.name}.")
        return self._read(request, p, found)

    # --------------------------------------------------------------------------------- items

    def _test_failover(self, item: ReplicatedItem) -> tuple[TestFailoverState, JobRecord | None]:
        key = id_key(item.id)
        cleanup = self.state.jobs.get((self.cleanups.get(key) or "").lower())
        failover = self.state.jobs.get((self.state.test_failovers.get(key) or "").lower())
        if cleanup is not None and cleanup.last is not None:
            if cleanup.last.status is JobStatus.IN_PROGRESS:
                return TestFailoverState.CLEANUP_IN_PROGRESS, failover
            if cleanup.last.status is JobStatus.SUCCEEDED:
                return TestFailoverState.NONE, None
        if failover is None or failover.last is None:
            return TestFailoverState.NONE, None
        state = {
            JobStatus.IN_PROGRESS: TestFailoverState.IN_PROGRESS,
            JobStatus.SUCCEEDED: TestFailoverState.COMPLETED,
            JobStatus.FAILED: TestFailoverState.FAILED,
        }[failover.last.status]
        return state, failover

    def _scenario(self, item: ReplicatedItem, tfo: TestFailoverState, failover: JobRecord | None) -> JsonObject:
        """`currentScenario`: the test failover's job from its start until its cleanup starts (a finished
        one waits for its cleanup: ReplicationProtectedItems_TestFailover.json), then the cleanup's job
        while it runs; `None` otherwise (_TestFailoverCleanup.json)."""
        record = failover
        if tfo is TestFailoverState.CLEANUP_IN_PROGRESS:
            record = self.state.jobs.get((self.cleanups.get(id_key(item.id)) or "").lower())
        if tfo is TestFailoverState.NONE or record is None or record.last is None:
            return {"scenarioName": "None", "jobId": f"{item.vault.id}/replicationJobs/None", "startTime": NO_SCENARIO_START}
        return {
            "scenarioName": _SCENARIO[record.kind][0],
            "jobId": f"{record.vault_id}/replicationJobs/{record.name}",
            "startTime": arm_time(record.last.started_at),
        }

    async def _refresh_item_jobs(self, item: ReplicatedItem) -> None:
        key = id_key(item.id)
        for name in (self.state.test_failovers.get(key), self.cleanups.get(key)):
            record = self.state.jobs.get((name or "").lower())
            if record is not None:
                await self._refresh(record)

    def item_json(self, item: ReplicatedItem) -> JsonObject:
        rule = self._rule(item)
        vault = item.vault
        spec = next((s for s in self.world.estate.vms if s.name == item.vm_name), None)
        tfo, failover = self._test_failover(item)
        allowed = (
            ["TestFailoverCleanup"]
            if tfo in (TestFailoverState.COMPLETED, TestFailoverState.FAILED)
            else (
                []
                if tfo in (TestFailoverState.IN_PROGRESS, TestFailoverState.CLEANUP_IN_PROGRESS)
                else ["TestFailover", "UnplannedFailover"]
            )
        )
        names = names_of(item)
        container_id = item.id.rsplit("/replicationProtectedItems/", 1)[0]
        recovery_fabric = f"{vault.id}/replicationFabrics/asr-a2a-default-{item.target_region}"
        recovery_container = f"asr-a2a-default-{item.target_region}-container"
        extra: JsonObject = {}
        tested = self.tested.get(id_key(item.id))
        if tested is not None:
            extra["lastSuccessfulTestFailoverTime"] = arm_time(tested)
        point = self.failover_points.get(id_key(item.id))
        if point is not None:  # the point of its last failover, kept after cleanup (_TestFailoverCleanup.json)
            extra["failoverRecoveryPointId"] = point
        details: JsonObject = {
            "instanceType": "A2A",
            "fabricObjectId": item.vm_id,
            "primaryFabricLocation": item.source_region,
            "recoveryFabricLocation": item.target_region,
            "multiVmGroupName": item.consistency_group or "",
            "multiVmGroupCreateOption": "UserSpecified" if item.consistency_group else "AutoCreated",
            "recoveryAzureVMName": item.vm_name,
            "recoveryAzureResourceGroupId": self.state.group_id(self.state.drill_group),
            "vmProtectionState": "Protected",
            "vmProtectionStateDescription": "Protected",
            "monitoringJobType": "None",
        }
        if spec is not None:
            details["osType"] = "Windows" if spec.os is OsType.WINDOWS else "Linux"
            details["recoveryAzureVMSize"] = spec.size
        if failover is not None:
            details["selectedTfoAzureNetworkId"] = failover.details.get("network")
            job = failover.last
            if job is not None and job.status is JobStatus.SUCCEEDED and job.created:
                details["tfoAzureVMName"] = job.created[0].rstrip("/").rsplit("/", 1)[-1]
        return {
            "id": item.id,
            "name": names_of(item).item,
            "type": ITEM_TYPE,
            "location": vault.region,
            "properties": {
                "friendlyName": item.vm_name,
                "protectedItemType": "ReplicationProtectedItem",
                "primaryFabricFriendlyName": item.source_region,
                "primaryProtectionContainerFriendlyName": names.container,
                "protectableItemId": f"{container_id}/replicationProtectableItems/{names.item}",
                "recoveryFabricFriendlyName": item.target_region,
                "recoveryFabricId": recovery_fabric,
                "recoveryContainerId": f"{recovery_fabric}/replicationProtectionContainers/{recovery_container}",
                "recoveryProtectionContainerFriendlyName": recovery_container,
                "protectionState": "Protected",
                "protectionStateDescription": "Cleanup test failover pending" if tfo is TestFailoverState.COMPLETED else "Protected",
                "activeLocation": "Primary",
                "testFailoverState": tfo.value,
                "testFailoverStateDescription": _STATE_DESCRIPTION[tfo],
                "currentScenario": self._scenario(item, tfo, failover),
                "allowedOperations": allowed,
                "replicationHealth": "Normal",
                "failoverHealth": "Normal",
                "policyId": f"{vault.id}/replicationPolicies/{policy_name(rule)}",
                "policyFriendlyName": policy_name(rule),
                **extra,
                "providerSpecificDetails": details,
            },
        }

    def item(self, p: dict[str, str]) -> ReplicatedItem:
        vault = self.vault(p)
        found = next(
            (
                i
                for i in self._items(vault)
                if (n := names_of(i)).fabric.lower() == p["fabric"].lower()
                and n.container.lower() == p["container"].lower()
                and n.item.lower() == p["item"].lower()
            ),
            None,
        )
        if found is None:
            raise ArmError(
                404, ErrorCode.RESOURCE_NOT_FOUND, f"Replication protected item '{p['item']}' was not found in vault {vault.name}."
            )
        return found

    async def list_items(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        vault = self.vault(p)
        items = [
            i
            for i in self._items(vault)
            if "fabric" not in p
            or (names_of(i).fabric.lower() == p["fabric"].lower() and names_of(i).container.lower() == p["container"].lower())
        ]
        for item in items:
            await self._refresh_item_jobs(item)
        return self._read(request, p, listing([self.item_json(i) for i in items]))

    async def get_item(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        item = self.item(p)
        await self._refresh_item_jobs(item)
        return self._read(request, p, self.item_json(item))

    # -------------------------------------------------------------------------------- points

    def point_json(self, item: ReplicatedItem, point: ReplicationPoint) -> JsonObject:
        return {
            "id": point.id,
            "name": point.id.rsplit("/", 1)[-1],
            "type": ITEM_TYPE + "/recoveryPoints",
            "properties": {
                "recoveryPointTime": arm_time(point.time),
                "recoveryPointType": point.type.value,
                "providerSpecificDetails": {
                    "instanceType": "A2A",
                    # Points of a multi-VM consistency group share one instant across its VMs (A2A FAQ).
                    "recoveryPointSyncType": "MultiVmSyncRecoveryPoint" if point.group else "PerVmRecoveryPoint",
                },
            },
        }

    async def _points(self, item: ReplicatedItem) -> list[ReplicationPoint]:
        return [pt for pt in await self.world.list_replication_points(item.vm_id) if pt.processed]

    async def list_points(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        item = self.item(p)
        points = sorted(await self._points(item), key=lambda pt: pt.time, reverse=True)
        return self._read(request, p, listing([self.point_json(item, pt) for pt in points]))

    async def get_point(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        item = self.item(p)
        point = next((pt for pt in await self._points(item) if pt.id.rsplit("/", 1)[-1].lower() == p["point"].lower()), None)
        if point is None:
            raise ArmError(
                404,
                ErrorCode.RESOURCE_NOT_FOUND,
                f"Recovery point '{p['point']}' of {item.vm_name} was not found (it may have been pruned).",
            )
        return self._read(request, p, self.point_json(item, point))

    # ------------------------------------------------------------------------ test failover

    def _accepted(self, request: web.Request, record: JobRecord, item: ReplicatedItem) -> web.Response:
        """202 with the operation's URLs under the vault (ReplicationProtectedItems_TestFailover.json):
        they name the operation, never the job (the item's currentScenario and the jobs listing do)."""
        op_id = self.operations.new_id()
        self.job_operations[op_id] = JobOperation(op_id, record.name, item.id, record.vault_id, self.world.now())
        return web.Response(
            status=202, headers={**self._operation_urls(request, record.vault_id, op_id), **poll_headers(self.emulator.speed)}
        )

    def _record(self, job: Job, item: ReplicatedItem, details: dict[str, str]) -> JobRecord:
        name = job.id.rstrip("/").rsplit("/", 1)[-1]
        record = JobRecord(name, JobFamily.SITE_RECOVERY, job.id, item.vault.id, item.id, item.vm_name, job.kind, details, job)
        self.state.jobs[name.lower()] = record
        return record

    async def test_failover(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        body = (await Body.of(request)).child("properties")
        item = self.item(p)
        direction = body.optional_string("failoverDirection") or "PrimaryToRecovery"
        if direction.lower() != "primarytorecovery":
            raise invalid_content(
                body.path("failoverDirection"), f"'{direction}': a test failover of a protected VM goes PrimaryToRecovery"
            )
        network_type = body.optional_string("networkType") or "VmNetworkAsInput"
        if network_type.lower() != "vmnetworkasinput":
            raise invalid_content(
                body.path("networkType"), f"'{network_type}': a drill fails over into a network it names (VmNetworkAsInput)"
            )
        network_id = body.string("networkId")
        specific = body.child("providerSpecificDetails")
        kind = specific.optional_string("instanceType") or "A2A"
        if kind.lower() != "a2a":
            raise invalid_content(specific.path("instanceType"), f"'{kind}': the emulator serves Azure-to-Azure replication (A2A)")
        point = specific.optional_string("recoveryPointId")
        point_id = None
        if point:
            point_id = point if point.startswith("/") else f"{item.id}/recoveryPoints/{point}"
            known = {id_key(pt.id): pt.id for pt in await self.world.list_replication_points(item.vm_id)}
            point_id = known.get(id_key(point_id), point_id)
        job = await self.world.test_failover(
            item.vm_id, choice=ReplicationPointChoice.LATEST, network_id=network_id, tags={}, point_id=point_id
        )
        details = {"network": network_id}
        if point_id:
            details["point"] = point_id
        record = self._record(job, item, details)
        self.state.test_failovers[id_key(item.id)] = record.name
        if point_id:
            self.failover_points[id_key(item.id)] = point_id
        self.cleanups.pop(id_key(item.id), None)
        return self._accepted(request, record, item)

    async def test_failover_cleanup(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        body = (await Body.of(request, required=False)).child("properties")
        item = self.item(p)
        comments = body.optional_string("comments") or ""
        job = await self.world.test_failover_cleanup(item.vm_id)
        record = self._record(job, item, {"comments": comments})
        self.cleanups[id_key(item.id)] = record.name
        return self._accepted(request, record, item)

    def _operation(self, p: dict[str, str]) -> tuple[JobOperation, JobRecord]:
        vault = self.vault(p)
        operation = self.job_operations.get(p["operation"].lower())
        record = self.state.jobs.get(operation.job_name.lower()) if operation is not None else None
        if operation is None or record is None or id_key(operation.vault_id) != id_key(vault.id):
            raise ArmError(404, ErrorCode.RESOURCE_NOT_FOUND, f"Operation '{p['operation']}' was not found in vault {vault.name}.")
        return operation, record

    async def operation_status(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """ARM's Azure-AsyncOperation status (async-operations): id, name, status, startTime, endTime, error."""
        read = self.read_operations.get(p["operation"].lower())
        if read is not None and id_key(read.vault_id) == id_key(self.vault(p).id):
            done = arm_time(read.at)
            return web.json_response({"id": request.path, "name": read.id, "status": "Succeeded", "startTime": done, "endTime": done})
        operation, record = self._operation(p)
        job = await self._refresh(record)
        body: JsonObject = {
            "id": request.path,
            "name": operation.id,
            "status": _JOB_STATE[job.status],
            "startTime": arm_time(operation.started_at),
        }
        if job.ended_at is not None:
            body["endTime"] = arm_time(job.ended_at)
        if job.status is JobStatus.FAILED:
            body["error"] = {
                "code": "TestFailoverFailed" if record.kind is JobKind.TEST_FAILOVER else "OperationFailed",
                "message": job.error or "the job failed",
            }
        headers = poll_headers(self.emulator.speed) if job.status is JobStatus.IN_PROGRESS else {}
        return web.json_response(body, headers=headers)

    async def operation_result(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """202 while the job runs; then the replication protected item (or the job's error)."""
        operation, record = self._operation(p)
        job = await self._refresh(record)
        status_url = self._operation_urls(request, operation.vault_id, operation.id)["Azure-AsyncOperation"]
        if job.status is JobStatus.IN_PROGRESS:
            return web.Response(
                status=202,
                headers={"Location": str(request.url), "Azure-AsyncOperation": status_url, **poll_headers(self.emulator.speed)},
            )
        if job.status is JobStatus.FAILED:
            return ArmError(409, ErrorCode.OPERATION_FAILED, job.error or f"job {record.name} failed").response()
        item = next(i for i in self.world.inventory.replicated_items() if id_key(i.id) == id_key(operation.item_id))
        # The item as the example's 200 shows it, naming the operation it ended (ReplicationProtectedItems_TestFailover.json).
        return web.json_response(self.item_json(item), headers={"Azure-AsyncOperation": status_url})

    # ---------------------------------------------------------------------------------- jobs

    async def _refresh(self, record: JobRecord) -> Job:
        record.last = job = await self.world.get_job(record.world_id)
        if job.kind is JobKind.TEST_FAILOVER and job.status is JobStatus.SUCCEEDED and job.ended_at is not None:
            self.tested[id_key(record.item_id)] = job.ended_at
        return job

    def job_json(self, record: JobRecord, job: Job) -> JsonObject:
        scenario, friendly = _SCENARIO[job.kind]
        item = next((i for i in self.world.inventory.replicated_items() if id_key(i.id) == id_key(record.item_id)), None)
        custom: JsonObject = {"instanceType": "AsrJobDetails"}
        if job.kind is JobKind.TEST_FAILOVER:
            network = record.details.get("network", "")
            protected: JsonObject = {
                "name": record.item_id.rsplit("/", 1)[-1],
                "friendlyName": record.vm_name,
                "networkConnectionStatus": "Connected",
                "networkFriendlyName": network.rsplit("/", 1)[-1],
            }
            if record.details.get("point"):
                protected["recoveryPointId"] = record.details["point"]
            if job.recovery_point_time is not None:
                protected["recoveryPointTime"] = arm_time(job.recovery_point_time)
            if job.status is JobStatus.SUCCEEDED and job.created:
                protected["testVmName"] = job.created[0].rstrip("/").rsplit("/", 1)[-1]
                protected["testVmFriendlyName"] = protected["testVmName"]
            custom = {
                "instanceType": "TestFailoverJobDetails",
                "testFailoverStatus": _JOB_STATE[job.status],
                "networkName": network,
                "networkFriendlyName": network.rsplit("/", 1)[-1],
                "networkType": "VmNetworkAsInput",
                "protectedItemDetails": [protected],
            }
        props: JsonObject = {
            "activityId": self.state.stable_guid(record.world_id),
            "scenarioName": scenario,
            "friendlyName": friendly,
            "state": _JOB_STATE[job.status],
            "stateDescription": "Completed" if job.status is JobStatus.SUCCEEDED else _JOB_STATE[job.status],
            "startTime": arm_time(job.started_at),
            "allowedActions": [],
            # The item's name, as the examples name a job's target (ReplicationJobs_Get.json), not its ARM id.
            "targetObjectId": record.item_id.rstrip("/").rsplit("/", 1)[-1],
            "targetObjectName": record.vm_name,
            "targetInstanceType": "ProtectionEntity",
            "tasks": self._tasks(record, job),
            "errors": [],
            "customDetails": custom,
        }
        if job.ended_at is not None:
            props["endTime"] = arm_time(job.ended_at)
        if job.status is JobStatus.FAILED:
            props["errors"] = [
                {
                    "serviceErrorDetails": {"code": job_error_code(job, "TestFailoverFailed"), "message": job.error or "the job failed"},
                    "errorLevel": "Error",
                    "creationTime": arm_time(job.ended_at or self.world.now()),
                }
            ]
        return {
            "id": f"{record.vault_id}/replicationJobs/{record.name}",
            "name": record.name,
            "type": VAULT_TYPE + "/replicationJobs",
            "location": item.vault.region if item is not None else None,
            "properties": props,
        }

    def _tasks(self, record: JobRecord, job: Job) -> list[JsonObject]:
        """The job's tasks in order (as the portal lists a test failover's): the first runs while the job
        runs, all succeed with it, the last fails with it."""
        names = _TASKS[job.kind]
        tasks: list[JsonObject] = []
        for i, (name, friendly) in enumerate(names):
            if job.status is JobStatus.IN_PROGRESS:
                state = "InProgress" if i == 0 else "NotStarted"
            elif job.status is JobStatus.FAILED and i == len(names) - 1:
                state = "Failed"
            else:
                state = _JOB_STATE[job.status]
            task: JsonObject = {
                "name": name,
                "taskId": self.state.stable_guid(f"{record.world_id}/tasks/{name}"),
                "friendlyName": friendly,
                "state": state,
                "stateDescription": "Completed" if state == "Succeeded" else state,
                "taskType": "VirtualMachineTask",
                "allowedActions": [],
                "errors": [],
                "customDetails": {"instanceType": "VirtualMachineTaskDetails"},
                "startTime": arm_time(job.started_at),
            }
            if job.ended_at is not None:
                task["endTime"] = arm_time(job.ended_at)
            tasks.append(task)
        return tasks

    def _records(self, vault: Vault) -> list[JobRecord]:
        return [r for r in self.state.jobs.values() if r.family is JobFamily.SITE_RECOVERY and id_key(r.vault_id) == id_key(vault.id)]

    async def list_jobs(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """The vault's jobs, newest first; `$filter` takes `startTime eq '<time>'` (jobs started then or
        later), `endTime eq '<time>'` (started by then) and `jobStatus eq '<state>'`, joined by `and`
        (JobQueryParameter's fields)."""
        vault = self.vault(p)
        wanted = _job_filter(request.query.get("$filter"))
        found = []
        for record in self._records(vault):
            job = await self._refresh(record)
            if wanted.keeps(job):
                found.append((job.started_at, record.name, self.job_json(record, job)))
        found.sort(key=lambda f: (f[0], f[1]), reverse=True)
        return self._read(request, p, listing([body for _, _, body in found]))

    async def get_job(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        vault = self.vault(p)
        record = next((r for r in self._records(vault) if r.name.lower() == p["job"].lower()), None)
        if record is None:
            raise ArmError(404, ErrorCode.RESOURCE_NOT_FOUND, f"Replication job '{p['job']}' was not found in vault {vault.name}.")
        return self._read(request, p, self.job_json(record, await self._refresh(record)))


@dataclass(frozen=True)
class JobFilter:
    """A replicationJobs `$filter`: JobQueryParameter's startTime, endTime and jobStatus."""

    start: datetime | None = None
    end: datetime | None = None
    status: str | None = None

    def keeps(self, job: Job) -> bool:
        return (
            (self.start is None or job.started_at >= self.start)
            and (self.end is None or job.started_at <= self.end)
            and (self.status is None or self.status.lower() == _JOB_STATE[job.status].lower())
        )


def _job_filter(text: str | None) -> JobFilter:
    """The terms of a replicationJobs `$filter`, joined by `and` (400 InvalidParameter on anything else)."""
    terms: dict[str, str] = {}
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE) if text and text.strip() else []:
        match = _FILTER_TERM.match(part)
        key = _FILTER_KEYS.get(match.group(1).lower()) if match else None
        if match is None or key is None:
            raise ArmError(
                400, ErrorCode.INVALID_PARAMETER, f"Invalid $filter term '{part.strip()}': use startTime, endTime or jobStatus eq '<value>'"
            )
        terms[key] = match.group(2)
    times: dict[str, datetime] = {}
    for key in ("startTime", "endTime"):
        if key in terms:
            try:
                times[key] = parse_utc(terms[key], naive_is_utc=True)
            except ValueError:
                raise ArmError(400, ErrorCode.INVALID_PARAMETER, f"Invalid $filter time {key} '{terms[key]}'") from None
    return JobFilter(times.get("startTime"), times.get("endTime"), terms.get("jobStatus"))
