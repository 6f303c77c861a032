"""The drsim command line. Each command calls one library function; errors map to exit codes here."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from drsim import __version__
from drsim.errors import DocumentError, DrsimError, ExecutionError, UsageError


@contextlib.contextmanager
def errors_to_exit_codes() -> Iterator[None]:
    """Turn every DrsimError into its message on stderr and its exit code: the one place codes live."""
    try:
        yield
    except DocumentError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(exc.exit_code)
    except DrsimError as exc:
        click.echo(f"drsim: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:  # the last resort: a place drsim could not read or write, as one line
        if exc.filename is None and exc.errno in (errno.EPIPE, errno.ENOSPC) and _stdout_is_broken():
            _quiet_stdout()
            if exc.errno == errno.ENOSPC:  # a closed pipe is the reader's choice; a full disk lost output
                _say(f"drsim: standard output: {exc.strerror}")
            sys.exit(ExecutionError.exit_code)
        _say(f"drsim: {_os_error_message(exc)}")
        sys.exit(ExecutionError.exit_code)


def _os_error_message(exc: OSError) -> str:
    """`path: reason` (or `path -> other: reason` for a rename) of an OSError, without Python's [Errno n]."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    names = [os.fsdecode(n) if isinstance(n, str | bytes) else str(n) for n in (exc.filename, exc.filename2) if n is not None]
    return f"{' -> '.join(names)}: {reason}" if names else reason


def _stdout_is_broken() -> bool:
    """True when standard output takes no more: a pipe or socket whose reader left, or a device that
    refuses every write (/dev/full). A regular file on a full disk cannot be told apart this way."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):
        return False  # not a real file (a test runner's buffer)
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
            if any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0)):
                return True
        os.write(fd, b"")
    except OSError:
        return True
    return False


def _quiet_stdout() -> None:
    """Point standard output at /dev/null, so that Python's flush at exit does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # not a real file (a test runner's buffer): nothing is flushed at exit


def today_utc() -> date:
    """Today's date, UTC: the one read of the wall clock that ends a comparison's default incident window."""
    return datetime.now(UTC).date()


def _say(message: str) -> None:
    """A message on stderr, unless stderr cannot take it either."""
    with contextlib.suppress(OSError):
        click.echo(message, err=True)


class DrsimGroup(click.Group):
    """drsim's command group: every command's errors become a message and an exit code here, once
    (errors_to_exit_codes); click's own usage errors exit 2, as DESIGN.md asks for invalid input.
    Subgroups are DrsimGroups too, and run inside the top group's invoke."""

    group_class = type  # subgroups made with @group.group() are of this class

    def invoke(self, ctx: click.Context) -> Any:
        with errors_to_exit_codes():
            return super().invoke(ctx)


