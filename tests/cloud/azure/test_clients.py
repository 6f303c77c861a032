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


REFUSED = [
    "http://10.0.0.1:80",
    "ftp://127.0.0.1",
    "file:///etc/passwd",
    "management.azure.com",
    "https://attacker.example.com",
    "https://10.1.2.3",
    "https://management.azure.com.attacker.example",
    "https://management.azure.com@attacker.example",
    "https://user:secret@management.azure.com",
    "https://management.azure.com.",
    "https://management.azure.com:8443",
    "https://management.azure.com/subscriptions",
    "https://management.azure.com?x=1",
    "https://management.azure.com#x",
    "http://management.azure.com",
    "https://127.0.0.1:8443",
    "http://localhost.:80",
    "http://127.0.0.1.nip.io:80",
    " https://management.azure.com",
    "https://management.azure.com\n",
    "http://[::1",
    "https://management.azure.com:99999",
]


@pytest.mark.parametrize("endpoint", REFUSED)
def test_other_endpoints_are_refused(endpoint):
    with pytest.raises(UsageError, match="endpoint"):
        check_endpoint(endpoint)


@pytest.mark.parametrize("endpoint", REFUSED)
def test_no_client_and_no_credential_is_built_for_a_refused_endpoint(endpoint, monkeypatch):
    made: list[object] = []
    monkeypatch.setattr("azure.identity.aio.DefaultAzureCredential.__init__", lambda self, **kw: made.append(kw))
    with pytest.raises(UsageError):
        built(endpoint=endpoint)
    assert made == []


@pytest.mark.parametrize(
    ("endpoint", "canonical", "scope"),
    [
        ("https://management.azure.com", "https://management.azure.com", "https://management.azure.com/.default"),
        ("https://MANAGEMENT.Azure.com:443/", "https://management.azure.com", "https://management.azure.com/.default"),
        ("https://management.chinacloudapi.cn", "https://management.chinacloudapi.cn", "https://management.chinacloudapi.cn/.default"),
        (
            "https://management.usgovcloudapi.net/",
            "https://management.usgovcloudapi.net",
            "https://management.core.usgovcloudapi.net/.default",
        ),
    ],
)
def test_azure_resource_manager_of_each_cloud_gets_its_credential_and_scope(endpoint, canonical, scope):
    clients = built(endpoint=endpoint)
    assert clients.endpoint == canonical
    assert isinstance(clients.credential, DefaultAzureCredential)
    assert clients.compute._config.credential_scopes == [scope]


@pytest.mark.parametrize("endpoint", ["http://127.0.0.2:9000", "http://[::1]:9000", "http://localhost:9000", "http://LOCALHOST:9000"])
def test_every_loopback_emulator_gets_the_fixed_token_never_a_real_credential(endpoint):
    clients = built(endpoint=endpoint)
    assert isinstance(clients.credential, StaticTokenCredential)
    assert clients.credential.token == "drsim-emulator"


def test_the_static_token_is_a_bearer_token():
    token = asyncio.run(StaticTokenCredential("abc").get_token("https://management.azure.com/.default"))
    assert token.token == "abc"
