"""Contract tests: each generic ARM operation the emulator serves, against the spec example it follows.

The shapes live in tests/cloud/emulator/data/spec/, each with the path of its example in
Azure/azure-rest-api-specs; `assert_shape` checks that the emulator answers every key of the example
with a value of the same JSON type (lists: each item against the example's first). The ARM behaviour
around them (paging with nextLink, api-versions, RBAC, InUseSubnetCannotBeDeleted) is checked against
the ARM answers the module docstrings of drsim/cloud/emulator/arm.py, authorization.py and network.py quote.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from arm_session import DATA, DRILLS, INCIDENT, PROD, ArmSession, emulated, tiny_options
from test_emulator_compute import COMPUTE, make_network, make_nic, snapshot_body

from drsim.cloud.canary import check_script, parse_report
from drsim.cloud.emulator.arm import API_VERSIONS, SKIP_TOKEN
from drsim.cloud.emulator.world import ArmSettings
from drsim.model.types import OsType

SPEC = DATA / "spec"
NETWORK = "Microsoft.Network"
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}


def spec(name: str) -> Any:
    return yaml.safe_load((SPEC / name).read_text())


def assert_shape(example: Any, answer: Any, where: str = "$") -> None:
    """`answer` has every key of `example`, each of the same JSON type (lists: items against the first)."""
    kind = _JSON_TYPES[type(example)] if example is not None else None
    assert kind is None or _JSON_TYPES.get(type(answer)) == kind, f"{where}: {answer!r} is not a JSON {kind}"
    if isinstance(example, dict):
        for key, value in example.items():
            assert key in answer, f"{where}.{key} is missing"
            if key == "tags":  # a free-form map: its keys are the caller's
                assert isinstance(answer[key], dict), f"{where}.tags is not an object"
                continue
            assert_shape(value, answer[key], f"{where}.{key}")
    elif isinstance(example, list) and example:
        assert answer, f"{where}: an empty array"
        for index, item in enumerate(answer):
            assert_shape(example[0], item, f"{where}[{index}]")


async def make_vm(arm: ArmSession, name: str, nic: str, *, nic_delete: str = "Delete") -> tuple[str, Any]:
    snap = arm.rid(DRILLS, f"{COMPUTE}/snapshots", f"{name}-snap")
    await arm.wait(await arm.call("PUT", snap, snapshot_body(arm, "web-01-os")))
    disk = arm.rid(DRILLS, f"{COMPUTE}/disks", f"{name}-os")
    body = {"location": "eastus2", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": snap}}}
    await arm.wait(await arm.call("PUT", disk, body))
    vm = arm.rid(DRILLS, f"{COMPUTE}/virtualMachines", name)
    answer = await arm.call(
        "PUT",
        vm,
        {
            "location": "eastus2",
            "properties": {
                "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
                "storageProfile": {"osDisk": {"createOption": "Attach", "osType": "Linux", "managedDisk": {"id": disk}}},
                "networkProfile": {"networkInterfaces": [{"id": nic, "properties": {"primary": True, "deleteOption": nic_delete}}]},
            },
        },
    )
    return vm, answer


def test_vm_put_answers_201_in_the_shape_of_virtual_machines_create_or_update() -> None:
    # VirtualMachine_Create_WithPremiumStorage.json (ComputeRP 2024-07-01): 201 with the VM, Creating
    async def check(arm: ArmSession) -> None:
        vnet = await make_network(arm, "bubble")
        nic = await make_nic(arm, "vm1-nic", vnet)
        vm, answer = await make_vm(arm, "vm1", nic)
        assert answer.status == 201
        assert_shape(spec("vm_create_201.yaml"), answer.body)
        assert answer.body["properties"]["provisioningState"] == "Creating"
        await arm.wait(answer)
        got = await arm.call("GET", vm)
        assert_shape(spec("vm_create_201.yaml"), got.body)
        assert got.body["properties"]["networkProfile"]["networkInterfaces"][0]["id"] == nic
        # the NIC is its own resource, and says which VM it serves
        assert (await arm.call("GET", nic)).body["properties"]["virtualMachine"] == {"id": vm}

    emulated(check)


def test_nic_put_get_delete_follow_network_interfaces_create_or_update() -> None:
    # NetworkInterfaceCreate.json (Network 2024-05-01): 201, then 200 on GET, in that shape
    async def check(arm: ArmSession) -> None:
        vnet = await make_network(arm, "bubble")
        nic = await make_nic(arm, "n1", vnet)
        got = await arm.call("GET", nic)
        assert got.status == 200
        assert_shape(spec("nic_create_201.yaml"), got.body)
        assert got.body["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"] == f"{vnet}/subnets/drill"
        vm, answer = await make_vm(arm, "vm1", nic, nic_delete="Detach")
        await arm.wait(answer)
        in_use = await arm.call("DELETE", nic)
        assert in_use.status == 400 and in_use.body["error"]["code"] == "NicInUse"
        await arm.wait(await arm.call("DELETE", vm))
        detached = await arm.call("GET", nic)  # deleteOption Detach: the NIC outlives its VM
        assert detached.status == 200 and "virtualMachine" not in detached.body["properties"]
        assert (await arm.call("DELETE", nic)).status == 200
        assert (await arm.call("DELETE", nic)).status == 204
        assert (await arm.call("GET", nic)).status == 404

    emulated(check)


def test_nsg_put_carries_the_default_rules_of_the_spec_example() -> None:
    # NetworkSecurityGroupCreateWithRule.json (Network 2024-05-01): every NSG has these six default rules
    async def check(arm: ArmSession) -> None:
        await make_network(arm, "bubble")
        nsg = await arm.call("GET", arm.rid(DRILLS, f"{NETWORK}/networkSecurityGroups", "bubble-nsg"))
        found = [
            [
                r["name"],
                r["properties"]["priority"],
                r["properties"]["direction"],
                r["properties"]["access"],
                r["properties"]["sourceAddressPrefix"],
                r["properties"]["destinationAddressPrefix"],
            ]
            for r in nsg.body["properties"]["defaultSecurityRules"]
        ]
        assert found == spec("nsg_default_rules.yaml")

    emulated(check)


def test_a_subnet_or_network_holding_a_nic_cannot_be_deleted() -> None:
    # ARM: 400 InUseSubnetCannotBeDeleted, "Subnet <s> is in use by <nic>/ipConfigurations/<c> and cannot be
    # deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet."
    async def check(arm: ArmSession) -> None:
        vnet = await make_network(arm, "bubble")
        nic = await make_nic(arm, "n1", vnet)
        for target in (vnet, f"{vnet}/subnets/drill"):
            refused = await arm.call("DELETE", target)
            assert refused.status == 400, refused.body
            assert refused.body["error"] == {
                "code": "InUseSubnetCannotBeDeleted",
                "message": f"Subnet drill is in use by {nic}/ipConfigurations/ipconfig1 and cannot be deleted. "
                "In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.",
            }
        assert (await arm.call("GET", vnet)).status == 200
        assert (await arm.call("DELETE", nic)).status == 200
        deleted = await arm.call("DELETE", vnet)
        assert deleted.status in (200, 202)
        if deleted.status == 202:
            await arm.wait(deleted)
        assert (await arm.call("DELETE", vnet)).status == 204

    emulated(check)


def test_snapshot_delete_answers_as_snapshots_delete() -> None:
    # Snapshot_Delete.json (DiskRP 2024-03-02): 202 with Location, then 204 once gone
    async def check(arm: ArmSession) -> None:
        expected = spec("snapshot_delete.yaml")
        snap = arm.rid(DRILLS, f"{COMPUTE}/snapshots", "s1")
        await arm.wait(await arm.call("PUT", snap, snapshot_body(arm, "web-01-os")))
        deleted = await arm.call("DELETE", snap)
        assert deleted.status in expected["statuses"]
        assert all(h in deleted.headers for h in expected["accepted_headers"])
        await arm.wait(deleted)
        again = await arm.call("DELETE", snap)
        assert again.status == 204 and again.status in expected["statuses"]

    emulated(check)


def test_a_disk_has_the_sku_its_put_gave_else_standard_lrs() -> None:
    # DiskSku (Disks_CreateOrUpdate): the SKU is the request's, never the source's; ARM's default is Standard_LRS
    async def check(arm: ArmSession) -> None:
        snap = arm.rid(DRILLS, f"{COMPUTE}/snapshots", "s1")
        await arm.wait(await arm.call("PUT", snap, snapshot_body(arm, "web-01-os")))
        for name, sku in (("premium", "Premium_LRS"), ("default", None)):
            body: dict[str, Any] = {
                "location": "eastus2",
                "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": snap}},
            }
            if sku:
                body["sku"] = {"name": sku}
            disk = arm.rid(DRILLS, f"{COMPUTE}/disks", name)
            await arm.wait(await arm.call("PUT", disk, body))
            assert (await arm.call("GET", disk)).body["sku"]["name"] == (sku or "Standard_LRS")
        bad = await arm.call(
            "PUT",
            arm.rid(DRILLS, f"{COMPUTE}/disks", "bad"),
            {
                "location": "eastus2",
                "sku": {"name": "Floppy"},
                "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": snap}},
            },
        )
        assert bad.status == 400 and bad.body["error"]["target"] == "sku.name"

    emulated(check)


def test_lists_come_in_pages_with_a_next_link_as_x_ms_pageable_lists_do() -> None:
    # Snapshot_ListBySubscription.json (DiskRP 2024-03-02): {value: [...], nextLink} page after page
    async def check(arm: ArmSession) -> None:
        for name in ("s1", "s2", "s3"):
            await arm.wait(await arm.call("PUT", arm.rid(DRILLS, f"{COMPUTE}/snapshots", name), snapshot_body(arm, "web-01-os")))
        path = f"{arm.group(DRILLS)}/providers/{COMPUTE}/snapshots"
        first = await arm.call("GET", path, follow=False)
        assert_shape(spec("snapshot_list.yaml"), first.body)
        assert len(first.body["value"]) == 2
        link = urlsplit(first.body["nextLink"])
        assert f"{link.scheme}://{link.netloc}" == arm.handle.url and link.path == path
        query = parse_qs(link.query)
        assert query[SKIP_TOKEN] and query["api-version"] == [max(API_VERSIONS["Microsoft.Compute"])]
        # An item before the page's end goes away between two pages: the next page still starts after
        # the last item given (an offset alone would skip s3).
        await arm.wait(await arm.call("DELETE", arm.rid(DRILLS, f"{COMPUTE}/snapshots", first.body["value"][0]["name"])))
        second = await arm.call("GET", first.body["nextLink"], follow=False)
        assert [s["name"] for s in second.body["value"]] == ["s3"] and "nextLink" not in second.body
        again = await arm.call("GET", first.body["nextLink"], follow=False)  # a client retrying the page (after a 429)
        assert again.status == 200 and again.body == second.body
        await arm.wait(await arm.call("PUT", arm.rid(DRILLS, f"{COMPUTE}/snapshots", "s1"), snapshot_body(arm, "web-01-os")))
        whole = await arm.call("GET", path)
        assert sorted(s["name"] for s in whole.body["value"]) == ["s1", "s2", "s3"]
        bad = await arm.call("GET", path, params={SKIP_TOKEN: "many"}, follow=False)
        assert bad.status == 400 and bad.body["error"]["target"] == SKIP_TOKEN

    emulated(check)


def test_the_page_size_is_configurable() -> None:
    async def check(arm: ArmSession) -> None:
        vms = await arm.call("GET", f"{arm.sub}/providers/{COMPUTE}/virtualMachines", follow=False)
        assert len(vms.body["value"]) == 1 and "nextLink" in vms.body

    emulated(check, tiny_options(arm=ArmSettings(page_size=1)))


def test_compute_usages_follow_usage_list_and_count_the_region_s_vcpus() -> None:
    # Usage_List_MaximumSet_Gen.json (ComputeRP 2024-07-01)
    async def check(arm: ArmSession) -> None:
        usages = await arm.call("GET", f"{arm.sub}/providers/{COMPUTE}/locations/eastus2/usages")
        assert usages.status == 200
        assert_shape(spec("usage_list.yaml"), usages.body)
        cores = next(u for u in usages.body["value"] if u["name"]["value"] == "cores")
        # web-01 Standard_D2s_v5 (2) and db-01 Standard_E4s_v5 (4), against the configured quota
        assert (cores["currentValue"], cores["limit"], cores["name"]["localizedValue"]) == (6, 12, "Total Regional vCPUs")
        elsewhere = await arm.call("GET", f"{arm.sub}/providers/{COMPUTE}/locations/centralus/usages")
        assert next(u for u in elsewhere.body["value"] if u["name"]["value"] == "cores")["currentValue"] == 0

    emulated(check, tiny_options(arm=ArmSettings(vcpu_quota=12)))


def test_permissions_follow_permissions_list_for_resource_group_and_for_resource() -> None:
    # GetPermissions.json (Permissions_ListForResourceGroup, Microsoft.Authorization 2022-04-01)
    async def check(arm: ArmSession) -> None:
        drill = await arm.call("GET", f"{arm.group(DRILLS)}/providers/Microsoft.Authorization/permissions")
        assert drill.status == 200
        assert_shape(spec("permissions_list.yaml"), drill.body)
        assert {"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []} in drill.body["value"]
        assert any(e["actions"] == ["*"] for e in drill.body["value"])  # Contributor on the drill group
        prod = await arm.call("GET", f"{arm.group(PROD)}/providers/Microsoft.Authorization/permissions")
        assert [e["actions"] for e in prod.body["value"]] == [["*/read"]]  # Reader only
        vm = arm.rid(PROD, f"{COMPUTE}/virtualMachines", "web-01")
        on_vm = await arm.call("GET", f"{vm}/providers/Microsoft.Authorization/permissions")
        # a VM Azure Backup protects: Virtual Machine Contributor there (restore needs it, backup-rbac-rs-vault)
        assert any("Microsoft.Compute/virtualMachines/*" in e["actions"] for e in on_vm.body["value"])

    emulated(check)


def test_writes_outside_the_writable_groups_are_403_authorization_failed() -> None:
    async def check(arm: ArmSession) -> None:
        nsg = arm.rid(PROD, f"{NETWORK}/networkSecurityGroups", "x")
        refused = await arm.call("PUT", nsg, {"location": "eastus2"})
        assert refused.status == 403
        error = refused.body["error"]
        assert error["code"] == "AuthorizationFailed"
        assert error["message"].startswith("The client '") and " with object id '" in error["message"]
        assert error["message"].endswith(
            f"does not have authorization to perform action 'Microsoft.Network/networkSecurityGroups/write' over scope '{nsg}' "
            "or the scope is invalid. If access was recently granted, please refresh your credentials."
        )
        disk = arm.rid(PROD, f"{COMPUTE}/disks", "web-01-os")
        assert (await arm.call("DELETE", disk)).status == 403
        assert (await arm.call("GET", disk)).status == 200  # reading is Reader's
        assert arm.handle.emulator.authorization.refused == 2

    emulated(check)


def test_writable_groups_are_configurable() -> None:
    async def check(arm: ArmSession) -> None:
        refused = await arm.call("PUT", arm.rid(DRILLS, f"{COMPUTE}/snapshots", "s"), snapshot_body(arm, "web-01-os"))
        assert refused.status == 403  # the drill group is not among them
        assert arm.handle.emulator.state.writable_groups == ("elsewhere",)

    emulated(check, tiny_options(arm=ArmSettings(writable_groups=("elsewhere",))))


def test_unknown_api_versions_are_refused_as_arm_refuses_them() -> None:
    async def check(arm: ArmSession) -> None:
        vm = arm.rid(PROD, f"{COMPUTE}/virtualMachines", "web-01")
        unknown = await arm.call("GET", vm, params={"api-version": "2099-01-01"})
        assert unknown.status == 400
        assert unknown.body["error"]["code"] == "NoRegisteredProviderFound"
        assert unknown.body["error"]["message"].startswith(
            "No registered resource provider found for location 'eastus2' and API version '2099-01-01' for type 'virtualMachines'. "
            "The supported api-versions are '"
        )
        malformed = await arm.call("GET", vm, params={"api-version": "latest"})
        assert malformed.status == 400 and malformed.body["error"]["code"] == "InvalidApiVersionParameter"
        groups = await arm.call("GET", f"{arm.sub}/resourcegroups", params={"api-version": "2099-01-01"})
        assert groups.status == 400 and groups.body["error"]["code"] == "InvalidApiVersionParameter"
        assert groups.body["error"]["message"].startswith("The api-version '2099-01-01' is invalid. The supported versions are '")
        for namespace, versions in API_VERSIONS.items():
            assert versions == tuple(sorted(versions)), namespace
        # what the pinned SDKs send is accepted
        for version in ("2026-04-01", "2026-03-02"):
            assert (
                await arm.call(
                    "GET",
                    vm if version == "2026-04-01" else arm.rid(PROD, f"{COMPUTE}/disks", "web-01-os"),
                    params={"api-version": version},
                )
            ).status == 200

    emulated(check)


def test_run_command_answers_as_virtual_machines_run_command() -> None:
    # VirtualMachineRunCommand.json (ComputeRP 2024-07-01): 202 with Location, then the RunCommandResult:
    # on Windows one StdOut and one StdErr status; the canary check's report is the stdout message, and
    # the provider parses it out of that real shape (drsim.cloud.canary.parse_report).
    async def check(arm: ArmSession) -> None:
        expected = spec("run_command.yaml")
        vm = arm.rid(PROD, f"{COMPUTE}/virtualMachines", "db-01")
        production = (await arm.call("GET", vm)).body["properties"]["vmId"]
        body = {"commandId": "RunPowerShellScript", "script": check_script(OsType.WINDOWS, production, INCIDENT)}
        answer = await arm.call("POST", f"{vm}/runCommand", body)
        assert answer.status in expected["statuses"]
        assert all(h in answer.headers for h in expected["accepted_headers"])
        await arm.wait(answer)
        result = await arm.result(answer)
        assert result.status == 200
        assert_shape(expected["result"], result.body)
        example_codes = [s["code"] for s in expected["result"]["value"]]
        assert [s["code"] for s in result.body["value"]] == example_codes
        reading = parse_report(vm, result.body["value"][0]["message"], production, INCIDENT)
        assert reading.consistent and reading.last_marker_at is not None and reading.last_marker_at <= INCIDENT
        # Linux: one status whose message holds stdout and stderr (virtual-machines/linux/run-command).
        web = arm.rid(PROD, f"{COMPUTE}/virtualMachines", "web-01")
        web_id = (await arm.call("GET", web)).body["properties"]["vmId"]
        linux_body = {"commandId": "RunShellScript", "script": check_script(OsType.LINUX, web_id, None)}
        linux = await arm.call("POST", f"{web}/runCommand", linux_body)
        await arm.wait(linux)
        statuses = (await arm.result(linux)).body["value"]
        assert_shape(expected["result"]["value"][0], statuses[0])
        assert statuses[0]["message"].startswith("Enable succeeded: \n[stdout]\nDRSIM-CANARY ")
        assert parse_report(web, statuses[0]["message"], web_id).consistent

    emulated(check)


def test_a_vm_put_again_with_another_admin_password_is_refused_as_virtual_machines_create_or_update_refuses_it() -> None:
    # Azure/azure-rest-api-specs specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/
    # 2024-07-01/examples/virtualMachineExamples/VirtualMachine_Create_WithPremiumStorage.json (VirtualMachines_CreateOrUpdate):
    # the create sends osProfile.adminPassword, and neither of its answers (200, 201) shows it. A PUT of the
    # VM with the same body is answered 200 (the example's update answer); with another password, ARM
    # answers 409 {"error": {"code": "PropertyChangeNotAllowed", "target": "adminPassword", "message":
    # "Changing property 'adminPassword' is not allowed."}} (the answer quoted in hashicorp/terraform#6528).
    async def check(arm: ArmSession) -> None:
        source = arm.rid(PROD, f"{COMPUTE}/virtualMachines", "web-01")
        assert (await arm.wait(await arm.call("POST", f"{source}/deallocate")))[-1] == "Succeeded"
        assert (await arm.call("POST", f"{source}/generalize")).status == 200
        image = arm.rid(DRILLS, f"{COMPUTE}/images", "web-image")
        made = await arm.call("PUT", image, {"location": "eastus2", "properties": {"sourceVirtualMachine": {"id": source}}})
        assert (await arm.wait(made))[-1] == "Succeeded"
        nic = await make_nic(arm, "web-new-nic", await make_network(arm, "image-net"))
        vm = arm.rid(DRILLS, f"{COMPUTE}/virtualMachines", "web-new")
        profile = {"computerName": "web-new", "adminUsername": "drill", "adminPassword": "first-Passw0rd!"}
        body = {
            "location": "eastus2",
            "properties": {
                "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
                "storageProfile": {"imageReference": {"id": image}, "osDisk": {"createOption": "FromImage", "deleteOption": "Delete"}},
                "osProfile": profile,
                "networkProfile": {"networkInterfaces": [{"id": nic}]},
            },
        }
        created = await arm.call("PUT", vm, body)
        assert created.status == 201 and "adminPassword" not in created.body["properties"].get("osProfile", {})
        assert (await arm.wait(created))[-1] == "Succeeded"
        again = await arm.call("PUT", vm, body)
        assert again.status == 200
        assert_shape(spec("vm_create_201.yaml"), again.body)
        assert "adminPassword" not in again.body["properties"]["osProfile"]
        other = {**body, "properties": {**body["properties"], "osProfile": {**profile, "adminPassword": "second-Passw0rd!"}}}
        refused = await arm.call("PUT", vm, other)
        assert refused.status == 409
        assert refused.body["error"] == {
            "code": "PropertyChangeNotAllowed",
            "message": "Changing property 'adminPassword' is not allowed.",
            "target": "adminPassword",
        }
        got = await arm.call("GET", vm)  # the VM is as it was made
        assert got.status == 200 and got.body["properties"]["provisioningState"] == "Succeeded"

    emulated(check)
