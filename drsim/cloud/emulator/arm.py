"""The ARM protocol layer of the emulator: routing, errors, request bodies and JSON conventions.

Azure Resource Manager answers every error as `{"error": {"code", "message"}}`, requires
`api-version` on every call and routes case-insensitively; this module is that much of ARM, with no
knowledge of any resource provider. Sources: azure-resource-manager/management/request-limits-and-
throttling, the ARM RPC contract (github.com/cloud-and-ai-microsoft/resource-provider-contract,
common-api-details.md: error body, api-version, 404 codes) and azure-sdk-notes.md.

A bad request is always a 4xx in ARM's error shape, never a 500: a body that is not JSON, or nests
deeper than MAX_JSON_DEPTH, is 400 InvalidRequestContent (MicrosoftDocs/azure-docs,
azure-resource-manager/troubleshooting/common-deployment-errors.md); a body over 4 MiB is 413
RequestContentTooLarge, "The request content size exceeds the maximum size of 4 MB." (ARM's answer
as quoted in Azure/Azure-Landing-Zones#2644 and Azure/azure-api-management-devops-resource-kit#594;
the limit is Azure/azure-resource-manager-rpc#138); a body not sent in time is 408.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from aiohttp import web

from drsim.cloud.api import Job, JobErrorKind
from drsim.cloud.arm import RequestClass
from drsim.errors import (
    CapacityError,
    ConflictError,
    NotFoundError,
    ProviderError,
    QuotaError,
    ThrottledError,
    TransientError,
)
from drsim.times import utc_text

JsonObject = dict[str, Any]

MAX_BODY_BYTES = 4 * 1024 * 1024
"""ARM refuses request content over 4 MB with 413 RequestContentTooLarge."""
MAX_JSON_DEPTH = 64
"""How deep a request body may nest objects and arrays (ARM bodies nest a dozen levels at most); the
emulator's own limit, far below where Python's JSON parser would run out of stack."""


class ErrorCode(StrEnum):
    """The ARM error codes the emulator answers with (ARM RPC contract, common-api-details.md)."""

    AUTHENTICATION_FAILED = "AuthenticationFailed"
    MISSING_API_VERSION = "MissingApiVersionParameter"
    INVALID_API_VERSION = "InvalidApiVersionParameter"
    NO_REGISTERED_PROVIDER = "NoRegisteredProviderFound"
    AUTHORIZATION_FAILED = "AuthorizationFailed"
    IN_USE_SUBNET = "InUseSubnetCannotBeDeleted"
    INVALID_REQUEST_CONTENT = "InvalidRequestContent"
    REQUEST_CONTENT_TOO_LARGE = "RequestContentTooLarge"
    REQUEST_TIMEOUT = "RequestTimeout"
    INVALID_PARAMETER = "InvalidParameter"
    BAD_REQUEST = "BadRequest"  # Compute's code for a Trusted Launch mismatch (Azure/azure-sdk-for-python#30479)
    INVALID_RESOURCE_TYPE = "InvalidResourceType"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    SUBSCRIPTION_NOT_FOUND = "SubscriptionNotFound"
    RESOURCE_GROUP_NOT_FOUND = "ResourceGroupNotFound"
    RESOURCE_NOT_FOUND = "ResourceNotFound"
    CONFLICT = "Conflict"
    ANOTHER_OPERATION_IN_PROGRESS = "AnotherOperationInProgress"
    # Compute: a PUT of an existing VM that changes what cannot change once it is made, its osProfile's
    # adminPassword among them (409; the answer quoted in hashicorp/terraform#6528).
    PROPERTY_CHANGE_NOT_ALLOWED = "PropertyChangeNotAllowed"
    OPERATION_NOT_ALLOWED = "OperationNotAllowed"
    QUOTA_EXCEEDED = "QuotaExceeded"
    ALLOCATION_FAILED = "AllocationFailed"
    VM_AGENT_NOT_READY = "VMAgentStatusCommunicationError"
    NIC_IN_USE = "NicInUse"
    OPERATION_FAILED = "OperationFailed"
    TOO_MANY_REQUESTS = "TooManyRequests"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"
    INTERNAL_ERROR = "InternalServerError"
    # Azure Backup: a cross-region restore call on a vault without it (400; the answer quoted in
    # Azure/azure-rest-api-specs#23842 from hashicorp/terraform-provider-azurerm#21663).
    CRR_NOT_ENABLED = "BMSUserErrorCrossRegionRestoreNotEnabledInThisVault"


class ArmError(Exception):
    """An ARM error response: HTTP status, code, message, and the request field it concerns."""

    def __init__(self, status: int, code: ErrorCode, message: str, *, target: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.retry_after = retry_after

    def body(self) -> JsonObject:
        error: JsonObject = {"code": str(self.code), "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        return {"error": error}

    def response(self) -> web.Response:
        headers = {"x-ms-failure-cause": "gateway" if self.status in (400, 401, 404) else "service"}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return web.json_response(self.body(), status=self.status, headers=headers)


def nests_deeper_than(data: object, limit: int) -> bool:
    """Whether the objects and arrays of parsed JSON nest deeper than `limit` (walked without recursion)."""
    level: list[tuple[object, int]] = [(data, 1)]
    while level:
        node, depth = level.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        level.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def invalid_content(field_path: str, problem: str) -> ArmError:
    """400 InvalidRequestContent naming the JSON path of the offending field."""
    return ArmError(
        400,
        ErrorCode.INVALID_REQUEST_CONTENT,
        f"The request content was invalid and could not be deserialized: '{problem}' Path '{field_path}'.",
        target=field_path,
    )


def retry_after_seconds(world_seconds: float, speed: float) -> int:
    """Retry-After in real seconds (an integer header, as the SDK deserializes it) for a world delay."""
    real = world_seconds / speed
    whole = int(real)
    return max(1, whole + (1 if real > whole else 0))


def from_provider_error(exc: ProviderError, *, speed: float) -> ArmError:
    """Translate a world error into the ARM answer a real service gives for it."""
    if isinstance(exc, ThrottledError):
        # ARM answers an empty token bucket with 429 and Retry-After (request-limits-and-throttling).
        return ArmError(429, ErrorCode.TOO_MANY_REQUESTS, str(exc), retry_after=retry_after_seconds(exc.retry_after, speed))
    if isinstance(exc, NotFoundError):
        return ArmError(404, ErrorCode.RESOURCE_NOT_FOUND, str(exc))
    if isinstance(exc, ConflictError):
        return ArmError(409, ErrorCode.CONFLICT, str(exc))
    if isinstance(exc, QuotaError):
        return ArmError(409, ErrorCode.QUOTA_EXCEEDED, str(exc))
    if isinstance(exc, CapacityError):
        return ArmError(409, ErrorCode.ALLOCATION_FAILED, str(exc))
    if isinstance(exc, TransientError):
        return ArmError(503, ErrorCode.SERVICE_UNAVAILABLE, str(exc), retry_after=1)
    return ArmError(500, ErrorCode.INTERNAL_ERROR, str(exc))


# ------------------------------------------------------------------------------------------- bodies


@dataclass(frozen=True)
class Body:
    """A JSON request body (or a part of one at `prefix`), read field by field; a bad field is ARM's
    400 InvalidRequestContent naming its full path."""

    data: Mapping[str, Any]
    prefix: str = ""

    @staticmethod
    async def of(request: web.Request, *, required: bool = True) -> Body:
        raw = await request.read()
        if not raw.strip():
            if required:
                raise ArmError(400, ErrorCode.INVALID_REQUEST_CONTENT, "The request content was invalid: the body is empty.", target="$")
            return Body({})
        try:
            data = json.loads(raw)
            too_deep = nests_deeper_than(data, MAX_JSON_DEPTH)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ArmError(
                400, ErrorCode.INVALID_REQUEST_CONTENT, f"The request content was invalid and could not be deserialized: {exc}.", target="$"
            ) from None
        except RecursionError:  # Python's parser gives up near a thousand levels
            too_deep = True
        if too_deep:
            raise ArmError(
                400,
                ErrorCode.INVALID_REQUEST_CONTENT,
                "The request content was invalid and could not be deserialized: "
                f"its objects and arrays nest deeper than {MAX_JSON_DEPTH} levels.",
                target="$",
            )
        if not isinstance(data, dict):
            raise invalid_content("$", "the body must be a JSON object")
        return Body(data)

    def path(self, field_path: str) -> str:
        return f"{self.prefix}.{field_path}" if self.prefix else field_path

    def _walk(self, field_path: str) -> tuple[bool, Any]:
        node: Any = self.data
        for part in field_path.split("."):
            if not isinstance(node, Mapping):
                return False, None
            found = next((k for k in node if k.lower() == part.lower()), None)  # ARM reads JSON case-insensitively
            if found is None:
                return False, None
            node = node[found]
        return True, node

    def get(self, field_path: str) -> Any:
        return self._walk(field_path)[1]

    def has(self, field_path: str) -> bool:
        present, value = self._walk(field_path)
        return present and value is not None

    def child(self, field_path: str) -> Body:
        """The object at `field_path` (empty when absent), reporting errors under its full path."""
        present, value = self._walk(field_path)
        if present and value is not None and not isinstance(value, Mapping):
            raise invalid_content(self.path(field_path), f"Property '{self.path(field_path)}' must be an object.")
        return Body(value if isinstance(value, Mapping) else {}, self.path(field_path))

    def string(self, field_path: str) -> str:
        present, value = self._walk(field_path)
        where = self.path(field_path)
        if not present or value is None:
            raise invalid_content(where, f"Required property '{where}' not found in JSON.")
        if not isinstance(value, str) or not value:
            raise invalid_content(where, f"Property '{where}' must be a non-empty string.")
        return value

    def optional_string(self, field_path: str) -> str | None:
        present, value = self._walk(field_path)
        if not present or value is None:
            return None
        if not isinstance(value, str):
            raise invalid_content(self.path(field_path), f"Property '{self.path(field_path)}' must be a string.")
        return value

    def integer(self, field_path: str) -> int:
        present, value = self._walk(field_path)
        where = self.path(field_path)
        if not present or value is None:
            raise invalid_content(where, f"Required property '{where}' not found in JSON.")
        if not isinstance(value, int) or isinstance(value, bool):
            raise invalid_content(where, f"Property '{where}' must be an integer.")
        return value

    def boolean(self, field_path: str, default: bool) -> bool:
        present, value = self._walk(field_path)
        if not present or value is None:
            return default
        if not isinstance(value, bool):
            raise invalid_content(self.path(field_path), f"Property '{self.path(field_path)}' must be true or false.")
        return value

    def objects(self, field_path: str) -> list[Body]:
        present, value = self._walk(field_path)
        if not present or value is None:
            return []
        where = self.path(field_path)
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise invalid_content(where, f"Property '{where}' must be an array of objects.")
        return [Body(v, f"{where}[{i}]") for i, v in enumerate(value)]

    def strings(self, field_path: str) -> list[str]:
        present, value = self._walk(field_path)
        if not present or value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid_content(self.path(field_path), f"Property '{self.path(field_path)}' must be an array of strings.")
        return list(value)

    def tags(self, field_path: str = "tags") -> dict[str, str]:
        present, value = self._walk(field_path)
        if not present or value is None:
            return {}
        if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise invalid_content(self.path(field_path), f"Property '{self.path(field_path)}' must be an object of string values.")
        return dict(value)


def job_error_code(job: Job, default: str) -> str:
    """The error code a failed job reports: Azure's allocation failure for a lack of capacity."""
    if job.error_kind is JobErrorKind.CAPACITY:
        return ErrorCode.ALLOCATION_FAILED.value
    if job.error_kind is JobErrorKind.TRANSIENT:
        return ErrorCode.INTERNAL_ERROR.value
    return default


