"""drsim.compare.generated writes a comparison `drsim compare` accepts at any size: without `sizes`, an
estate too small for tiers of 16, 16 and 8 VMs splits its VMs over the three tiers (each runbook
recovers every tier, and a step whose selector matches no VM is refused); `sizes` that leave a tier
without a VM are refused with a clear error. Through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from drsim.cli import main
from drsim.compare.generated import estate, write_comparison


@pytest.mark.parametrize("vms", [3, 8, 32, 33])
def test_the_default_sizes_give_a_valid_comparison(tmp_path: Path, vms: int) -> None:
    path = write_comparison(tmp_path, vms, trials=2)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    tiers = [vm["tags"]["tier"] for vm in estate(vms)["vms"]]
    assert len(tiers) == vms and {"web", "app", "db"} <= set(tiers)


def test_drsim_compare_runs_the_default_8_vm_comparison(tmp_path: Path) -> None:
    path = write_comparison(tmp_path / "docs", 8, trials=2)
    args = ["compare", str(path), "-q", "--model", "fast", "--validate", "0", "--workers", "1", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 1), result.output
    assert (tmp_path / "out" / "comparison.csv").exists()


def test_the_default_sizes_keep_16_16_8_where_the_first_app_reaches_the_db_tier() -> None:
    from drsim.compare.generated import default_sizes

    assert default_sizes(8) == (3, 3, 2) and default_sizes(3) == (1, 1, 1)
    assert default_sizes(33) == default_sizes(1000) == (16, 16, 8)  # bench/compare_scale.py's estates are unchanged


def test_sizes_that_leave_a_tier_empty_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"8 VMs in tiers of 16/16/8 leave the app and db tiers without a VM"):
        write_comparison(tmp_path, 8, sizes=(16, 16, 8))
    with pytest.raises(ValueError, match=r"at least 3 VMs \(one per tier"):
        write_comparison(tmp_path, 2)
    assert not (tmp_path / "comparison.yaml").exists()
