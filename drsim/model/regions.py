"""Azure's region pairs: where Azure Backup's cross-region restore puts a vault's points.

A GRS vault replicates to the paired region of its own region, chosen by Azure, not by the user
(azure-facts.md, Azure Backup: cross-region restore to the paired region; source:
learn.microsoft.com/azure/reliability/cross-region-replication-azure). Some pairs are one-way:
West US 3 pairs with East US, whose own pair is West US. Regions without a pair (Qatar Central,
Poland Central, Italy North, ...) are absent: their vaults offer no cross-region restore.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


def _both_ways(*pairs: tuple[str, str]) -> dict[str, str]:
    table: dict[str, str] = {}
    for a, b in pairs:
        table[a], table[b] = b, a
    return table


AZURE_REGION_PAIRS: Mapping[str, str] = MappingProxyType(
    {
        **_both_ways(
            ("eastus", "westus"),
            ("eastus2", "centralus"),
            ("northcentralus", "southcentralus"),
            ("westus2", "westcentralus"),
            ("canadacentral", "canadaeast"),
            ("northeurope", "westeurope"),
            ("uksouth", "ukwest"),
            ("francecentral", "francesouth"),
            ("germanywestcentral", "germanynorth"),
            ("norwayeast", "norwaywest"),
            ("switzerlandnorth", "switzerlandwest"),
            ("swedencentral", "swedensouth"),
            ("eastasia", "southeastasia"),
            ("japaneast", "japanwest"),
            ("koreacentral", "koreasouth"),
            ("australiaeast", "australiasoutheast"),
            ("australiacentral", "australiacentral2"),
            ("centralindia", "southindia"),
            ("southafricanorth", "southafricawest"),
            ("uaenorth", "uaecentral"),
            ("chinanorth", "chinaeast"),
            ("chinanorth2", "chinaeast2"),
            ("chinanorth3", "chinaeast3"),
            ("usdodeast", "usdodcentral"),
            ("usgovvirginia", "usgovtexas"),
        ),
        # One-way pairs: the first region's pair is the second, not the other way round.
        "westus3": "eastus",
        "brazilsouth": "southcentralus",
        "brazilsoutheast": "brazilsouth",
        "westindia": "southindia",
        "usgovarizona": "usgovtexas",
    }
)


KNOWN_UNPAIRED = frozenset(
    {
        "qatarcentral",
        "polandcentral",
        "italynorth",
        "israelcentral",
        "mexicocentral",
        "spaincentral",
        "newzealandnorth",
        "indonesiacentral",
        "malaysiawest",
        "chilecentral",
    }
)
"""Regions Azure gives no pair: a vault there has no cross-region restore."""


def paired_region(region: str, *, primary: str, recovery: str) -> str | None:
    """The region that holds a vault's cross-region restore points: Azure's pair of `region`; for a
    region drsim does not know, the estate's other region (its primary/recovery pair)."""
    if region in AZURE_REGION_PAIRS:
        return AZURE_REGION_PAIRS[region]
    if region in KNOWN_UNPAIRED:
        return None
    return {primary: recovery, recovery: primary}.get(region)
