"""Contract tests of cross-region restore (Azure Backup's passive stamp, api-version 2021-11-15), as the
emulator answers it, against the spec examples in azure-rest-api-specs, specification/
recoveryservicesbackup/resource-manager/Microsoft.RecoveryServices/RecoveryServicesBackup/stable/
2021-11-15/examples/AzureIaasVm/ (BackupAadProperties_Get.json, GetAccessToken_Get.json,
RecoveryPoints_List.json, TriggerCrossRegionRestore_Post.json, GetCrrOperationStatus_Get.json,
GetCrrOperationResults_Get.json, GetCrrJob_Post.json) and .../Microsoft.RecoveryServices/stable/
2021-11-15/examples/AzureIaasVm/ListCrrJobs_Post.json; their shapes are copied into data/spec/ with
the source path in each file's "//" member. The refusal of a vault without cross-region restore is
Azure's answer quoted in Azure/azure-rest-api-specs#23842."""

from __future__ import annotations

from typing import Any

from arm_session import DATA, DRILLS, PROD, ArmSession, emulated, tiny_options
from test_backup_contract import example, same_shape
from test_emulator_compute import make_network
from test_emulator_recovery import WEB_ITEM, vaults

from drsim.cloud.emulator import EmulatorOptions
from drsim.cloud.emulator.backup import STORAGE_TYPE
from drsim.cloud.emulator.state import crr_staging_name

PASSIVE = {"api-version": "2021-11-15"}
SECONDARY = "centralus"  # eastus2's Azure pair


def crr_options() -> EmulatorOptions:
    base = tiny_options()
    return EmulatorOptions(estate=base.estate, plan=DATA / "plan-crr.yaml", seed=base.seed, speed=base.speed, incident_at=base.incident_at)


def location(arm: ArmSession, what: str) -> str:
    return f"{arm.sub}/providers/Microsoft.RecoveryServices/locations/{SECONDARY}/{what}"


async def crr_vault(arm: ArmSession) -> dict[str, Any]:
    found = [
        v for v in (await vaults(arm)).values() if v["properties"].get("redundancySettings", {}).get("crossRegionRestore") == "Enabled"
    ]
    assert len(found) == 1, found
    return found[0]


async def token_for(arm: ArmSession, point_id: str) -> dict[str, Any]:
    aad = await arm.call("GET", location(arm, "backupAadProperties"), params=PASSIVE)
    answer = await arm.call("POST", f"{point_id}/accessToken", aad.body, params=PASSIVE)
    assert answer.status == 200, answer.body
    return dict(answer.body["properties"])


async def trigger(arm: ArmSession, token: dict[str, Any], **restore: Any) -> Any:
    request = {
        "objectType": "IaasVMRestoreRequest",
        "recoveryType": "RestoreDisks",
        "recoveryPointId": token["recoveryPointId"],
        "sourceResourceId": arm.rid(PROD, "Microsoft.Compute/virtualMachines", "web-01"),
        "targetResourceGroupId": arm.group(DRILLS),
        "region": SECONDARY,
        "storageAccountId": arm.rid(DRILLS, STORAGE_TYPE, crr_staging_name(SECONDARY)),
        "originalStorageAccountOption": False,
        "createNewCloudService": False,
        **restore,
    }
    body = {"crossRegionRestoreAccessDetails": token, "restoreRequest": {k: v for k, v in request.items() if v is not None}}
    return await arm.call("POST", location(arm, "backupCrossRegionRestore"), body, params=PASSIVE)


