"""Azure RBAC as a drill identity meets it: role assignments at scopes, 403 AuthorizationFailed for
what they do not allow, and the Microsoft.Authorization `permissions` list.

A request's action is ARM's operation name, derived from its method and path as resource providers
name their operations (`Microsoft.Compute/virtualMachines/write`, `.../runCommand/action`,
`Microsoft.Resources/tags/write`); it is allowed when a role assigned at the request's scope or above
has an `actions` pattern matching it and no `notActions` pattern does (role-definitions: wildcards,
case-insensitive). A refusal is ARM's 403:

    The client '<id>' with object id '<id>' does not have authorization to perform action '<action>'
    over scope '<scope>' or the scope is invalid. If access was recently granted, please refresh your
    credentials.

(as quoted from ARM in MicrosoftDocs/azure-docs and Azure/azure-cli issues). The default assignments
are the roles docs/azure.md gives a drill identity: Reader on the subscription, Contributor on each
writable resource group (the drill's; Backup restores need resourceGroups/write there,
backup-rbac-rs-vault), Backup Operator and Site Recovery Operator on the vaults, Virtual Machine
Contributor on each VM Azure Backup protects (Restore VM needs virtualMachines/write on the source VM,
backup-rbac-rs-vault), Storage Account Contributor on each staging storage account, and, when a vault has
cross-region restore, the six `Microsoft.RecoveryServices/locations/backupCrr*` permissions on the
subscription (backup-rbac-rs-vault, "Cross region restore").

The role definitions below are Azure's built-in roles (MicrosoftDocs/azure-docs,
articles/role-based-access-control/built-in-roles/{general,compute,networking,storage,
management-and-governance}.md), abridged to the operations of the providers the emulator serves.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from aiohttp import web

from drsim.cloud.emulator.arm import ArmError, ErrorCode, JsonObject, Router, listing

PERMISSIONS_API = "Microsoft.Authorization/permissions"


@dataclass(frozen=True)
class RoleDefinition:
    """A built-in role: what it allows (`actions`) less what it excludes (`not_actions`)."""

    name: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()

    def allows(self, action: str) -> bool:
        wanted = action.lower()
        return any(fnmatchcase(wanted, a.lower()) for a in self.actions) and not any(
            fnmatchcase(wanted, n.lower()) for n in self.not_actions
        )

    def permission_json(self) -> JsonObject:
        """One entry of the permissions list (PermissionGetResult.value[], Microsoft.Authorization 2022-04-01)."""
        return {"actions": list(self.actions), "notActions": list(self.not_actions), "dataActions": [], "notDataActions": []}


_READ_COMMON = ("Microsoft.Authorization/*/read", "Microsoft.Resources/subscriptions/resourceGroups/read")
READER = RoleDefinition("Reader", ("*/read",))
CONTRIBUTOR = RoleDefinition(
    "Contributor",
    ("*",),
    (
        "Microsoft.Authorization/*/Delete",
        "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action",
        "Microsoft.Blueprint/blueprintAssignments/write",
        "Microsoft.Blueprint/blueprintAssignments/delete",
        "Microsoft.Compute/galleries/share/action",
    ),
)
VIRTUAL_MACHINE_CONTRIBUTOR = RoleDefinition(
    "Virtual Machine Contributor",
    (
        *_READ_COMMON,
        "Microsoft.Compute/availabilitySets/*",
        "Microsoft.Compute/locations/*",
        "Microsoft.Compute/virtualMachines/*",
        "Microsoft.Compute/disks/write",
        "Microsoft.Compute/disks/read",
        "Microsoft.Compute/disks/delete",
        "Microsoft.Network/networkInterfaces/*",
        "Microsoft.Network/networkSecurityGroups/join/action",
        "Microsoft.Network/networkSecurityGroups/read",
        "Microsoft.Network/virtualNetworks/read",
        "Microsoft.Network/virtualNetworks/subnets/join/action",
        "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/write",
        "Microsoft.Storage/storageAccounts/read",
    ),
)
NETWORK_CONTRIBUTOR = RoleDefinition("Network Contributor", (*_READ_COMMON, "Microsoft.Network/*"))
DISK_SNAPSHOT_CONTRIBUTOR = RoleDefinition(
    "Disk Snapshot Contributor",
    (
        *_READ_COMMON,
        "Microsoft.Compute/snapshots/delete",
        "Microsoft.Compute/snapshots/write",
        "Microsoft.Compute/snapshots/read",
        "Microsoft.Compute/snapshots/beginGetAccess/action",
        "Microsoft.Compute/snapshots/endGetAccess/action",
        "Microsoft.Compute/disks/beginGetAccess/action",
        "Microsoft.Storage/storageAccounts/listkeys/action",
        "Microsoft.Storage/storageAccounts/write",
        "Microsoft.Storage/storageAccounts/read",
        "Microsoft.Storage/storageAccounts/delete",
    ),
)
TAG_CONTRIBUTOR = RoleDefinition(
    "Tag Contributor",
    (
        *_READ_COMMON,
        "Microsoft.Resources/subscriptions/resourceGroups/resources/read",
        "Microsoft.Resources/subscriptions/resources/read",
        "Microsoft.Resources/tags/*",
    ),
)
BACKUP_OPERATOR = RoleDefinition(
    "Backup Operator",
    (
        *_READ_COMMON,
        "Microsoft.RecoveryServices/Vaults/backupFabrics/operationResults/read",
        "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/*/read",
        "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/read",
        "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/backup/action",
        "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/recoveryPoints/read",
        "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/recoveryPoints/restore/action",
        "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems/recoveryPoints/accessToken/action",
        "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/read",
        "Microsoft.RecoveryServices/Vaults/backupJobs/*",
        "Microsoft.RecoveryServices/Vaults/backupOperationResults/*",
        "Microsoft.RecoveryServices/Vaults/backupPolicies/read",
        "Microsoft.RecoveryServices/Vaults/backupProtectedItems/read",
        "Microsoft.RecoveryServices/Vaults/backupstorageconfig/*",
        "Microsoft.RecoveryServices/Vaults/read",
        "Microsoft.RecoveryServices/locations/*",
        "Microsoft.Storage/storageAccounts/read",
    ),
)
SITE_RECOVERY_OPERATOR = RoleDefinition(
    "Site Recovery Operator",
    (
        *_READ_COMMON,
        "Microsoft.RecoveryServices/Vaults/read",
        "Microsoft.RecoveryServices/vaults/replicationFabrics/read",
        "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/read",
        "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems/read",
        "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems/recoveryPoints/read",
        "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems/testFailover/action",
        "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems/testFailoverCleanup/action",
        "Microsoft.RecoveryServices/vaults/replicationJobs/*",
        "Microsoft.RecoveryServices/vaults/replicationPolicies/read",
        "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans/read",
        "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans/testFailover/action",
        "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans/testFailoverCleanup/action",
        "Microsoft.Storage/storageAccounts/read",
    ),
)
CROSS_REGION_RESTORE = RoleDefinition(
    # backup-rbac-rs-vault, "Cross region restore": Backup Operator on the subscription of the vault, or
    # a custom role with exactly these permissions (the alternative the page gives).
    "Cross Region Restore (custom)",
    (
        "Microsoft.RecoveryServices/locations/backupAadProperties/read",
        "Microsoft.RecoveryServices/locations/backupCrrJobs/action",
        "Microsoft.RecoveryServices/locations/backupCrrJob/action",
        "Microsoft.RecoveryServices/locations/backupCrossRegionRestore/action",
        "Microsoft.RecoveryServices/locations/backupCrrOperationResults/read",
        "Microsoft.RecoveryServices/locations/backupCrrOperationsStatus/read",
    ),
)
STORAGE_ACCOUNT_CONTRIBUTOR = RoleDefinition(
    "Storage Account Contributor", (*_READ_COMMON, "Microsoft.Storage/storageAccounts/*", "Microsoft.Insights/diagnosticSettings/*")
)
BUILT_IN_ROLES = {
    r.name: r
    for r in (
        READER,
        CONTRIBUTOR,
        VIRTUAL_MACHINE_CONTRIBUTOR,
        NETWORK_CONTRIBUTOR,
        DISK_SNAPSHOT_CONTRIBUTOR,
        TAG_CONTRIBUTOR,
        BACKUP_OPERATOR,
        SITE_RECOVERY_OPERATOR,
        CROSS_REGION_RESTORE,
        STORAGE_ACCOUNT_CONTRIBUTOR,
    )
}


@dataclass(frozen=True)
class RoleAssignment:
    """A role given to the drill identity at a scope (and so at everything under it)."""

    scope: str
    role: RoleDefinition

    def covers(self, scope: str) -> bool:
        """The assignment's scope is `scope` or one of its parents (whole path segments, case-insensitive)."""
        mine, theirs = self.scope.rstrip("/").lower(), scope.rstrip("/").lower()
        return theirs == mine or theirs.startswith(mine + "/")


