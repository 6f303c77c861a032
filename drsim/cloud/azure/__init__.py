"""The Azure provider on the Azure SDK (`.aio` clients, azure-identity) and estate discovery."""
