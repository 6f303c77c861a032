"""The simulated Azure world: an offline, deterministic CloudProvider in virtual time.

`build_world(estate, plan, incident=..., seed=..., clock=...)` gives a `SimProvider`; `world_from_drill`
builds one from a loaded drill. The catalog (catalog.yaml) holds every timing, limit and price.
"""

from drsim.cloud.sim.catalog import Catalog, default_catalog, load_catalog
from drsim.cloud.sim.costs import CostCategory, CostItem, ProtectionCost, monthly_protection_cost
from drsim.cloud.sim.drill import world_from_drill
from drsim.cloud.sim.incidents import IncidentSpec, incident_from_scenario
from drsim.cloud.sim.resources import DRILL_GROUP, SUBSCRIPTION, ProtectedItem, ReplicatedItem, Vault, VaultKind
from drsim.cloud.sim.world import Inventory, SimProvider, WorldTruth, build_world

__all__ = [
    "DRILL_GROUP",
    "SUBSCRIPTION",
    "Catalog",
    "CostCategory",
    "CostItem",
    "IncidentSpec",
    "Inventory",
    "ProtectedItem",
    "ProtectionCost",
    "ReplicatedItem",
    "SimProvider",
    "Vault",
    "VaultKind",
    "WorldTruth",
    "build_world",
    "default_catalog",
    "incident_from_scenario",
    "load_catalog",
    "monthly_protection_cost",
    "world_from_drill",
]
