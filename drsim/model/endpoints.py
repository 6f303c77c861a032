"""Which ARM endpoints drsim talks to, and so which may receive a credential.

Only Azure Resource Manager itself, by exact host (the public cloud and the sovereign clouds that
azure-mgmt-core's `get_arm_endpoints` lists), over https on the default port; and plain http on a
loopback address, for the drsim ARM emulator, which receives a fixed emulator token and never a
real credential. Everything else is refused, at validation (the Drill's `azure.endpoint`) and again
before any client is built (drsim.cloud.azure.clients): one rule for both. It lives with the
documents, below the cloud layer, and needs no Azure SDK: `drsim validate` uses it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from drsim.errors import UsageError


@dataclass(frozen=True)
class ArmCloud:
    """One Azure cloud: its Resource Manager host, the token scope ARM wants, and its Entra ID authority."""

    name: str
    host: str
    credential_scope: str
    authority: str

    @property
    def endpoint(self) -> str:
        return f"https://{self.host}"


# azure-mgmt-core `get_arm_endpoints` (resource_manager, credential_scopes) and azure-identity
# `AzureAuthorityHosts` (AZURE_PUBLIC_CLOUD, AZURE_CHINA, AZURE_GOVERNMENT).
ARM_CLOUDS = (
    ArmCloud("AzureCloud", "management.azure.com", "https://management.azure.com/.default", "login.microsoftonline.com"),
    ArmCloud("AzureChinaCloud", "management.chinacloudapi.cn", "https://management.chinacloudapi.cn/.default", "login.chinacloudapi.cn"),
    ArmCloud(
        "AzureUSGovernment",
        "management.usgovcloudapi.net",
        "https://management.core.usgovcloudapi.net/.default",
        "login.microsoftonline.us",
    ),
)
PUBLIC_CLOUD = ARM_CLOUDS[0]
ARM_ENDPOINT = PUBLIC_CLOUD.endpoint
_BY_HOST = {cloud.host: cloud for cloud in ARM_CLOUDS}
_ACCEPTED = "Azure Resource Manager ({}) or http://127.0.0.1:PORT for the drsim ARM emulator".format(
    ", ".join(cloud.endpoint for cloud in ARM_CLOUDS)
)


@dataclass(frozen=True)
class Endpoint:
    """An accepted endpoint: its canonical URL and the cloud it belongs to (None: the emulator on loopback)."""

    url: str
    cloud: ArmCloud | None

    @property
    def emulator(self) -> bool:
        return self.cloud is None


def _loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_endpoint(endpoint: str) -> Endpoint | str:
    """The accepted endpoint, or why it is refused (a message that names the endpoint)."""
    shown = repr(endpoint[:200])
    if endpoint != endpoint.strip() or any(ord(c) < 33 or ord(c) == 127 for c in endpoint):
        return f"{shown} has spaces or control characters"
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError as exc:
        return f"{shown} is not a URL ({exc}): use {_ACCEPTED}"
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{shown} is not an http(s) URL: use {_ACCEPTED}"
    if "@" in parts.netloc:
        return f"{shown} carries user information before '@': drsim sends credentials only to {_ACCEPTED}"
    if parts.path not in ("", "/") or parts.query or parts.fragment or endpoint.endswith(("?", "#")):
        return f"{shown} has a path, query or fragment: give the endpoint only, e.g. {ARM_ENDPOINT}"
    host = (parts.hostname or "").lower()
    cloud = _BY_HOST.get(host)
    if cloud is not None:
        if parts.scheme != "https":
            return f"{shown}: Azure Resource Manager is reached over https only"
        if port not in (None, 443):
            return f"{shown}: Azure Resource Manager listens on the default https port, not {port}"
        return Endpoint(cloud.endpoint, cloud)
    if _loopback_host(host):
        if parts.scheme != "http":
            return f"{shown}: the drsim ARM emulator on loopback is reached over plain http"
        return Endpoint(f"http://{parts.netloc}", None)
    return f"{shown} is not Azure Resource Manager: drsim sends credentials only to {_ACCEPTED}"


def endpoint_problem(endpoint: str) -> str | None:
    """Why an endpoint is refused, or None when drsim may use it."""
    found = parse_endpoint(endpoint)
    return found if isinstance(found, str) else None


def check_endpoint(endpoint: str) -> Endpoint:
    """The accepted endpoint; UsageError (exit 2) for any other."""
    found = parse_endpoint(endpoint)
    if isinstance(found, str):
        raise UsageError(f"endpoint {found}")
    return found


def is_loopback(endpoint: str) -> bool:
    """True for an endpoint on 127.0.0.0/8, ::1 or localhost: where the emulator runs."""
    try:
        host = urlsplit(endpoint).hostname or ""
    except ValueError:
        return False
    return _loopback_host(host.lower())
