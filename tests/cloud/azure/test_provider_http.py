"""AzureProvider through the unmodified SDK clients against recorded ARM answers on loopback HTTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from fake_arm import SUB, Answer, FakeArm, serve

from drsim.cloud.api import RUN_TAG, JobKind, JobStatus, PointTier, PointType, ResourceKind, RestoreMode
from drsim.cloud.azure.provider import JOB_LOOKUPS, AzureProvider
from drsim.cloud.azure.throttle import RequestClass
from drsim.errors import NotFoundError, ProviderError
from drsim.model.documents import AzureOptions
from drsim.model.types import ReplicationPointChoice

RG = f"/subscriptions/{SUB}/resourceGroups"
VAULT = f"{RG}/vaults/providers/Microsoft.RecoveryServices/vaults/bv"
SRC_VM = f"{RG}/prod/providers/Microsoft.Compute/virtualMachines/web-01"
VNET = f"{RG}/drill/providers/Microsoft.Network/virtualNetworks/bubble"
SUBNET = f"{VNET}/subnets/drill"
CONTAINER = "IaasVMContainer;iaasvmcontainerv2;prod;web-01"
ITEM = "VM;iaasvmcontainerv2;prod;web-01"
ITEM_PATH = f"{VAULT}/backupFabrics/Azure/protectionContainers/{CONTAINER}/protectedItems/{ITEM}"
RESTORED_VM = f"{RG}/drill/providers/Microsoft.Compute/virtualMachines/web-01-r"
RESTORED_DISK = f"{RG}/drill/providers/Microsoft.Compute/disks/web-01-r-os"
TAGS = {RUN_TAG: "run-7"}
STAGING = f"{RG}/drill/providers/Microsoft.Storage/storageAccounts/stdrill"


def point_body(name: str, tiers: tuple[str, ...]) -> dict:
    """An IaasVMRecoveryPoint as RecoveryPoints_Get.json (azure-rest-api-specs, recoveryservicesbackup 2025-08-01) shows it."""
    return {
        "id": f"{ITEM_PATH}/recoveryPoints/{name}",
        "name": name,
        "type": "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems/recoveryPoints",
        "properties": {
            "objectType": "IaasVMRecoveryPoint",
            "recoveryPointType": "AppConsistent",
            "recoveryPointTime": "2026-11-20T02:10:00Z",
            "recoveryPointTierDetails": [{"type": t, "status": "Valid"} for t in tiers],
        },
    }


def options(base: str, **extra: str) -> AzureOptions:
    return AzureOptions(subscription_id=SUB, resource_group="drill", vault_resource_group="vaults", endpoint=base, **extra)


def run(fake: FakeArm, scenario, **extra: str):
    async def main():
        async with serve(fake) as base:
            provider = AzureProvider(options(base, **extra), polling_interval=0, retry_backoff_factor=0.01)
            async with provider:
                return await scenario(provider)

    return asyncio.run(main())


def vnet_body() -> dict:
    return {
        "id": VNET,
        "name": "bubble",
        "location": "eastus2",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.250.0.0/16"]},
            "subnets": [{"id": SUBNET, "name": "drill", "properties": {"addressPrefix": "10.250.0.0/16"}}],
        },
    }


def vm_body(vm_id: str, disk: str, power: str = "running") -> dict:
    return {
        "id": vm_id,
        "name": vm_id.rsplit("/", 1)[1],
        "location": "eastus2",
        "tags": {},
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
            "storageProfile": {"osDisk": {"osType": "Linux", "createOption": "Attach", "managedDisk": {"id": disk}}, "dataDisks": []},
            "instanceView": {
                "statuses": [{"code": "ProvisioningState/succeeded"}, {"code": f"PowerState/{power}"}],
                "vmAgent": {"statuses": [{"code": "ProvisioningState/succeeded", "displayStatus": "Ready"}]},
            },
        },
    }


def backup_routes(fake: FakeArm) -> None:
    # protectedItemType as the service sends it: the SDK deserializes this as the base ProtectedItem.
    fake.on(
        "GET",
        f"{VAULT}/backupProtectedItems",
        Answer(
            body={
                "value": [
                    {
                        "id": ITEM_PATH,
                        "name": ITEM,
                        "properties": {
                            "protectedItemType": "Microsoft.Compute/virtualMachines",
                            "friendlyName": "web-01",
                            "virtualMachineId": SRC_VM,
                            "sourceResourceId": SRC_VM,
                            "policyId": f"{VAULT}/backupPolicies/daily",
                            "workloadType": "VM",
                        },
                    }
                ]
            }
        ),
    )


def test_restore_follows_the_job_not_the_trigger_and_tags_what_it_created():
    fake = FakeArm()
    backup_routes(fake)
    fake.on("GET", VNET, Answer(body=vnet_body()))
    status_url = "{base}" + f"{ITEM_PATH}/operationsStatus/op-1?api-version=2025-02-01"
    fake.on(
        "POST",
        f"{ITEM_PATH}/recoveryPoints/rp-9/restore",
        Answer(
            202,
            headers={
                "Azure-AsyncOperation": status_url,
                "Location": "{base}" + f"{ITEM_PATH}/operationResults/op-1?api-version=2025-02-01",
                "Retry-After": "0",
            },
        ),
    )
    done = {
        "id": "op-1",
        "name": "op-1",
        "status": "Succeeded",
        "startTime": "2026-11-20T14:30:00Z",
        "properties": {"objectType": "OperationStatusJobExtendedInfo", "jobId": "job-1"},
    }
    fake.on("GET", f"{ITEM_PATH}/operationsStatus/op-1", Answer(body=done))
    fake.on("GET", f"{ITEM_PATH}/operationResults/op-1", Answer(204))
    job = {
        "id": f"{VAULT}/backupJobs/job-1",
        "name": "job-1",
        "properties": {
            "jobType": "AzureIaaSVMJob",
            "entityFriendlyName": "web-01",
            "operation": "Restore",
            "status": "InProgress",
            "startTime": "2026-11-20T14:30:00Z",
        },
    }
    finished = {**job, "properties": {**job["properties"], "status": "Completed", "endTime": "2026-11-20T14:55:00Z"}}
    fake.on("GET", f"{VAULT}/backupJobs/job-1", Answer(body=job), Answer(body=finished))
    fake.on("GET", f"{ITEM_PATH}/recoveryPoints/rp-9", Answer(body=point_body("rp-9", ("InstantRP", "HardenedRP"))))
    fake.on("GET", RESTORED_VM, Answer(body=vm_body(RESTORED_VM, RESTORED_DISK)))
    for rid in (RESTORED_VM, RESTORED_DISK):
        fake.on("PATCH", f"{rid}/providers/Microsoft.Resources/tags/default", Answer(body={"properties": {"tags": TAGS}}))

    async def scenario(provider: AzureProvider):
        point = f"{ITEM_PATH}/recoveryPoints/rp-9"
        started = await provider.restore_backup(
            SRC_VM, point, mode=RestoreMode.VM, tier=None, region="eastus2", network_id=VNET, name="web-01-r", tags=TAGS
        )
        return started, await provider.get_job(started.id)

    started, ended = run(fake, scenario, backup_vault="bv", staging_storage_account=STAGING)
    assert (started.kind, started.status, started.vm_id, started.created) == (JobKind.RESTORE, JobStatus.IN_PROGRESS, SRC_VM, ())
    assert started.tier is ended.tier is PointTier.SNAPSHOT  # the point had its snapshot: Azure restores from it
    assert started.id == f"{VAULT}/backupJobs/job-1"
    assert ended.status is JobStatus.SUCCEEDED
    assert ended.created == (RESTORED_VM, RESTORED_DISK)
    assert ended.ended_at == datetime(2026, 11, 20, 14, 55, tzinfo=UTC)
    (trigger,) = fake.requests("POST", "/restore")
    request = trigger.body["properties"]
    assert request["objectType"] == "IaasVMRestoreRequest"
    assert (request["recoveryPointId"], request["recoveryType"]) == ("rp-9", "AlternateLocation")
    assert (request["targetVirtualMachineId"], request["subnetId"]) == (RESTORED_VM, SUBNET)
    assert request["storageAccountId"] == STAGING  # always sent: the restore stages there
    patches = fake.requests("PATCH", "/tags/default")
    assert sorted(p.path.split("/providers/Microsoft.Resources")[0] for p in patches) == sorted([RESTORED_DISK, RESTORED_VM])
    assert all(p.body == {"operation": "Merge", "properties": {"tags": TAGS}} for p in patches)


def test_backup_points_come_from_a_protected_item_the_sdk_mistyped():
    fake = FakeArm()
    backup_routes(fake)
    fake.on("GET", SRC_VM, Answer(body=vm_body(SRC_VM, f"{RG}/prod/providers/Microsoft.Compute/disks/web-01-os")))
    fake.on(
        "GET",
        f"{ITEM_PATH}/recoveryPoints",
        Answer(
            body={
                "value": [
                    {
                        "id": f"{ITEM_PATH}/recoveryPoints/2",
                        "name": "2",
                        "properties": {
                            "objectType": "IaasVMRecoveryPoint",
                            "recoveryPointType": "CrashConsistent",
                            "recoveryPointTime": "2026-11-20T02:05:00Z",
                            "recoveryPointTierDetails": [{"type": "InstantRP", "status": "Valid"}],
                        },
                    },
                    {
                        "id": f"{ITEM_PATH}/recoveryPoints/1",
                        "name": "1",
                        "properties": {
                            "objectType": "IaasVMRecoveryPoint",
                            "recoveryPointType": "AppConsistent",
                            "recoveryPointTime": "2026-11-19T02:05:00Z",
                            "recoveryPointTierDetails": [
                                {"type": "InstantRP", "status": "Deleted"},
                                {"type": "HardenedRP", "status": "Valid"},
                            ],
                        },
                    },
                ]
            }
        ),
    )

    points = run(fake, lambda p: p.list_backup_points(SRC_VM), backup_vault="bv")
    assert [(p.id.rsplit("/", 1)[1], p.type, {t.value for t in p.tiers}) for p in points] == [
        ("1", PointType.APP_CONSISTENT, {"vault"}),
        ("2", PointType.CRASH_CONSISTENT, {"snapshot"}),
    ]
    assert {p.region for p in points} == {"eastus2"}


ASR_ITEM = f"{VAULT}/replicationFabrics/asr-eastus2/replicationProtectionContainers/c1/replicationProtectedItems/web-01-item"
TFO_VM = f"{RG}/recovery/providers/Microsoft.Compute/virtualMachines/web-01-test"
TFO_DISK = f"{RG}/recovery/providers/Microsoft.Compute/disks/web-01-test-os"


def asr_routes(fake: FakeArm) -> None:
    item = {
        "id": ASR_ITEM,
        "name": "web-01-item",
        "properties": {
            "friendlyName": "web-01",
            "policyId": f"{VAULT}/replicationPolicies/p24",
            "testFailoverState": "None",
            "providerSpecificDetails": {
                "instanceType": "A2A",
                "fabricObjectId": SRC_VM,
                "multiVmGroupName": "shop",
                "recoveryFabricLocation": "centralus",
                "tfoAzureVMName": "web-01-test",
                "recoveryAzureResourceGroupId": f"{RG}/recovery",
            },
        },
    }
    fake.on("GET", f"{VAULT}/replicationProtectedItems", Answer(body={"value": [item]}))
    fake.on(
        "GET",
        f"{ASR_ITEM}/recoveryPoints",
        Answer(
            body={
                "value": [
                    {
                        "id": f"{ASR_ITEM}/recoveryPoints/p2",
                        "name": "p2",
                        "properties": {
                            "recoveryPointTime": "2026-11-20T13:55:00Z",
                            "recoveryPointType": "CrashConsistent",
                            "providerSpecificDetails": {"instanceType": "A2A", "recoveryPointSyncType": "MultiVmSyncRecoveryPoint"},
                        },
                    },
                    {
                        "id": f"{ASR_ITEM}/recoveryPoints/p1",
                        "name": "p1",
                        "properties": {
                            "recoveryPointTime": "2026-11-20T12:00:00Z",
                            "recoveryPointType": "AppConsistent",
                            "providerSpecificDetails": {"instanceType": "A2A", "recoveryPointSyncType": "PerVmRecoveryPoint"},
                        },
                    },
                ]
            }
        ),
    )


# As ReplicationProtectedItems_TestFailover.json (2025-08-01) answers: 202, a poll URL under the vault's
# replicationOperationStatus (it names an operation, never the job), Retry-After.
OPERATION_URL = "{base}" + f"{VAULT}/replicationOperationStatus/a93f3cd5-9035-4b1e-a2c9-b16df6d5d34b?api-version=2025-08-01"
ACCEPTED = Answer(202, headers={"Azure-AsyncOperation": OPERATION_URL, "Retry-After": "0"})


def recent(minutes: float = 0.0) -> str:
    """A time near the provider's (wall) clock, as Site Recovery writes one."""
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def item_with(scenario: str, job: str, started: str) -> dict:
    """The replicated item as its GET answers while `scenario` runs (`currentScenario`, as in the examples)."""
    return {
        "id": ASR_ITEM,
        "name": "web-01-item",
        "properties": {
            "friendlyName": "web-01",
            "testFailoverState": "None",
            # Site Recovery writes the job's id with '/Subscriptions/' (ReplicationProtectedItems_TestFailover.json).
            "currentScenario": {
                "scenarioName": scenario,
                "jobId": f"/Subscriptions/{VAULT[len('/subscriptions/') :]}/replicationJobs/{job}",
                "startTime": started,
            },
            "providerSpecificDetails": {"instanceType": "A2A", "fabricObjectId": SRC_VM, "multiVmGroupName": "shop"},
        },
    }


