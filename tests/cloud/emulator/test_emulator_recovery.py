"""Recovery Services through raw ARM requests: vaults, protected items, recovery points, a restore job,
replicated items and a test failover with its cleanup."""

from __future__ import annotations

from datetime import datetime

from arm_session import DRILLS, INCIDENT, PROD, PRODUCTION_WRITABLE, ArmSession, emulated, tiny_options
from test_emulator_compute import make_network

RS = "Microsoft.RecoveryServices"
WEB_ITEM = (
    "backupFabrics/Azure/protectionContainers/IaasVMContainer;iaasvmcontainerv2;tiny-prod;web-01"
    "/protectedItems/VM;iaasvmcontainerv2;tiny-prod;web-01"
)
ITEM_FILTER = "backupManagementType eq 'AzureIaasVM' and itemType eq 'VM'"


async def vaults(arm: ArmSession) -> dict[str, dict[str, object]]:
    answer = await arm.call("GET", f"{arm.sub}/providers/{RS}/vaults")
    assert answer.status == 200
    return {v["name"]: v for v in answer.body["value"]}


def test_vaults_and_protected_items_with_filter() -> None:
    async def check(arm: ArmSession) -> None:
        found = await vaults(arm)
        assert sorted(found) == ["rsv-asr-centralus", "rsv-eastus2-grs"]
        backup = found["rsv-eastus2-grs"]
        assert backup["properties"]["redundancySettings"]["standardTierStorageRedundancy"] == "GeoRedundant"
        items = await arm.call("GET", f"{backup['id']}/backupProtectedItems", params={"$filter": ITEM_FILTER})
        names = sorted(i["properties"]["friendlyName"] for i in items.body["value"])
        assert names == ["db-01", "web-01"]
        web = next(i for i in items.body["value"] if i["properties"]["friendlyName"] == "web-01")
        assert web["name"] == "VM;iaasvmcontainerv2;tiny-prod;web-01"
        assert web["properties"]["protectedItemType"] == "Microsoft.Compute/virtualMachines"
        assert web["properties"]["virtualMachineId"] == arm.rid(PROD, "Microsoft.Compute/virtualMachines", "web-01")
        policy = await arm.call("GET", web["properties"]["policyId"])
        assert policy.body["properties"]["schedulePolicy"]["scheduleRunTimes"] == ["2020-01-01T02:00:00Z"]
        assert policy.body["properties"]["instantRpRetentionRangeInDays"] == 2
        none = await arm.call("GET", f"{backup['id']}/backupProtectedItems", params={"$filter": "itemType eq 'SQLDataBase'"})
        assert none.body["value"] == []
        bad = await arm.call("GET", f"{backup['id']}/backupProtectedItems", params={"$filter": "colour eq 'red'"})
        assert bad.status == 400 and bad.body["error"]["target"] == "$filter"

    emulated(check)


