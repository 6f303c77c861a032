"""What `drsim discover` does: check --out, read the subscription (drsim.cloud.azure.discovery),
check the documents as `drsim validate` would, and write estate.yaml and plan.yaml."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import ValidationError

from drsim.errors import ExecutionError, UsageError
from drsim.model.checks import check_estate, check_plan
from drsim.model.documents import Estate, ProtectionPlan
from drsim.model.loader import Loaded, Source
from drsim.preflight import check_directory

if TYPE_CHECKING:
    from drsim.cloud.azure.discovery import Discovery

DOCUMENT_NAMES = ("estate.yaml", "plan.yaml")
"""What `drsim discover` writes into its --out directory."""


def check_out_dir(out_dir: str | os.PathLike[str], *, force: bool = False) -> None:
    """Refuse (UsageError) to replace documents already in `out_dir` unless forced, and an --out drsim cannot write."""

    out = Path(out_dir)
    if not force:
        for name in DOCUMENT_NAMES:
            if os.path.lexists(out / name):
                raise UsageError(f"{out / name}: already exists; discover writes no document over another (give --force to replace it)")
    check_directory(out, "--out")


def write_documents(
    discovery: Discovery, out_dir: str | os.PathLike[str], subscription_id: str, *, force: bool = False
) -> tuple[Path, Path]:
    """Write estate.yaml and plan.yaml after checking both as `drsim validate` would; without `force`,
    a document already there is left alone (UsageError)."""
    from drsim.cloud.azure.discovery import document_header

    try:
        estate = Estate.model_validate(discovery.estate)
        plan = ProtectionPlan.model_validate(discovery.plan)
    except ValidationError as exc:
        raise ExecutionError(f"discovery produced an invalid document (a drsim bug): {exc}") from exc
    estate_loaded = Loaded(estate, Source("estate.yaml", None))
    problems = check_estate(estate_loaded) + check_plan(Loaded(plan, Source("plan.yaml", None)), estate_loaded)
    if problems:
        raise ExecutionError("discovery produced documents that do not validate:\n" + "\n".join(str(p) for p in problems))
    out = Path(out_dir)
    check_out_dir(out, force=force)
    paths = (out / DOCUMENT_NAMES[0], out / DOCUMENT_NAMES[1])
    try:
        out.mkdir(parents=True, exist_ok=True)
        header = document_header(subscription_id, discovery.notes)
        for path, document in zip(paths, (discovery.estate, discovery.plan), strict=True):
            # "x": should a document appear since the check, it is still not overwritten
            with path.open("w" if force else "x", encoding="utf-8") as file:
                file.write(header + yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=120))
    except FileExistsError as exc:
        raise UsageError(f"{exc.filename}: already exists; discover writes no document over another (give --force to replace it)") from None
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc.strerror or exc}") from exc
    return paths


def run_discovery(
    subscription_id: str,
    out_dir: str,
    *,
    resource_group: str | None = None,
    endpoint: str | None = None,
    recovery_region: str | None = None,
    force: bool = False,
) -> tuple[Path, Path, list[str]]:
    """What `drsim discover` runs: check --out, discover, check, write; returns the two paths and the notes."""
    from drsim.cloud.azure.discovery import discover  # the azure extra

    check_out_dir(out_dir, force=force)  # before asking Azure anything
    discovery = asyncio.run(discover(subscription_id, resource_group=resource_group, endpoint=endpoint, recovery_region=recovery_region))
    estate_path, plan_path = write_documents(discovery, out_dir, subscription_id, force=force)
    return estate_path, plan_path, discovery.notes
