"""Which credential and endpoint the SDK clients get."""

from __future__ import annotations

import asyncio

import pytest
from azure.identity.aio import DefaultAzureCredential

from drsim.cloud.azure.clients import ARM_ENDPOINT, AzureClients, StaticTokenCredential, check_endpoint, is_loopback
from drsim.errors import UsageError

SUB = "6f1c2a0e-1d2b-4c3d-9e8f-0a1b2c3d4e5f"


def built(**kwargs) -> AzureClients:
    async def main() -> AzureClients:
        clients = AzureClients(SUB, **kwargs)
        await clients.close()
        return clients

    return asyncio.run(main())


def test_azure_gets_default_azure_credential():
    clients = built()
    assert isinstance(clients.credential, DefaultAzureCredential)
    assert clients.endpoint == ARM_ENDPOINT


def test_the_emulator_on_loopback_gets_a_static_token():
    clients = built(endpoint="http://127.0.0.1:8443/")
    assert isinstance(clients.credential, StaticTokenCredential)
    assert clients.endpoint == "http://127.0.0.1:8443"


def test_an_injected_credential_is_used():
    mine = StaticTokenCredential("t")
    assert built(credential=mine).credential is mine


@pytest.mark.parametrize(
    ("endpoint", "loopback"),
    [
        ("http://127.0.0.1:1", True),
        ("http://[::1]:1", True),
        ("http://localhost", True),
        ("https://management.azure.com", False),
        ("http://10.0.0.1", False),
    ],
)
def test_loopback_endpoints(endpoint, loopback):
    assert is_loopback(endpoint) is loopback


@pytest.mark.parametrize("endpoint", ["http://10.0.0.1:80", "ftp://127.0.0.1", "management.azure.com"])
def test_other_endpoints_are_refused(endpoint):
    with pytest.raises(UsageError):
        check_endpoint(endpoint)


def test_the_static_token_is_a_bearer_token():
    token = asyncio.run(StaticTokenCredential("abc").get_token("https://management.azure.com/.default"))
    assert token.token == "abc"