def job_body(name: str, scenario: str, state: str, started: str, target: str = "web-01-item", **extra: object) -> dict:
    """A replication job as ReplicationJobs_Get.json shows one: targetObjectId is the item's name."""
    return {
        "id": f"{VAULT}/replicationJobs/{name}",
        "name": name,
        "properties": {
            "scenarioName": scenario,
            "state": state,
            "targetObjectId": target,
            "targetObjectName": "web-01" if target == "web-01-item" else target,
            "startTime": started,
            **extra,
        },
    }


def test_test_failover_sends_the_chosen_point_and_finds_its_job_in_the_items_current_scenario():
    fake = FakeArm()
    asr_routes(fake)
    fake.on("POST", f"{ASR_ITEM}/testFailover", ACCEPTED)
    fake.on("GET", ASR_ITEM, Answer(body=item_with("TestFailover", "tfo-1", recent())))
    details = {
        "instanceType": "TestFailoverJobDetails",
        "protectedItemDetails": [
            {"name": "web-01-item", "recoveryPointId": f"{ASR_ITEM}/recoveryPoints/p1", "recoveryPointTime": "2026-11-20T12:00:00Z"}
        ],
    }
    fake.on(
        "GET",
        f"{VAULT}/replicationJobs/tfo-1",
        Answer(body=job_body("tfo-1", "TestFailover", "Succeeded", recent(), endTime=recent(9), customDetails=details)),
    )
    fake.on("GET", TFO_VM, Answer(body=vm_body(TFO_VM, TFO_DISK)))
    for rid in (TFO_VM, TFO_DISK):
        fake.on("PATCH", f"{rid}/providers/Microsoft.Resources/tags/default", Answer(body={"properties": {"tags": TAGS}}))

    async def scenario(provider: AzureProvider):
        points = await provider.list_replication_points(SRC_VM)
        job = await provider.test_failover(SRC_VM, choice=ReplicationPointChoice.LATEST_APP_CONSISTENT, network_id=VNET, tags=TAGS)
        return points, job

    points, job = run(fake, scenario, site_recovery_vault="bv")
    assert [(p.id.rsplit("/", 1)[1], p.type, p.group) for p in points] == [
        ("p1", PointType.APP_CONSISTENT, None),
        ("p2", PointType.CRASH_CONSISTENT, "shop"),
    ]
    (post,) = fake.requests("POST", "/testFailover")
    sent = post.body["properties"]
    assert sent["networkId"] == VNET and sent["failoverDirection"] == "PrimaryToRecovery"
    assert sent["providerSpecificDetails"] == {"instanceType": "A2A", "recoveryPointId": f"{ASR_ITEM}/recoveryPoints/p1"}
    assert job.id == f"{VAULT}/replicationJobs/tfo-1"
    assert (job.kind, job.status, job.vm_id) == (JobKind.TEST_FAILOVER, JobStatus.SUCCEEDED, SRC_VM)
    assert job.recovery_point_time == datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert job.created == (TFO_VM, TFO_DISK)
    assert not fake.requests("GET", "/replicationOperationStatus/")  # the job is followed, not the operation
    assert not fake.requests("GET", f"{VAULT}/replicationJobs?")