def test_aad_properties_and_access_token_follow_the_examples() -> None:
    async def check(arm: ArmSession) -> None:
        aad = await arm.call("GET", location(arm, "backupAadProperties"), params=PASSIVE)
        assert aad.status == 200
        same_shape(aad.body, example("BackupAadProperties")["body"])
        assert set(aad.body["properties"]) == set(example("BackupAadProperties")["body"]["properties"])
        vault = await crr_vault(arm)
        points = await arm.call("GET", f"{vault['id']}/{WEB_ITEM}/recoveryPoints", params=PASSIVE)
        point_id = points.body["value"][0]["id"]
        answer = await arm.call("POST", f"{point_id}/accessToken", aad.body, params=PASSIVE)
        spec = example("GetAccessToken")
        assert answer.status == 200
        same_shape(answer.body, spec["body"])
        same_shape(answer.body["properties"], spec["body"]["properties"])
        props = answer.body["properties"]
        assert props["objectType"] == "WorkloadCrrAccessToken" and props["accessTokenString"]
        assert props["recoveryPointId"] == point_id.rsplit("/", 1)[-1] and props["datasourceName"] == "web-01"
        # Asked with another audience than the secondary region's, or through the active stamp: refused.
        wrong = {"properties": {**aad.body["properties"], "audience": "https://RecoveryServices/IaasCoord/aadmgmt/elsewhere"}}
        assert (await arm.call("POST", f"{point_id}/accessToken", wrong, params=PASSIVE)).status == 400
        active = await arm.call("POST", f"{point_id}/accessToken", aad.body)
        assert active.status == 400 and active.body["error"]["code"] == "NoRegisteredProviderFound"

    emulated(check, crr_options())


def test_crr_points_are_the_secondary_regions_vault_tier_points_behind_the_primary() -> None:
    async def check(arm: ArmSession) -> None:
        vault = await crr_vault(arm)
        primary = (await arm.call("GET", f"{vault['id']}/{WEB_ITEM}/recoveryPoints")).body["value"]
        secondary = await arm.call("GET", f"{vault['id']}/{WEB_ITEM}/recoveryPoints", params=PASSIVE)
        assert secondary.status == 200 and secondary.body["value"]
        spec = example("RecoveryPointsCrr")["item"]
        for point in secondary.body["value"]:
            same_shape(point, spec)
            # Never a snapshot-tier point in the secondary region (reliability-backup).
            assert [t["type"] for t in point["properties"]["recoveryPointTierDetails"]] == ["HardenedRP"]
        # The secondary region holds copies of the primary's vault-tier points, never a newer one
        # (replication to the paired region lags up to 12 h: azure-facts.md, reliability-backup).
        times = {p["properties"]["recoveryPointTime"] for p in primary}
        assert {p["properties"]["recoveryPointTime"] for p in secondary.body["value"]} <= times
        one = await arm.call("GET", secondary.body["value"][0]["id"], params=PASSIVE)
        assert one.status == 200 and one.body == secondary.body["value"][0]
        # The primary's own point ids are not points of the secondary region.
        assert (await arm.call("GET", primary[0]["id"], params=PASSIVE)).status == 404

    emulated(check, crr_options())


def test_cross_region_restore_trigger_status_result_and_job_follow_the_examples() -> None:
    async def check(arm: ArmSession) -> None:
        vault = await crr_vault(arm)
        points = await arm.call("GET", f"{vault['id']}/{WEB_ITEM}/recoveryPoints", params=PASSIVE)
        token = await token_for(arm, points.body["value"][0]["id"])
        answer = await trigger(arm, token)
        spec = example("CrossRegionRestore")
        assert answer.status == spec["status"], answer.body
        assert f"/locations/{SECONDARY}/backupCrrOperationResults/" in answer.headers["Location"]
        assert f"/locations/{SECONDARY}/backupCrrOperationsStatus/" in answer.headers["Azure-AsyncOperation"]
        assert "Retry-After" in answer.headers or "retry-after-ms" in answer.headers
        for header in ("Location", "Azure-AsyncOperation"):
            assert answer.headers[header].startswith(arm.handle.url) and "api-version=2021-11-15" in answer.headers[header]
        assert (await arm.wait(answer))[-1] == "Succeeded"
        assert (await arm.result(answer)).status in (200, 204)
        status = await arm.call("GET", answer.headers["Azure-AsyncOperation"])
        same_shape(status.body, spec["operationStatus"], extra=frozenset(spec["definitionKeys"]["keys"]))
        assert status.body["id"].endswith("/backupCrrOperationsStatus/" + status.body["name"])
        job_name = status.body["properties"]["jobId"]

        jobs = example("CrrJobs")
        request = {"resourceId": vault["id"], "jobName": job_name}
        job = await arm.call("POST", location(arm, "backupCrrJob"), request, params=PASSIVE)
        assert job.status == 200
        allowed = frozenset(example("GetJobDetails")["definitionKeys"]["keys"])
        while job.body["properties"]["status"] == "InProgress":
            same_shape(job.body, jobs["body"], extra=allowed)
            job = await arm.call("POST", location(arm, "backupCrrJob"), request, params=PASSIVE)
        props = job.body["properties"]
        assert props["status"] == "Completed" and props["operation"] == "CrossRegionRestore"
        assert (
            job.body["id"].lower() == f"{arm.sub}/providers/Microsoft.RecoveryServices/locations/{SECONDARY}/backupJobs/{job_name}".lower()
        )
        same_shape(props, jobs["body"]["properties"], extra=allowed)
        bag = props["extendedInfo"]["propertyBag"]
        assert bag["Target Storage Account Name"] == crr_staging_name(SECONDARY) and bag["Job Type"] == "Recover disks"
        listed = await arm.call("POST", location(arm, "backupCrrJobs"), {"resourceId": vault["id"]}, params=PASSIVE)
        assert listed.status == 200 and [j["name"] for j in listed.body["value"]] == [job_name]
        for item in listed.body["value"]:
            same_shape(item, jobs["listItem"], extra=allowed - {"extendedInfo"})
        # CRR jobs live in the secondary region: the vault's own job listing does not show them.
        own = await arm.call("GET", f"{vault['id']}/backupJobs")
        assert job_name not in [j["name"] for j in own.body["value"]]

    emulated(check, crr_options())


