"""Trusted Launch through raw ARM requests, against the spec examples it follows (shapes copied into
data/spec/TrustedLaunch.json with their source paths): a Trusted Launch VM's securityProfile
(VirtualMachine_Create_WithUefiSettings.json), its OS disk's (Disk_Create_WithSecurityProfile.json),
carried by a snapshot of that disk and a disk copied from the snapshot; a VM attaching such a disk must
be Trusted Launch, and a Standard disk a Standard VM (400 BadRequest, the answer quoted in
Azure/azure-sdk-for-python#30479); a Copy disk may not ask for TrustedLaunch (Azure/azure-cli#22561)."""

from __future__ import annotations

import json
from typing import Any

from arm_session import DATA, DRILLS, PROD, ArmSession, emulated, tiny_options
from test_backup_contract import same_shape
from test_emulator_compute import COMPUTE, make_network, make_nic, snapshot_body

from drsim.cloud.emulator import EmulatorOptions

SPEC = json.loads((DATA / "spec" / "TrustedLaunch.json").read_text())


def tl_options() -> EmulatorOptions:
    base = tiny_options()
    return EmulatorOptions(estate=DATA / "estate-tl.yaml", plan=base.plan, seed=base.seed, speed=base.speed, incident_at=base.incident_at)


async def copy_of(arm: ArmSession, disk: str, name: str, **properties: Any) -> Any:
    snap = arm.rid(DRILLS, f"{COMPUTE}/snapshots", f"{name}-snap")
    assert (await arm.wait(await arm.call("PUT", snap, snapshot_body(arm, disk))))[-1] == "Succeeded"
    target = arm.rid(DRILLS, f"{COMPUTE}/disks", name)
    body = {"location": "eastus2", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": snap}, **properties}}
    answer = await arm.call("PUT", target, body)
    if answer.status == 202:
        assert (await arm.wait(answer))[-1] == "Succeeded"
    return snap, target, answer


async def attach(arm: ArmSession, name: str, disk: str, nic: str, security: dict[str, Any] | None) -> Any:
    properties: dict[str, Any] = {
        "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
        "storageProfile": {"osDisk": {"createOption": "Attach", "osType": "Linux", "managedDisk": {"id": disk}}},
        "networkProfile": {"networkInterfaces": [{"id": nic, "properties": {"primary": True}}]},
    }
    if security is not None:
        properties["securityProfile"] = security
    return await arm.call("PUT", arm.rid(DRILLS, f"{COMPUTE}/virtualMachines", name), {"location": "eastus2", "properties": properties})


def test_a_trusted_launch_vm_its_os_disk_snapshots_and_copies_carry_its_security_profile() -> None:
    async def check(arm: ArmSession) -> None:
        vm = await arm.call("GET", arm.rid(PROD, f"{COMPUTE}/virtualMachines", "web-01"))
        security = vm.body["properties"]["securityProfile"]
        same_shape(security, SPEC["vmSecurityProfile"])
        assert security == {"securityType": "TrustedLaunch", "uefiSettings": {"secureBootEnabled": False, "vTpmEnabled": True}}
        standard = await arm.call("GET", arm.rid(PROD, f"{COMPUTE}/virtualMachines", "db-01"))
        assert "securityProfile" not in standard.body["properties"]
        os_disk = await arm.call("GET", arm.rid(PROD, f"{COMPUTE}/disks", "web-01-os"))
        assert os_disk.body["properties"]["securityProfile"] == SPEC["diskSecurityProfile"]
        data_disk = await arm.call("GET", arm.rid(PROD, f"{COMPUTE}/disks", "db-01-data1"))
        assert "securityProfile" not in data_disk.body["properties"]
        snap, copy, _ = await copy_of(arm, "web-01-os", "web-01-os-copy")
        for path in (snap, copy):
            assert (await arm.call("GET", path)).body["properties"]["securityProfile"] == SPEC["diskSecurityProfile"], path

    emulated(check, tl_options())


def test_a_vm_must_have_the_security_type_of_the_os_disk_it_attaches() -> None:
    async def check(arm: ArmSession) -> None:
        _, trusted_disk, _ = await copy_of(arm, "web-01-os", "web-os-copy")
        _, standard_disk, _ = await copy_of(arm, "db-01-os", "db-os-copy")
        vnet = await make_network(arm, "tl-net")
        for name, disk, security in (
            ("tl-without-profile", trusted_disk, None),
            ("tl-as-standard", trusted_disk, {"securityType": "Standard"}),
            ("standard-as-tl", standard_disk, SPEC["vmSecurityProfile"]),
        ):
            answer = await attach(arm, name, disk, await make_nic(arm, f"{name}-nic", vnet), security)
            assert answer.status == 400, (name, answer.body)
            assert answer.body["error"] == {"code": "BadRequest", "message": SPEC["errors"]["vmMismatch"]}, name
        asked = {"securityType": "TrustedLaunch", "uefiSettings": {"secureBootEnabled": False, "vTpmEnabled": True}}
        answer = await attach(arm, "tl-ok", trusted_disk, await make_nic(arm, "tl-ok-nic", vnet), asked)
        assert answer.status == 201, answer.body
        same_shape(answer.body["properties"]["securityProfile"], SPEC["vmSecurityProfile"])
        assert (await arm.wait(answer))[-1] == "Succeeded"
        made = await arm.call("GET", arm.rid(DRILLS, f"{COMPUTE}/virtualMachines", "tl-ok"))
        assert made.body["properties"]["securityProfile"] == asked
        standard = await attach(arm, "standard-ok", standard_disk, await make_nic(arm, "standard-ok-nic", vnet), None)
        assert standard.status == 201, standard.body

    emulated(check, tl_options())


def test_a_copy_disk_may_not_ask_for_trusted_launch() -> None:
    async def check(arm: ArmSession) -> None:
        _, _, answer = await copy_of(arm, "web-01-os", "asked-tl", securityProfile={"securityType": "TrustedLaunch"})
        assert answer.status == 400
        assert answer.body["error"] == {"code": "BadRequest", "message": SPEC["errors"]["copyDisk"]}

    emulated(check, tl_options())
