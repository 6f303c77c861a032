"""Microsoft.Storage: the storage accounts the emulator is told to serve (`--storage-account`), read only.

The simulated world has no storage accounts; Azure Backup stages restores in one (a staging account in
the vault's region, not ZRS: backup-azure-arm-restore-vms), and drsim's preflight reads it. GET of an
account and the lists answer in the shape of StorageAccounts_GetProperties
(specification/storage/resource-manager/Microsoft.Storage/stable/2023-05-01/examples/StorageAccountGetProperties.json):
`sku.name`, `sku.tier`, `kind`, `location` and `properties.provisioningState`.
"""

from __future__ import annotations

from aiohttp import web

from drsim.cloud.arm import id_key
from drsim.cloud.emulator.arm import JsonObject, Router, listing
from drsim.cloud.emulator.service import ResourceProviderService, not_found
from drsim.cloud.emulator.state import StorageAccount

ACCOUNT_TYPE = "Microsoft.Storage/storageAccounts"


class StorageService(ResourceProviderService):
    """Microsoft.Storage/storageAccounts: get and list."""

    def register(self, router: Router) -> None:
        sub = "/subscriptions/{subscription}"
        router.add("GET", sub + "/providers/Microsoft.Storage/storageAccounts", self.list_accounts)
        router.add("GET", sub + "/resourceGroups/{resource_group}/providers/Microsoft.Storage/storageAccounts", self.list_accounts)
        router.add("GET", sub + "/resourceGroups/{resource_group}/providers/Microsoft.Storage/storageAccounts/{name}", self.get_account)

    def account_json(self, account: StorageAccount) -> JsonObject:
        return {
            "id": account.id,
            "name": account.name,
            "type": ACCOUNT_TYPE,
            "location": account.region,
            "kind": "StorageV2",
            "sku": {"name": account.sku, "tier": "Premium" if account.sku.startswith("Premium") else "Standard"},
            "tags": self.state.tags_of(account.id, {}),
            "properties": {
                "provisioningState": "Succeeded",
                "primaryLocation": account.region,
                "statusOfPrimary": "available",
                "supportsHttpsTrafficOnly": True,
                "minimumTlsVersion": "TLS1_2",
            },
        }

    async def list_accounts(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        group = p.get("resource_group")
        accounts = [a for a in self.state.storage_accounts.values() if group is None or a.group.lower() == group.lower()]
        return web.json_response(listing([self.account_json(a) for a in sorted(accounts, key=lambda a: a.id.lower())]))

    async def get_account(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        account_id = self.state.resource_id(p["resource_group"], ACCOUNT_TYPE, p["name"])
        account = self.state.storage_accounts.get(id_key(account_id))
        if account is None:
            raise not_found(ACCOUNT_TYPE, p["name"], p["resource_group"])
        return web.json_response(self.account_json(account))