def arm_time(moment: datetime) -> str:
    """ISO 8601 UTC with a Z, as ARM writes times."""
    return utc_text(moment)


def listing(values: Sequence[JsonObject]) -> JsonObject:
    """A list response: all of it. The application pages it (`page`) before it leaves the emulator."""
    return {"value": list(values)}


# ------------------------------------------------------------------------------------------ paging

SKIP_TOKEN = "$skiptoken"
"""The query parameter of a list's next page (ARM lists answer `nextLink` URLs carrying one)."""
DEFAULT_PAGE_SIZE = 2
"""Items per page of every list: small, so that every client follows `nextLink` (x-ms-pageable)."""


def _item_key(item: object) -> str:
    """What a continuation token remembers of the last item of a page: its ARM id (its JSON when it has none)."""
    ident = item.get("id") if isinstance(item, dict) else None
    text = ident if isinstance(ident, str) else json.dumps(item, sort_keys=True)
    return hashlib.sha256(text.lower().encode()).hexdigest()[:16]


class Pager:
    """Pages every list `{"value": [...]}`: `page_size` items, and a `nextLink` (`next_url(token)`) while
    more remain, as every x-ms-pageable list of the specs answers.

    A token (opaque, as ARM's `$skiptoken`s are) names a listing this pager remembers, with the items it
    has given: the next page is the first items of the list *as it is now* not given yet. So items that
    appear or go away between two pages (scheduled snapshots, expiring points) never make a client skip
    or repeat an item that was there throughout. The newest `KEPT` listings are remembered; an older
    token is refused like one the list never gave."""

    KEPT = 4096

    def __init__(self, page_size: int) -> None:
        self.page_size = page_size
        self._given: OrderedDict[str, set[str]] = OrderedDict()
        self._count = 0

    def page(self, body: JsonObject, *, skip: str | None, next_url: Callable[[str], str]) -> JsonObject:
        values = body["value"]
        if skip is None:
            given: set[str] = set()
        else:
            found = self._given.get(skip)  # kept: a client may send the same nextLink again (a retry after 429)
            if found is None:
                raise ArmError(400, ErrorCode.INVALID_PARAMETER, f"The {SKIP_TOKEN} '{skip}' is not one this list gave.", target=SKIP_TOKEN)
            self._given.move_to_end(skip)
            given = found
        remaining = [(key, item) for item in values if (key := _item_key(item)) not in given]
        page = remaining[: self.page_size]
        paged: JsonObject = {**body, "value": [item for _, item in page]}
        if len(remaining) > len(page):
            given = given | {key for key, _ in page}
            self._count += 1
            token = f"{self._count}.{_item_key(page[-1][1])}"
            self._given[token] = given
            while len(self._given) > self.KEPT:
                self._given.popitem(last=False)
            paged["nextLink"] = next_url(token)
        return paged


