"""Contract tests: each Azure Backup operation drsim uses, as the emulator answers it, against the spec
example it follows (azure-rest-api-specs, specification/recoveryservicesbackup/resource-manager/
Microsoft.RecoveryServices/stable/2025-08-01/examples/...; the relevant shape of each is copied into
data/spec/<name>.json with its source path in the "//" member) and the property bag Microsoft Learn
shows for a restore job (MicrosoftDocs/azure-docs articles/backup/tutorial-restore-disk.md).

What is checked: status codes, the polling headers, and that every member the emulator sends is one
the example (or, named in the data file, the spec's definition) has, with the same JSON type."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from arm_session import DATA, DRILLS, PROD, ArmSession, emulated, tiny_options
from test_emulator_compute import make_network
from test_emulator_recovery import WEB_ITEM, vaults

from drsim.cloud.emulator.backup import STORAGE_TYPE
from drsim.cloud.emulator.state import StorageAccount

SPEC = DATA / "spec"
STAGING = "drsimstaging"


def example(name: str) -> dict[str, Any]:
    data = json.loads((SPEC / f"{name}.json").read_text())
    assert data["//"].startswith("Azure/azure-rest-api-specs specification/recoveryservicesbackup/"), data["//"]
    return data


def same_shape(actual: Any, spec: Any, where: str = "$", *, extra: frozenset[str] = frozenset()) -> None:
    """Every member of `actual` is in `spec` (or `extra`), with the JSON type the spec gives it; objects recurse."""
    if isinstance(spec, dict):
        assert isinstance(actual, dict), f"{where}: {type(actual).__name__}, the spec has an object"
        for key, value in actual.items():
            assert key in spec or key in extra, f"{where}.{key} is not in the spec example"
            if key == "propertyBag":  # a map of strings (its keys are checked against Microsoft Learn's bag)
                assert all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()), f"{where}.{key}"
                continue
            if key in spec and value is not None and spec[key] is not None:
                same_shape(value, spec[key], f"{where}.{key}", extra=extra)
    elif isinstance(spec, list):
        assert isinstance(actual, list), f"{where}: {type(actual).__name__}, the spec has an array"
        for i, value in enumerate(actual):
            if spec:
                same_shape(value, spec[0], f"{where}[{i}]")
    else:
        kinds = (bool,) if isinstance(spec, bool) else (int, float) if isinstance(spec, int | float) else (type(spec),)
        assert isinstance(actual, kinds) and not (isinstance(actual, bool) and not isinstance(spec, bool)), (
            f"{where}: {actual!r} is not of the spec's type {type(spec).__name__}"
        )


def staging_id(arm: ArmSession, name: str = STAGING) -> str:
    return arm.rid(DRILLS, STORAGE_TYPE, name)


async def web_point(arm: ArmSession) -> tuple[dict[str, Any], str]:
    vault = (await vaults(arm))["rsv-eastus2-grs"]
    points = await arm.call("GET", f"{vault['id']}/{WEB_ITEM}/recoveryPoints")
    return vault, points.body["value"][0]["id"]


async def restore(arm: ArmSession, point_id: str, **properties: Any) -> Any:
    body = {
        "objectType": "IaasVMRestoreRequest",
        "recoveryType": "RestoreDisks",
        "sourceResourceId": arm.rid(PROD, "Microsoft.Compute/virtualMachines", "web-01"),
        "targetResourceGroupId": arm.group(DRILLS),
        "region": "eastus2",
        "storageAccountId": staging_id(arm),
        **properties,
    }
    return await arm.call("POST", f"{point_id}/restore", {"properties": {k: v for k, v in body.items() if v is not None}})


def test_protected_items_and_recovery_points_have_the_examples_shape() -> None:
    async def check(arm: ArmSession) -> None:
        vault = (await vaults(arm))["rsv-eastus2-grs"]
        items = await arm.call("GET", f"{vault['id']}/backupProtectedItems")
        assert items.status == 200
        spec_item = example("BackupProtectedItems_List")["item"]
        # vaultId, policyName, sourceLocation and location: AzureIaaSVMProtectedItem members the example leaves out.
        for item in items.body["value"]:
            same_shape(item, spec_item, extra=frozenset({"location", "vaultId", "policyName", "sourceLocation"}))
            same_shape(item["properties"], spec_item["properties"], extra=frozenset({"vaultId", "policyName", "sourceLocation"}))
            assert not item["properties"]["containerName"].lower().startswith("iaasvmcontainer;")
        points = await arm.call("GET", f"{vault['id']}/{WEB_ITEM}/recoveryPoints")
        spec_point = example("RecoveryPoints")["item"]
        for point in points.body["value"]:
            same_shape(point, spec_point)
        one = await arm.call("GET", points.body["value"][0]["id"])
        assert one.status == 200 and one.body == points.body["value"][0]

    emulated(check)


def test_restore_trigger_status_result_and_job_follow_the_examples() -> None:
    async def check(arm: ArmSession) -> None:
        vault, point_id = await web_point(arm)
        spec = example("TriggerRestore")
        answer = await restore(arm, point_id)
        assert answer.status == spec["status"] == 202
        assert "/operationResults/" in answer.headers["Location"] and "/operationsStatus/" in answer.headers["Azure-AsyncOperation"]
        assert "Retry-After" in answer.headers or "retry-after-ms" in answer.headers  # under a second at this speed
        for header in ("Location", "Azure-AsyncOperation"):
            assert answer.headers[header].startswith(arm.handle.url) and "api-version=" in answer.headers[header]

        results = example("ProtectedItemOperationResults")
        running = await arm.call("GET", answer.headers["Location"])
        if running.status == 202:
            assert running.status == results["running"]["status"] and "Location" in running.headers
        assert (await arm.wait(answer))[-1] == "Succeeded"
        assert (await arm.result(answer)).status in results["done"]

        status = await arm.call("GET", answer.headers["Azure-AsyncOperation"])
        spec_status = example("ProtectedItemOperationStatus")["body"]
        same_shape(status.body, spec_status)
        assert set(status.body) == set(spec_status)
        assert status.body["id"] == status.body["name"] == answer.headers["Azure-AsyncOperation"].split("/")[-1].split("?")[0]
        job_name = status.body["properties"]["jobId"]

        job_path = f"{vault['id']}/backupJobs/{job_name}"
        details = example("GetJobDetails")
        allowed = frozenset(details["definitionKeys"]["keys"])
        job = await arm.call("GET", job_path)
        while job.body["properties"]["status"] == "InProgress":
            same_shape(job.body, details["body"], extra=allowed)
            same_shape(job.body["properties"], details["body"]["properties"], extra=allowed)
            job = await arm.call("GET", job_path)
        assert job.body["properties"]["status"] == "Completed"
        same_shape(job.body["properties"], details["body"]["properties"], extra=allowed)
        bag = job.body["properties"]["extendedInfo"]["propertyBag"]
        # The restore-disks bag: exactly the keys Microsoft Learn shows, nothing drsim-only.
        assert set(bag) == set(details["restoreDisksPropertyBag"])
        assert bag["Job Type"] == "Recover disks" and bag["Target Storage Account Name"] == STAGING
        assert bag["Target resource group"] == DRILLS
        datetime.strptime(bag["Recovery point time "], "%m/%d/%Y %I:%M:%S %p")
        assert bag["Config Blob Uri"].endswith(f"/{bag['Config Blob Container Name']}/{bag['Config Blob Name']}")

        listed = await arm.call("GET", f"{vault['id']}/backupJobs")
        spec_listed = example("ListJobs")["item"]
        for item in listed.body["value"]:
            same_shape(item, spec_listed, extra=allowed - {"extendedInfo"})
            same_shape(item["properties"], spec_listed["properties"], extra=allowed - {"extendedInfo"})

    emulated(check)


def test_the_config_blob_of_a_disk_restore_names_the_restored_disks() -> None:
    async def check(arm: ArmSession) -> None:
        vault, point_id = await web_point(arm)
        answer = await restore(arm, point_id)
        await arm.wait(answer)
        job_name = (await arm.call("GET", answer.headers["Azure-AsyncOperation"])).body["properties"]["jobId"]
        job = await arm.call("GET", f"{vault['id']}/backupJobs/{job_name}")
        while job.body["properties"]["status"] == "InProgress":
            job = await arm.call("GET", f"{vault['id']}/backupJobs/{job_name}")
        bag = job.body["properties"]["extendedInfo"]["propertyBag"]
        auth = {"Authorization": "Bearer any", "x-ms-version": "2021-08-06"}
        blob = await arm.session.get(bag["Config Blob Uri"], headers=auth)
        raw = await blob.read()
        assert blob.status == 200 and raw.startswith(b"\xff\xfe")  # UTF-16 ('Unicode'), NUL-padded: backup-azure-vms-automation
        config = json.loads(raw.decode("utf-16").rstrip("\x00"))
        profile = config["properties.storageProfile"]
        names = [profile["osDisk"]["name"], *(d["name"] for d in profile["dataDisks"])]
        for name in names:
            disk = await arm.call("GET", arm.rid(DRILLS, "Microsoft.Compute/disks", name))
            assert disk.status == 200, name
        template = await arm.session.get(bag["Template Blob Uri"], headers=auth)
        assert template.status == 200
        assert (await template.json(content_type=None))["resources"][0]["type"] == "Microsoft.Compute/virtualMachines"

    emulated(check)


def test_a_restore_without_a_valid_staging_account_is_refused_at_once() -> None:
    async def check(arm: ArmSession) -> None:
        _, point_id = await web_point(arm)
        backup = arm.handle.emulator.backup
        for name, where, sku in (("stzrs", "eastus2", "Standard_ZRS"), ("stfar", "westus", "Standard_LRS")):
            account = StorageAccount(staging_id(arm, name), name, "drsim-drills", where, sku)
            backup.storage_accounts[account.id.lower()] = account
        for account, says in (
            (None, "storageAccountId is required"),
            (staging_id(arm, "nosuch"), "was not found"),
            (staging_id(arm, "stzrs"), "zone-redundant"),
            (staging_id(arm, "stfar"), "vault's region"),
        ):
            answer = await restore(arm, point_id, storageAccountId=account)
            assert answer.status == 400, answer.body
            assert answer.body["error"]["code"] == "InvalidParameter" and answer.body["error"]["target"] == "properties.storageAccountId"
            assert says in answer.body["error"]["message"]
        got = await arm.call("GET", staging_id(arm))
        assert got.status == 200 and got.body["sku"]["name"] == "Standard_LRS" and got.body["location"] == "eastus2"
        assert (await arm.call("GET", staging_id(arm, "nosuch"))).status == 404

    emulated(check)


def test_a_restore_as_vm_names_its_staging_account_and_no_drsim_only_keys() -> None:
    async def check(arm: ArmSession) -> None:
        vault, point_id = await web_point(arm)
        vnet = await make_network(arm, "contract-net")
        answer = await restore(
            arm,
            point_id,
            recoveryType="AlternateLocation",
            targetVirtualMachineId=arm.rid(DRILLS, "Microsoft.Compute/virtualMachines", "web-01-alr"),
            virtualNetworkId=vnet,
            subnetId=f"{vnet}/subnets/drill",
        )
        assert answer.status == 202
        await arm.wait(answer)
        job_name = (await arm.call("GET", answer.headers["Azure-AsyncOperation"])).body["properties"]["jobId"]
        job = await arm.call("GET", f"{vault['id']}/backupJobs/{job_name}")
        while job.body["properties"]["status"] == "InProgress":
            job = await arm.call("GET", f"{vault['id']}/backupJobs/{job_name}")
        bag = job.body["properties"]["extendedInfo"]["propertyBag"]
        assert set(bag) <= set(example("GetJobDetails")["restoreDisksPropertyBag"])
        assert bag["Target Storage Account Name"] == STAGING
        assert (await arm.call("GET", arm.rid(DRILLS, "Microsoft.Compute/virtualMachines", "web-01-alr"))).status == 200

    emulated(check)


async def restore_job(arm: ArmSession) -> str:
    """A disk restore started and its job created (the restore operation ended): the job's path."""
    vault, point_id = await web_point(arm)
    answer = await restore(arm, point_id)
    assert (await arm.wait(answer))[-1] == "Succeeded"
    status = await arm.call("GET", answer.headers["Azure-AsyncOperation"])
    return f"{vault['id']}/backupJobs/{status.body['properties']['jobId']}"


