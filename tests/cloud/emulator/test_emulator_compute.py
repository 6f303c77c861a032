"""Microsoft.Compute through raw ARM requests: the long-running create flows, run command, power and deletes."""

from __future__ import annotations

import json
import re
from datetime import datetime

from arm_session import DRILLS, INCIDENT, PROD, PRODUCTION_WRITABLE, Answer, ArmSession, emulated, tiny_options

from drsim.cloud.canary import check_script, parse_marker, parse_report
from drsim.model.types import OsType

COMPUTE = "Microsoft.Compute"


def snapshot_body(arm: ArmSession, disk: str, *, incremental: bool = True) -> dict[str, object]:
    source = arm.rid(PROD, f"{COMPUTE}/disks", disk)
    return {
        "location": "eastus2",
        "tags": {"drsim-run": "r1"},
        "properties": {"incremental": incremental, "creationData": {"createOption": "Copy", "sourceResourceId": source}},
    }


def assert_polling_headers(arm: ArmSession, answer: Answer, *, location: bool) -> None:
    """Azure-AsyncOperation (and Location) point at the emulator itself and carry the api-version."""
    for header in ("Azure-AsyncOperation", "Location") if location else ("Azure-AsyncOperation",):
        assert answer.headers[header].startswith(arm.handle.url + "/subscriptions/")
        assert re.search(r"\?api-version=\d{4}-\d{2}-\d{2}$", answer.headers[header])
    # 10 s of world time at 600x is 17 ms: too short for Retry-After's whole seconds.
    assert "Retry-After" not in answer.headers
    assert answer.headers["retry-after-ms"] == answer.headers["x-ms-retry-after-ms"] == "17"


async def make_network(arm: ArmSession, name: str, region: str = "eastus2") -> str:
    """An isolated network as a client makes one: a deny-all-outbound NSG, then the VNet using it."""
    nsg = arm.rid(DRILLS, "Microsoft.Network/networkSecurityGroups", f"{name}-nsg")
    rule = {
        "name": "deny-out",
        "properties": {
            "priority": 100,
            "direction": "Outbound",
            "access": "Deny",
            "protocol": "*",
            "sourceAddressPrefix": "*",
            "sourcePortRange": "*",
            "destinationAddressPrefix": "*",
            "destinationPortRange": "*",
        },
    }
    made = await arm.call("PUT", nsg, {"location": region, "tags": {"drsim-run": "r1"}, "properties": {"securityRules": [rule]}})
    assert made.status == 201, made.body
    vnet = arm.rid(DRILLS, "Microsoft.Network/virtualNetworks", name)
    answer = await arm.call(
        "PUT",
        vnet,
        {
            "location": region,
            "tags": {"drsim-run": "r1"},
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.250.0.0/16"]},
                "subnets": [
                    {
                        "name": "drill",
                        "properties": {
                            "addressPrefix": "10.250.0.0/16",
                            "defaultOutboundAccess": False,
                            "networkSecurityGroup": {"id": nsg},
                        },
                    }
                ],
            },
        },
    )
    assert answer.status == 201, answer.body
    assert answer.body["properties"]["provisioningState"] == "Updating"
    assert_polling_headers(arm, answer, location=False)
    assert (await arm.wait(answer))[-1] == "Succeeded"
    return vnet


async def make_nic(arm: ArmSession, name: str, vnet: str) -> str:
    nic = arm.rid(DRILLS, "Microsoft.Network/networkInterfaces", name)
    body = {
        "location": "eastus2",
        "tags": {"drsim-run": "r1"},
        "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {"subnet": {"id": f"{vnet}/subnets/drill"}}}]},
    }
    answer = await arm.call("PUT", nic, body)
    assert answer.status == 201, answer.body
    return nic


