"""Loading YAML into typed documents: located problems, immutability, and fuzzing the loader."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import tracemalloc
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drsim.errors import DocumentError, Problem
from drsim.model import Drill, Estate, ProtectionPlan, Runbook, load, load_drill, validate_path
from drsim.model.documents import AsrStep, BackupPolicyKind, IsolateStep
from drsim.model.loader import MAX_BYTES, MAX_NODES, file_problem, read_yaml
from drsim.model.types import Action, IncidentKind

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "tests" / "data" / "good"
EXAMPLES = [p for pattern in ("drills/estates/*.yaml", "drills/plans/*.yaml", "runbooks/*.yaml") for p in sorted(ROOT.glob(pattern))]


def _write(directory: Path, name: str, text: str | bytes) -> Path:
    path = directory / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_load_gives_typed_immutable_documents() -> None:
    loaded = load(ROOT / "runbooks" / "shop-asr-region-failover.yaml", Runbook)
    runbook = loaded.doc
    assert runbook.name == "shop-asr-region-failover"
    assert runbook.scenario.incident is IncidentKind.REGION_OUTAGE
    assert runbook.objectives[0].rto == timedelta(hours=2)
    db = runbook.step("db")
    assert isinstance(db, AsrStep)
    assert db.with_.vms == {"app": "shop", "tier": "db"}
    assert db.timeout == timedelta(hours=1)
    assert isinstance(runbook.step("bubble"), IsolateStep)
    assert {s.action for s in runbook.steps} >= {Action.NETWORK_ISOLATE.value, Action.CHECK_CANARY.value}
    with pytest.raises(pydantic.ValidationError):
        runbook.cleanup = "never"  # type: ignore[misc]
    with pytest.raises(TypeError):
        db.with_.vms["tier"] = "web"  # type: ignore[index]
    assert loaded.path.name == "shop-asr-region-failover.yaml"


def test_load_estate_plan_and_drill_values() -> None:
    estate = load(ROOT / "drills" / "estates" / "contoso.yaml", Estate).doc
    assert len(estate.vms) >= 12
    assert {vm.region for vm in estate.vms} == {"eastus2", "centralus"}
    sql = estate.vm("sql-01")
    assert sql.tags == {"app": "shop", "tier": "db"}
    assert [v.disks for v in sql.volumes if v.name == "sqldata"] == [("data1", "data2")]
    assert estate.vm("web-golden").generalized
    assert [vm.name for vm in estate.select({"app": "shop", "tier": "web"})] == ["web-01", "web-02", "web-03"]
    assert estate.metadata.labels["cost-center"] == "4711"
    plan = load(ROOT / "drills" / "plans" / "enhanced-4h-grs.yaml", ProtectionPlan).doc
    backup = plan.rules[0].backup
    assert backup is not None
    assert backup.policy is BackupPolicyKind.ENHANCED
    assert backup.interval == timedelta(hours=4)
    assert backup.start == time(0, 0)
    assert backup.snapshot_days == 7
    drill = load(ROOT / "drills" / "2026-q4-shop-asr.yaml", Drill).doc
    assert drill.incident_at == datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    assert drill.seed == 42


def test_backup_defaults_follow_the_policy() -> None:
    plan = load(GOOD / "plan.yaml", ProtectionPlan).doc
    backup = plan.rules[1].backup
    assert backup is not None
    assert (backup.interval, backup.start, backup.snapshot_days) == (timedelta(hours=24), time(2, 0), 2)


def test_load_rejects_the_wrong_kind_where_one_is_expected() -> None:
    with pytest.raises(DocumentError) as caught:
        load(GOOD / "plan.yaml", Estate)
    assert [str(p) for p in caught.value.problems] == [f"{GOOD / 'plan.yaml'}:3:7: expected an Estate here, got kind ProtectionPlan"]


def test_load_drill_bundles_every_document() -> None:
    bundle = load_drill(ROOT / "drills" / "2026-q4-shop-snapshot.yaml")
    assert bundle.drill.doc.name == "2026-q4-shop-snapshot"
    assert bundle.runbook.doc.name == "shop-snapshot-clone"
    assert bundle.estate.doc.name == "contoso"
    assert bundle.plan.doc.name == "snapshots-6h"


def test_every_problem_of_a_document_is_raised_together(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "rb.yaml",
        "apiVersion: drsim/v1\nkind: Runbook\nmetadata: {name: r, colour: red}\n"
        "scenario: {incident: vm-loss}\nsteps:\n  - {id: a, action: wait, with: {duration: 5}}\n",
    )
    with pytest.raises(DocumentError) as caught:
        load(path)
    assert [(p.line, p.col) for p in caught.value.problems] == [(3, 21), (4, 22), (6, 44)]
    assert [p.message for p in caught.value.problems] == [
        "unknown key 'colour'",
        "incident: a vm-loss scenario needs vms: <selector>",
        "duration: 5 needs a unit: write e.g. '5s', '5m' or '5h'",
    ]
    assert caught.value.exit_code == 2


def test_unquoted_time_of_day_is_not_a_base_60_number(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "p.yaml",
        "apiVersion: drsim/v1\nkind: ProtectionPlan\nmetadata: {name: p}\nrules:\n"
        "  - vms: {app: shop}\n    backup: {policy: standard, at: 02:30}\n",
    )
    backup = load(path, ProtectionPlan).doc.rules[0].backup
    assert backup is not None
    assert backup.start == time(2, 30)


def test_validate_path_reports_instead_of_raising(tmp_path: Path) -> None:
    path = _write(tmp_path, "e.yaml", "apiVersion: drsim/v1\nkind: Estate\n")
    problems = validate_path(path)
    assert problems == [
        Problem(str(path), 1, 1, "missing required key 'metadata'"),
        Problem(str(path), 1, 1, "missing required key 'networks'"),
        Problem(str(path), 1, 1, "missing required key 'regions'"),
        Problem(str(path), 1, 1, "missing required key 'vms'"),
    ]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_examples_load_without_problems(example: Path) -> None:
    assert validate_path(example) == []


# ------------------------------------------------------------------------------------- fuzzing

_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _only_document_errors(path: Path) -> None:
    try:
        load(path)
    except DocumentError as exc:
        assert exc.problems, "a DocumentError always carries at least one problem"
        for problem in exc.problems:
            assert problem.line >= 1 and problem.col >= 1 and problem.message
    assert all(isinstance(p, Problem) for p in validate_path(path))


@_FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_document_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "doc.yaml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))  # lone surrogates make invalid UTF-8
        _only_document_errors(path)


@_FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_document_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "doc.yaml"
        path.write_bytes(data)
        _only_document_errors(path)


_KEYS = sorted(
    {
        "apiVersion",
        "kind",
        "metadata",
        "name",
        "regions",
        "primary",
        "recovery",
        "networks",
        "vms",
        "disks",
        "volumes",
        "apps",
        "rules",
        "backup",
        "policy",
        "every",
        "site_recovery",
        "snapshots",
        "image",
        "scenario",
        "incident",
        "objectives",
        "steps",
        "id",
        "action",
        "needs",
        "with",
        "network",
        "duration",
        "region",
        "cidr",
        "runbook",
        "estate",
        "plan",
        "incident_at",
        "candidates",
        "tags",
        "size_gib",
        "used_gib",
        "layout",
        "retention",
        "consistency_group",
        "instant_restore_days",
    }
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["drsim/v1", "Runbook", "Estate", "Drill", "wait", "asr.test_failover", "4h", "-1m", "10.0.0.0/16", "eastus2"]),
    st.datetimes(timezones=st.just(UTC)),
)
_TREES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=6), children, max_size=5),
    max_leaves=30,
)


@_FUZZ
@given(
    st.sampled_from(["Estate", "ProtectionPlan", "Runbook", "Drill", "Comparison"]),
    st.dictionaries(st.sampled_from(_KEYS), _TREES, max_size=8),
)
def test_arbitrary_yaml_trees_raise_only_document_error(kind: str, body: dict[str, Any]) -> None:
    document = {"apiVersion": "drsim/v1", "kind": kind, "metadata": {"name": "fuzz"}, **body}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "doc.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        _only_document_errors(path)


def _leaves(tree: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(tree, dict):
        return [at] + [leaf for k, v in tree.items() for leaf in _leaves(v, (*at, k))]
    if isinstance(tree, list):
        return [at] + [leaf for i, v in enumerate(tree) for leaf in _leaves(v, (*at, i))]
    return [at]


def _mutate(tree: Any, where: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not where:
        return value
    head, rest = where[0], where[1:]
    if isinstance(tree, dict):
        copy = dict(tree)
        if delete and not rest:
            copy.pop(head)
        else:
            copy[head] = _mutate(tree[head], rest, value, delete)
        return copy
    copy_list = list(tree)
    if delete and not rest:
        copy_list.pop(head)
    else:
        copy_list[head] = _mutate(tree[head], rest, value, delete)
    return copy_list


@_FUZZ
@given(st.sampled_from(["estate.yaml", "plan.yaml", "runbook.yaml", "drill.yaml"]), st.data())
def test_mutated_valid_documents_raise_only_document_error(name: str, data: st.DataObject) -> None:
    """Change one value (or drop one key) of a valid document; loading its drill must still not crash."""
    with tempfile.TemporaryDirectory() as folder:
        for source in GOOD.glob("*.yaml"):
            shutil.copy(source, folder)
        path = Path(folder) / name
        tree = yaml.safe_load(path.read_text())
        where = data.draw(st.sampled_from(_leaves(tree)[1:]))
        mutated = _mutate(tree, where, data.draw(_TREES), data.draw(st.booleans()))
        path.write_text(yaml.safe_dump(mutated, allow_unicode=True), encoding="utf-8")
        try:
            load_drill(Path(folder) / "drill.yaml")
        except DocumentError as exc:
            assert exc.problems
        _only_document_errors(path)


# ------------------------------------------------------------------------------ what a path is


def _problems_reading(path: Path) -> list[Problem]:
    with pytest.raises(DocumentError) as raised:
        read_yaml(path)
    return raised.value.problems


def test_a_directory_is_said_to_be_one(tmp_path: Path) -> None:
    assert _problems_reading(tmp_path) == [Problem(str(tmp_path), 1, 1, "is a directory, not a document")]


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_a_device_is_not_a_regular_file() -> None:
    assert _problems_reading(Path("/dev/null")) == [
        Problem("/dev/null", 1, 1, "is not a regular file (a character device), not a document")
    ]


def test_symbolic_links_that_loop_or_dangle_are_named_for_what_they_are(tmp_path: Path) -> None:
    loop, dangling = tmp_path / "loop.yaml", tmp_path / "dangling.yaml"
    loop.symlink_to(loop)
    dangling.symlink_to(tmp_path / "gone.yaml")
    assert _problems_reading(loop) == [Problem(str(loop), 1, 1, "is a symbolic link loop")]
    assert _problems_reading(dangling) == [Problem(str(dangling), 1, 1, "is a symbolic link to a missing file")]
    assert file_problem(tmp_path / "missing.yaml") == "no such file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    """Opening a FIFO for reading waits for a writer: the loader must say what it is instead of hanging."""
    fifo = tmp_path / "runbook.yaml"
    os.mkfifo(fifo)
    found: list[list[Problem]] = []
    reader = threading.Thread(target=lambda: found.append(_problems_reading(fifo)), daemon=True)
    reader.start()
    reader.join(60)  # a guard against a hang, not a timing assertion: the answer needs no I/O at all
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert found == [[Problem(str(fifo), 1, 1, "is not a regular file (a FIFO), not a document")]]
    assert validate_path(fifo) == found[0]


def test_an_integer_with_too_many_digits_says_why_it_cannot_be_read(tmp_path: Path) -> None:
    limit = sys.get_int_max_str_digits()
    path = _write(tmp_path, "drill.yaml", "apiVersion: drsim/v1\nkind: Drill\nmetadata: {name: x}\nseed: " + "9" * (limit + 700) + "\n")
    reason = f"the number has {limit + 700} digits; drsim reads integers of at most {limit} digits"
    assert _problems_reading(path) == [Problem(str(path), 4, 7, f"cannot read the value {'9' * 40!r}...: {reason}")]


# ------------------------------------------------------------------- hostile documents, bounded memory

# The peak resident memory of this process alone: /proc's VmHWM (ru_maxrss would count the parent's, as
# the child is spawned from it).
_PEAK_OF_VALIDATING = """
import re, resource, sys
from drsim.model import validate_path
problems = validate_path(sys.argv[1])
try:
    with open("/proc/self/status") as status:
        print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)) // 1024)
