"""The Azure SDK clients a drill uses, built once with one credential, one endpoint and one throttle.

Six `.aio` management clients (Compute, Network, Backup, Backup's cross-region restore "passive stamp",
Site Recovery, Resources) share the
`ThrottlePolicy` (so their requests draw on the same ARM buckets) and, for a loopback endpoint such
as the drsim ARM emulator, a per-call policy that lets bearer tokens travel over plain HTTP
(azure-sdk-notes.md: passing enforce_https to the client constructor does not work).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.compute.aio import ComputeManagementClient
from azure.mgmt.network.aio import NetworkManagementClient
from azure.mgmt.recoveryservicesbackup.aio import RecoveryServicesBackupClient
from azure.mgmt.recoveryservicesbackup.passivestamp.aio import RecoveryServicesBackupPassiveClient
from azure.mgmt.recoveryservicessiterecovery.aio import SiteRecoveryManagementClient
from azure.mgmt.resource.resources.aio import ResourceManagementClient

from drsim.cloud.api import cloud_spans, report_cloud_span
from drsim.cloud.azure.throttle import Throttle
from drsim.model.endpoints import ARM_ENDPOINT, Endpoint, check_endpoint, is_loopback
from drsim.times import parse_utc

__all__ = ["ARM_ENDPOINT", "AzureClients", "StaticTokenCredential", "check_endpoint", "default_credential", "is_loopback"]
DEFAULT_POLLING_INTERVAL = 15.0  # seconds between LRO polls when ARM sends no Retry-After


class AllowLoopbackHttp(SansIOHTTPPolicy):
    """Per-call policy: bearer tokens may go over plain HTTP (only ever installed for a loopback endpoint)."""

    def on_request(self, request: PipelineRequest) -> None:
        request.context["enforce_https"] = False


class OperationTimesPolicy(SansIOHTTPPolicy):
    """Per-call policy: when a drill times its operations (drsim.cloud.api.collect_cloud_spans), keep the
    startTime and endTime that an ended long-running operation's status reports (ARM's operation
    resource, async-api-reference.md: `{"status": "Succeeded", "startTime", "endTime"}`), the
    operation's own time without the client's polling."""

    def on_response(self, request: PipelineRequest, response: PipelineResponse) -> None:
        if cloud_spans() is None or request.http_request.method != "GET":
            return
        http = response.http_response
        if http.status_code != 200 or "json" not in (http.headers.get("Content-Type") or ""):
            return
        try:
            body = json.loads(http.body())
        except (ValueError, TypeError):
            return
        if not isinstance(body, dict) or body.get("status") != "Succeeded":
            return
        started, ended = _time(body.get("startTime")), _time(body.get("endTime"))
        if started is not None and ended is not None:
            report_cloud_span(str(body.get("id") or body.get("name") or request.http_request.url), started, ended)


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_utc(value)
    except ValueError:
        return None


class StaticTokenCredential:
    """An async credential that always returns one token: for the ARM emulator, which checks none."""

    def __init__(self, token: str = "drsim-emulator") -> None:
        self.token = token

    def _expiry(self) -> int:
        return int(time.time()) + 3600

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, self._expiry())

    async def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(self.token, self._expiry())

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticTokenCredential:
        return self

    async def __aexit__(self, *args: object) -> None:
        return None


def default_credential(endpoint: Endpoint) -> AsyncTokenCredential:
    """DefaultAzureCredential of the endpoint's cloud against Azure; a static token for the emulator on
    loopback, which never receives a real credential."""
    if endpoint.cloud is None:
        return StaticTokenCredential()
    from azure.identity.aio import DefaultAzureCredential

    return DefaultAzureCredential(authority=endpoint.cloud.authority)


class AzureClients:
    """The management clients of one subscription; `close()` them when the drill ends."""

    def __init__(
        self,
        subscription_id: str,
        *,
        credential: AsyncTokenCredential | None = None,
        endpoint: str | None = None,
        throttle: Throttle | None = None,
        polling_interval: float = DEFAULT_POLLING_INTERVAL,
        call_policies: Sequence[Callable[[], SansIOHTTPPolicy]] = (),
        **client_options: Any,
    ) -> None:
        """`call_policies` make extra per-call policies, one set per client (e.g. the emulator's time)."""
        self.subscription_id = subscription_id
        # The one check of where requests (and so the credential's tokens) go, right before any client exists.
        accepted = check_endpoint(endpoint if endpoint is not None else ARM_ENDPOINT)
        self.endpoint = accepted.url
        self.credential = credential if credential is not None else default_credential(accepted)
        self._owns_credential = credential is None
        self.throttle = throttle if throttle is not None else Throttle()
        plain_http = accepted.emulator
        scopes = [accepted.cloud.credential_scope] if accepted.cloud is not None else None

        def options() -> dict[str, Any]:
            # Policy instances are chained into one pipeline each: every client gets its own.
            found: dict[str, Any] = {
                "base_url": self.endpoint,
                "polling_interval": polling_interval,
                "per_retry_policies": [self.throttle.policy()],
                **client_options,
            }
            if scopes is not None:
                found.setdefault("credential_scopes", scopes)
            per_call: list[SansIOHTTPPolicy] = [make() for make in call_policies]
            per_call.append(OperationTimesPolicy())
            if plain_http:
                per_call.append(AllowLoopbackHttp())
            if per_call:
                found["per_call_policies"] = per_call
            return found

        cred: Any = self.credential
        self.compute = ComputeManagementClient(cred, subscription_id, **options())
        self.network = NetworkManagementClient(cred, subscription_id, **options())
        self.backup = RecoveryServicesBackupClient(cred, subscription_id, **options())
        # Cross-region restore (azure-mgmt-recoveryservicesbackup-passivestamp, API 2021-11-15).
        self.backup_passive = RecoveryServicesBackupPassiveClient(cred, subscription_id, **options())
        self.site_recovery = SiteRecoveryManagementClient(cred, subscription_id, **options())
        self.resources = ResourceManagementClient(cred, subscription_id, **options())

    async def close(self) -> None:
        for client in (self.compute, self.network, self.backup, self.backup_passive, self.site_recovery, self.resources):
            await client.close()
        if self._owns_credential:
            closer = getattr(self.credential, "close", None)
            if closer is not None:
                await closer()

    async def __aenter__(self) -> AzureClients:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.close()