def test_cross_region_restore_refuses_what_azure_refuses() -> None:
    async def check(arm: ArmSession) -> None:
        vault = await crr_vault(arm)
        points = await arm.call("GET", f"{vault['id']}/{WEB_ITEM}/recoveryPoints", params=PASSIVE)
        token = await token_for(arm, points.body["value"][0]["id"])
        # A staging account in the primary region, a restore region that is not the secondary, a made-up token.
        primary_staging = arm.rid(DRILLS, STORAGE_TYPE, "drsimstaging")
        for answer, target in (
            (await trigger(arm, token, storageAccountId=primary_staging), "restoreRequest.storageAccountId"),
            (await trigger(arm, token, region="eastus2"), "restoreRequest.region"),
            (await trigger(arm, {**token, "accessTokenString": "forged"}), "crossRegionRestoreAccessDetails.accessTokenString"),
        ):
            assert answer.status == 400 and answer.body["error"]["target"] == target, answer.body
        vnet = await make_network(arm, "crr-primary-net")  # in eastus2: not where a CRR restore lands
        answer = await trigger(
            arm,
            token,
            recoveryType="AlternateLocation",
            targetVirtualMachineId=arm.rid(DRILLS, "Microsoft.Compute/virtualMachines", "web-01-crr"),
            virtualNetworkId=vnet,
            subnetId=f"{vnet}/subnets/drill",
        )
        assert answer.status >= 400 or (await arm.wait(answer))[-1] == "Failed"

    emulated(check, crr_options())


def test_a_vault_without_cross_region_restore_is_refused_as_azure_refuses() -> None:
    async def check(arm: ArmSession) -> None:
        vault = (await vaults(arm))["rsv-eastus2-grs"]  # GRS, cross-region restore not enabled (data/plan.yaml)
        config = await arm.call("GET", f"{vault['id']}/backupstorageconfig/vaultstorageconfig", params=PASSIVE)
        assert config.status == 200 and config.body["properties"]["crossRegionRestoreFlag"] is False
        for path in (f"{vault['id']}/{WEB_ITEM}/recoveryPoints", f"{vault['id']}/backupProtectedItems"):
            answer = await arm.call("GET", path, params=PASSIVE)
            assert answer.status == 400
            assert answer.body["error"] == {
                "code": "BMSUserErrorCrossRegionRestoreNotEnabledInThisVault",
                "message": "Cross Region Restore is not enabled in this vault. Please enable Cross Region Restore in this vault.",
            }
        # And the drill identity holds no CRR permission on the subscription unless a vault has CRR.
        jobs = await arm.call("POST", location(arm, "backupCrrJobs"), {"resourceId": vault["id"]}, params=PASSIVE)
        assert jobs.status == 403 and jobs.body["error"]["code"] == "AuthorizationFailed"

    emulated(check)