_ACTION_SEGMENT = re.compile(r"^[A-Za-z]+$")


def action_of(method: str, path: str) -> tuple[str, str]:
    """ARM's operation name for a request and the scope it acts on: `(Microsoft.Compute/virtualMachines/write,
    /subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm)`.

    After the last `/providers/<namespace>/`, segments alternate type and name; a path ending on a type
    is a collection (read) or, for POST, an action on the resource before it."""
    parts = [p for p in path.strip("/").split("/") if p]
    lowered = [p.lower() for p in parts]
    verb = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}.get(method.upper(), "action")
    if "providers" in lowered:
        at = len(lowered) - 1 - lowered[::-1].index("providers")
        namespace, rest = parts[at + 1] if at + 1 < len(parts) else "", parts[at + 2 :]
        prefix = "/" + "/".join(parts[: at + 2])
        types = rest[0::2]
        if verb == "action" and len(rest) % 2 == 1 and len(rest) > 1:
            operation = f"{namespace}/{'/'.join(types)}/action"
            scope = prefix + "/" + "/".join(rest[:-1])
        else:
            if verb == "action":
                verb = "write"  # a POST on a collection (create) writes
            operation = f"{namespace}/{'/'.join(types)}/{verb}" if types else f"{namespace}/{verb}"
            scope = prefix + ("/" + "/".join(rest) if rest else "")
        return operation, scope
    # ARM's own: /subscriptions/{s}, /subscriptions/{s}/resourcegroups/{g}
    if len(parts) >= 3 and lowered[2] == "resourcegroups":
        return f"Microsoft.Resources/subscriptions/resourceGroups/{verb}", "/" + "/".join(parts[:4])
    return f"Microsoft.Resources/subscriptions/{verb}", "/" + "/".join(parts[:2])