@click.group(cls=DrsimGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="drsim")
def main() -> None:
    """drsim: rehearse disaster recovery for Azure VMs, offline or for real, and prove it."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def validate(files: tuple[str, ...], fmt: str) -> None:
    """Validate documents of any kind, and calibration files; a Drill or Comparison also validates what it references."""
    from drsim.cloud.sim.drill import validate_file

    results = {path: validate_file(path) for path in files}
    problems = sorted({p for found in results.values() for p in found})
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "valid": not problems,
                    "files": [{"path": path, "valid": not found} for path, found in results.items()],
                    "problems": [p.as_dict() for p in problems],
                },
                indent=2,
            )
        )
    else:
        for problem in problems:
            click.echo(str(problem), err=True)
        for path, found in results.items():
            if not found:
                click.echo(f"{path}: valid")
    sys.exit(2 if problems else 0)


@main.command()
@click.argument("kind", required=False, type=click.Choice(["Estate", "ProtectionPlan", "Runbook", "Drill", "Comparison"]))
def schema(kind: str | None) -> None:
    """Print the JSON Schema of one document kind (or of any document) for editors."""
    from drsim.model.schema import json_schema

    click.echo(json.dumps(json_schema(kind), indent=2))


@main.command()
@click.argument("comparison", type=click.Path(dir_okay=False))
@click.option("--trials", type=click.IntRange(1, 1_000_000), help="Trials per candidate, up to 1000000 (default: the Comparison's).")
@click.option(
    "--workers", type=click.IntRange(1, 1024), help="Local worker processes, up to 1024 (default: one per CPU; 1 runs in this process)."
)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output directory (default: reports/<comparison>/).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler address, with --executor dask (e.g. tcp://10.0.0.5:8786).")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="CANDIDATE.PATH=VALUE",
    help="What-if: change a candidate's plan or runbook, e.g. asr.plan.rules[0].site_recovery.app_consistent_every=1h.",
)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="Seed of the trials (default: the Comparison's).")
@click.option(
    "--window-end",
    "window_end_text",
    metavar="TIME",
    help="End of the incident window, UTC, e.g. 2026-11-01T00:00:00Z (default: the Comparison's window_end, else today 00:00 UTC).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no ranking table.")
@click.option(
    "--model",
    type=click.Choice(["auto", "fast", "engine"]),
    default="auto",
    show_default=True,
    help="fast: the vectorized model; engine: every trial through the engine; auto: fast when every candidate's runbook is supported.",
)
@click.option(
    "--validate",
    type=click.IntRange(0, 1_000_000),
    default=50,
    show_default=True,
    help="With the fast model: engine trials per candidate, at the same incident times, that check it (0: none; not with --model engine).",
)
def compare(
    comparison: str,
    trials: int | None,
    workers: int | None,
    out_dir: str | None,
    executor: str,
    scheduler: str | None,
    overrides: tuple[str, ...],
    seed: int | None,
    window_end_text: str | None,
    quiet: bool,
    model: str,
    validate: int,
) -> None:
    """Rank candidate protection plans by RTO, RPO and cost measured over many simulated drills.

    Exit 0 when a candidate qualifies (it meets every objective in at least 95 % of trials and
    recovers at p95), 1 when none does.
    """
    from pathlib import Path

    from drsim.compare.pool import start_early

    validate_given = click.get_current_context().get_parameter_source("validate") is not ParameterSource.DEFAULT
    if model == "engine" and validate_given and validate > 0:  # --validate 0 asks for nothing, and gets it
        raise UsageError(
            f"--validate {validate} checks the fast model against the engine, and does nothing with --model engine "
            "(every trial already runs through the engine): leave out --validate, or use --model fast or auto"
        )
    # Beside a progress bar, the workers' fork server imports the engine while this process imports the rest.
    start_early(
        executor=executor, workers=workers, engine_trials=model == "engine" or validate > 0, display=not quiet and sys.stderr.isatty()
    )
    from drsim.preflight import check_directory

    if out_dir is not None:  # before the trials, not after them
        check_directory(out_dir, "--out")
    from drsim.compare import ExecutorKind, ranking_table
    from drsim.compare import compare as run_compare
    from drsim.compare.fast_run import ModelChoice
    from drsim.model.types import parse_instant

    result, written = run_compare(
        comparison,
        trials=trials,
        seed=seed,
        overrides=overrides,
        executor=ExecutorKind(executor),
        workers=workers,
        scheduler=scheduler,
        out_dir=Path(out_dir) if out_dir else None,
        show_progress=not quiet,
        window_end=parse_instant(window_end_text, "--window-end") if window_end_text is not None else None,
        today=today_utc(),  # ends the window when neither --window-end nor the Comparison does
        model=ModelChoice(model),
        validate=validate,
    )
    import shutil
    import textwrap

    columns = shutil.get_terminal_size().columns

    def fit(text: str) -> str:  # no line wider than the terminal (paths are never cut)
        return textwrap.fill(text, columns, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)

    if not quiet:
        click.echo(ranking_table(result, columns))
    if result.model is not None:  # which model ran the trials, and where the fast model disagrees with the engine
        if not quiet:
            click.echo(fit(result.model.summary))
        for warning in result.model.warnings:
            click.echo(fit(f"drsim: warning: {warning}"), err=True)
        if validate_given and validate > 0 and result.model.used == "engine":  # auto chose the engine: nothing to check
            unused = f"--validate {validate} was not used: the engine ran every trial (auto), so there was no fast model to check"
            click.echo(fit(f"drsim: warning: {unused}"), err=True)
    if not quiet:
        shown = [p.name for p in written if p.suffix != ".svg" and p.parent == written[0].parent]
        click.echo(fit(f"wrote in {written[0].parent}: {', '.join(shown)} and replay/"))
    sys.exit(0 if result.winner is not None else 1)


@main.command()
@click.option("--subscription", "subscription_id", required=True, help="Azure subscription id to read.")
@click.option("--resource-group", help="Read only this resource group (default: the whole subscription).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Directory for estate.yaml and plan.yaml.")
@click.option("--endpoint", help="ARM endpoint (default: Azure); e.g. the drsim ARM emulator's http://127.0.0.1:PORT.")
@click.option("--recovery-region", help="The estate's recovery region, when no Site Recovery target shows it.")
@click.option("--force", is_flag=True, help="Replace estate.yaml and plan.yaml when --out already holds them.")
def discover(
    subscription_id: str, resource_group: str | None, out_dir: str, endpoint: str | None, recovery_region: str | None, force: bool
) -> None:
    """Write an Estate and a ProtectionPlan from what an Azure subscription holds (read-only)."""
    from drsim.cloud.azure import require_sdk

    require_sdk("drsim discover")
    from drsim.discover import run_discovery

    estate, plan, notes = run_discovery(
        subscription_id, out_dir, resource_group=resource_group, endpoint=endpoint, recovery_region=recovery_region, force=force
    )
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {estate} and {plan}")


@main.group()
def sim() -> None:
    """Look inside the simulated Azure world."""


@sim.command("points")
@click.argument("drill", type=click.Path(dir_okay=False))
@click.option("--vm", "vm_name", help="Show this VM only.")
@click.option("--at", "at_text", metavar="TIME", help="Show the points as of this UTC time (default: the drill's incident time).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def sim_points(drill: str, vm_name: str | None, at_text: str | None, fmt: str) -> None:
    """List the recovery points each VM would have at the incident: time, type, tier and region."""
    from datetime import UTC, datetime

    from drsim.console import sim_points as show_points

    show_points(drill, vm=vm_name, at_text=at_text, fmt=fmt, today=datetime.now(UTC).date())


RE_SIGN_HELP = (
    "Replace the signature of a run signed by another key with one made by --sign-key; the change of signer "
    "(both key fingerprints, who, when) is recorded in the run's journal and shown by `drsim evidence verify`."
)


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--format", "formats", default="md,html", show_default=True, help="Reports to write, comma-separated: md, html.")
@click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False),
    help="History store  [default: history.sqlite of the run's output directory, RUN_DIR/../..]",
)
@click.option("--sign-key", type=click.Path(dir_okay=False), help="Sign the re-sealed manifest with this Ed25519 private key (PEM).")
@click.option("--re-sign", "re_sign", is_flag=True, help=RE_SIGN_HELP)
def report(run_dir: str, formats: str, store_path: str | None, sign_key: str | None, re_sign: bool) -> None:
    """Re-render a run's reports from its result.json and journal.jsonl, and re-seal its manifest.

    A signed run is signed again only with the key that signed it, unless --re-sign."""

    from drsim.drills import rerender
    from drsim.store import store_of_run

    chosen = [f.strip() for f in formats.split(",") if f.strip()]
    for path in rerender(run_dir, chosen, store_path or store_of_run(run_dir), sign_key, re_sign=re_sign):
        click.echo(f"wrote {path}")


@main.group()
def evidence() -> None:
    """The evidence bundle of a run: manifest.json (SHA-256 of every file) and its optional signature."""


def _store_of(run_dir: str, store_path: str | None) -> Path:
    from drsim.store import store_of_run

    return Path(store_path) if store_path is not None else store_of_run(run_dir)


STORE_OF_RUN_HELP = "History store  [default: history.sqlite of the run's output directory, RUN_DIR/../..]"


@evidence.command("verify")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--public-key", type=click.Path(dir_okay=False), help="Check manifest.sig with this Ed25519 public key (PEM).")
@click.option("--no-signature-check", is_flag=True, help="Accept a signed run without checking its signature (no --public-key).")
@click.option("--store", "store_path", type=click.Path(dir_okay=False), help=STORE_OF_RUN_HELP)
def evidence_verify(run_dir: str, public_key: str | None, no_signature_check: bool, store_path: str | None) -> None:
    """Exit 0 when every file and journal line of the run is as sealed, result.json is what the journal
    gives, and the seal is the one the history store recorded; exit 1 naming what changed."""
    from drsim.drills import recorded_seal
    from drsim.program.packet import is_packet, verify_packet
    from drsim.report.sealing import verify_run

    if not os.path.isdir(run_dir):
        raise UsageError(f"{run_dir}: not a directory")
    if is_packet(run_dir):  # a coverage packet (drsim coverage), sealed like a run
        found = verify_packet(run_dir, public_key, signature_check=not no_signature_check)
    else:
        store = _store_of(run_dir, store_path)
        recorded = recorded_seal(store, run_dir)
        found = verify_run(run_dir, public_key, signature_check=not no_signature_check, recorded=recorded, store=store)
    if not found.intact:
        for problem in found.problems:
            click.echo(f"{run_dir}: {problem}", err=True)
        for note in found.notes:
            click.echo(f"{run_dir}: note: {note}", err=True)
        sys.exit(1)
    click.echo(f"{run_dir}: {found.summary()}")
    for note in found.notes:
        click.echo(f"{run_dir}: note: {note}")


@evidence.command("seal")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--sign-key", type=click.Path(dir_okay=False), help="Sign the manifest with this Ed25519 private key (PEM).")
@click.option(
    "--force",
    is_flag=True,
    help="Seal a run whose files changed since it was sealed; the changes are recorded in its journal and shown in its reports.",
)
@click.option("--re-sign", "re_sign", is_flag=True, help=RE_SIGN_HELP)
@click.option("--store", "store_path", type=click.Path(dir_okay=False), help=STORE_OF_RUN_HELP)
def evidence_seal(run_dir: str, sign_key: str | None, force: bool, re_sign: bool, store_path: str | None) -> None:
    """Write the run's manifest.json (and manifest.sig with a key) over the files it holds now.

    Refused when result.json is not what the journal gives, (unless --force) when the run was
    sealed before and its files changed since, and (unless --re-sign) when the run is signed by
    another key than --sign-key."""
    from drsim.drills import seal_evidence

    if not os.path.isdir(run_dir):
        raise UsageError(f"{run_dir}: not a directory")
    outcome = seal_evidence(run_dir, sign_key, force=force, re_sign=re_sign, store=_store_of(run_dir, store_path))
    for change in outcome.changes:
        click.echo(f"{run_dir}: sealed over: {change}", err=True)
    if outcome.resigned is not None:
        click.echo(
            f"{run_dir}: signed again with another key: the signature of key {outcome.resigned.previous_key_sha256} "
            f"replaced by one of key {outcome.resigned.key_sha256} (recorded in the journal)",
            err=True,
        )
    for path in outcome.written:
        click.echo(f"wrote {path}")
    click.echo(f"wrote {outcome.manifest}")


@main.command()
@click.option("--drill", help="Only the runs of this drill.")
@click.option("--runbook", help="Only the runs of this runbook.")
@click.option("--store", "store_path", type=click.Path(dir_okay=False), help="History store  [default: reports/history.sqlite]")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def history(drill: str | None, runbook: str | None, store_path: str | None, fmt: str) -> None:
    """List recorded drill runs, oldest first: one row per run and application, each with its kind
    (simulated, emulated or real: only real runs are operating evidence)."""
    from drsim.console import terminal_width
    from drsim.store import DEFAULT_STORE
    from drsim.store.export import HistoryFormat, history_text

    text = history_text(store_path or DEFAULT_STORE, HistoryFormat(fmt), drill=drill, runbook=runbook, width=terminal_width())
    click.echo(text, nl=False)


@main.group(invoke_without_command=True)
@click.option("--open", "open_only", is_flag=True, help="Only findings neither closed nor re-verified.")
@click.option("--app", help="Only the findings of this application.")
@click.option("--store", "store_path", type=click.Path(dir_okay=False), help="History store  [default: reports/history.sqlite]")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def findings(ctx: click.Context, open_only: bool, app: str | None, store_path: str | None, fmt: str) -> None:
    """List the findings of recorded runs (derived from their journals), with owner, due date, closure and
    re-verification; `assign` and `close` act on one."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = store_path
        return
    from drsim.console import terminal_width
    from drsim.store import DEFAULT_STORE
    from drsim.store.findings import FindingsFormat, findings_text

    text = findings_text(store_path or DEFAULT_STORE, FindingsFormat(fmt), open_only=open_only, app=app, width=terminal_width())
    click.echo(text, nl=False)


