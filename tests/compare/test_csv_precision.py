"""Every CSV file `drsim compare` writes gives its figures at a fixed precision per column: seconds to
the millisecond (as drsim measures them), shares to four decimals, a monthly cost to the cent and a
drill's cost to a hundredth of a cent, a p-value to four significant digits; no float noise such as
`458.06339999999994`. comparison.json has the same figures. Through the CLI."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from comparisons import DATA

from drsim.cli import main

SECONDS = r"\d+\.\d{3}"
SHARE = r"\d\.\d{4}"
DRILL_USD = r"\d+\.\d{4}"
FORMATS = {
    **dict.fromkeys(["rto_s", "rpo_s", "rpo_claimed_s"], SECONDS),
    **{f"{m}_{p}_s": SECONDS for m in ("rto", "rpo") for p in ("p50", "p90", "p95", "p99", "max")},
    **dict.fromkeys(["share", "rto_met_share", "rpo_met_share", "consistent_share", "all_met_share"], SHARE),
    **dict.fromkeys(["median_rel_diff", "ks_statistic"], SHARE),
    "ks_pvalue": r"\d\.\d{3}|0\.0*[1-9]\d{3}|\d\.\d{3}e-\d\d",
    "monthly_cost": r"\d+\.\d{2}",
    "drill_cost": DRILL_USD,
}
MEDIANS = ["fast_median", "engine_median", "median_diff", "engine_median_low", "engine_median_high"]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("precision") / "out"
    args = [
        "compare",
        str(DATA / "store-plans.yaml"),
        "--model",
        "fast",
        "--trials",
        "10",
        "--validate",
        "3",
        "--workers",
        "1",
        "-q",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 1), result.output
    return out


def rows(path: Path) -> list[dict[str, str]]:
    text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("name", ["comparison.csv", "failures.csv", "trials.csv.gz", "validation.csv", "validation-trials.csv.gz"])
def test_every_figure_of_every_csv_has_its_column_s_fixed_precision(out: Path, name: str) -> None:
    found = rows(out / name)
    assert found, name
    checked = 0
    for row in found:
        for column, value in row.items():
            if value in ("", "inf"):  # not measured; never reached
                continue
            if column in MEDIANS:  # in the unit of the row's measure
                pattern = "-?" + (DRILL_USD if row["measure"] == "cost" else r"(\d+\.\d{3})")
            elif column in FORMATS:
                pattern = FORMATS[column]
            else:
                assert not re.fullmatch(r"-?\d+\.\d+(e-?\d+)?", value), f"{name}: {column} = {value} has no fixed precision"
                continue
            assert re.fullmatch(pattern, value), f"{name}: {column} = {value}"
            checked += 1
    assert checked, name


def test_comparison_json_has_the_same_figures(out: Path) -> None:
    summary = {row["candidate"]: row for row in rows(out / "comparison.csv")}
    for ranked in json.loads((out / "comparison.json").read_text())["ranking"]:
        row = summary[ranked["candidate"]]
        for key, digits in (("monthly_cost", 2), ("drill_cost", 4), ("all_met_share", 4)):
            assert ranked[key] == float(row[key]) == round(ranked[key], digits), key
        for key in ("rto_p95_s", "rpo_p95_s"):
            assert ranked[key] == (None if row[key] == "inf" else float(row[key])), key