# ------------------------------------------------------------------------------------ api-versions

RESOURCES_NAMESPACE = "Microsoft.Resources"
PASSIVE_STAMP_API_VERSIONS = ("2018-12-20", "2021-11-15", "2023-01-15")
"""The api-versions of Azure Backup's cross-region restore (passive stamp) API: its operations on a vault's
paths (recovery points, protected items, storage config) answer from the secondary region
(azure-rest-api-specs, specification/recoveryservicesbackup/resource-manager/Microsoft.RecoveryServices/
RecoveryServicesBackup/stable/2021-11-15/, and recoveryservicesbackupcrr/.../questions.md: the passive
stamp's 2023-01-15 bms.json)."""
API_VERSIONS: dict[str, tuple[str, ...]] = {
    # What each resource provider the emulator serves accepts: the versions the pinned SDKs send
    # (azure-mgmt-compute 39: 2026-04-01, disks and snapshots 2026-03-02; azure-mgmt-network 33.1:
    # 2026-03-01; azure-mgmt-recoveryservicesbackup 11.2: 2026-10-01 (+ 2026-07-01, 2026-08-01,
    # 2026-08-31-preview for a few operations); azure-mgmt-recoveryservicessiterecovery 2.0:
    # 2025-08-01; azure-mgmt-resource 26: 2025-04-01; azure-mgmt-recoveryservicesbackup-passivestamp
    # 1.0.0b1, the cross-region restore (passive stamp) API: 2021-11-15) and earlier stable versions of
    # the specs' specification/<rp>/resource-manager folders that raw clients use.
    "Microsoft.Compute": (
        "2024-03-02",
        "2024-07-01",
        "2024-11-01",
        "2025-01-02",
        "2025-04-01",
        "2026-03-02",
        "2026-04-01",
    ),
    "Microsoft.Network": ("2024-01-01", "2024-03-01", "2024-05-01", "2024-07-01", "2024-10-01", "2025-01-01", "2026-03-01"),
    "Microsoft.RecoveryServices": (
        *PASSIVE_STAMP_API_VERSIONS,
        "2024-04-01",
        "2024-10-01",
        "2025-02-01",
        "2025-08-01",
        "2026-07-01",
        "2026-08-01",
        "2026-08-31-preview",
        "2026-10-01",
    ),
    RESOURCES_NAMESPACE: ("2016-06-01", "2021-04-01", "2022-12-01", "2024-03-01", "2024-07-01", "2024-11-01", "2025-04-01"),
    "Microsoft.Authorization": ("2015-07-01", "2018-01-01-preview", "2022-04-01"),
    "Microsoft.Storage": ("2023-01-01", "2023-05-01", "2024-01-01", "2025-01-01"),
}
_API_VERSION_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview|-beta|-privatepreview)?$", re.IGNORECASE)
_PROVIDERS = re.compile(r"/providers/([^/]+)((?:/[^/]+)?)", re.IGNORECASE)