def test_multi_vm_processed_sends_the_newest_point_the_group_shares():
    fake = FakeArm()
    asr_routes(fake)
    fake.on("POST", f"{ASR_ITEM}/testFailover", ACCEPTED)
    fake.on("GET", ASR_ITEM, Answer(body=item_with("TestFailover", "tfo-m", recent())))
    fake.on("GET", f"{VAULT}/replicationJobs/tfo-m", Answer(body=job_body("tfo-m", "TestFailover", "InProgress", recent())))
    run(
        fake,
        lambda p: p.test_failover(SRC_VM, choice=ReplicationPointChoice.LATEST_MULTI_VM_PROCESSED, network_id=VNET, tags=TAGS),
        site_recovery_vault="bv",
    )
    (post,) = fake.requests("POST", "/testFailover")
    # p2 is the MultiVmSyncRecoveryPoint (p1, newer or not, is a per-VM point).
    assert post.body["properties"]["providerSpecificDetails"]["recoveryPointId"] == f"{ASR_ITEM}/recoveryPoints/p2"


def test_latest_sends_no_point_and_finds_its_job_in_the_vaults_jobs_when_the_item_shows_none():
    fake = FakeArm()
    asr_routes(fake)
    fake.on("POST", f"{ASR_ITEM}/testFailover", ACCEPTED)
    # The job already ended and the item shows no scenario (ReplicationProtectedItems_TestFailoverCleanup.json's 'None').
    fake.on("GET", ASR_ITEM, Answer(body=item_with("None", "None", "1753-01-01T01:01:01Z")))
    listed = [
        job_body("other-item", "TestFailover", "InProgress", recent(), target="sql-01-item"),  # another item's
        job_body("old", "TestFailover", "Failed", recent(-90)),  # this item's, an hour and a half before
        job_body("tfo-2", "TestFailover", "InProgress", recent()),
        job_body("clean", "TestFailoverCleanup", "Succeeded", recent()),  # another scenario
    ]
    fake.on("GET", f"{VAULT}/replicationJobs", Answer(body={"value": listed}))
    fake.on("GET", f"{VAULT}/replicationJobs/tfo-2", Answer(body=job_body("tfo-2", "TestFailover", "InProgress", recent())))
    job = run(
        fake, lambda p: p.test_failover(SRC_VM, choice=ReplicationPointChoice.LATEST, network_id=VNET, tags=TAGS), site_recovery_vault="bv"
    )
    (post,) = fake.requests("POST", "/testFailover")
    assert "recoveryPointId" not in post.body["properties"]["providerSpecificDetails"]
    assert job.id.endswith("/replicationJobs/tfo-2")
    assert (job.status, job.created, job.ended_at) == (JobStatus.IN_PROGRESS, (), None)
    assert not fake.requests("GET", "/recoveryPoints")
    (listing,) = fake.requests("GET", f"{VAULT}/replicationJobs")[:1]
    assert listing.query["$filter"].startswith("startTime eq '")