def _findings_store(ctx: click.Context, store_path: str | None) -> str | Path:
    from drsim.store import DEFAULT_STORE

    return store_path or (ctx.obj if isinstance(ctx.obj, str) else None) or DEFAULT_STORE


@findings.command("assign")
@click.argument("finding_id", metavar="ID")
@click.option("--owner", required=True, help="Who owns the finding.")
@click.option("--due", required=True, metavar="DATE", help="When it is due, YYYY-MM-DD.")
@click.option("--by", help="Who assigns it  [default: the operating system's user]")
@click.option("--store", "store_path", type=click.Path(dir_okay=False), help="History store  [default: reports/history.sqlite]")
@click.pass_context
def findings_assign(ctx: click.Context, finding_id: str, owner: str, due: str, by: str | None, store_path: str | None) -> None:
    """Give a finding an owner and a due date (recorded with who and when)."""
    from drsim.store.findings import assign_finding

    found = assign_finding(_findings_store(ctx, store_path), finding_id, owner=owner, due=due, by=by)
    click.echo(f"{found.id}: assigned to {found.owner}, due {found.due}")


@findings.command("close")
@click.argument("finding_id", metavar="ID")
@click.option("--note", required=True, help="What was done about it.")
@click.option("--by", help="Who closes it  [default: the operating system's user]")
@click.option("--store", "store_path", type=click.Path(dir_okay=False), help="History store  [default: reports/history.sqlite]")
@click.pass_context
def findings_close(ctx: click.Context, finding_id: str, note: str, by: str | None, store_path: str | None) -> None:
    """Close a finding with a note (recorded with who and when); a later real drill re-verifies it."""
    from drsim.store.findings import close_finding

    found = close_finding(_findings_store(ctx, store_path), finding_id, note=note, by=by)
    click.echo(f"{found.id}: closed at {found.closed_at} by {found.closed_by}")