def parent_scope(scope: str) -> str:
    """The scope a `providers/<ns>/...` scope lives in: the resource before `/providers/` (or the group)."""
    head, sep, _ = scope.rpartition("/providers/")
    return head if sep else scope


class Authorization:
    """The drill identity's role assignments, their 403s, and `GET {scope}/providers/Microsoft.Authorization/permissions`."""

    CLIENT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "drsim-emulator/drill-identity"))

    def __init__(self, assignments: Iterable[RoleAssignment] = ()) -> None:
        self.assignments: list[RoleAssignment] = list(assignments)
        self.refused = 0
        """How many requests were answered 403."""

    def assign(self, scope: str, role: RoleDefinition) -> None:
        self.assignments.append(RoleAssignment(scope, role))

    def roles_at(self, scope: str) -> list[RoleDefinition]:
        """Every role that applies at `scope` (assigned there or above), each once, in assignment order."""
        found: list[RoleDefinition] = []
        for assignment in self.assignments:
            if assignment.covers(scope) and assignment.role not in found:
                found.append(assignment.role)
        return found

    def allows(self, scope: str, action: str) -> bool:
        return any(role.allows(action) for role in self.roles_at(scope))

    def check(self, method: str, path: str) -> None:
        """403 AuthorizationFailed unless a role at the request's scope allows its action."""
        action, scope = action_of(method, path)
        if action.lower() == "microsoft.authorization/permissions/read" or scope.rstrip("/").lower() == "/subscriptions":
            return  # anyone may ask what they may do, and list the subscriptions they can see
        if not self.allows(scope, action):
            self.refused += 1
            raise ArmError(
                403,
                ErrorCode.AUTHORIZATION_FAILED,
                f"The client '{self.CLIENT_ID}' with object id '{self.CLIENT_ID}' does not have authorization to perform action "
                f"'{action}' over scope '{scope}' or the scope is invalid. "
                "If access was recently granted, please refresh your credentials.",
            )

    def register(self, router: Router) -> None:
        router.add("GET", "/{scope*}/providers/Microsoft.Authorization/permissions", self.list_permissions)

    async def list_permissions(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """Permissions_ListForResourceGroup / Permissions_ListForResource (Microsoft.Authorization 2022-04-01,
        authorization-RoleDefinitionsCalls.json; example GetPermissions.json): one entry per role that
        applies at the scope."""
        scope = "/" + p["scope"].strip("/")
        return web.json_response(listing([role.permission_json() for role in self.roles_at(scope)]))


def default_assignments(
    subscription_id: str,
    *,
    writable_groups: Sequence[str],
    backup_vaults: Sequence[str],
    site_recovery_vaults: Sequence[str],
    protected_vms: Sequence[str],
    staging_accounts: Sequence[str],
    cross_region_restore: bool = False,
) -> list[RoleAssignment]:
    """The roles docs/azure.md gives a drill identity (see the module docstring); `cross_region_restore`:
    a vault restores in its secondary region, so the CRR permissions on the subscription too."""
    subscription = f"/subscriptions/{subscription_id}"
    found = [RoleAssignment(subscription, READER)]
    if cross_region_restore:
        found.append(RoleAssignment(subscription, CROSS_REGION_RESTORE))
    found += [RoleAssignment(f"{subscription}/resourceGroups/{g}", CONTRIBUTOR) for g in writable_groups]
    found += [RoleAssignment(v, BACKUP_OPERATOR) for v in backup_vaults]
    found += [RoleAssignment(v, SITE_RECOVERY_OPERATOR) for v in site_recovery_vaults]
    found += [RoleAssignment(vm, VIRTUAL_MACHINE_CONTRIBUTOR) for vm in protected_vms]
    found += [RoleAssignment(a, STORAGE_ACCOUNT_CONTRIBUTOR) for a in staging_accounts]
    return found
