"""ARM resource ids: parse `/subscriptions/<sub>/resourceGroups/<rg>/providers/<ns>/<type>/<name>/...`.

ARM compares ids case-insensitively; `same_id` does the same so that an id read back from one API
(Backup's `virtualMachineId`, Site Recovery's `fabricObjectId`) matches the one Compute returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from drsim.errors import NotFoundError


@dataclass(frozen=True)
class ResourceId:
    """The parts of an ARM resource id: subscription, resource group, namespace and typed names."""

    subscription: str
    resource_group: str
    namespace: str
    # (type, name) pairs from the namespace on: (("virtualMachines", "web-01"),) or nested children
    path: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        """The last name in the id (the resource itself)."""
        return self.path[-1][1]

    @property
    def type(self) -> str:
        """`Microsoft.Compute/virtualMachines`, or `ns/parent/child` for nested resources."""
        return "/".join([self.namespace, *(kind for kind, _ in self.path)])

    def child(self, kind: str) -> str:
        """The name under a given type segment, e.g. `child("vaults")` of a backup recovery point id."""
        for segment, value in self.path:
            if segment.lower() == kind.lower():
                return value
        raise NotFoundError(f"resource id of type {self.type} has no {kind!r} segment")

    def __str__(self) -> str:
        names = "".join(f"/{kind}/{name}" for kind, name in self.path)
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/{self.namespace}{names}"


def parse_id(resource_id: str) -> ResourceId:
    """Split an ARM resource id; NotFoundError when it is not one (a provider gets ids only from ARM)."""
    parts = [p for p in resource_id.strip("/").split("/") if p]
    lowered = [p.lower() for p in parts]
    if len(parts) < 8 or lowered[0] != "subscriptions" or lowered[2] != "resourcegroups" or lowered[4] != "providers" or len(parts[6:]) % 2:
        raise NotFoundError(f"{resource_id!r} is not an ARM resource id (/subscriptions/<sub>/resourceGroups/<rg>/providers/...)")
    rest = parts[6:]
    pairs = tuple((rest[i], rest[i + 1]) for i in range(0, len(rest), 2))
    return ResourceId(subscription=parts[1], resource_group=parts[3], namespace=parts[5], path=pairs)


def resource_id(subscription: str, resource_group: str, namespace: str, *path: tuple[str, str]) -> str:
    """Compose an ARM resource id."""
    return str(ResourceId(subscription, resource_group, namespace, tuple(path)))


def same_id(left: str | None, right: str | None) -> bool:
    """ARM ids are case-insensitive (Azure Resource Manager naming rules)."""
    return left is not None and right is not None and left.rstrip("/").lower() == right.rstrip("/").lower()


def operation_name(url: str, segment: str) -> str | None:
    """The name after `segment` in a polling URL (`.../operationsStatus/<id>?api-version=...`)."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    for index, part in enumerate(parts[:-1]):
        if part.lower() == segment.lower():
            return parts[index + 1]
    return None