@main.command()
@click.option(
    "--estate", "estate_path", required=True, type=click.Path(dir_okay=False), help="The estate as it is now (its apps' drill_every)."
)
@click.option("--store", "store_path", type=click.Path(dir_okay=False), help="History store  [default: reports/history.sqlite]")
@click.option("--at", "at_text", metavar="TIME", help="Judge as of this UTC time (default: now).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def due(estate_path: str, store_path: str | None, at_text: str | None, fmt: str) -> None:
    """What is due: per app and scenario, the last real and simulated drill, when the next real drill is
    due, and what changed since the last passed real drill.

    Exit 1 when anything is overdue or needs re-verification (so CI can gate on it), 0 otherwise.
    """
    from drsim.console import due as show_due

    sys.exit(show_due(estate_path, store_path, at_text, fmt))


@main.command()
@click.option("--period", "period_text", required=True, metavar="PERIOD", help="A quarter (2026-Q4), a year (2026) or FROM..TO (dates).")
@click.option("--store", "store_path", type=click.Path(dir_okay=False), help="History store  [default: reports/history.sqlite]")
@click.option("--estate", "estate_path", type=click.Path(dir_okay=False), help="The estate: its apps (and which are critical).")
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Directory of the packet (new, or an earlier packet)."
)
@click.option("--sign-key", type=click.Path(dir_okay=False), help="Sign the packet's manifest with this Ed25519 private key (PEM).")
def coverage(period_text: str, store_path: str | None, estate_path: str | None, out_dir: str, sign_key: str | None) -> None:
    """The auditor's packet for a period: coverage.md and coverage.html (apps x scenarios x mechanisms,
    objectives against measurements, findings, participants, a checklist per framework), sealed like a
    run (`drsim evidence verify DIR`)."""
    from drsim.console import coverage as write_coverage

    for path in write_coverage(period_text, store_path, estate_path, out_dir, sign_key):
        click.echo(f"wrote {path}")