def test_restore_trigger_gives_an_operation_whose_status_names_the_job_that_then_completes() -> None:
    async def check(arm: ArmSession) -> None:
        vault = (await vaults(arm))["rsv-eastus2-grs"]
        item_id = f"{vault['id']}/{WEB_ITEM}"
        points = await arm.call("GET", f"{item_id}/recoveryPoints")
        assert points.status == 200 and points.body["value"]
        newest = points.body["value"][0]
        props = newest["properties"]
        assert props["objectType"] == "IaasVMRecoveryPoint"
        assert props["recoveryPointType"] in ("AppConsistent", "FileSystemConsistent", "CrashConsistent")
        assert {t["type"] for t in props["recoveryPointTierDetails"]} <= {"InstantRP", "HardenedRP"}
        assert datetime.fromisoformat(props["recoveryPointTime"]) < INCIDENT
        assert [p["properties"]["recoveryPointTime"] for p in points.body["value"]] == sorted(
            (p["properties"]["recoveryPointTime"] for p in points.body["value"]), reverse=True
        )

        vnet = await make_network(arm, "restore-net")
        request = {
            "properties": {
                "objectType": "IaasVMRestoreRequest",
                "recoveryType": "AlternateLocation",
                "sourceResourceId": arm.rid(PROD, "Microsoft.Compute/virtualMachines", "web-01"),
                "targetVirtualMachineId": arm.rid(DRILLS, "Microsoft.Compute/virtualMachines", "web-01-restored"),
                "targetResourceGroupId": arm.group(DRILLS),
                "virtualNetworkId": vnet,
                "subnetId": f"{vnet}/subnets/drill",
                "region": "eastus2",
                "storageAccountId": arm.rid(DRILLS, "Microsoft.Storage/storageAccounts", "drsimstaging"),
            }
        }
        answer = await arm.call("POST", f"{newest['id']}/restore", request)
        assert answer.status == 202
        assert "/operationsStatus/" in answer.headers["Azure-AsyncOperation"]
        assert "/operationResults/" in answer.headers["Location"]
        assert (await arm.wait(answer))[-1] == "Succeeded"
        assert (await arm.result(answer)).status == 204
        status = await arm.call("GET", answer.headers["Azure-AsyncOperation"])
        job_name = status.body["properties"]["jobId"]
        assert status.body["properties"]["objectType"] == "OperationStatusJobExtendedInfo"

        job_path = f"{vault['id']}/backupJobs/{job_name}"
        job = await arm.call("GET", job_path)
        assert job.body["properties"]["jobType"] == "AzureIaaSVMJob"
        assert job.body["properties"]["operation"] == "Restore"
        assert job.body["properties"]["entityFriendlyName"] == "web-01"
        while job.body["properties"]["status"] == "InProgress":
            job = await arm.call("GET", job_path)
        assert job.body["properties"]["status"] == "Completed"
        bag = job.body["properties"]["extendedInfo"]["propertyBag"]
        point_time = datetime.fromisoformat(props["recoveryPointTime"])
        assert datetime.strptime(bag["Recovery point time "], "%m/%d/%Y %I:%M:%S %p") == point_time.replace(tzinfo=None, microsecond=0)
        assert bag["Target Storage Account Name"] == "drsimstaging" and bag["Target resource group"] == DRILLS
        restored = arm.rid(DRILLS, "Microsoft.Compute/virtualMachines", "web-01-restored")
        vm = await arm.call("GET", restored)
        assert vm.status == 200
        listed = await arm.call("GET", f"{vault['id']}/backupJobs", params={"$filter": "operation eq 'Restore'"})
        assert [j["name"] for j in listed.body["value"]] == [job_name]

    emulated(check)


def test_overwriting_production_is_refused() -> None:
    async def check(arm: ArmSession) -> None:
        vault = (await vaults(arm))["rsv-eastus2-grs"]
        item_id = f"{vault['id']}/{WEB_ITEM}"
        newest = (await arm.call("GET", f"{item_id}/recoveryPoints")).body["value"][0]
        answer = await arm.call(
            "POST", f"{newest['id']}/restore", {"properties": {"objectType": "IaasVMRestoreRequest", "recoveryType": "OriginalLocation"}}
        )
        assert answer.status == 400 and answer.body["error"]["target"] == "properties.recoveryType"

    emulated(check, tiny_options(arm=PRODUCTION_WRITABLE))  # past RBAC: the world itself refuses


