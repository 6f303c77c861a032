"""What-if overrides (`--set candidate.path=value`): change a candidate's plan or runbook without editing files.

An override is applied to the plain data read from the document's YAML file, and the changed
document goes through the same pydantic models and cross-document checks as the file itself, so an
invalid what-if is refused with a message that names the override (exit 2).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import yaml

from drsim.errors import DocumentError, UsageError

_SEGMENT = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")
_INDEX = re.compile(r"\[(\d+)\]")


class Target(StrEnum):
    """Which document of a candidate an override changes."""

    PLAN = "plan"
    RUNBOOK = "runbook"


@dataclass(frozen=True)
class Override:
    """One `--set candidate.(plan|runbook).path=value`, parsed."""

    text: str  # as the user wrote it, for messages
    candidate: str
    target: Target
    path: tuple[str | int, ...]  # mapping keys and list indexes below the document root
    value: Any

    def __str__(self) -> str:
        return f"--set {self.text}"


def parse_value(text: str) -> Any:
    """A YAML value read as a document would read it: `1h` stays text, `"02:00"` is not 120, `{tier: db}` a mapping."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ValueError(f"cannot read the value {text!r} as YAML: {getattr(exc, 'problem', None) or exc}") from None
    if node is None:
        return None
    return _plain(node)


def _plain(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        # YAML 1.1 reads `02:00` as the base-60 number 120; documents read it as a time of day (loader.py).
        if node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and ":" in node.value:
            return node.value
        return yaml.SafeLoader("").construct_object(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        return {_plain(k): _plain(v) for k, v in node.value}
    raise ValueError("unsupported YAML value")


def parse_override(text: str, candidates: Sequence[str]) -> Override:
    """Parse `candidate.plan.rules[0].site_recovery.app_consistent_every=1h` against the known candidate names."""
    target_text, sep, value_text = text.partition("=")
    if not sep:
        raise UsageError(f"--set {text}: expected candidate.path=value, e.g. asr.plan.rules[0].site_recovery.app_consistent_every=1h")
    # Candidate names may contain dots: take the longest name followed by `.plan` or `.runbook`.
    for name in sorted(candidates, key=len, reverse=True):
        for target in Target:
            prefix = f"{name}.{target.value}"
            if target_text == prefix or target_text.startswith(prefix + ".") or target_text.startswith(prefix + "["):
                rest = target_text[len(prefix) :].removeprefix(".")
                if not rest:
                    raise UsageError(f"--set {text}: name a field below {prefix}, e.g. {prefix}.rules[0]...")
                try:
                    path = parse_path(rest)
                    value = parse_value(value_text)
                except ValueError as exc:
                    raise UsageError(f"--set {text}: {exc}") from None
                return Override(text, name, target, path, value)
    head = target_text.split(".", 1)[0]
    if head in candidates:
        raise UsageError(f"--set {text}: after the candidate name comes plan or runbook, e.g. {head}.plan.rules[0]...")
    raise UsageError(f"--set {text}: unknown candidate {head!r}; the comparison has {', '.join(candidates)}")


def parse_path(text: str) -> tuple[str | int, ...]:
    """`rules[0].site_recovery.every` -> ("rules", 0, "site_recovery", "every")."""
    path: list[str | int] = []
    for part in text.split("."):
        match = _SEGMENT.fullmatch(part)
        if match is None:
            raise ValueError(f"cannot read the path {text!r}: write keys separated by dots and list indexes as [0]")
        path.append(match.group(1))
        path.extend(int(i) for i in _INDEX.findall(match.group(2)))
    return tuple(path)


def format_path(path: Sequence[str | int]) -> str:
    """The inverse of parse_path, for messages."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def apply_override(data: Any, override: Override) -> Any:
    """A deep copy of `data` with the override's value set at its path (mappings on the way are created)."""
    changed = copy.deepcopy(data)
    if not isinstance(changed, dict):
        raise UsageError(f"{override}: the {override.target.value} is not a mapping")
    node: Any = changed
    for depth, part in enumerate(override.path):
        last = depth == len(override.path) - 1
        where = format_path(override.path[: depth + 1])
        if isinstance(part, int):
            if not isinstance(node, list):
                raise UsageError(f"{override}: {format_path(override.path[:depth]) or 'the document'} is not a list")
            if part >= len(node):
                raise UsageError(f"{override}: {where} is out of range: {format_path(override.path[:depth])} has {len(node)} item(s)")
            if last:
                node[part] = override.value
            else:
                node = node[part]
        else:
            if not isinstance(node, dict):
                raise UsageError(f"{override}: {format_path(override.path[:depth])} is not a mapping, cannot set {part!r}")
            if last:
                node[part] = override.value
            else:
                node = node.setdefault(part, {})
    return changed


def refused(overrides: Sequence[Override], error: DocumentError, document: str) -> UsageError:
    """The error for a what-if whose result is invalid: name the override(s), then each problem."""
    named = ", ".join(str(o) for o in overrides)
    lines = [f"{named}: the changed {document} is invalid:"]
    lines += [f"  {problem.message}" for problem in error.problems]
    return UsageError("\n".join(lines))