def test_snapshot_put_is_202_then_polls_to_succeeded_and_reads_back() -> None:
    async def check(arm: ArmSession) -> None:
        path = arm.rid(DRILLS, f"{COMPUTE}/snapshots", "web-01-os-snap")
        answer = await arm.call("PUT", path, snapshot_body(arm, "web-01-os"))
        assert answer.status == 202
        assert_polling_headers(arm, answer, location=True)
        during = await arm.call("GET", path)
        assert during.status == 200
        assert during.body["properties"]["provisioningState"] in ("Creating", "Succeeded")
        statuses = await arm.wait(answer)
        assert statuses[-1] == "Succeeded" and set(statuses[:-1]) <= {"InProgress"}
        location = await arm.result(answer)
        assert location.status == 204
        final = await arm.call("GET", path)
        props = final.body["properties"]
        assert props["provisioningState"] == "Succeeded"
        assert props["incremental"] is True
        assert props["creationData"]["sourceResourceId"] == arm.rid(PROD, f"{COMPUTE}/disks", "web-01-os")
        assert datetime.fromisoformat(props["timeCreated"]) >= INCIDENT
        assert final.body["tags"] == {"drsim-run": "r1"}
        again = await arm.call("PUT", path, snapshot_body(arm, "web-01-os"))
        assert again.status == 200  # a PUT of what exists is answered at once

    emulated(check)


def test_disk_from_snapshot_then_vm_attaching_it_then_run_command_reads_the_canary() -> None:
    async def check(arm: ArmSession) -> None:
        snap = arm.rid(DRILLS, f"{COMPUTE}/snapshots", "web-os-snap")
        assert (await arm.wait(await arm.call("PUT", snap, snapshot_body(arm, "web-01-os"))))[-1] == "Succeeded"
        disk = arm.rid(DRILLS, f"{COMPUTE}/disks", "web-os-copy")
        disk_answer = await arm.call(
            "PUT",
            disk,
            {
                "location": "eastus2",
                "tags": {"drsim-run": "r1"},
                "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": snap}},
            },
        )
        assert disk_answer.status == 202
        assert (await arm.wait(disk_answer))[-1] == "Succeeded"
        made = await arm.call("GET", disk)
        assert made.body["properties"]["diskState"] == "Unattached"
        assert made.body["properties"]["diskSizeGB"] == 64

        vnet = await make_network(arm, "bubble")
        nic = await make_nic(arm, "web-restored-nic", vnet)
        vm = arm.rid(DRILLS, f"{COMPUTE}/virtualMachines", "web-restored")
        vm_answer = await arm.call(
            "PUT",
            vm,
            {
                "location": "eastus2",
                "tags": {"drsim-run": "r1"},
                "properties": {
                    "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
                    "storageProfile": {"osDisk": {"createOption": "Attach", "osType": "Linux", "managedDisk": {"id": disk}}},
                    "networkProfile": {"networkInterfaces": [{"id": nic, "properties": {"primary": True, "deleteOption": "Delete"}}]},
                },
            },
        )
        assert vm_answer.status == 201
        assert vm_answer.body["properties"]["provisioningState"] == "Creating"
        assert_polling_headers(arm, vm_answer, location=False)
        assert (await arm.wait(vm_answer))[-1] == "Succeeded"
        got = await arm.call("GET", vm, params={"api-version": "2024-07-01", "$expand": "instanceView"})
        assert got.body["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"] == disk
        assert got.body["properties"]["networkProfile"]["networkInterfaces"][0]["id"] == nic
        codes = [s["code"] for s in got.body["properties"]["instanceView"]["statuses"]]
        assert "PowerState/running" in codes
        attached = await arm.call("GET", disk)
        assert attached.body["managedBy"] == vm

        # The guest boots after the VM is created: Run Command needs its agent (409 until then).
        production = (await arm.call("GET", arm.rid(PROD, f"{COMPUTE}/virtualMachines", "web-01"))).body["properties"]["vmId"]
        script = check_script(OsType.LINUX, production, None)

        async def run() -> Answer:
            return await arm.call("POST", f"{vm}/runCommand", {"commandId": "RunShellScript", "script": script})

        command = await run()
        while command.status == 409:
            assert command.body["error"]["code"] == "VMAgentStatusCommunicationError"
            command = await run()
        assert command.status == 202
        assert_polling_headers(arm, command, location=True)
        assert (await arm.wait(command))[-1] == "Succeeded"
        result = await arm.result(command)
        assert result.status == 200
        message = result.body["value"][0]["message"]
        assert message.startswith("Enable succeeded:")
        reading = parse_report(vm, message, production)
        assert reading.reachable and reading.last_marker_at is not None and reading.last_sequence is not None
        taken = datetime.fromisoformat((await arm.call("GET", snap)).body["properties"]["timeCreated"])
        assert reading.last_marker_at <= taken  # the copy holds what the disk held when the snapshot was taken
        # The copy runs the writer it was copied with, under its own vmId: its markers are newer, and never count.
        own = got.body["properties"]["vmId"]
        volume = json.loads(message.split("DRSIM-CANARY ", 1)[1].split("\n", 1)[0])["volumes"][0]
        newest = parse_marker(volume["newest"])
        assert newest is not None and newest.vm_uuid == own != production and newest.at > reading.last_marker_at

        wrong_os = await arm.call("POST", f"{vm}/runCommand", {"commandId": "RunPowerShellScript", "script": []})
        assert wrong_os.status == 400 and wrong_os.body["error"]["target"] == "commandId"

        deallocate = await arm.call("POST", f"{vm}/deallocate")
        assert deallocate.status == 202
        assert (await arm.wait(deallocate))[-1] == "Succeeded"
        view = await arm.call("GET", f"{vm}/instanceView")
        assert "PowerState/deallocated" in [s["code"] for s in view.body["statuses"]]
        stopped = await run()
        assert stopped.status == 409 and stopped.body["error"]["code"] == "OperationNotAllowed"

        delete = await arm.call("DELETE", vm)
        assert delete.status == 202
        assert_polling_headers(arm, delete, location=True)
        assert (await arm.wait(delete))[-1] == "Succeeded"
        assert (await arm.call("GET", vm)).status == 404
        assert (await arm.call("GET", nic)).status == 404  # deleteOption Delete: the NIC went with the VM
        assert (await arm.call("DELETE", vm)).status == 204  # deleting what is gone succeeds
        detached = await arm.call("GET", disk)
        assert "managedBy" not in detached.body

    emulated(check)


