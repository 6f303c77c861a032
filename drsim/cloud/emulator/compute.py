"""Microsoft.Compute over the world: virtual machines (with deallocate, generalize, start, runCommand
and the instance view), managed disks, snapshots and images.

Status codes are those the SDK accepts (azure-sdk-notes.md, azure-mgmt-compute operations): a
snapshot or disk PUT answers 200 or 202, a VM or image PUT 200 or 201, a delete 200, 202 or 204.
Run Command answers every script with the canary report of the VM (drsim.cloud.canary), the
one script a drill runs; the emulator executes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from drsim.cloud.api import CanaryReading, Image, ManagedDisk, ResourceKind, Snapshot, VirtualMachine
from drsim.cloud.arm import id_key, name_of, try_parse_id, type_of, vcpus_of
from drsim.cloud.canary import (
    DEFAULT_LINUX_VOLUME,
    DEFAULT_WINDOWS_VOLUME,
    LINUX_COMMAND_ID,
    WINDOWS_COMMAND_ID,
    Marker,
    check_parameters,
    render_report,
    volume_report,
)
from drsim.cloud.emulator.arm import ArmError, Body, ErrorCode, Handler, JsonObject, PathOf, Router, arm_time, invalid_content, listing
from drsim.cloud.emulator.operations import Outcome
from drsim.cloud.emulator.service import ResourceProviderService, no_content, not_found
from drsim.cloud.emulator.state import DiskCreateOption, Provisioning, VmExtras
from drsim.cloud.sim.workload import marker_at
from drsim.model.documents import TrustedLaunch
from drsim.model.types import OsType, PowerState

GIB = 1024**3
DEFAULT_DISK_SKU = "Standard_LRS"
DISK_SKUS = ("Standard_LRS", "Premium_LRS", "StandardSSD_LRS", "UltraSSD_LRS", "Premium_ZRS", "StandardSSD_ZRS", "PremiumV2_LRS")


COMPUTE = "Microsoft.Compute"
VM_TYPE = ResourceKind.VM.value
DISK_TYPE = ResourceKind.DISK.value
SNAPSHOT_TYPE = ResourceKind.SNAPSHOT.value
IMAGE_TYPE = ResourceKind.IMAGE.value

_POWER = {
    PowerState.RUNNING: ("PowerState/running", "VM running"),
    PowerState.STOPPED: ("PowerState/stopped", "VM stopped"),
    PowerState.DEALLOCATED: ("PowerState/deallocated", "VM deallocated"),
}
_OS_NAME = {OsType.LINUX: "Linux", OsType.WINDOWS: "Windows"}
# Run Command's built-in command ids per OS (virtual-machines/run-command-overview).
_COMMAND_OS = {LINUX_COMMAND_ID.lower(): OsType.LINUX, WINDOWS_COMMAND_ID.lower(): OsType.WINDOWS}


def _status(code: str, display: str, level: str = "Info") -> JsonObject:
    return {"code": code, "level": level, "displayStatus": display}


def _os_of(text: str, field: str) -> OsType:
    found = next((os for os, name in _OS_NAME.items() if name.lower() == text.lower()), None)
    if found is None:
        raise invalid_content(field, f"'{text}' is not an osType: Linux or Windows")
    return found


TRUSTED_LAUNCH = "TrustedLaunch"


def security_profile_json(trusted: TrustedLaunch) -> JsonObject:
    """A Trusted Launch VM's securityProfile (VirtualMachine_Create_WithUefiSettings.json)."""
    return {"securityType": TRUSTED_LAUNCH, "uefiSettings": {"secureBootEnabled": trusted.secure_boot, "vTpmEnabled": trusted.vtpm}}


@dataclass(frozen=True)
class ComputeView:
    """One read of the world's compute resources, so that a response costs each listing once."""

    vms: dict[str, VirtualMachine]
    disks: dict[str, ManagedDisk]