@main.group()
def drill() -> None:
    """Run disaster-recovery drills."""


@drill.command("run")
@click.argument("drill_path", metavar="[DRILL]", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--out",
    "out_dir",
    default="reports",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where runs are written: <out>/<drill>/<run-id>/.",
)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="Seed of the simulated world (default: the drill's).")
@click.option("--incident-at", metavar="TIME", help="Incident time, UTC (default: the drill's; `random` draws one from the seed).")
@click.option("--dry-run", is_flag=True, help="Print the task graph, critical path and what would be created; create nothing.")
@click.option(
    "--resume",
    "resume_dir",
    metavar="RUN_DIR",
    type=click.Path(file_okay=False),
    help="Continue a crashed or interrupted run from its journal (DRILL defaults to the drill the journal names).",
)
@click.option("--quiet", "-q", is_flag=True, help="No live progress and no summary table: one status line.")
@click.option("--no-report", is_flag=True, help="Write no report.md / report.html (the run is still recorded and sealed).")
@click.option("--store", "store_path", type=click.Path(dir_okay=False), help="History store  [default: <out>/history.sqlite]")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Also write JUnit XML: a test case per objective and check.")
@click.option(
    "--real-time",
    is_flag=True,
    help="Run a simulated drill in real time (its world on a real clock) so that its manual steps wait for people.",
)
@click.option(
    "--speed",
    type=click.FloatRange(0.01, 10_000),
    help="With --real-time: world seconds per real second, 0.01 to 10000 (default 1).",
)
@click.option(
    "--predict-trials",
    type=click.IntRange(0, 100_000),
    default=200,
    show_default=True,
    help="Before a drill against Azure, predict it from this many simulated trials (journaled; 0: no prediction).",
)
def drill_run(
    drill_path: str | None,
    out_dir: str,
    seed: int | None,
    incident_at: str | None,
    dry_run: bool,
    resume_dir: str | None,
    quiet: bool,
    no_report: bool,
    store_path: str | None,
    junit_path: str | None,
    real_time: bool,
    speed: float | None,
    predict_trials: int,
) -> None:
    """Run a drill; write result.json, journal.jsonl, report.md, report.html and manifest.json, and record the run
    in the history store. Exit 0 passed, 1 an objective or check failed, 3 error."""
    from datetime import UTC, datetime

    from drsim.console import drill_run as run
    from drsim.preflight import check_drill_run

    if drill_path is None:
        if resume_dir is None:
            raise click.UsageError("Missing argument 'DRILL' (it may be left out only with --resume RUN_DIR).")
        from drsim.drills import drill_of_run

        drill_path = drill_of_run(resume_dir)
    if not dry_run:  # a dry run writes nothing; a real one must not fail at its end for want of a place to write
        check_drill_run(drill_path, out_dir=out_dir, resume=resume_dir, store=store_path, junit=junit_path)
    today = datetime.now(UTC).date()  # for `incident_at: random` without window_end
    sys.exit(
        run(
            drill_path,
            out_dir=out_dir,
            seed=seed,
            incident_at=incident_at,
            dry_run=dry_run,
            resume=resume_dir,
            quiet=quiet,
            today=today,
            reports=not no_report,
            store=store_path,
            junit=junit_path,
            real_time=real_time,
            speed=speed,
            predict_trials=predict_trials,
        )
    )