def namespace_of(path: str) -> tuple[str, str]:
    """The resource provider namespace a path is served by (its last `/providers/<ns>`; none:
    Microsoft.Resources, ARM's own) and the resource type right after it."""
    found = list(_PROVIDERS.finditer(path))
    if not found:
        return RESOURCES_NAMESPACE, "resourceGroups" if "/resourcegroups/" in path.lower() else "subscriptions"
    namespace, kind = found[-1].group(1), found[-1].group(2).lstrip("/")
    known = next((n for n in API_VERSIONS if n.lower() == namespace.lower()), namespace)
    return known, kind


def check_api_version(path: str, version: str, *, location: str, locations: Sequence[str]) -> None:
    """Refuse an api-version the path's resource provider does not have, as ARM refuses it: 400
    InvalidApiVersionParameter for ARM's own endpoints and for a malformed version, 400
    NoRegisteredProviderFound for a resource provider's type ("No registered resource provider found for
    location 'centralus' and API version '2018-07-02' for type 'storageAccounts'. The supported api-versions
    are '...'. The supported locations are '...'.": MicrosoftDocs/azure-docs,
    articles/azure-resource-manager/templates/template-tutorial-troubleshoot.md)."""
    namespace, kind = namespace_of(path)
    supported = API_VERSIONS.get(namespace)
    if supported is None or version in supported:
        return  # a namespace the emulator does not serve: routing answers 404 InvalidResourceType
    listed = ", ".join(sorted(supported, reverse=True))
    if namespace == RESOURCES_NAMESPACE or not _API_VERSION_FORMAT.match(version):
        raise ArmError(
            400,
            ErrorCode.INVALID_API_VERSION,
            f"The api-version '{version}' is invalid. The supported versions are '{listed}'.",
        )
    raise ArmError(
        400,
        ErrorCode.NO_REGISTERED_PROVIDER,
        f"No registered resource provider found for location '{location}' and API version '{version}' for type "
        f"'{kind or namespace}'. The supported api-versions are '{listed}'. The supported locations are '{', '.join(locations)}'.",
    )


