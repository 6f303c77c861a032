"""Mutation fuzzer over the example documents: bad input never gives a traceback, a hang, or a drill
that validates and then fails for a reason validation should have given.

Each case takes one example drill (drills/*.yaml) with its runbook, estate and plan, mutates one of
those four documents (or the comparison, drills/shop-plans.yaml) one to three times, and runs what
a user would: `drsim validate` in-process, then, when the documents validate, `drsim drill run` of
the drill in the simulated world (or `drsim compare` with few trials). Mutations: delete, insert or
duplicate a key, swap two values, change a value's type, nest a value deeply, repeat a list's items
many times, put unicode in a string, take a value from the documents' own vocabulary, duplicate a
list item, truncate the text.

Counted per case, printed at the end (target: 0 / 0 / 0):
  tracebacks   any exception that is not drsim's own error tree (or a command that exits other
               than 0/1/2/3);
  hangs        a case over its time limit (SIGALRM; --limit seconds);
  valid-but-failing  the documents validate, then the run exits 2 (refused at run time) or 3
               (execution error), or a task fails with an error that says the documents were
               wrong (SafetyError, NotFoundError, ConflictError, UsageError): what validation
               should have refused.
Drills whose mutated documents switch to `provider: azure` validate but are not run (they would
reach for Azure); estates mutated to more than --max-vms VMs are validated but not run.

    python bench/fuzz_documents.py [--cases 2000] [--seed 1] [--limit 20] [--show 5]
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import yaml
from click.testing import CliRunner, Result

from drsim.cli import main as cli

ROOT = Path(__file__).resolve().parent.parent
DRILLS = sorted(p for p in (ROOT / "drills").glob("*.yaml") if "kind: Drill" in p.read_text())
COMPARISON = ROOT / "drills" / "shop-plans.yaml"
MAX_REPEATED = 20_000
CONFIG_ERRORS = frozenset({"SafetyError", "NotFoundError", "ConflictError", "UsageError", "DocumentError"})
UNICODE = ["Ωmega", "名前", "\u202eevil", "e\u0301", "\U0001f600", "zero\u200bwidth", "tab\there", "", " ", "a" * 300, "-", "#x", "'q'"]
ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    2**63,
    1e308,
    float("nan"),
    "",
    "0s",
    "-5m",
    "99999d",
    "1h30m",
    "latest",
    "random",
    "1969-12-31T23:59:59Z",
    "2199-12-31T23:59:59Z",
    [],
    {},
    [None],
    {"a": "b"},
    "10.0.0.0/8",
    "0.0.0.0/0",
]


class Hang(Exception):
    """The case ran over its time limit."""


@dataclass
class Figures:
    cases: int = 0
    valid: int = 0
    ran: int = 0
    not_run: Counter[str] = field(default_factory=Counter)
    exits: Counter[str] = field(default_factory=Counter)
    tracebacks: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    valid_but_failing: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------- mutations


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a node (mappings by key, lists by index), the root excluded."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield (*prefix, i)
            yield from _paths(value, (*prefix, i))


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    _get(data, path[:-1])[path[-1]] = value


def _vocabulary(data: Any) -> list[Any]:
    """Scalars of the documents themselves: names, regions, actions, durations ... (plausible wrong values)."""
    found: list[Any] = []
    for path in _paths(data):
        value = _get(data, path)
        if not isinstance(value, dict | list):
            found.append(value)
        if isinstance(path[-1], str):
            found.append(path[-1])
    return found


def mutate_data(data: Any, rng: random.Random, vocabulary: list[Any]) -> str:
    """Apply one structural mutation in place; return its name."""
    paths = list(_paths(data))
    if not paths:
        return "none"
    path = rng.choice(paths)
    parent = _get(data, path[:-1])
    kind = rng.choice(["delete", "insert", "swap", "type", "nest", "repeat", "unicode", "vocabulary", "duplicate-item", "odd"])
    if kind == "delete":
        del parent[path[-1]]
    elif kind == "insert":
        containers = [p for p in paths if isinstance(_get(data, p), dict)] or [()]
        target = _get(data, rng.choice(containers))
        target[str(rng.choice(vocabulary))] = rng.choice(vocabulary + ODD_VALUES)
    elif kind == "swap":
        other = rng.choice(paths)
        if other[: len(path)] != path and path[: len(other)] != other:
            a, b = copy.deepcopy(_get(data, path)), copy.deepcopy(_get(data, other))
            _set(data, path, b)
            _set(data, other, a)
    elif kind == "type":
        value = _get(data, path)
        options: list[Any] = [str(value), [value], {"value": value}, 7, 0.5, True, None]
        parent[path[-1]] = rng.choice(options)
    elif kind == "nest":
        value = _get(data, path)
        for _ in range(rng.choice([2, 10, 70, 300])):
            value = rng.choice([[value], {"x": value}])
        parent[path[-1]] = value
    elif kind == "repeat":
        lists = [p for p in paths if isinstance(_get(data, p), list) and _get(data, p)]
        if lists:
            chosen = _get(data, rng.choice(lists))
            # Up to MAX_REPEATED items: big enough for a 10,000-VM fleet, small enough to write quickly.
            times = min(rng.choice([1, 2, 50, 2000]), MAX_REPEATED // max(1, len(chosen)))
            chosen.extend(copy.deepcopy(chosen) * times)
    elif kind == "unicode":
        strings = [p for p in paths if isinstance(_get(data, p), str)]
        if strings:
            _set(data, rng.choice(strings), rng.choice(UNICODE))
    elif kind == "vocabulary":
        parent[path[-1]] = rng.choice(vocabulary)
    elif kind == "duplicate-item":
        lists = [p for p in paths if isinstance(_get(data, p), list) and _get(data, p)]
        if lists:
            chosen = _get(data, rng.choice(lists))
            chosen.append(copy.deepcopy(rng.choice(chosen)))
    else:
        parent[path[-1]] = rng.choice(ODD_VALUES)
    return kind


def mutate_text(text: str, rng: random.Random) -> str:
    """A text-level mutation: truncate, duplicate a line (a duplicate key), or a stray character."""
    lines = text.splitlines(keepends=True)
    kind = rng.choice(["truncate", "duplicate-line", "stray"])
    if kind == "truncate":
        return text[: rng.randrange(len(text) + 1)]
    if kind == "duplicate-line" and lines:
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        return "".join(lines)
    i = rng.randrange(len(text) + 1)
    return text[:i] + rng.choice(["\t", ":", "- ", "{", "]", "&a ", "*a", "!!python/object ", "'", "\u00a0", "\ufeff"]) + text[i:]


def _dump(data: Any) -> str:
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=200)
    except (yaml.YAMLError, RecursionError):  # PyYAML's representer recurses: deep nesting goes as JSON
        return json.dumps(data, default=str)  # JSON is YAML


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_LOADER)


# --------------------------------------------------------------------------------------------- cases


@dataclass
class Case:
    number: int
    target: Path  # the document `drsim validate` and `drsim drill run`/`compare` are given
    description: str
    runs: str  # "drill" or "compare"


def make_case(number: int, rng: random.Random, workdir: Path) -> Case:
    """Copy one example drill (or the comparison) and its documents into workdir, mutating one of them."""
    if rng.random() < 0.15:
        top = COMPARISON
        runs = "compare"
    else:
        top = rng.choice(DRILLS)
        runs = "drill"
    top_data = _load(top)
    references = ["estate"] + (["runbook", "plan"] if runs == "drill" else [])
    documents: dict[str, tuple[Path, Any]] = {"top": (top, top_data)}
    for key in references:
        source = (top.parent / top_data[key]).resolve()
        documents[key] = (source, _load(source))
    if runs == "compare":
        for i, candidate in enumerate(top_data["candidates"]):
            for key in ("plan", "runbook"):
                source = (top.parent / candidate[key]).resolve()
                documents[f"candidates[{i}].{key}"] = (source, _load(source))
    which = rng.choice(sorted(documents))
    vocabulary = [v for _, data in documents.values() for v in _vocabulary(data)]
    texts: dict[str, str] = {}
    mutations: list[str] = []
    for name, (source, data) in documents.items():
        if name != which:
            texts[name] = source.read_text()
            continue
        data = copy.deepcopy(data)
        if rng.random() < 0.2:
            text = source.read_text()
            for _ in range(rng.randint(1, 2)):
                text = mutate_text(text, rng)
                mutations.append("text")
        else:
            for _ in range(rng.randint(1, 3)):
                try:
                    mutations.append(mutate_data(data, rng, vocabulary))
                except (KeyError, IndexError, TypeError):  # a mutation that met one made before it
                    mutations.append("skipped")
            text = _dump(data)
        texts[name] = text
    # Every document goes next to the top one, references rewritten to the copies.
    files = {name: workdir / f"{name.replace('[', '-').replace(']', '').replace('.', '-')}.yaml" for name in documents}
    top_text = texts["top"]
    if which != "top" or "text" not in mutations:
        try:
            top_loaded = yaml.load(top_text, Loader=_LOADER)
        except (yaml.YAMLError, RecursionError):
            top_loaded = None
        if isinstance(top_loaded, dict):
            for key in references:
                if isinstance(top_loaded.get(key), str):
                    top_loaded[key] = files[key].name
            for i, candidate in enumerate(top_loaded.get("candidates") or []):
                if isinstance(candidate, dict):
                    for key in ("plan", "runbook"):
                        if isinstance(candidate.get(key), str) and f"candidates[{i}].{key}" in files:
                            candidate[key] = files[f"candidates[{i}].{key}"].name
            top_text = _dump(top_loaded)
    texts["top"] = top_text
    for name, text in texts.items():
        files[name].write_text(text, encoding="utf-8")
    return Case(number, files["top"], f"{top.name}: {which} <- {', '.join(mutations)}", runs)


def _invoke(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args, catch_exceptions=True)


def _crashed(result: Result) -> str | None:
    """A traceback (any exception but SystemExit) or an exit code drsim never gives."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        exc = result.exception
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
    if result.exit_code not in (0, 1, 2, 3):
        return f"exit code {result.exit_code}: {result.output[-500:]}"
    return None