class ComputeService(ResourceProviderService):
    """Microsoft.Compute: virtualMachines, disks, snapshots, images and their operations."""

    def register(self, router: Router) -> None:
        sub = "/subscriptions/{subscription}"
        group = sub + "/resourceGroups/{resource_group}/providers/Microsoft.Compute"
        vm = group + "/virtualMachines/{name}"
        router.add("GET", sub + "/providers/Microsoft.Compute/locations/{location}/operations/{operation}", self.operation_status)
        router.add("GET", sub + "/providers/Microsoft.Compute/locations/{location}/operationResults/{operation}", self.operation_result)
        router.add("GET", sub + "/providers/Microsoft.Compute/locations/{location}/usages", self.usages)
        router.add("GET", sub + "/providers/Microsoft.Compute/virtualMachines", self.list_vms)
        router.add("GET", group + "/virtualMachines", self.list_vms)
        router.add("GET", vm, self.get_vm)
        router.add("PUT", vm, self.put_vm)
        router.add("PATCH", vm, self.patch_tags(VM_TYPE))
        router.add("DELETE", vm, self.delete_vm)
        router.add("GET", vm + "/instanceView", self.instance_view)
        router.add("POST", vm + "/deallocate", self.deallocate)
        router.add("POST", vm + "/generalize", self.generalize)
        router.add("POST", vm + "/start", self.start_vm)
        router.add("POST", vm + "/runCommand", self.run_command)
        for collection, kind, put in (
            ("disks", DISK_TYPE, self.put_disk),
            ("snapshots", SNAPSHOT_TYPE, self.put_snapshot),
            ("images", IMAGE_TYPE, self.put_image),
        ):
            router.add("GET", sub + f"/providers/Microsoft.Compute/{collection}", self.lister(kind))
            router.add("GET", group + f"/{collection}", self.lister(kind))
            router.add("GET", group + f"/{collection}/{{name}}", self.getter(kind))
            router.add("PUT", group + f"/{collection}/{{name}}", put)
            router.add("PATCH", group + f"/{collection}/{{name}}", self.patch_tags(kind))
            router.add("DELETE", group + f"/{collection}/{{name}}", self.deleter(kind))

    # ------------------------------------------------------------------------------ plumbing

    def _status_path(self, location: str) -> tuple[PathOf, PathOf]:
        base = f"/subscriptions/{self.subscription}/providers/Microsoft.Compute/locations/{location}"
        return (lambda op: f"{base}/operations/{op}"), (lambda op: f"{base}/operationResults/{op}")

    async def operation_status(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        return self.operations.status_response(p["operation"])

    async def operation_result(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        return self.operations.result_response(request, p["operation"])

    async def _view(self) -> ComputeView:
        vms = {id_key(vm.id): vm for vm in await self.world.list_vms()}
        disks = {id_key(d.id): d for d in await self.world.list_disks()}
        return ComputeView(vms, disks)

    def _id(self, p: dict[str, str], type_path: str) -> str:
        return self.state.resource_id(p["resource_group"], type_path, p["name"])

    async def _lro(
        self,
        request: web.Request,
        *,
        resource_id: str,
        location: str,
        work: Coroutine[Any, Any, Outcome | None],
        operation: str,
        pending: JsonObject | None,
        state: Provisioning,
        status: int,
        with_location: bool,
    ) -> web.StreamResponse:
        """Start the operation and answer 201/202 with the polling headers; 200 if it ended at once."""
        status_path, result_path = self._status_path(location)
        op = await self.start(
            work,
            name=operation,
            status_path=status_path,
            result_path=result_path if with_location else None,
            pending=(resource_id, pending, state) if pending is not None else None,
        )
        if op.done:  # it ended before the first answer: answer as a synchronous call
            if request.method == "PUT":
                return web.json_response(await self._render_by_id(resource_id), status=200)
            if op.outcome.result is not None:
                return web.json_response(op.outcome.result, status=200)
            return web.Response(status=200)
        body = None
        if status == 201 and pending is not None:
            body = {**pending, "properties": {**pending.get("properties", {}), "provisioningState": state.value}}
        return self.operations.answer(request, op, status=status, body=body)

    async def _render_by_id(self, resource_id: str) -> JsonObject:
        parsed = try_parse_id(resource_id)
        assert parsed is not None
        kind = parsed.type.lower()
        view = await self._view()
        if kind == VM_TYPE.lower():
            return self.vm_json(await self._vm(resource_id, view), view, instance_view=False)
        found = await self._find(parsed.type, resource_id, view)
        if found is None:
            raise not_found(parsed.type, parsed.name, parsed.resource_group)
        return found

    # --------------------------------------------------------------------------------- render

    def _tags(self, resource_id: str, tags: Mapping[str, str]) -> dict[str, str]:
        return self.state.tags_of(resource_id, tags)

    def trusted_launch(self, resource_id: str) -> TrustedLaunch | None:
        """The Trusted Launch settings a VM, disk or snapshot carries: those of the production VM whose data
        it holds, for its OS disk and what was copied from it (a snapshot of a Trusted Launch OS disk, and a
        disk copied from that snapshot, are Trusted Launch: Azure/azure-powershell#24253); None: Standard."""
        origin = self.world.inventory.origin(resource_id)
        if origin is None:
            return None
        vm_name, disk_name = origin
        spec = next((s for s in self.world.estate.vms if s.name == vm_name), None)
        if spec is None or spec.trusted_launch is None or (disk_name is not None and disk_name != spec.disks[0].name):
            return None
        return spec.trusted_launch

    def vm_json(self, vm: VirtualMachine, view: ComputeView, *, instance_view: bool) -> JsonObject:
        extras = self.state.vm_extras.get(id_key(vm.id))
        create = (extras.create_option if extras else DiskCreateOption.ATTACH).value

        def disk_entry(disk_id: str, lun: int | None) -> JsonObject:
            disk = view.disks.get(id_key(disk_id))
            deleting = extras is not None and (extras.os_disk_delete if lun is None else extras.data_disks_delete)
            entry: JsonObject = {
                "name": name_of(disk_id),
                "createOption": create,
                "caching": "ReadWrite" if lun is None else "None",
                "managedDisk": {"id": disk_id},
                "deleteOption": "Delete" if deleting else "Detach",
            }
            if disk is not None:
                entry["diskSizeGB"] = disk.size_gib
            if lun is not None:
                entry["lun"] = lun
            return entry

        os_disk = disk_entry(vm.disk_ids[0], None) if vm.disk_ids else {"createOption": create}
        os_disk["osType"] = _OS_NAME[vm.os]
        storage: JsonObject = {"osDisk": os_disk, "dataDisks": [disk_entry(d, lun) for lun, d in enumerate(vm.disk_ids[1:])]}
        if extras is not None and extras.image_id:
            storage["imageReference"] = {"id": extras.image_id}
        nic_ids = extras.nic_ids if extras else [self.state.implicit_nic_id(vm)]
        properties: JsonObject = {
            "vmId": self.state.stable_guid(vm.id),
            "hardwareProfile": {"vmSize": vm.size},
            "storageProfile": storage,
            "networkProfile": {
                "networkInterfaces": [
                    {
                        "id": nic,
                        "properties": {"primary": i == 0, "deleteOption": "Delete" if extras and nic in extras.nic_delete else "Detach"},
                    }
                    for i, nic in enumerate(nic_ids)
                ]
            },
            "provisioningState": Provisioning.SUCCEEDED.value,
        }
        if extras is not None and extras.computer_name:
            properties["osProfile"] = {"computerName": extras.computer_name, "adminUsername": extras.admin_username}
        if extras is not None:
            security = extras.security_profile  # what the PUT asked
        else:  # production, or made by Backup or Site Recovery: the security type of the VM its data is from
            trusted = self.trusted_launch(vm.id)
            security = security_profile_json(trusted) if trusted is not None else None
        if security is not None:
            properties["securityProfile"] = security
        if instance_view:
            properties["instanceView"] = self.instance_view_json(vm)
        return {
            "id": vm.id,
            "name": vm.name,
            "type": VM_TYPE,
            "location": vm.region,
            "tags": self._tags(vm.id, vm.tags),
            "properties": properties,
        }

    def instance_view_json(self, vm: VirtualMachine) -> JsonObject:
        """Power state, generalization and the guest agent, as the instance view reports them (states-billing)."""
        statuses = [_status("ProvisioningState/succeeded", "Provisioning succeeded")]
        if vm.generalized:
            statuses.append(_status("OSState/generalized", "VM generalized"))
        statuses.append(_status(*_POWER[vm.power]))
        agent = (
            _status("ProvisioningState/succeeded", "Ready") | {"message": "Guest Agent is running"}
            if vm.booted
            else _status("ProvisioningState/Unavailable", "Not Ready", "Warning")
            | {"message": "VM status blob is found but not yet populated."}
        )
        return {"computerName": vm.name, "osName": _OS_NAME[vm.os], "vmAgent": {"statuses": [agent]}, "statuses": statuses}

    def disk_json(self, disk: ManagedDisk) -> JsonObject:
        source = try_parse_id(disk.source_id) if disk.source_id else None
        if source is None:
            creation: JsonObject = {"createOption": "Empty"}
        elif source.type.lower() == IMAGE_TYPE.lower():
            creation = {"createOption": "FromImage", "imageReference": {"id": disk.source_id}}
        else:
            creation = {"createOption": "Copy", "sourceResourceId": disk.source_id}
        body: JsonObject = {
            "id": disk.id,
            "name": disk.name,
            "type": DISK_TYPE,
            "location": disk.region,
            "tags": self._tags(disk.id, disk.tags),
            "properties": {
                "creationData": creation,
                "diskSizeGB": disk.size_gib,
                "diskSizeBytes": disk.size_gib * GIB,
                "diskState": "Attached" if disk.vm_id else "Unattached",
                "provisioningState": Provisioning.SUCCEEDED.value,
            },
        }
        sku = self.state.disk_skus.get(id_key(disk.id)) or self.world.inventory.disk_sku(disk.id)
        if sku is not None:
            body["sku"] = {"name": sku, "tier": sku.split("_", 1)[0]}
        if self.trusted_launch(disk.id) is not None:
            body["properties"]["securityProfile"] = {"securityType": TRUSTED_LAUNCH}  # Disk_Create_WithSecurityProfile.json
        if disk.vm_id:
            body["managedBy"] = disk.vm_id
        return body

    def snapshot_json(self, snap: Snapshot, view: ComputeView) -> JsonObject:
        source_disk = view.disks.get(id_key(snap.disk_id))
        size = source_disk.size_gib if source_disk is not None else int(-(-snap.used_gib // 1))
        creation: JsonObject = (
            {"createOption": "CopyStart", "sourceResourceId": snap.copy_of}
            if snap.copy_of
            else {"createOption": "Copy", "sourceResourceId": snap.disk_id}
        )
        return {
            "id": snap.id,
            "name": snap.name,
            "type": SNAPSHOT_TYPE,
            "location": snap.region,
            "tags": self._tags(snap.id, snap.tags),
            # Incremental snapshots are always Standard HDD storage (disks-incremental-snapshots).
            "sku": {"name": "Standard_LRS", "tier": "Standard"},
            "properties": {
                "creationData": creation,
                # The instant the disk's content was captured (a cross-region copy keeps its source's).
                "timeCreated": arm_time(snap.taken_at),
                "incremental": snap.incremental,
                "diskSizeGB": size,
                "diskSizeBytes": size * GIB,
                "diskState": "Unattached",
                "completionPercent": 100.0,
                "provisioningState": Provisioning.SUCCEEDED.value,
                **({"securityProfile": {"securityType": TRUSTED_LAUNCH}} if self.trusted_launch(snap.id) is not None else {}),
            },
        }

    def image_json(self, image: Image, view: ComputeView) -> JsonObject:
        source = view.vms.get(id_key(image.source_vm_id))
        os = source.os if source is not None else self.state.image_os.get(id_key(image.id))
        os_disk: JsonObject = {"osState": "Generalized"}
        if os is not None:
            os_disk["osType"] = _OS_NAME[os]
        return {
            "id": image.id,
            "name": image.name,
            "type": IMAGE_TYPE,
            "location": image.region,
            "tags": self._tags(image.id, image.tags),
            "properties": {
                "sourceVirtualMachine": {"id": image.source_vm_id},
                "storageProfile": {"osDisk": os_disk, "dataDisks": [{"lun": lun} for lun in range(max(0, image.disk_count - 1))]},
                "provisioningState": Provisioning.SUCCEEDED.value,
            },
        }

    # ---------------------------------------------------------------------------------- reads

    async def _find(self, kind: str, resource_id: str, view: ComputeView) -> JsonObject | None:
        key = id_key(resource_id)
        lowered = kind.lower()
        if lowered == DISK_TYPE.lower():
            disk = view.disks.get(key)
            return self.disk_json(disk) if disk else None
        if lowered == SNAPSHOT_TYPE.lower():
            snap = next((s for s in await self.world.list_snapshots() if id_key(s.id) == key), None)
            return self.snapshot_json(snap, view) if snap else None
        image = next((i for i in await self.world.list_images() if id_key(i.id) == key), None)
        return self.image_json(image, view) if image else None

    async def _all(self, kind: str, view: ComputeView) -> list[JsonObject]:
        lowered = kind.lower()
        if lowered == DISK_TYPE.lower():
            return [self.disk_json(d) for d in view.disks.values()]
        if lowered == SNAPSHOT_TYPE.lower():
            return [self.snapshot_json(s, view) for s in await self.world.list_snapshots()]
        return [self.image_json(i, view) for i in await self.world.list_images()]

    @staticmethod
    def _in_group(items: list[JsonObject], p: dict[str, str]) -> list[JsonObject]:
        group = p.get("resource_group")
        if group is None:
            return items
        return [i for i in items if (parsed := try_parse_id(i["id"])) is not None and parsed.resource_group.lower() == group.lower()]

    def lister(self, kind: str) -> Handler:
        async def handler(request: web.Request, p: dict[str, str]) -> web.StreamResponse:
            return web.json_response(listing(self._in_group(await self._all(kind, await self._view()), p)))

        return handler

    def getter(self, kind: str) -> Handler:
        async def handler(request: web.Request, p: dict[str, str]) -> web.StreamResponse:
            resource_id = self._id(p, kind)
            found = await self._find(kind, resource_id, await self._view())
            if found is None:
                found = self.pending_body(resource_id)
            if found is None:
                raise not_found(kind, p["name"], p["resource_group"])
            return web.json_response(found)

        return handler

    async def list_vms(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        view = await self._view()
        expand = request.query.get("$expand", "").lower() == "instanceview"
        items = [self.vm_json(vm, view, instance_view=expand) for vm in view.vms.values()]
        return web.json_response(listing(self._in_group(items, p)))

    async def usages(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """Usage_List (Microsoft.Compute/locations/usages; example computeRPCommonExamples/Usage_List_MaximumSet_Gen.json):
        the region's vCPUs and VMs in use against the subscription's quota (`--vcpu-quota`)."""
        location = p["location"].lower()
        running = [vm for vm in (await self._view()).vms.values() if vm.region.lower() == location]
        cores = sum(vcpus_of(vm.size) for vm in running)
        usage = [
            ("cores", "Total Regional vCPUs", cores, self.state.vcpu_quota),
            ("virtualMachines", "Virtual Machines", len(running), 25000),
        ]
        return web.json_response(
            listing(
                [
                    {"unit": "Count", "currentValue": current, "limit": limit, "name": {"value": name, "localizedValue": shown}}
                    for name, shown, current, limit in usage
                ]
            )
        )

    async def _vm(self, vm_id: str, view: ComputeView | None = None) -> VirtualMachine:
        """The VM (read through get_vm: a VM of a failed region is listed but cannot be read)."""
        parsed = try_parse_id(vm_id)
        assert parsed is not None
        listed = (view or await self._view()).vms.get(id_key(vm_id))
        if listed is None:
            raise not_found(VM_TYPE, parsed.name, parsed.resource_group)
        return await self.world.get_vm(listed.id)

    async def get_vm(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        resource_id = self._id(p, VM_TYPE)
        view = await self._view()
        if id_key(resource_id) not in view.vms and (pending := self.pending_body(resource_id)) is not None:
            return web.json_response(pending)
        vm = await self._vm(resource_id, view)
        expand = request.query.get("$expand", "").lower() == "instanceview"
        return web.json_response(self.vm_json(vm, view, instance_view=expand))

    async def instance_view(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        return web.json_response(self.instance_view_json(await self._vm(self._id(p, VM_TYPE))))

    # --------------------------------------------------------------------------------- writes

    def patch_tags(self, kind: str) -> Handler:
        """PATCH with `tags` (the SDK's begin_update / update_tags): merged, answered 200 with the resource."""

        async def handler(request: web.Request, p: dict[str, str]) -> web.StreamResponse:
            body = await Body.of(request)
            resource_id = self._id(p, kind)
            await self._render_by_id(resource_id)  # 404 unless it exists
            self.state.replace_tags(resource_id, body.tags())
            return web.json_response(await self._render_by_id(resource_id))

        return handler

    async def _existing(self, kind: str, resource_id: str, body: Body) -> web.StreamResponse | None:
        """A PUT of a resource that exists updates its tags only (the world keeps everything else)."""
        view = await self._view()
        found = (
            (self.vm_json(view.vms[id_key(resource_id)], view, instance_view=False) if id_key(resource_id) in view.vms else None)
            if kind == VM_TYPE
            else await self._find(kind, resource_id, view)
        )
        if found is None:
            return None
        self.state.replace_tags(resource_id, body.tags())
        return web.json_response(await self._render_by_id(resource_id), status=200)

    def _pending(self, resource_id: str, kind: str, body: Body, properties: JsonObject) -> JsonObject:
        parsed = try_parse_id(resource_id)
        assert parsed is not None
        return {
            "id": resource_id,
            "name": parsed.name,
            "type": kind,
            "location": body.string("location"),
            "tags": body.tags(),
            "properties": properties,
        }

    async def put_snapshot(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        body = await Body.of(request)
        resource_id = self._id(p, SNAPSHOT_TYPE)
        self.ensure_idle(resource_id, "snapshot write")
        location = body.string("location")
        option = body.string("properties.creationData.createOption")
        source = body.string("properties.creationData.sourceResourceId")
        incremental = body.boolean("properties.incremental", False)
        tags = body.tags()
        if (answer := await self._existing(SNAPSHOT_TYPE, resource_id, body)) is not None:
            return answer
        self.state.require_drill_group(p["resource_group"], "snapshots")
        source_type = type_of(source)
        name = p["name"]
        if option.lower() == "copy" and source_type == DISK_TYPE.lower():
            work = self.world.create_snapshot(source, name=name, incremental=incremental, tags=tags)
        elif option.lower() == "copystart" and source_type == SNAPSHOT_TYPE.lower():
            # Cross-region copy of an incremental snapshot (disks-copy-incremental-snapshot-across-regions).
            work = self.world.copy_snapshot(source, name=name, region=location, tags=tags)
        else:
            raise invalid_content(
                "properties.creationData",
                f"createOption '{option}' with source '{source}': the emulator takes Copy of a managed disk, or CopyStart of a snapshot",
            )

        async def create() -> Outcome:
            await work
            return Outcome()

        pending = self._pending(
            resource_id, SNAPSHOT_TYPE, body, {"creationData": body.get("properties.creationData"), "incremental": incremental}
        )
        return await self._lro(
            request,
            resource_id=resource_id,
            location=location,
            work=create(),
            operation=f"{SNAPSHOT_TYPE}/write",
            pending=pending,
            state=Provisioning.CREATING,
            status=202,
            with_location=True,
        )

    async def put_disk(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        body = await Body.of(request)
        resource_id = self._id(p, DISK_TYPE)
        self.ensure_idle(resource_id, "disk write")
        location = body.string("location")
        option = body.string("properties.creationData.createOption")
        tags = body.tags()
        if (answer := await self._existing(DISK_TYPE, resource_id, body)) is not None:
            return answer
        source = body.string("properties.creationData.sourceResourceId")
        if option.lower() != "copy" or type_of(source) != SNAPSHOT_TYPE.lower():
            raise invalid_content(
                "properties.creationData", f"createOption '{option}' from '{source}': the emulator creates disks by Copy of a snapshot"
            )
        asked = body.optional_string("properties.securityProfile.securityType")
        if asked is not None and asked.lower() == TRUSTED_LAUNCH.lower():
            # A disk copied from a snapshot takes the snapshot's security type; asking for it is refused
            # (Azure/azure-cli#22561, the answer of Disks_CreateOrUpdate).
            raise ArmError(
                400,
                ErrorCode.BAD_REQUEST,
                f"Security Type '{asked}' is not supported for CreateOption '{option}'. "
                "Supported create options are FromImage, Import, ImportSecure, UploadPreparedSecure.",
            )
        # The disk's SKU is what the PUT says, else ARM's default Standard_LRS (DiskSku, Disks_CreateOrUpdate), never its source's.
        sku = body.optional_string("sku.name") or DEFAULT_DISK_SKU
        if sku not in DISK_SKUS:
            raise invalid_content("sku.name", f"'{sku}' is not a disk SKU: {', '.join(DISK_SKUS)}")
        self.state.require_drill_group(p["resource_group"], "disks")

        async def create() -> Outcome:
            await self.world.create_disk(source, name=p["name"], region=location, tags=tags)
            self.state.disk_skus[id_key(resource_id)] = sku
            return Outcome()

        pending = self._pending(resource_id, DISK_TYPE, body, {"creationData": body.get("properties.creationData")})
        return await self._lro(
            request,
            resource_id=resource_id,
            location=location,
            work=create(),
            operation=f"{DISK_TYPE}/write",
            pending=pending,
            state=Provisioning.CREATING,
            status=202,
            with_location=True,
        )

    async def put_image(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        body = await Body.of(request)
        resource_id = self._id(p, IMAGE_TYPE)
        self.ensure_idle(resource_id, "image write")
        location = body.string("location")
        tags = body.tags()
        if (answer := await self._existing(IMAGE_TYPE, resource_id, body)) is not None:
            return answer
        vm_id = body.string("properties.sourceVirtualMachine.id")
        self.state.require_drill_group(p["resource_group"], "images")
        source = await self._vm(vm_id)

        async def create() -> Outcome:
            await self.world.create_image(source.id, name=p["name"], region=location, tags=tags)
            self.state.image_os[id_key(resource_id)] = source.os
            return Outcome()

        pending = self._pending(resource_id, IMAGE_TYPE, body, {"sourceVirtualMachine": {"id": vm_id}})
        return await self._lro(
            request,
            resource_id=resource_id,
            location=location,
            work=create(),
            operation=f"{IMAGE_TYPE}/write",
            pending=pending,
            state=Provisioning.CREATING,
            status=201,
            with_location=False,
        )

    def _network_of_vm_body(self, body: Body, vm_name: str) -> tuple[str, list[str], list[str]]:
        """The VNet a VM's PUT attaches it to, its NIC ids, and the NICs to delete with it."""
        nics = body.objects("properties.networkProfile.networkInterfaces")
        if nics:
            nic_ids, delete_with = [], []
            for index, ref in enumerate(nics):
                field = f"properties.networkProfile.networkInterfaces[{index}].id"
                nic_id = ref.string("id")
                nic = self.state.nics.get(id_key(nic_id))
                if nic is None:
                    raise ArmError(
                        400,
                        ErrorCode.INVALID_PARAMETER,
                        f"Resource {nic_id} referenced by resource {vm_name} was not found: create the network interface first.",
                        target=field,
                    )
                if nic.vm_id is not None:
                    raise ArmError(
                        409, ErrorCode.CONFLICT, f"Network interface {nic_id} is in use by virtual machine {nic.vm_id}.", target=field
                    )
                nic_ids.append(nic.id)
                delete = ref.optional_string("properties.deleteOption") or ref.optional_string("deleteOption") or "Detach"
                if delete.lower() == "delete":
                    delete_with.append(nic.id)
            first = self.state.nics[id_key(nic_ids[0])]
            return self.state.vnet_of_subnet(first.subnet_id), nic_ids, delete_with
        raise invalid_content(
            "properties.networkProfile.networkInterfaces",
            "Required property 'networkInterfaces' not found in JSON (the emulator attaches VMs through network interfaces).",
        )

    async def put_vm(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        body = await Body.of(request)
        resource_id = self._id(p, VM_TYPE)
        self.ensure_idle(resource_id, "vm write")
        name = p["name"]
        location = body.string("location")
        tags = body.tags()
        password = body.optional_string("properties.osProfile.adminPassword")
        password_sha256 = hashlib.sha256(password.encode()).hexdigest() if password is not None else None
        made = self.state.vm_extras.get(id_key(resource_id))
        if made is not None and made.admin_password_sha256 is not None and password_sha256 not in (None, made.admin_password_sha256):
            # A VM's adminPassword is set when it is made and cannot change (its answers never show it:
            # VirtualMachine_Create_WithPremiumStorage.json); ARM answers 409 PropertyChangeNotAllowed,
            # "Changing property 'adminPassword' is not allowed." (hashicorp/terraform#6528).
            raise ArmError(
                409, ErrorCode.PROPERTY_CHANGE_NOT_ALLOWED, "Changing property 'adminPassword' is not allowed.", target="adminPassword"
            )
        if (answer := await self._existing(VM_TYPE, resource_id, body)) is not None:
            return answer
        size = body.string("properties.hardwareProfile.vmSize")
        option = body.string("properties.storageProfile.osDisk.createOption")
        self.state.require_drill_group(p["resource_group"], "virtual machines")
        os_disk_delete = (body.optional_string("properties.storageProfile.osDisk.deleteOption") or "Detach").lower() == "delete"
        data_disks = body.objects("properties.storageProfile.dataDisks")
        data_delete = any((d.optional_string("deleteOption") or "Detach").lower() == "delete" for d in data_disks)
        if option.lower() == "attach":
            os = _os_of(body.string("properties.storageProfile.osDisk.osType"), "properties.storageProfile.osDisk.osType")
            disk_ids = [body.string("properties.storageProfile.osDisk.managedDisk.id")]
            by_lun = sorted(data_disks, key=lambda data: data.integer("lun"))  # the world keeps data disks in LUN order
            for data in by_lun:
                if (data.optional_string("createOption") or "Attach").lower() != "attach":
                    raise invalid_content(data.path("createOption"), "an attached OS disk takes attached data disks")
                disk_ids.append(data.string("managedDisk.id"))
            image_id = None
            computer = admin = None
        elif option.lower() == "fromimage":
            image_id = body.string("properties.storageProfile.imageReference.id")
            # A VM from a generalized image needs an OS profile (azure-sdk-notes.md).
            computer = body.string("properties.osProfile.computerName")
            admin = body.string("properties.osProfile.adminUsername")
            os, disk_ids = OsType.LINUX, []
        else:
            raise invalid_content("properties.storageProfile.osDisk.createOption", f"'{option}': the emulator takes Attach or FromImage")
        security = self._security_profile(body, disk_ids[0] if option.lower() == "attach" else None)
        network_id, nic_ids, nic_delete = self._network_of_vm_body(body, name)
        extras = VmExtras(
            nic_ids=nic_ids,
            nic_delete=nic_delete,
            os_disk_delete=os_disk_delete,
            data_disks_delete=data_delete,
            create_option=DiskCreateOption.ATTACH if option.lower() == "attach" else DiskCreateOption.FROM_IMAGE,
            image_id=image_id,
            computer_name=computer,
            admin_username=admin,
            admin_password_sha256=password_sha256 if image_id is not None else None,
            security_profile=security,
        )
        for nic_id in nic_ids:
            self.state.nics[id_key(nic_id)].vm_id = resource_id

        async def create() -> Outcome:
            try:
                if image_id is not None:
                    vm = await self.world.create_vm_from_image(
                        image_id, name=name, region=location, size=size, network_id=network_id, tags=tags
                    )
                else:
                    vm = await self.world.create_vm(
                        name=name, region=location, size=size, os=os, disk_ids=disk_ids, network_id=network_id, tags=tags
                    )
            except BaseException:
                for nic_id in nic_ids:
                    if (nic := self.state.nics.get(id_key(nic_id))) is not None:
                        nic.vm_id = None
                raise
            self.state.vm_extras[id_key(vm.id)] = extras
            return Outcome()

        properties: JsonObject = {
            k: body.get(f"properties.{k}")
            for k in ("hardwareProfile", "storageProfile", "networkProfile", "securityProfile")
            if body.has(f"properties.{k}")
        }
        # As ARM answers the PUT (VirtualMachine_Create_*.json, 201): the VM as it will be, with its vmId,
        # the OS disk's caching and type, and its data disks (none: an empty array).
        storage = dict(properties.get("storageProfile") or {})
        known_os = {"osType": _OS_NAME[os]} if image_id is None else {}  # from an image: the image's, known once made
        storage["osDisk"] = {"caching": "ReadWrite", **known_os, **(storage.get("osDisk") or {})}
        storage.setdefault("dataDisks", [])
        properties["storageProfile"] = storage
        properties["vmId"] = self.state.stable_guid(resource_id)
        pending = self._pending(resource_id, VM_TYPE, body, properties)
        return await self._lro(
            request,
            resource_id=resource_id,
            location=location,
            work=create(),
            operation=f"{VM_TYPE}/write",
            pending=pending,
            state=Provisioning.CREATING,
            status=201,
            with_location=False,
        )

    def _security_profile(self, body: Body, os_disk_id: str | None) -> JsonObject | None:
        """The VM's securityProfile (VirtualMachine_Create_WithUefiSettings.json: securityType TrustedLaunch and
        uefiSettings secureBootEnabled, vTpmEnabled), checked against the OS disk it attaches: a Trusted
        Launch disk needs a Trusted Launch VM and a Standard disk a Standard VM, else ARM answers 400
        BadRequest "Security type of VM is not compatible with the security type of attached OS Disk."
        (Azure/azure-sdk-for-python#30479, Azure/azure-powershell#24253)."""
        kind = body.optional_string("properties.securityProfile.securityType")
        if kind is not None and kind.lower() not in (TRUSTED_LAUNCH.lower(), "standard"):
            raise invalid_content("properties.securityProfile.securityType", f"'{kind}': the emulator serves TrustedLaunch and Standard")
        trusted = kind is not None and kind.lower() == TRUSTED_LAUNCH.lower()
        if os_disk_id is not None and trusted != (self.trusted_launch(os_disk_id) is not None):
            raise ArmError(400, ErrorCode.BAD_REQUEST, "Security type of VM is not compatible with the security type of attached OS Disk.")
        if not trusted:
            return None
        uefi = body.child("properties.securityProfile.uefiSettings")
        return {
            "securityType": TRUSTED_LAUNCH,
            "uefiSettings": {
                "secureBootEnabled": uefi.boolean("secureBootEnabled", False),
                "vTpmEnabled": uefi.boolean("vTpmEnabled", False),
            },
        }

    # -------------------------------------------------------------------------------- actions

    async def deallocate(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        return await self._power_action(request, p, "deallocate", self.world.deallocate_vm)

    async def start_vm(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        return await self._power_action(request, p, "start", self.world.start_vm)

    async def _power_action(
        self, request: web.Request, p: dict[str, str], action: str, call: Callable[[str], Awaitable[object]]
    ) -> web.StreamResponse:
        """A VM power action: a long-running operation (202 with a Location) that updates the VM."""
        vm = await self._vm(self._id(p, VM_TYPE))

        async def act() -> Outcome:
            await call(vm.id)
            return Outcome()

        return await self._lro(
            request,
            resource_id=vm.id,
            location=vm.region,
            work=act(),
            operation=f"{VM_TYPE}/{action}/action",
            pending=None,
            state=Provisioning.UPDATING,
            status=202,
            with_location=True,
        )

    async def generalize(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """Synchronous, as the SDK's `generalize` expects (200, no body)."""
        vm = await self._vm(self._id(p, VM_TYPE))
        await self.world.generalize_vm(vm.id)
        return web.Response(status=200)

    async def run_command(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        body = await Body.of(request)
        command = body.string("commandId")
        vm = await self._vm(self._id(p, VM_TYPE))
        wanted = _COMMAND_OS.get(command.lower())
        if wanted is None or wanted is not vm.os:
            raise ArmError(
                400,
                ErrorCode.INVALID_PARAMETER,
                f"Command '{command}' is not supported on {_OS_NAME[vm.os]} VM {vm.name}: "
                f"use {WINDOWS_COMMAND_ID if vm.os is OsType.WINDOWS else LINUX_COMMAND_ID}.",
                target="commandId",
            )
        # Run Command needs a running VM whose guest agent is ready (run-command troubleshooting).
        if vm.power is not PowerState.RUNNING:
            raise ArmError(
                409, ErrorCode.OPERATION_NOT_ALLOWED, f"Operation 'RunCommand' is not allowed since VM {vm.name} is {vm.power.value}."
            )
        if not vm.booted:
            raise ArmError(409, ErrorCode.VM_AGENT_NOT_READY, f"The guest agent of VM {vm.name} is not ready: Run Command cannot reach it.")

        asked = check_parameters(body.strings("script"))

        async def act() -> Outcome:
            reading = await self.world.read_canary(vm.id)
            if not reading.reachable:
                raise ArmError(409, ErrorCode.VM_AGENT_NOT_READY, f"The guest agent of VM {vm.name} did not answer the command.")
            return Outcome(result=self.run_command_result(vm.os, self._canary_report(vm, reading, asked)))

        return await self._lro(
            request,
            resource_id=vm.id,
            location=vm.region,
            work=act(),
            operation=f"{VM_TYPE}/runCommand/action",
            pending=None,
            state=Provisioning.UPDATING,
            status=202,
            with_location=True,
        )

    def _canary_report(self, vm: VirtualMachine, reading: CanaryReading, asked: tuple[str, datetime | None] | None) -> str:
        """What drsim's canary check prints on this VM (drsim.cloud.canary): the world's markers as the
        writer installed on its production VM wrote them (that VM's vmId), on the OS volume and one log
        per guest volume; the markers the VM's own writer appended since it booted (its own vmId); and
        the check's filter (the production vmId and cutoff the script was given). A script that is not
        the check is answered as the check with production's vmId and no cutoff."""
        interval = self.world.catalog.workload.canary_interval.sample(0.5)
        writer = self.state.stable_guid(reading.written_by) if reading.written_by else None
        own = self.state.stable_guid(vm.id)
        wanted, cutoff = asked if asked is not None else (writer, None)

        def marker(instant: datetime, vm_uuid: str, *, corrupt: bool = False) -> Marker:
            sequence, at = marker_at(instant, interval)
            return Marker(sequence, at, vm_uuid, corrupt)

        now = self.world.now()
        windows = vm.os is OsType.WINDOWS
        # A recovered VM runs the writer it was recovered with, from its boot on, under its own vmId.
        newest_own = marker(now, own) if writer is not None and writer != own else None

        def volume(path: str, instants: Sequence[datetime | None], consistent: bool) -> JsonObject:
            held = [i for i in instants if i is not None]
            if writer is None or len(held) < len(instants) or not held:
                return {
                    "path": path,
                    "fs": None,
                    "mount": "missing",
                    "check": "unchecked",
                    "detail": "no block device holds the volume's filesystem",
                    "log": "missing",
                    "lines": 0,
                    "bad_line": 0,
                    "torn_tail": False,
                    "production": None,
                    "newest": None,
                    "corrupt": 0,
                }
            data = min(held)  # a torn stripe holds at best its oldest disk's data
            if cutoff is not None and data > cutoff:
                data = cutoff
            production = marker(data, writer, corrupt=reading.corrupted) if wanted == writer else None
            last_written = marker(max(held), writer, corrupt=reading.corrupted)
            newest = newest_own or last_written
            found = "Repair-Volume -Scan: SpotFixNeeded" if windows else "e2fsck -n found errors (exit 4)"
            torn = None if consistent else f"{found}: the volume's disks hold different instants"
            entry = volume_report(path, production=production, newest=newest, lines=newest.sequence, clean=consistent, detail=torn)
            entry["corrupt"] = int(reading.corrupted)
            return entry

        os_volume = DEFAULT_WINDOWS_VOLUME if windows else DEFAULT_LINUX_VOLUME
        volumes = [volume(os_volume, (reading.last_marker_at,), True)]
        for index, guest in enumerate(reading.volumes):
            path = f"{chr(ord('F') + index)}:\\" if windows else f"/{guest.name}"
            volumes.append(volume(path, guest.disk_instants, guest.consistent))
        return render_report(volumes)

    @staticmethod
    def run_command_result(os: OsType, stdout: str) -> JsonObject:
        """RunCommandResult as the guest agent reports it: one message with stdout and stderr on Linux,
        StdOut and StdErr component statuses on Windows (virtual-machines/linux|windows/run-command)."""
        if os is OsType.WINDOWS:
            return {
                "value": [
                    _status("ComponentStatus/StdOut/succeeded", "Provisioning succeeded") | {"message": stdout},
                    _status("ComponentStatus/StdErr/succeeded", "Provisioning succeeded") | {"message": ""},
                ]
            }
        return {
            "value": [
                _status("ProvisioningState/succeeded", "Provisioning succeeded")
                | {"message": f"Enable succeeded: \n[stdout]\n{stdout}\n\n[stderr]\n"}
            ]
        }

    # -------------------------------------------------------------------------------- deletes

    async def delete_vm(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        resource_id = self._id(p, VM_TYPE)
        self.ensure_idle(resource_id, "delete")
        view = await self._view()
        vm = view.vms.get(id_key(resource_id))
        if vm is None:
            return no_content()  # deleting what does not exist succeeds (ARM: 204)
        extras = self.state.vm_extras.get(id_key(resource_id))

        async def remove() -> Outcome:
            await self.world.delete(vm.id)
            if extras is not None:
                # deleteOption Delete: the OS disk, data disks and NICs go with the VM.
                doomed = ([vm.disk_ids[0]] if extras.os_disk_delete and vm.disk_ids else []) + (
                    list(vm.disk_ids[1:]) if extras.data_disks_delete else []
                )
                for disk_id in doomed:
                    await self.world.delete(disk_id)
                    self.state.forget(disk_id)
                for nic_id in extras.nic_delete:
                    self.state.nics.pop(id_key(nic_id), None)
                    self.state.forget(nic_id)
            else:
                # A VM the world made (a Backup restore): its NIC was Azure's, with deleteOption Detach; it stays.
                self.state.detach_nic(vm)
            for nic in self.state.nics.values():
                if nic.vm_id is not None and id_key(nic.vm_id) == id_key(vm.id):
                    nic.vm_id = None
            self.state.forget(vm.id)
            return Outcome()

        pending = self.vm_json(vm, view, instance_view=False)
        return await self._lro(
            request,
            resource_id=resource_id,
            location=vm.region,
            work=remove(),
            operation=f"{VM_TYPE}/delete",
            pending=pending,
            state=Provisioning.DELETING,
            status=202,
            with_location=True,
        )

    def deleter(self, kind: str) -> Handler:
        async def handler(request: web.Request, p: dict[str, str]) -> web.StreamResponse:
            resource_id = self._id(p, kind)
            self.ensure_idle(resource_id, "delete")
            found = await self._find(kind, resource_id, await self._view())
            if found is None:
                return no_content()

            async def remove() -> Outcome:
                await self.world.delete(found["id"])
                self.state.forget(found["id"])
                return Outcome()

            return await self._lro(
                request,
                resource_id=resource_id,
                location=found["location"],
                work=remove(),
                operation=f"{kind}/delete",
                pending=found,
                state=Provisioning.DELETING,
                status=202,
                with_location=True,
            )

        return handler