def newest_api_version(path: str) -> str:
    """The newest api-version the emulator accepts for a path (what the pinned SDK sends); for a namespace
    it does not serve, a version of the ARM era it does."""
    return max(API_VERSIONS.get(namespace_of(path)[0], ("2024-07-01",)))


# ------------------------------------------------------------------------------------------ routing


Handler = Callable[[web.Request, dict[str, str]], Awaitable[web.StreamResponse]]
PathOf = Callable[[str], str]
"""The URL path of an operation's status or result, given the operation id."""


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    pattern: re.Pattern[str] = field(compare=False)

    @property
    def request_class(self) -> RequestClass:
        return RequestClass.of(self.method)


def _compile(template: str) -> re.Pattern[str]:
    """`{name}` matches one path segment, `{name*}` one or more (a scope such as a resource id)."""
    regex = re.escape(template)
    regex = re.sub(r"\\\{(\w+)\\\*\\\}", r"(?P<\1>.+?)", regex)
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
    return re.compile(f"^{regex}/?$", re.IGNORECASE)


class Router:
    """Routes by method and case-insensitive path template (`/subscriptions/{subscription}/...`), as ARM does."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        self._routes.append(Route(method, template, handler, _compile(template)))

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed: list[str] = []
        for route in self._routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            if route.method == method:
                return route, match.groupdict()
            allowed.append(route.method)
        if allowed:
            raise ArmError(405, ErrorCode.METHOD_NOT_ALLOWED, f"The requested resource does not support http method '{method}'.")
        raise ArmError(404, ErrorCode.INVALID_RESOURCE_TYPE, f"The emulator serves no resource type at '{path}'.")

    def __len__(self) -> int:
        return len(self._routes)