def _azure_or_too_big(case: Case, max_vms: int) -> str | None:
    """Why a valid case is not run: it would reach for Azure, or simulate a huge estate."""
    try:
        top = yaml.load(case.target.read_text(), Loader=_LOADER)
        estate = yaml.load((case.target.parent / top["estate"]).read_text(), Loader=_LOADER)
    except (OSError, yaml.YAMLError, KeyError, TypeError, RecursionError):
        return None
    if top.get("provider") == "azure":
        return "provider: azure"
    if len(estate.get("vms") or []) > max_vms:
        return f"estate over {max_vms} VMs"
    return None


def _config_failures(out: Path) -> list[str]:
    """Failed tasks of the run (journal.jsonl) whose error says the documents were wrong."""
    found = []
    for journal in out.rglob("journal.jsonl"):
        for line in journal.read_text().splitlines():
            event = json.loads(line)
            if event.get("event") == "task.failed" and event.get("error_type") in CONFIG_ERRORS:
                found.append(f"{event.get('task')}: {event.get('error_type')}: {str(event.get('error'))[:200]}")
    return found


def run_case(case: Case, workdir: Path, figures: Figures, *, max_vms: int) -> None:
    validated = _invoke(["validate", str(case.target)])
    crash = _crashed(validated)
    figures.exits[f"validate {validated.exit_code}"] += 1
    if crash is not None:
        figures.tracebacks.append(f"{case.description}\n  validate: {crash}")
        return
    if validated.exit_code != 0:
        return
    figures.valid += 1
    reason = _azure_or_too_big(case, max_vms)
    if reason is not None:
        figures.not_run[reason] += 1
        return
    out = workdir / "out"
    if case.runs == "drill":
        ran = _invoke(["drill", "run", str(case.target), "--out", str(out), "--quiet", "--no-report"])
    else:
        ran = _invoke(["compare", str(case.target), "--trials", "3", "--workers", "1", "--out", str(out)])
    figures.ran += 1
    figures.exits[f"{case.runs} {ran.exit_code}"] += 1
    crash = _crashed(ran)
    if crash is not None:
        figures.tracebacks.append(f"{case.description}\n  {case.runs}: {crash}")
    elif ran.exit_code in (2, 3):
        figures.valid_but_failing.append(f"{case.description}\n  {case.runs} exit {ran.exit_code}: {ran.output.strip()[-600:]}")
    elif case.runs == "drill":
        failures = _config_failures(out)
        if failures:
            figures.valid_but_failing.append(f"{case.description}\n  drill run: " + "; ".join(failures[:3]))


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit", type=float, default=20.0, help="seconds per case before it counts as a hang")
    parser.add_argument("--max-vms", type=int, default=200, help="valid estates above this are not run")
    parser.add_argument("--show", type=int, default=5, help="examples of each kind of finding to print")
    parser.add_argument("--keep", metavar="DIR", help="copy the documents of every finding here")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    figures = Figures()
    signal.signal(signal.SIGALRM, _alarm)
    started = time.perf_counter()
    keep = Path(args.keep) if args.keep else None
    with tempfile.TemporaryDirectory(prefix="drsim-fuzz-") as scratch:
        for number in range(args.cases):
            workdir = Path(scratch) / f"case-{number}"
            workdir.mkdir()
            case = make_case(number, rng, workdir)
            before = (len(figures.tracebacks), len(figures.hangs), len(figures.valid_but_failing))
            signal.setitimer(signal.ITIMER_REAL, args.limit)
            try:
                run_case(case, workdir, figures, max_vms=args.max_vms)
            except Hang:
                figures.hangs.append(f"{case.description}: over {args.limit:g} s")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            figures.cases += 1
            if keep is not None and (len(figures.tracebacks), len(figures.hangs), len(figures.valid_but_failing)) != before:
                shutil.copytree(workdir, keep / workdir.name, dirs_exist_ok=True)
            shutil.rmtree(workdir, ignore_errors=True)
            if (number + 1) % 250 == 0:
                print(f"  {number + 1} cases, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    elapsed = time.perf_counter() - started

    print(f"drsim document fuzzer: {figures.cases} cases (seed {args.seed}) in {elapsed:.0f} s, {date.today()} {datetime.now():%H:%M}")
    print(f"  valid after mutation: {figures.valid}; run: {figures.ran}; not run: {dict(figures.not_run) or 0}")
    print(f"  exit codes: {dict(sorted(figures.exits.items()))}")
    print(f"  tracebacks: {len(figures.tracebacks)}")
    print(f"  hangs (> {args.limit:g} s): {len(figures.hangs)}")
    print(f"  valid but failing at run time: {len(figures.valid_but_failing)}")
    for title, found in (("traceback", figures.tracebacks), ("hang", figures.hangs), ("valid but failing", figures.valid_but_failing)):
        for example in found[: args.show]:
            print(f"\n--- {title}: {example}")
    return 0 if not (figures.tracebacks or figures.hangs or figures.valid_but_failing) else 1


if __name__ == "__main__":
    sys.exit(main())
