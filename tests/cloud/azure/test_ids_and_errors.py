"""SDK errors translated into drsim errors."""

from __future__ import annotations

import asyncio
import json

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.core.rest import HttpRequest
from azure.core.rest._http_response_impl import HttpResponseImpl

from drsim.cloud.azure.errors import translate, translated
from drsim.errors import (
    CapacityError,
    ConflictError,
    NotFoundError,
    ProviderError,
    QuotaError,
    ThrottledError,
    TransientError,
)

VM = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/prod/providers/Microsoft.Compute/virtualMachines/web-01"


def arm_response(status: int, code: str | None, message: str = "boom", headers: dict[str, str] | None = None) -> HttpResponseImpl:
    """An HTTP response as ARM sends it: `{"error": {"code", "message"}}`."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode() if code else b""
    response = HttpResponseImpl(
        request=HttpRequest("GET", "https://management.azure.com/x"),
        internal_response=None,
        status_code=status,
        reason="reason",
        content_type="application/json",
        headers=headers or {},
        stream_download_generator=None,
    )
    response._content = body
    return response


@pytest.mark.parametrize(
    ("status", "code", "cls", "expected"),
    [
        (404, "ResourceNotFound", HttpResponseError, NotFoundError),
        (404, "ResourceNotFound", ResourceNotFoundError, NotFoundError),
        (409, "Conflict", ResourceExistsError, ConflictError),
        (409, "OperationNotAllowed", HttpResponseError, ConflictError),
        (409, "AllocationFailed", HttpResponseError, CapacityError),
        (409, "QuotaExceeded", HttpResponseError, QuotaError),
        (503, "ServiceUnavailable", HttpResponseError, TransientError),
        (500, "InternalServerError", HttpResponseError, TransientError),
        (400, "InvalidRequestContent", HttpResponseError, ProviderError),
        (403, "AuthorizationFailed", HttpResponseError, ProviderError),
    ],
)
def test_http_errors_translate_by_status_and_code(status, code, cls, expected):
    error = translate("doing it", cls(response=arm_response(status, code)))
    assert type(error) is expected
    assert f"doing it failed (HTTP {status}): {code}: boom" in str(error)


def test_quota_named_in_operation_not_allowed_is_a_quota_error():
    error = translate("x", HttpResponseError(response=arm_response(409, "OperationNotAllowed", "exceeds approved quota")))
    assert isinstance(error, QuotaError)


def test_throttling_carries_retry_after():
    error = translate("x", HttpResponseError(response=arm_response(429, "TooManyRequests", headers={"Retry-After": "7"})))
    assert isinstance(error, ThrottledError)
    assert error.retry_after == 7.0


def test_connection_errors_are_transient_and_auth_errors_say_what_to_do():
    assert isinstance(translate("x", ServiceRequestError("connection refused")), TransientError)
    error = translate("x", ClientAuthenticationError("no credential"))
    assert type(error) is ProviderError and "az login" in str(error)


def test_translated_raises_from_the_sdk_error():
    async def fail():
        async with translated("reading VM web-01"):
            raise ResourceNotFoundError(response=arm_response(404, "ResourceNotFound", "gone"))

    with pytest.raises(NotFoundError, match="reading VM web-01 failed") as info:
        asyncio.run(fail())
    assert isinstance(info.value.__cause__, ResourceNotFoundError)
