"""The drsim command line. Each command calls one library function; errors map to exit codes here."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from drsim import __version__
from drsim.errors import DocumentError, DrsimError

F = TypeVar("F", bound=Callable[..., Any])


def handles_errors(func: F) -> F:
    """Turn every DrsimError into its message on stderr and its exit code: the one place codes live."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DocumentError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            sys.exit(exc.exit_code)
        except DrsimError as exc:
            click.echo(f"drsim: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


class DrsimGroup(click.Group):
    """click's usage errors exit 2, as DESIGN.md asks for invalid input."""


@click.group(cls=DrsimGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="drsim")
def main() -> None:
    """drsim: rehearse disaster recovery for Azure VMs, offline or for real, and prove it."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@handles_errors
def validate(files: tuple[str, ...], fmt: str) -> None:
    """Validate documents of any kind; a Drill or Comparison also validates what it references."""
    from drsim.model.checks import validate_path

    results = {path: validate_path(path) for path in files}
    problems = sorted({p for found in results.values() for p in found})
    if fmt == "json":
        click.echo(
            json.dumps(
                {"valid": not problems, "files": [{"path": path, "valid": not found} for path, found in results.items()],
                 "problems": [p.as_dict() for p in problems]},
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
@handles_errors
def schema(kind: str | None) -> None:
    """Print the JSON Schema of one document kind (or of any document) for editors."""
    from drsim.model.schema import json_schema

    click.echo(json.dumps(json_schema(kind), indent=2))