def test_test_failover_runs_as_a_job_then_cleanup_removes_the_test_vm() -> None:
    async def check(arm: ArmSession) -> None:
        vault = (await vaults(arm))["rsv-asr-centralus"]
        items = await arm.call("GET", f"{vault['id']}/replicationProtectedItems")
        web = next(i for i in items.body["value"] if i["properties"]["friendlyName"] == "web-01")
        details = web["properties"]["providerSpecificDetails"]
        assert details["instanceType"] == "A2A"
        assert details["fabricObjectId"] == arm.rid(PROD, "Microsoft.Compute/virtualMachines", "web-01")
        assert details["multiVmGroupName"] == "shop"
        assert web["properties"]["testFailoverState"] == "None"
        points = await arm.call("GET", f"{web['id']}/recoveryPoints")
        assert points.body["value"], "Site Recovery keeps points every 5 minutes"
        assert points.body["value"][0]["properties"]["providerSpecificDetails"]["recoveryPointSyncType"] == "MultiVmSyncRecoveryPoint"

        vnet = await make_network(arm, "asr-bubble", region="centralus")
        body = {
            "properties": {
                "failoverDirection": "PrimaryToRecovery",
                "networkType": "VmNetworkAsInput",
                "networkId": vnet,
                "providerSpecificDetails": {"instanceType": "A2A", "recoveryPointId": points.body["value"][0]["id"]},
            }
        }
        answer = await arm.call("POST", f"{web['id']}/testFailover", body)
        assert answer.status == 202
        # The poll URLs name an operation under the vault, never the job (ReplicationProtectedItems_TestFailover.json).
        assert f"{vault['id']}/replicationOperationStatus/" in answer.headers["Azure-AsyncOperation"]
        assert f"{vault['id']}/replicationOperationResults/" in answer.headers["Location"]
        assert "/replicationJobs/" not in answer.headers["Azure-AsyncOperation"] + answer.headers["Location"]
        # While it runs, the item names the job in its currentScenario.
        running = (await arm.call("GET", web["id"])).body["properties"]
        assert running["testFailoverState"] == "InProgress" and running["allowedOperations"] == []
        scenario = running["currentScenario"]
        assert scenario["scenarioName"] == "TestFailover" and "/replicationJobs/" in scenario["jobId"]
        assert (await arm.wait(answer))[-1] == "Succeeded"
        result = await arm.result(answer)
        assert result.status == 200
        assert result.body["properties"]["testFailoverState"] == "WaitingForCompletion"
        assert result.body["properties"]["allowedOperations"] == ["TestFailoverCleanup"]
        assert result.body["properties"]["currentScenario"] == scenario  # until its cleanup starts
        test_vm_name = result.body["properties"]["providerSpecificDetails"]["tfoAzureVMName"]
        group = result.body["properties"]["providerSpecificDetails"]["recoveryAzureResourceGroupId"]
        test_vm = f"{group}/providers/Microsoft.Compute/virtualMachines/{test_vm_name}"
        assert (await arm.call("GET", test_vm)).status == 200

        job = await arm.call("GET", scenario["jobId"])
        props = job.body["properties"]
        assert props["scenarioName"] == "TestFailover" and props["state"] == "Succeeded"
        assert props["targetObjectId"] == web["name"] and props["targetObjectName"] == "web-01"
        point = props["customDetails"]["protectedItemDetails"][0]
        assert point["recoveryPointTime"] == points.body["value"][0]["properties"]["recoveryPointTime"]

        again = await arm.call("POST", f"{web['id']}/testFailover", body)
        assert again.status == 409  # one test failover at a time: clean it up first

        cleanup = await arm.call("POST", f"{web['id']}/testFailoverCleanup", {"properties": {"comments": "drill done"}})
        assert cleanup.status == 202
        cleaning = (await arm.call("GET", web["id"])).body["properties"]
        assert cleaning["testFailoverState"] == "MarkedForDeletion"
        assert cleaning["currentScenario"]["scenarioName"] == "TestFailoverCleanup"
        assert (await arm.wait(cleanup))[-1] == "Succeeded"
        assert (await arm.call("GET", test_vm)).status == 404
        after = (await arm.call("GET", web["id"])).body["properties"]
        assert after["testFailoverState"] == "None"
        assert after["currentScenario"] == {
            "scenarioName": "None",
            "jobId": f"{vault['id']}/replicationJobs/None",
            "startTime": "1753-01-01T01:01:01Z",
        }
        # Both jobs are in the vault's listing, newest first; $filter narrows it by start time and state.
        jobs = (await arm.call("GET", f"{vault['id']}/replicationJobs")).body["value"]
        assert [j["properties"]["scenarioName"] for j in jobs] == ["TestFailoverCleanup", "TestFailover"]
        since = jobs[0]["properties"]["startTime"]
        recent = await arm.call(
            "GET", f"{vault['id']}/replicationJobs", params={"api-version": "2025-08-01", "$filter": f"startTime eq '{since}'"}
        )
        assert [j["name"] for j in recent.body["value"]] == [jobs[0]["name"]]
        done = await arm.call(
            "GET",
            f"{vault['id']}/replicationJobs",
            params={"api-version": "2025-08-01", "$filter": "jobStatus eq 'Succeeded' and endTime eq '2000-01-01T00:00:00Z'"},
        )
        assert done.body["value"] == []
        bad = await arm.call("GET", f"{vault['id']}/replicationJobs", params={"api-version": "2025-08-01", "$filter": "colour eq 'red'"})
        assert bad.status == 400 and bad.body["error"]["code"] == "InvalidParameter"
        late = await arm.call(
            "GET", f"{vault['id']}/replicationJobs", params={"api-version": "2025-08-01", "$filter": "startTime eq 'soon'"}
        )
        assert late.status == 400
        unknown = await arm.call("GET", f"{vault['id']}/replicationOperationStatus/00000000-0000-0000-0000-000000000000")
        assert unknown.status == 404

    emulated(check)