def test_cancelling_a_restore_job_follows_the_examples_and_restores_nothing() -> None:
    """JobCancellations_Trigger (Common/TriggerCancelJob.json), its result (Common/CancelJobOperationResult.json),
    and the job through Cancelling to Cancelled (GetJobDetails.json's shape, JobStatus of the spec)."""

    async def check(arm: ArmSession) -> None:
        job_path = await restore_job(arm)
        assert (await arm.call("GET", job_path)).body["properties"]["status"] == "InProgress"
        spec = example("TriggerCancelJob")
        answer = await arm.call("POST", f"{job_path}/cancel")
        assert answer.status == spec["status"] == 202
        assert answer.body in (None, "", b"")
        assert "Azure-AsyncOperation" not in answer.headers  # the example sends Location and Retry-After only
        location = answer.headers["Location"]
        assert location.startswith(arm.handle.url) and "api-version=" in location
        assert f"{job_path}/operationResults/".lower() in location.lower()
        assert "Retry-After" in answer.headers or "retry-after-ms" in answer.headers

        results = example("CancelJobOperationResult")
        done = await arm.result(answer)
        assert done.status in results["done"], done.body

        details = example("GetJobDetails")
        allowed = frozenset(details["definitionKeys"]["keys"])
        seen = []
        job = await arm.call("GET", job_path)
        while job.body["properties"]["status"] != "Cancelled":
            seen.append(job.body["properties"]["status"])
            same_shape(job.body["properties"], details["body"]["properties"], extra=allowed)
            job = await arm.call("GET", job_path)
        assert seen and set(seen) == {"Cancelling"}, seen
        props = job.body["properties"]
        same_shape(props, details["body"]["properties"], extra=allowed)
        assert "endTime" in props and props["errorDetails"] == []
        # A cancelled restore wrote no config blob and created no disk.
        assert not {"Config Blob Name", "Config Blob Uri", "Template Blob Uri"} & set(props["extendedInfo"]["propertyBag"])
        disks = await arm.call("GET", f"{arm.group(DRILLS)}/providers/Microsoft.Compute/disks", params={"api-version": "2024-03-02"})
        assert disks.status == 200 and disks.body["value"] == [], disks.body
        listed = await arm.call("GET", f"{job_path.rsplit('/', 1)[0]}", params={"$filter": "status eq 'Cancelled'"})
        assert [j["name"] for j in listed.body["value"]] == [job_path.rsplit("/", 1)[-1]]

    # Slow enough (60x) that the job is seen Cancelling (the world's cancel takes 60 s, 1 s here) before it is Cancelled.
    emulated(check, tiny_options(speed=60.0))


def test_a_cancel_of_an_ended_job_fails_on_its_result_and_a_missing_job_is_404() -> None:
    async def check(arm: ArmSession) -> None:
        job_path = await restore_job(arm)
        job = await arm.call("GET", job_path)
        while job.body["properties"]["status"] == "InProgress":
            job = await arm.call("GET", job_path)
        assert job.body["properties"]["status"] == "Completed"
        answer = await arm.call("POST", f"{job_path}/cancel")
        assert answer.status == 202
        done = await arm.result(answer)
        assert done.status == 409 and done.body["error"]["code"], done.body
        assert (await arm.call("GET", job_path)).body["properties"]["status"] == "Completed"
        missing = await arm.call("POST", f"{job_path.rsplit('/', 1)[0]}/00000000-0000-0000-0000-000000000000/cancel")
        assert missing.status == 404

    emulated(check)