@drill.command("approve")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("step_id")
@click.option(
    "--by", "by", required=True, metavar="NAME", help="Who declares or approves (on the drill's participants list, if it has one)."
)
@click.option("--role", metavar="ROLE", help="Their role (default: the one the participants list gives them).")
@click.option("--note", metavar="TEXT", help="A note journaled with the approval.")
def drill_approve(run_dir: str, step_id: str, by: str, role: str | None, note: str | None) -> None:
    """Declare or approve a manual step that a real-time run is waiting on, from any shell.

    Exit 0 once the run has journaled it; 2 when the step is not waiting (the ones that are are named)
    or the person is not on the drill's participants list; 3 when the run does not take it."""
    from drsim.drills import approve_step
    from drsim.times import duration, utc_text

    acted = approve_step(run_dir, step_id, by=by, role=role, note=note)
    role_text = f" ({acted.role})" if acted.role else ""
    verb = "declared" if acted.action.value == "manual.declare" else "approved"
    when = utc_text(acted.at, "seconds")
    click.echo(f"{run_dir}: step '{acted.step}' {verb} by {acted.by}{role_text} at {when}, after waiting {duration(acted.waited_s)}")


@drill.command("attest")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--by", "by", required=True, metavar="NAME", help="Who attests.")
@click.option("--role", required=True, metavar="ROLE", help="In what role (drill owner, application owner, risk and compliance, ...).")
@click.option(
    "--verdict", required=True, type=click.Choice(["passed", "failed", "passed-with-exceptions"]), help="Their verdict on the run."
)
@click.option("--note", metavar="TEXT", help="A note journaled with the attestation (the exceptions, for instance).")
@click.option("--sign-key", type=click.Path(dir_okay=False), help="Ed25519 private key (PEM) to sign the re-sealed manifest with.")
@click.option("--store", "store_path", type=click.Path(dir_okay=False), help=STORE_OF_RUN_HELP)
def drill_attest(run_dir: str, by: str, role: str, verdict: str, note: str | None, sign_key: str | None, store_path: str | None) -> None:
    """Attest a finished run: journal who gives what verdict on it (chained), re-render its reports
    (their sign-off shows it) and re-seal it. Refused for a run still running or whose evidence does
    not verify."""
    from drsim.drills import attest_run

    outcome = attest_run(run_dir, by=by, role=role, verdict=verdict, note=note, sign_key=sign_key, store=_store_of(run_dir, store_path))
    for path in outcome.written:
        click.echo(f"wrote {path}")
    click.echo(f"{run_dir}: attested {outcome.attested.verdict.value} by {outcome.attested.by} ({outcome.attested.role})")