def test_a_vault_that_refuses_the_job_filter_is_listed_whole():
    fake = FakeArm()
    asr_routes(fake)
    fake.on("POST", f"{ASR_ITEM}/testFailover", ACCEPTED)
    fake.on("GET", ASR_ITEM, Answer(body=item_with("None", "None", "1753-01-01T01:01:01Z")))
    refused = Answer(400, body={"error": {"code": "InvalidParameter", "message": "bad $filter"}})
    everything = Answer(body={"value": [job_body("tfo-3", "TestFailover", "InProgress", recent())]})
    fake.on("GET", f"{VAULT}/replicationJobs", refused, everything)
    fake.on("GET", f"{VAULT}/replicationJobs/tfo-3", Answer(body=job_body("tfo-3", "TestFailover", "InProgress", recent())))
    job = run(
        fake, lambda p: p.test_failover(SRC_VM, choice=ReplicationPointChoice.LATEST, network_id=VNET, tags=TAGS), site_recovery_vault="bv"
    )
    assert job.id.endswith("/replicationJobs/tfo-3")
    first, second = fake.requests("GET", f"{VAULT}/replicationJobs")[:2]
    assert "$filter" in first.query and "$filter" not in second.query


def test_an_accepted_failover_whose_job_never_shows_is_an_error_naming_the_vault():
    fake = FakeArm()
    asr_routes(fake)
    fake.on("POST", f"{ASR_ITEM}/testFailover", ACCEPTED)
    fake.on("GET", ASR_ITEM, Answer(body=item_with("None", "None", "1753-01-01T01:01:01Z")))
    fake.on("GET", f"{VAULT}/replicationJobs", Answer(body={"value": []}))
    with pytest.raises(ProviderError, match="accepted but Site Recovery shows no TestFailover job") as raised:
        run(
            fake,
            lambda p: p.test_failover(SRC_VM, choice=ReplicationPointChoice.LATEST, network_id=VNET, tags=TAGS),
            site_recovery_vault="bv",
        )
    assert "vault bv" in str(raised.value)
    assert len(fake.requests("GET", ASR_ITEM)) == JOB_LOOKUPS