def test_failed_operations_report_the_error_in_the_status_body() -> None:
    async def check(arm: ArmSession) -> None:
        disk = arm.rid(PROD, f"{COMPUTE}/disks", "web-01-os")
        answer = await arm.call("DELETE", disk)  # production: the world refuses, after the request is accepted
        assert answer.status == 202
        polled = await arm.call("GET", answer.headers["Azure-AsyncOperation"])
        while polled.body["status"] == "InProgress":
            polled = await arm.call("GET", answer.headers["Azure-AsyncOperation"])
        assert polled.body["status"] == "Failed"
        assert polled.body["error"]["code"] == "Conflict"
        assert "production" in polled.body["error"]["message"]
        location = await arm.result(answer)
        assert location.status == 409 and location.body["error"]["code"] == "Conflict"

    emulated(check, tiny_options(arm=PRODUCTION_WRITABLE))  # past RBAC: the world itself refuses


def test_a_missing_source_is_a_synchronous_404() -> None:
    async def check(arm: ArmSession) -> None:
        answer = await arm.call("PUT", arm.rid(DRILLS, f"{COMPUTE}/snapshots", "s"), snapshot_body(arm, "no-such-disk"))
        assert answer.status == 404
        assert answer.body["error"]["code"] == "ResourceNotFound"

    emulated(check)


def test_windows_vms_answer_run_command_on_stdout_and_stderr_statuses() -> None:
    async def check(arm: ArmSession) -> None:
        vm = arm.rid(PROD, f"{COMPUTE}/virtualMachines", "db-01")
        answer = await arm.call("POST", f"{vm}/runCommand", {"commandId": "RunPowerShellScript", "script": ["Get-Content canary"]})
        assert answer.status == 202
        assert (await arm.wait(answer))[-1] == "Succeeded"
        result = await arm.result(answer)
        codes = [s["code"] for s in result.body["value"]]
        assert codes == ["ComponentStatus/StdOut/succeeded", "ComponentStatus/StdErr/succeeded"]
        production = (await arm.call("GET", vm)).body["properties"]["vmId"]
        reading = parse_report(vm, result.body["value"][0]["message"], production)
        assert [v.name for v in reading.volumes] == ["C:\\ProgramData\\drsim-canary", "F:\\"]  # the OS volume, sqldata
        assert reading.consistent  # the live VM: both striped disks hold the same instant

    emulated(check)


