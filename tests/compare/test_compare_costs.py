"""Monthly protection costs of the test store's candidates, against hand calculations.

The store is one VM, db-01: disks of 20 + 60 GiB used, churning 1 + 4 GiB a day. Prices are the
catalog's (azure-facts.md 'Prices'); 1 GiB = 1.073741824 GB; a month is 730 h = 30.4167 days.
  used   = 80 GiB  = 85.8993 GB          churn = 5 GiB/day = 5.36871 GB/day
  backup protected instance, 50-500 GB used:                            $10
  vault storage, 30 d retention: 85.8993 + 29 x 5.36871 = 241.592 GB    x $0.028 (LRS) = $6.7646
                                                                        x $0.071 (GRS + CRR, billed as RA-GRS) = $17.1530
  instant-restore snapshots: churn x days kept x $0.05/GB: 2 d = $0.5369, 7 d = $1.8790
  Site Recovery: $25 + replica disks 192 GiB x $0.135 (Premium) = $25.92
                 + 1 d of recovery-point snapshots 5.36871 GB x $0.05 = $0.2684
                 + egress 5.36871 GB/day x 30.4167 d x $0.02 = $3.2660
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drsim.compare import prepare
from drsim.compare.runner import monthly_costs

COMPARISON = Path(__file__).parent / "data" / "store-plans.yaml"

BY_HAND = {
    "daily": 10 + 6.7646 + 0.5369,
    "enhanced-4h": 10 + 6.7646 + 1.8790,
    "asr": 25 + 25.92 + 0.2684 + 3.2660,
    "daily-crr": 10 + 17.1530 + 0.5369,
}


def test_monthly_costs_match_the_hand_calculation() -> None:
    found = monthly_costs(prepare(COMPARISON))
    assert found == pytest.approx(BY_HAND, abs=0.002)


def test_a_what_if_changes_the_cost_it_should() -> None:
    # Five instead of two days of instant-restore snapshots: + 3 d x 5.36871 GB x $0.05 = + $0.8053.
    found = monthly_costs(prepare(COMPARISON, overrides=["daily.plan.rules[0].backup.instant_restore_days=5"]))
    assert found["daily"] == pytest.approx(BY_HAND["daily"] + 3 * 5.36871 * 0.05, abs=0.002)
    assert found["asr"] == pytest.approx(BY_HAND["asr"], abs=0.002)