def test_cleanup_finds_its_job_in_the_items_current_scenario():
    fake = FakeArm()
    asr_routes(fake)
    fake.on("POST", f"{ASR_ITEM}/testFailoverCleanup", ACCEPTED)
    fake.on("GET", ASR_ITEM, Answer(body=item_with("TestFailoverCleanup", "clean-1", recent())))
    fake.on("GET", f"{VAULT}/replicationJobs/clean-1", Answer(body=job_body("clean-1", "TestFailoverCleanup", "InProgress", recent())))
    job = run(fake, lambda p: p.test_failover_cleanup(SRC_VM), site_recovery_vault="bv")
    assert (job.id.rsplit("/", 1)[1], job.kind, job.vm_id) == ("clean-1", JobKind.TEST_FAILOVER_CLEANUP, SRC_VM)
    (post,) = fake.requests("POST", "/testFailoverCleanup")
    assert post.body == {"properties": {"comments": "drsim drill cleanup"}}


def test_a_429_is_waited_out_and_counted():
    fake = FakeArm()
    image = {
        "id": f"{RG}/drill/providers/Microsoft.Compute/images/golden",
        "name": "golden",
        "location": "centralus",
        "properties": {"sourceVirtualMachine": {"id": SRC_VM}, "storageProfile": {"dataDisks": [{"lun": 0}]}},
    }
    fake.on(
        "GET",
        f"/subscriptions/{SUB}/providers/Microsoft.Compute/images",
        Answer(429, {"error": {"code": "TooManyRequests", "message": "slow down"}}, {"Retry-After": "1"}),
        Answer(body={"value": [image]}),
    )

    async def scenario(provider: AzureProvider):
        return await provider.list_images(), provider.throttle.stats

    images, stats = run(fake, scenario)
    assert [(i.name, i.source_vm_id, i.disk_count) for i in images] == [("golden", SRC_VM, 2)]
    assert stats.throttled[RequestClass.READ] == 1
    assert stats.requests[RequestClass.READ] == 2