@main.group()
def canary() -> None:
    """The canary writer for production VMs: markers drsim reads back on recovered VMs (docs/azure.md)."""


@canary.command("script")
@click.option("--os", "os_name", type=click.Choice(["linux", "windows"]), required=True, help="The production VM's OS.")
@click.option(
    "--volume",
    "volumes",
    metavar="PATH",
    multiple=True,
    help="A protected volume (its mount point or a folder on it); repeatable. Default: a folder on the OS volume.",
)
@click.option("--interval", type=click.FloatRange(0.01, 3600), default=1.0, show_default=True, help="Seconds between two markers.")
@click.option("--out", type=click.Path(file_okay=False), help="Write the files to this directory instead of printing them.")
def canary_script(os_name: str, volumes: tuple[str, ...], interval: float, out: str | None) -> None:
    """Print the writer to install on a production VM: Linux a shell script and a systemd unit, Windows a
    PowerShell script and its scheduled task."""
    from drsim.console import canary_script as write_script

    for path in write_script(os_name, volumes, interval, out):
        click.echo(f"wrote {path}")


@main.group()
def emulator() -> None:
    """An ARM-compatible endpoint over the simulated world, for testing Azure SDK code offline."""


@emulator.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback: the emulator checks no tokens).")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Port to listen on (0: a free one).")
@click.option("--estate", type=click.Path(dir_okay=False), help="Estate of the world (with --plan).")
@click.option("--plan", type=click.Path(dir_okay=False), help="Protection plan of the world (with --estate).")
@click.option("--drill", type=click.Path(dir_okay=False), help="A drill: its estate, plan, incident and seed make the world.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="Seed of the world (default: the drill's, else 0).")
@click.option(
    "--speed", type=click.FloatRange(0.01, 10_000), default=60.0, show_default=True, help="World seconds per real second, 0.01 to 10000."
)
@click.option("--incident-at", metavar="TIME", help="The world's start (and the drill's incident), UTC, e.g. 2026-11-20T14:00:00Z.")
@click.option(
    "--writable-group",
    "writable_groups",
    metavar="GROUP",
    multiple=True,
    help="A resource group the drill identity may write (Contributor); repeatable. Default: the drill group only.",
)
@click.option("--page-size", type=click.IntRange(1, 1000), default=2, show_default=True, help="Items per page of every list (nextLink).")
@click.option("--vcpu-quota", type=click.IntRange(0), default=100, show_default=True, help="Total regional vCPUs quota per region.")
@click.option(
    "--storage-account",
    "storage_accounts",
    metavar="NAME:GROUP:REGION[:SKU]",
    multiple=True,
    help="A storage account to serve (a Backup staging account); repeatable.",
)
@click.option(
    "--calibration",
    type=click.Path(dir_okay=False),
    help="Run the world's operations on this calibration file (docs/simulator.md) instead of the built-in catalog.",
)
def emulator_serve(
    host: str,
    port: int,
    estate: str | None,
    plan: str | None,
    drill: str | None,
    seed: int | None,
    speed: float,
    incident_at: str | None,
    writable_groups: tuple[str, ...],
    page_size: int,
    vcpu_quota: int,
    storage_accounts: tuple[str, ...],
    calibration: str | None,
) -> None:
    """Serve Azure Resource Manager over the simulated world until Ctrl-C; prints endpoint, subscription and groups."""
    from drsim.cloud.emulator.server import run_emulator
    from drsim.cloud.emulator.world import options_from_cli

    run_emulator(
        options_from_cli(
            estate=estate,
            plan=plan,
            drill=drill,
            seed=seed,
            speed=speed,
            incident_at=incident_at,
            page_size=page_size,
            writable_groups=writable_groups,
            vcpu_quota=vcpu_quota,
            storage_accounts=storage_accounts,
            calibration=calibration,
        ),
        host,
        port,
        echo=click.echo,
    )


# ------------------------------------------------------------------------------ drsim calibrate


@main.command()
@click.option("--store", "store_path", required=True, type=click.Path(dir_okay=False), help="History store listing the runs to learn from.")
@click.option("--since", metavar="DATE", help="Only runs performed on or after this day (YYYY-MM-DD).")
@click.option(
    "--provider", type=click.Choice(["azure"]), default="azure", show_default=True, help="Runs of this provider (real runs only)."
)
@click.option("--include-emulated", is_flag=True, help="Count runs made against drsim's ARM emulator (the file then says so).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Calibration file to write (required unless --check).")
@click.option(
    "--min-samples", type=click.IntRange(2, 1_000_000), default=5, show_default=True, help="Fewer samples keep the built-in figure."
)
@click.option("--name", help="The calibration's name (default: the output file's stem).")
@click.option("--check", "check_only", is_flag=True, help="Replay each past real drill on the twin; print the share of RTOs inside p5-p95.")
@click.option("--calibration", "calibration_path", type=click.Path(dir_okay=False), help="With --check: the calibration to check.")
@click.option("--trials", type=click.IntRange(1, 100_000), default=200, show_default=True, help="With --check: trials per past drill.")
def calibrate(
    store_path: str,
    since: str | None,
    provider: str,
    include_emulated: bool,
    out_path: str | None,
    min_samples: int,
    name: str | None,
    check_only: bool,
    calibration_path: str | None,
    trials: int,
) -> None:
    """Fit the twin's catalog to the durations real drills measured (a calibration file), or --check the twin
    against those drills."""
    from datetime import date

    from drsim.console import calibrate_check, calibrate_fit

    day = None
    if since is not None:
        try:
            day = date.fromisoformat(since)
        except ValueError:
            raise UsageError(f"--since {since}: expected a day, YYYY-MM-DD") from None
    if check_only:
        if out_path is not None:
            raise UsageError("--check writes nothing: leave out --out")
        sys.exit(
            calibrate_check(
                store_path, calibration=calibration_path, since=day, provider=provider, include_emulated=include_emulated, trials=trials
            )
        )
    if out_path is None:
        raise UsageError("--out FILE is required: where to write the calibration (or --check)")
    if calibration_path is not None:
        raise UsageError("--calibration goes with --check")
    calibrate_fit(store_path, out_path, since=day, provider=provider, include_emulated=include_emulated, min_samples=min_samples, name=name)
