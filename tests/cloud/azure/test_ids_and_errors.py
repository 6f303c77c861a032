"""ARM ids, and SDK errors translated into drsim errors."""

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
from drsim.cloud.azure.ids import operation_name, parse_id, resource_id, same_id
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


def test_parse_id_reads_each_part():
    ref = parse_id(VM)
    assert (ref.subscription, ref.resource_group) == ("00000000-0000-0000-0000-000000000001", "prod")
    assert (ref.namespace, ref.name) == ("Microsoft.Compute", "web-01")
    assert ref.type == "Microsoft.Compute/virtualMachines"
    assert str(ref) == VM


def test_parse_id_of_a_nested_backup_item():
    rid = (
        "/subscriptions/s/resourceGroups/vaults/providers/Microsoft.RecoveryServices/vaults/bv/backupFabrics/Azure"
        "/protectionContainers/IaasVMContainer;iaasvmcontainerv2;prod;web-01/protectedItems/VM;iaasvmcontainerv2;prod;web-01"
        "/recoveryPoints/123"
    )
    ref = parse_id(rid)
    assert ref.child("vaults") == "bv"
    assert ref.child("protectionContainers") == "IaasVMContainer;iaasvmcontainerv2;prod;web-01"
    assert ref.name == "123"
    with pytest.raises(NotFoundError):
        ref.child("replicationFabrics")


@pytest.mark.parametrize(
    "bad", ["", "web-01", "/subscriptions/s/resourceGroups/rg", "/subscriptions/s/resourceGroups/rg/providers/Ns/type"]
)
def test_parse_id_refuses_what_is_not_an_id(bad):
    with pytest.raises(NotFoundError, match="not an ARM resource id"):
        parse_id(bad)


def test_ids_compare_case_insensitively():
    assert same_id(VM, VM.upper())
    assert not same_id(VM, None)
    vnet = resource_id("s", "rg", "Microsoft.Network", ("virtualNetworks", "v"))
    assert vnet == "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v"


def test_operation_name_from_a_poll_url():
    url = "http://127.0.0.1:1/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/backupFabrics/Azure/protectionContainers/c/protectedItems/i/operationsStatus/abc-1?api-version=2025-02-01"
    assert operation_name(url, "operationsStatus") == "abc-1"
    assert operation_name(url, "replicationJobs") is None


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