def test_arm_errors_become_drsim_errors_naming_the_operation():
    fake = FakeArm()
    fake.on("GET", SRC_VM, Answer(404, {"error": {"code": "ResourceNotFound", "message": "The Resource 'web-01' was not found."}}))
    with pytest.raises(NotFoundError, match=r"reading VM web-01 failed \(HTTP 404\): ResourceNotFound: The Resource 'web-01'"):
        run(fake, lambda p: p.get_vm(SRC_VM))


def test_deleting_a_missing_resource_succeeds():
    fake = FakeArm()
    fake.on("DELETE", RESTORED_DISK, Answer(204))
    assert run(fake, lambda p: p.delete(RESTORED_DISK)) is None


def test_list_tagged_filters_by_the_run_tag_and_prices_what_it_finds():
    fake = FakeArm()
    fake.on(
        "GET",
        f"/subscriptions/{SUB}/resources",
        Answer(
            body={
                "value": [
                    {"id": RESTORED_DISK, "name": "web-01-r-os", "type": "Microsoft.Compute/disks", "location": "eastus2", "tags": TAGS},
                    {"id": VNET, "name": "bubble", "type": "Microsoft.Network/virtualNetworks", "location": "eastus2", "tags": TAGS},
                ]
            }
        ),
    )
    fake.on(
        "GET",
        RESTORED_DISK,
        Answer(
            body={
                "id": RESTORED_DISK,
                "name": "web-01-r-os",
                "location": "eastus2",
                "sku": {"name": "Premium_LRS"},
                "properties": {"diskSizeGB": 64},
            }
        ),
    )
    found = run(fake, lambda p: p.list_tagged("run-7"))
    (listing,) = fake.requests("GET", "/resources")
    assert listing.query["$filter"] == f"tagName eq '{RUN_TAG}' and tagValue eq 'run-7'"
    assert [(r.kind, r.name) for r in found] == [(ResourceKind.DISK, "web-01-r-os"), (ResourceKind.NETWORK, "bubble")]
    assert found[0].cost_per_day > 0 and found[1].cost_per_day == 0


