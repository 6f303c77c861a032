"""Catalog figures: a value with the source it comes from, and the packaged catalog file that holds them.

Every duration, limit and price drsim uses is an entry of one data file, drsim/cloud/sim/catalog.yaml,
each with its `source:`. The simulator reads all of it (sim/catalog.py, with calibration); ARM's
request limits (arm.py) and the list prices (prices.py) read their sections of it here, so that the
Azure provider and the emulator use the same figures without importing the simulator.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from drsim.model.loader import Source, read_yaml

CATALOG_PATH = Path(__file__).parent / "sim" / "catalog.yaml"


class Strict(BaseModel):
    """A part of the catalog: immutable, and an unknown key is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Figure(Strict):
    """One entry of the catalog: its value(s) and where they come from."""

    source: str = Field(min_length=1, description="where the figure comes from (azure-facts.md row, or 'assumption')")


@cache
def packaged_catalog() -> tuple[dict[str, Any], Source]:
    """The packaged catalog as read (sections of raw entries), and its source for locating problems."""
    data, source = read_yaml(CATALOG_PATH)
    return data, source


def packaged_section(name: str) -> dict[str, Any]:
    """One section of the packaged catalog (`arm`, `prices`), as read."""
    section: dict[str, Any] = packaged_catalog()[0][name]
    return section
