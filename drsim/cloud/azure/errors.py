"""Azure SDK errors translated into drsim's error tree, at the provider's edge and nowhere else.

    azure.core.exceptions                      drsim.errors
    ResourceNotFoundError, 404                 NotFoundError
    ResourceExistsError, 409 (state, lease)    ConflictError
    429, or any error naming throttling        ThrottledError(retry_after)
    quota codes (QuotaExceeded, ...)           QuotaError
    allocation codes (AllocationFailed, ...)   CapacityError
    408, 5xx, connection and timeout errors    TransientError
    401/403, no credential                     ProviderError (with what to check)
    anything else (400 validation, ...)        ProviderError

Every translated error is raised `from` the SDK error, so the traceback of a debug run keeps it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from drsim.errors import (
    CapacityError,
    ConflictError,
    NotFoundError,
    ProviderError,
    QuotaError,
    ThrottledError,
    TransientError,
)

# ARM error codes for a reached limit (azure-resource-manager/troubleshooting/error-resource-quota,
# backup FAQ: 10 restores per VM a day; capture-image-resource: 20 deployments per image).
QUOTA_CODES = frozenset(
    {
        "QuotaExceeded",
        "ResourceQuotaExceeded",
        "UserErrorRestoreLimitReached",
        "ImageDeploymentLimitReached",
    }
)
# Allocation failures are best-effort capacity (azure-facts.md: target capacity is best effort).
CAPACITY_CODES = frozenset({"AllocationFailed", "ZonalAllocationFailed", "OverconstrainedAllocationRequest", "SkuNotAvailable"})
THROTTLE_CODES = frozenset({"TooManyRequests", "SubscriptionRequestsThrottled", "ResourceRequestsThrottled"})
# A failed long-running operation reports its error in a 200 status poll: the code says what it was.
NOT_FOUND_CODES = frozenset({"ResourceNotFound", "NotFound", "ResourceGroupNotFound", "ParentResourceNotFound"})
CONFLICT_CODES = frozenset(
    {
        "Conflict",
        "AnotherOperationInProgress",
        "OperationNotAllowed",
        "ResourceExists",
        # the vault is not set up for what was asked (a cross-region restore without CRR): Azure/azure-rest-api-specs#23842
        "BMSUserErrorCrossRegionRestoreNotEnabledInThisVault",
    }
)
DEFAULT_RETRY_AFTER = 30.0  # seconds, when a 429 carries no Retry-After (request-limits-and-throttling)


def error_code(exc: HttpResponseError) -> str | None:
    """The ARM error code (`error.code` of the body), if the response had one."""
    return exc.error.code if exc.error is not None else None


def retry_after(exc: HttpResponseError) -> float:
    """Seconds to wait from a throttled response's Retry-After header."""
    response: Any = exc.response
    if response is not None:
        value = response.headers.get("Retry-After")
        if value is not None:
            try:
                return max(0.0, float(value))
            except ValueError:
                pass
    return DEFAULT_RETRY_AFTER


def _message(operation: str, exc: AzureError) -> str:
    if isinstance(exc, HttpResponseError) and exc.error is not None:
        detail = f"{exc.error.code}: {exc.error.message}"
    else:
        detail = str(exc.message if getattr(exc, "message", None) else exc).splitlines()[0]
    code = exc.status_code if isinstance(exc, HttpResponseError) else None
    if code is None:
        status = ""
    elif code < 400:
        status = " (the long-running operation failed)"
    else:
        status = f" (HTTP {code})"
    return f"{operation} failed{status}: {detail}"


def translate(operation: str, exc: AzureError) -> ProviderError:
    """The drsim error for an Azure SDK error raised while doing `operation`."""
    message = _message(operation, exc)
    if isinstance(exc, ClientAuthenticationError) and exc.status_code in (None, 401):
        return ProviderError(f"{message} (sign in with `az login` or set AZURE_* credentials; see docs/azure.md)")
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return TransientError(message)
    if not isinstance(exc, HttpResponseError):
        return ProviderError(message)
    code = error_code(exc) or ""
    status = exc.status_code or 0
    if status == 429 or code in THROTTLE_CODES:
        return ThrottledError(message, retry_after(exc))
    if isinstance(exc, ResourceNotFoundError) or status == 404 or code in NOT_FOUND_CODES:
        return NotFoundError(message)
    if code in CAPACITY_CODES:
        return CapacityError(message)
    if code in QUOTA_CODES or (code == "OperationNotAllowed" and "quota" in message.lower()):
        return QuotaError(message)
    if isinstance(exc, ResourceExistsError) or status == 409 or code in CONFLICT_CODES:
        return ConflictError(message)
    if status == 403:
        return ProviderError(f"{message} (the identity lacks a role on this scope; docs/azure.md lists the roles a drill needs)")
    if status == 408 or status >= 500:
        return TransientError(message)
    return ProviderError(message)


@asynccontextmanager
async def translated(operation: str) -> AsyncIterator[None]:
    """Run SDK calls; re-raise any Azure error as its drsim error, `from` the original."""
    try:
        yield
    except AzureError as exc:
        raise translate(operation, exc) from exc