def test_without_a_named_vault_every_vault_is_searched():
    fake = FakeArm()
    fake.on(
        "GET",
        f"/subscriptions/{SUB}/resources",
        Answer(body={"value": [{"id": VAULT, "name": "bv", "type": "Microsoft.RecoveryServices/vaults", "location": "eastus2"}]}),
    )
    fake.on("GET", f"{VAULT}/backupProtectedItems", Answer(body={"value": []}))
    with pytest.raises(NotFoundError, match=r"web-01 is not protected by Azure Backup in any .* \(set azure\.backup_vault"):
        run(fake, lambda p: p.list_backup_points(SRC_VM))
    (listing,) = fake.requests("GET", "/resources")
    assert listing.query["$filter"] == "resourceType eq 'Microsoft.RecoveryServices/vaults'"


def test_a_resumed_run_reads_a_job_it_did_not_start():
    fake = FakeArm()
    backup_routes(fake)
    fake.on(
        "GET",
        f"{VAULT}/backupJobs/job-5",
        Answer(
            body={
                "id": f"{VAULT}/backupJobs/job-5",
                "name": "job-5",
                "properties": {
                    "jobType": "AzureIaaSVMJob",
                    "entityFriendlyName": "web-01",
                    "operation": "Restore",
                    "status": "Failed",
                    "startTime": "2026-11-20T14:30:00Z",
                    "endTime": "2026-11-20T14:31:00Z",
                    "errorDetails": [{"errorCode": "UserErrorRestoreFailed", "errorString": "no capacity"}],
                },
            }
        ),
    )
    job = run(fake, lambda p: p.get_job(f"{VAULT}/backupJobs/job-5"), backup_vault="bv")
    assert (job.kind, job.status, job.vm_id) == (JobKind.RESTORE, JobStatus.FAILED, SRC_VM)
    assert job.error == "UserErrorRestoreFailed: no capacity"
    assert job.created == ()


def test_the_staging_account_is_checked_against_the_vault_when_the_item_names_no_region():
    fake = FakeArm()
    backup_routes(fake)  # the items carry no location: the vault's is read
    fake.on("GET", VAULT, Answer(body={"id": VAULT, "name": "bv", "location": "eastus2", "type": "Microsoft.RecoveryServices/vaults"}))
    fake.on(
        "GET",
        STAGING,
        Answer(body={"id": STAGING, "name": "stdrill", "location": "centralus", "sku": {"name": "Standard_GZRS"}, "kind": "StorageV2"}),
    )

    async def scenario(provider: AzureProvider):
        return await provider.check_staging_account(["web-01"])

    zrs, region = run(fake, scenario, backup_vault="bv", staging_storage_account=STAGING)
    assert "Standard_GZRS" in zrs and "zone-redundant" in zrs
    assert "centralus" in region and "eastus2" in region