except OSError:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
print(problems[0] if problems else "valid")
"""


def _hostile(tmp_path: Path, name: str) -> Path:
    """Documents under the 20 MiB limit made of millions of tiny values (issue 13)."""
    head = 'apiVersion: drsim/v1\nkind: Estate\nmetadata: {name: x, description: "\U0001f600 wide text"}\nregions: '
    size = 19 * 1024 * 1024
    if name == "flow":
        body = "[" + "0," * (size // 2) + "0]\n"
    elif name == "block":
        body = "\n" + "- 0\n" * (size // 4)
    else:  # unique keys and values: nothing is shared
        entries = (f"k{i}: v{i}," for i in range(size // 16))
        body = "{" + "".join(entries)[: size - 200] + "}\n"
    return _write(tmp_path, f"{name}.yaml", head + body)


@pytest.mark.parametrize("name", ["flow", "block", "mapping"])
def test_a_document_of_millions_of_tiny_values_is_refused_early_in_bounded_memory(tmp_path: Path, name: str) -> None:
    path = _hostile(tmp_path, name)
    assert path.stat().st_size < MAX_BYTES
    done = subprocess.run([sys.executable, "-c", _PEAK_OF_VALIDATING, str(path)], capture_output=True, text=True, timeout=120, check=True)
    peak_mib, problem = done.stdout.splitlines()
    assert int(peak_mib) < 300, done.stdout
    assert problem.startswith(f"{path}:")
    assert f"the document has more than {MAX_NODES:,} values; drsim reads at most {MAX_NODES:,}" in problem
    assert "alias" not in problem


def test_nesting_is_refused_while_composing_at_the_first_level_too_deep(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "deep.yaml", "apiVersion: drsim/v1\nkind: Estate\nmetadata:\n" + "".join("  " * i + "- \n" for i in range(1, 100))
    )
    assert _problems_reading(path) == [Problem(str(path), 68, 131, "the document is nested more than 64 levels deep")]


def test_loading_keeps_nothing_of_a_document_once_it_is_dropped(tmp_path: Path) -> None:
    """The loader once kept every value it had built (+19 MB per validation of this document)."""
    path = _write(
        tmp_path,
        "strings.yaml",
        f"apiVersion: drsim/v1\nkind: Estate\nmetadata: {{name: x, description: '{'a' * 5_000_000}'}}\nregions: '{'b' * 5_000_000}'\n",
    )
    validate_path(path)  # imports and caches settle
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            assert validate_path(path)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 1_000_000


def test_thousands_of_problems_are_summarised_with_the_first_ones_located(tmp_path: Path) -> None:
    networks = ", ".join(["{name: n0, region: eastus2, cidr: 10.0.0.0/16}"] + ["x"] * 5000)
    head = "apiVersion: drsim/v1\nkind: Estate\nmetadata: {name: x}\nregions: {primary: eastus2, recovery: centralus}\n"
    path = _write(tmp_path, "estate.yaml", f"{head}networks: [{networks}]\nvms: []\n")
    problems = validate_path(path)
    assert problems[0] == Problem(
        str(path), 1, 1, "5,001 problems in this document; drsim lists the first 200 of the first 20 items of each list"
    )
    assert len(problems) == 1 + 19 + 1  # the summary, 19 of the first 20 networks, vms: needs at least 1 item
    assert problems[1] == Problem(str(path), 5, 60, "expected a mapping or instance of NetworkSpec, got 'x'")


def test_a_document_with_a_problem_in_every_value_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    head = "apiVersion: drsim/v1\nkind: Estate\nmetadata: {name: x}\nregions: {primary: eastus2, recovery: centralus}\n"
    path = _write(tmp_path, "estate.yaml", head + "networks: [" + ", ".join(["x"] * (MAX_NODES - 20)) + "]\nvms: []\n")
    done = subprocess.run([sys.executable, "-c", _PEAK_OF_VALIDATING, str(path)], capture_output=True, text=True, timeout=120, check=True)
    peak_mib, problem = done.stdout.splitlines()
    assert int(peak_mib) < 300, done.stdout
    assert (
        problem
        == f"{path}:1:1: {MAX_NODES - 20 + 2:,} problems in this document; drsim lists the first 200 of the first 20 items of each list"
    )
