"""Azure resource names from drsim's names: within Azure's length limits, deterministic, unique, readable.

drsim names what a drill creates `dr<run hash>-<vm>-<what>` (up to 80 characters). Azure allows less
for some kinds (azure-resource-manager/management/resource-name-rules): a VM resource name is 1-64
characters (Linux host names 64; Windows computer names 1-15, and never all digits), NICs, disks and
snapshots 80, virtual networks 64. A name over the limit keeps its readable head and ends with a
hash of the whole name, so two long names that share their first characters stay apart and the same
name always maps to the same Azure name (a resumed or repeated call finds what it made).
"""

from __future__ import annotations

import hashlib
import re

from drsim.cloud.api import ResourceKind

VM_NAME_MAX = 64
NIC_NAME_MAX = 80
DISK_NAME_MAX = 80
SNAPSHOT_NAME_MAX = 80
VNET_NAME_MAX = 64
NSG_NAME_MAX = 80
LINUX_COMPUTER_NAME_MAX = 64
WINDOWS_COMPUTER_NAME_MAX = 15
HASH_CHARS = 8

LIMITS = {
    ResourceKind.VM: VM_NAME_MAX,
    ResourceKind.NIC: NIC_NAME_MAX,
    ResourceKind.DISK: DISK_NAME_MAX,
    ResourceKind.SNAPSHOT: SNAPSHOT_NAME_MAX,
    ResourceKind.IMAGE: 80,
    ResourceKind.NETWORK: VNET_NAME_MAX,
    ResourceKind.NSG: NSG_NAME_MAX,
}
_NOT_HOST = re.compile(r"[^A-Za-z0-9-]")


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:HASH_CHARS]


def fit(name: str, limit: int) -> str:
    """`name` itself when it fits; else its head, `-` and a hash of all of it, `limit` characters long.
    The head loses trailing `-`, `.` and `_` (Azure names end with a letter, a digit or `_`)."""
    if len(name) <= limit:
        return name
    head = name[: limit - HASH_CHARS - 1].rstrip("-._")
    return f"{head}-{_digest(name)}"


def azure_name(name: str, kind: ResourceKind) -> str:
    """The name of a `kind` resource drsim creates as `name`, within that kind's limit."""
    return fit(name, LIMITS[kind])


def nic_name(vm_name: str) -> str:
    """The network interface of a VM drsim creates: `<vm>-nic`, within the NIC limit."""
    return fit(f"{vm_name}-nic", NIC_NAME_MAX)


def computer_name(vm_name: str, *, windows: bool) -> str:
    """The guest's host name: letters, digits and `-` only; at most 15 characters on Windows (NetBIOS)
    and not all digits, 64 on Linux. Deterministic and unique per VM name (a hash when it is cut)."""
    cleaned = _NOT_HOST.sub("-", vm_name).strip("-") or "vm"
    limit = WINDOWS_COMPUTER_NAME_MAX if windows else LINUX_COMPUTER_NAME_MAX
    if len(cleaned) > limit:
        head = cleaned[: limit - HASH_CHARS - 1].rstrip("-")
        cleaned = f"{head}-{_digest(vm_name)}"
    if cleaned.isdigit():
        cleaned = ("w" + cleaned)[:limit]
    return cleaned