def test_lists_by_group_and_subscription() -> None:
    async def check(arm: ArmSession) -> None:
        by_sub = await arm.call("GET", f"{arm.sub}/providers/{COMPUTE}/virtualMachines")
        assert sorted(v["name"] for v in by_sub.body["value"]) == ["db-01", "web-01"]
        by_group = await arm.call("GET", f"{arm.group(DRILLS)}/providers/{COMPUTE}/virtualMachines")
        assert by_group.body["value"] == []
        disks = await arm.call("GET", f"{arm.group(PROD)}/providers/{COMPUTE}/disks")
        assert sorted(d["name"] for d in disks.body["value"]) == ["db-01-data1", "db-01-data2", "db-01-os", "web-01-os"]
        db = next(v for v in by_sub.body["value"] if v["name"] == "db-01")
        luns = [d["lun"] for d in db["properties"]["storageProfile"]["dataDisks"]]
        assert luns == [0, 1]
        assert db["properties"]["storageProfile"]["osDisk"]["osType"] == "Windows"

    emulated(check)


def test_generalize_then_image_then_a_vm_from_the_image() -> None:
    async def check(arm: ArmSession) -> None:
        source = arm.rid(PROD, f"{COMPUTE}/virtualMachines", "web-01")
        running = await arm.call("POST", f"{source}/generalize")  # synchronous: the world's refusal is the answer
        assert running.status == 409 and "deallocate it" in running.body["error"]["message"]
        deallocate = await arm.call("POST", f"{source}/deallocate")
        assert (await arm.wait(deallocate))[-1] == "Succeeded"
        assert (await arm.call("POST", f"{source}/generalize")).status == 200
        view = await arm.call("GET", f"{source}/instanceView")
        assert "OSState/generalized" in [s["code"] for s in view.body["statuses"]]

        image = arm.rid(DRILLS, f"{COMPUTE}/images", "web-image")
        made = await arm.call("PUT", image, {"location": "eastus2", "properties": {"sourceVirtualMachine": {"id": source}}})
        assert made.status == 201
        assert made.body["properties"]["provisioningState"] == "Creating"
        assert (await arm.wait(made))[-1] == "Succeeded"
        got = await arm.call("GET", image)
        assert got.body["properties"]["storageProfile"]["osDisk"] == {"osState": "Generalized", "osType": "Linux"}

        vnet = await make_network(arm, "image-net")
        nic = await make_nic(arm, "web-new-nic", vnet)
        vm = arm.rid(DRILLS, f"{COMPUTE}/virtualMachines", "web-new")
        body = {
            "location": "eastus2",
            "properties": {
                "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
                "storageProfile": {"imageReference": {"id": image}, "osDisk": {"createOption": "FromImage", "deleteOption": "Delete"}},
                "osProfile": {"computerName": "web-new", "adminUsername": "drill"},
                "networkProfile": {"networkInterfaces": [{"id": nic}]},
            },
        }
        no_profile = await arm.call("PUT", vm, {**body, "properties": {k: v for k, v in body["properties"].items() if k != "osProfile"}})
        assert no_profile.status == 400 and no_profile.body["error"]["target"] == "properties.osProfile.computerName"
        answer = await arm.call("PUT", vm, body)
        assert answer.status == 201
        assert (await arm.wait(answer))[-1] == "Succeeded"
        new = await arm.call("GET", vm)
        storage = new.body["properties"]["storageProfile"]
        assert storage["imageReference"] == {"id": image}
        assert storage["osDisk"]["createOption"] == "FromImage"
        os_disk = storage["osDisk"]["managedDisk"]["id"]
        assert (await arm.call("GET", os_disk)).body["properties"]["creationData"] == {
            "createOption": "FromImage",
            "imageReference": {"id": image},
        }
        assert (await arm.wait(await arm.call("DELETE", vm)))[-1] == "Succeeded"
        assert (await arm.call("GET", os_disk)).status == 404  # deleteOption Delete: the OS disk went with the VM

    emulated(check)
