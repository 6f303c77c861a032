"""The Azure provider on the Azure SDK (`.aio` clients, azure-identity) and estate discovery.

The SDK is the optional `azure` extra: `require_sdk` says which extra to install before anything
imports it. `endpoints` needs no SDK (`drsim validate` uses it).
"""

from __future__ import annotations

import importlib

from drsim.errors import UsageError

SDK_MODULES = (
    "azure.core",
    "azure.identity.aio",
    "azure.mgmt.compute",
    "azure.mgmt.network",
    "azure.mgmt.recoveryservicesbackup",
    "azure.mgmt.recoveryservicesbackup.passivestamp",
    "azure.mgmt.recoveryservicessiterecovery",
    "azure.mgmt.resource",
)


def require_sdk(what: str) -> None:
    """UsageError (exit 2) naming the extra to install when a module of the Azure SDK cannot be imported."""
    for name in SDK_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            raise UsageError(f"{what} needs the Azure SDK, and {name} is not installed: pip install 'drsim[azure]'") from None
