"""YAML -> typed documents, reporting every problem at once as `path:line:col: message`.

drsim composes its own compact node tree from PyYAML's event stream, keeping every node's position
and refusing, while it composes, a document with more values or deeper nesting than any real
document (so a hostile file is refused early, in bounded memory). It builds plain data from the
tree (rejecting duplicate keys and aliases that expand without bound), validates it with pydantic,
and maps each pydantic error location back to its node. Nothing is cached between documents.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from drsim.errors import DocumentError, Problem
from drsim.model.documents import KINDS, Document
from drsim.model.types import PATTERN_HELP, KeyProblem

MAX_BYTES = 20 * 1024 * 1024
MAX_DEPTH = 64
# An estate of 10,000 VMs is about 300,000 values. The limit also bounds validation: pydantic keeps
# about 400 bytes per problem, and a document could hold one in every value.
MAX_NODES = 400_000
MAX_PROBLEMS = 200  # problems of one document listed in full; beyond, the first ones of its first items
_PREVIEW_ITEMS = 20  # items of each list (and entries of each free-form mapping) validated for that preview
_SIZE_HINT = f"drsim reads at most {MAX_NODES:,} (an estate of 10,000 VMs has about 300,000)"

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Stateless: the scalar constructors are called directly, never construct_object (which keeps every
# node and value it built in `constructed_objects` until a whole document is constructed).
_constructor = yaml.constructor.SafeConstructor()
_SCALAR_CONSTRUCTORS = yaml.constructor.SafeConstructor.yaml_constructors
_resolver = yaml.resolver.Resolver()  # SafeLoader's implicit tags; it has no path resolvers, so no state
_STR, _SEQ, _MAP = "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
_CORE_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp", "seq", "map"))
D = TypeVar("D", bound=Document)


class Node:
    """A node of a composed document: its tag, value and 0-based position (a scalar's value is its text)."""

    __slots__ = ("column", "line", "tag")

    def __init__(self, tag: str, line: int, column: int) -> None:
        self.tag = tag
        self.line = line
        self.column = column


class ScalarNode(Node):
    __slots__ = ("value",)

    def __init__(self, tag: str, value: str, line: int, column: int) -> None:
        super().__init__(tag, line, column)
        self.value = value


class SequenceNode(Node):
    __slots__ = ("value",)

    def __init__(self, tag: str, line: int, column: int) -> None:
        super().__init__(tag, line, column)
        self.value: list[Node] = []


class MappingNode(Node):
    __slots__ = ("value",)

    def __init__(self, tag: str, line: int, column: int) -> None:
        super().__init__(tag, line, column)
        self.value: list[tuple[Node, Node]] = []


class _Abort(Exception):
    def __init__(self, node: Node | None, message: str) -> None:
        self.node = node
        self.message = message


class _TooLarge(Exception):
    """Raised while composing: the document is larger or deeper than drsim reads."""

    def __init__(self, mark: Any, message: str) -> None:
        self.line = mark.line if mark is not None else 0
        self.column = mark.column if mark is not None else 0
        self.message = message


def _compose(text: str | bytes) -> list[Node | None]:
    """The root node of every document in `text` (str, or UTF-8 bytes), composed from PyYAML's events.

    Counts values and nesting as it goes and raises _TooLarge at the first value beyond MAX_NODES or
    the first collection beyond MAX_DEPTH: memory stays proportional to what drsim accepts. Raises
    yaml.YAMLError for syntax errors, undefined aliases and duplicate anchors, as PyYAML would.
    """
    roots: list[Node | None] = []
    stack: list[Node] = []  # open collections
    pending_key: list[Node | None] = []  # per open mapping: the key waiting for its value
    anchors: dict[str, Node] = {}
    count = 0
    root: Node | None = None

    def attach(node: Node) -> None:
        nonlocal root
        if not stack:
            root = node
            return
        parent = stack[-1]
        if isinstance(parent, SequenceNode):
            parent.value.append(node)
        elif isinstance(parent, MappingNode):
            key = pending_key[-1]
            if key is None:
                pending_key[-1] = node
            else:
                parent.value.append((key, node))
                pending_key[-1] = None

    events: Any = yaml.parse(text, Loader=_Loader)
    for event in events:
        kind = type(event)
        if kind is yaml.DocumentStartEvent:
            root, anchors = None, {}
            continue
        if kind is yaml.DocumentEndEvent:
            roots.append(root)
            continue
        if kind in (yaml.SequenceEndEvent, yaml.MappingEndEvent):
            stack.pop()
            pending_key.pop()
            continue
        if kind is yaml.AliasEvent:
            target = anchors.get(event.anchor)
            if target is None:
                raise yaml.composer.ComposerError(None, None, f"found undefined alias {event.anchor!r}", event.start_mark)
            attach(target)
            continue
        if kind not in (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent):
            continue  # stream start and end
        count += 1
        mark = event.start_mark
        if count > MAX_NODES:
            raise _TooLarge(mark, f"the document has more than {MAX_NODES:,} values; {_SIZE_HINT}")
        if len(stack) > MAX_DEPTH:  # this node's depth: the root's is 0
            raise _TooLarge(mark, f"the document is nested more than {MAX_DEPTH} levels deep")
        node: Node
        tag = event.tag
        if kind is yaml.ScalarEvent:
            if tag is None or tag == "!":
                tag = _resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
            node = ScalarNode(tag, event.value, mark.line, mark.column)
        else:
            if tag is None or tag == "!":
                tag = _SEQ if kind is yaml.SequenceStartEvent else _MAP
            collection = SequenceNode if kind is yaml.SequenceStartEvent else MappingNode
            node = collection(tag, mark.line, mark.column)
        if event.anchor is not None:
            if event.anchor in anchors:
                raise yaml.composer.ComposerError(None, None, f"found duplicate anchor {event.anchor!r}", mark)
            anchors[event.anchor] = node
        attach(node)
        if kind is not yaml.ScalarEvent:
            stack.append(node)
            pending_key.append(None)
    return roots


@dataclass(frozen=True)
class Source:
    """A loaded YAML file: its path as the user wrote it, and the node tree for locating problems."""

    path: str
    root: Node | None

    @classmethod
    def of_data(cls, path: str, data: Any) -> Source:
        """A source for data no file holds as it is (a document a `--set` changed): its node tree is the
        data's own, dumped as YAML, so that a problem of a key the change added names that key, not its
        parent (the lines are the dump's: show the messages, not the lines)."""
        roots = _compose(yaml.safe_dump(data, sort_keys=False))
        return cls(path, roots[0] if roots else None)

    def resolve(self, loc: tuple[int | str, ...], *, key: bool = False) -> tuple[Node | None, tuple[int | str, ...]]:
        """The node at `loc` (or its nearest existing parent) and the part of `loc` that was found.

        Components that are not in the tree (pydantic's union tags, validator names) are skipped.
        With key=True the node of the last mapping key is given instead of its value. A mapping or
        list written on the lines below its key is given as its key: a problem of the whole value is
        reported on the key's own line, where the reader looks for it.
        """
        target = self.root
        found: list[int | str] = []
        key_node: Node | None = None  # the key whose value `target` is, if it is a mapping value
        for i, part in enumerate(loc):
            last = i == len(loc) - 1
            if isinstance(target, MappingNode):
                for k, v in target.value:
                    if isinstance(k, ScalarNode) and k.value == str(part):
                        target, key_node = (k if (last and key) else v), k
                        found.append(part)
                        break
            elif isinstance(target, SequenceNode) and isinstance(part, int) and 0 <= part < len(target.value):
                target, key_node = target.value[part], None
                found.append(part)
        if key_node is not None and isinstance(target, MappingNode | SequenceNode) and target.line != key_node.line:
            return key_node, tuple(found)
        return target, tuple(found)

    def locate(self, loc: tuple[int | str, ...], *, key: bool = False) -> tuple[int, int]:
        """The 1-based line and column of the node at `loc` (see `resolve`)."""
        node, _ = self.resolve(loc, key=key)
        if node is None:
            return 1, 1
        return node.line + 1, node.column + 1

    def problem(self, loc: tuple[int | str, ...], message: str, *, key: bool = False) -> Problem:
        line, col = self.locate(loc, key=key)
        return Problem(self.path, line, col, message)


@dataclass(frozen=True)
class Loaded(Generic[D]):
    """A valid document with the source it came from."""

    doc: D
    source: Source

    @property
    def path(self) -> Path:
        return Path(self.source.path)


def _construct(node: ScalarNode) -> Any:
    """The value of a scalar of a core tag, built by PyYAML's safe constructor without its cache."""
    if node.tag == _STR:
        return node.value
    return _SCALAR_CONSTRUCTORS[node.tag](_constructor, yaml.ScalarNode(node.tag, node.value))


def _plain(node: Node, depth: int, budget: list[int]) -> Any:
    if depth > MAX_DEPTH:
        raise _Abort(node, f"the document is nested more than {MAX_DEPTH} levels deep")
    budget[0] += 1
    if budget[0] > MAX_NODES:
        # Composing counted every value once: only aliases, repeated, can get here.
        raise _Abort(node, f"aliases expand the document to more than {MAX_NODES:,} values; {_SIZE_HINT}")
    if isinstance(node, ScalarNode):
        if node.tag == "tag:yaml.org,2002:timestamp":
            try:
                return _construct(node)
            except (ValueError, yaml.YAMLError):
                return node.value
        if node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and ":" in node.value:
            return node.value  # YAML 1.1 base-60 numbers: `02:00` is a time of day, not 120
        if node.tag in _CORE_TAGS:
            try:
                return _construct(node)
            except (ValueError, yaml.YAMLError, OverflowError) as exc:
                raise _Abort(node, f"cannot read the value {_shown_value(node.value)}: {_unreadable_reason(node, exc)}") from None
        raise _Abort(node, f"unsupported YAML tag {node.tag}")
    if node.tag not in _CORE_TAGS:
        raise _Abort(node, f"unsupported YAML tag {node.tag}")
    if isinstance(node, SequenceNode):
        return [_plain(item, depth + 1, budget) for item in node.value]
    if isinstance(node, MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise _Abort(key_node, "a mapping key must be a plain value")
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Abort(key_node, "merge keys (<<) are not supported")
            key = key_node.value
            if key in result:
                raise _Abort(key_node, f"duplicate key '{key}'")
            result[key] = _plain(value_node, depth + 1, budget)
        return result
    raise _Abort(node, "unsupported YAML node")


def _shown_value(value: str) -> str:
    """A scalar as a problem quotes it: the first 40 characters, with an ellipsis when there are more."""
    return repr(value[:40]) + ("..." if len(value) > 40 else "")


def _unreadable_reason(node: ScalarNode, exc: Exception) -> str:
    """Why a scalar that YAML resolved to a number (or other core type) could not be built."""
    if node.tag == "tag:yaml.org,2002:int":
        digits = sum(c.isdigit() for c in node.value)
        limit = sys.get_int_max_str_digits()
        if limit and digits > limit:
            return f"the number has {digits} digits; drsim reads integers of at most {limit} digits"
    return str(exc) or type(exc).__name__


_FILE_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why `path` cannot be a document, found without opening it (so a FIFO never blocks); None for a
    regular file. Callers put it after the path: `runbooks: is a directory, not a document`."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return "is a symbolic link to a missing file" if os.path.islink(path) else "no such file"
    except NotADirectoryError:
        return "no such file (a part of the path is not a directory)"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop"
        return f"cannot read the file: {exc.strerror or exc}"
    return _kind_problem(found.st_mode)


def _kind_problem(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not a document"
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "a special file")
    return f"is not a regular file ({kind}), not a document"


def _read_document_bytes(path: str | os.PathLike[str], shown: str) -> bytes:
    """The bytes of a regular file of at most MAX_BYTES; DocumentError for anything else."""
    problem = file_problem(path)
    if problem is not None:
        raise DocumentError([Problem(shown, 1, 1, problem)])
    try:
        # O_NONBLOCK: should the file be swapped for a FIFO after the check, opening it does not block.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise DocumentError([Problem(shown, 1, 1, f"cannot read the file: {exc.strerror or exc}")]) from None
    with os.fdopen(fd, "rb") as file:
        try:
            found = os.fstat(fd)
            problem = _kind_problem(found.st_mode)
            if problem is not None:
                raise DocumentError([Problem(shown, 1, 1, problem)])
            if found.st_size > MAX_BYTES:
                raise DocumentError([Problem(shown, 1, 1, f"the file is {found.st_size} bytes; documents are limited to {MAX_BYTES}")])
            raw = file.read(MAX_BYTES + 1)
        except OSError as exc:
            raise DocumentError([Problem(shown, 1, 1, f"cannot read the file: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_BYTES:  # it grew while being read
        raise DocumentError([Problem(shown, 1, 1, f"the file is over {MAX_BYTES} bytes; documents are limited to {MAX_BYTES}")])
    return raw


def _tab_near(text: str, line: int, column: int) -> bool:
    """True when the line of a syntax error has a tab at or before the error's column."""
    lines = text.splitlines()
    return 0 <= line < len(lines) and "\t" in lines[line][: column + 1]


def read_yaml(path: str | os.PathLike[str]) -> tuple[Any, Source]:
    """Read one YAML document; raise DocumentError with a located problem if it cannot be read."""
    shown = str(path)
    raw = _read_document_bytes(path, shown)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DocumentError([Problem(shown, line, 1, "the file is binary or not UTF-8 text: expected a YAML document")]) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise DocumentError([Problem(shown, line, 1, "the file is binary, not YAML text")])
    del text  # the parser reads the (UTF-8) bytes itself: one copy of the document in memory, not three
    try:
        composed = _compose(raw)
    except _TooLarge as exc:
        raise DocumentError([Problem(shown, exc.line + 1, exc.column + 1, exc.message)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"YAML syntax error: {exc.problem or exc.context}"
        if "maximum nesting depth" in message:  # libyaml's own limit, met while it looks ahead
            message = f"the document is nested more than {MAX_DEPTH} levels deep"
        if mark is not None and _tab_near(raw.decode("utf-8-sig"), mark.line, mark.column):
            message += " (a tab: YAML indents with spaces, never tabs)"
        raise DocumentError([Problem(shown, line, col, message)]) from None
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise DocumentError([Problem(shown, 1, 1, f"cannot parse YAML: {type(exc).__name__}")]) from None
    del raw
    nodes = [n for n in composed if n is not None]
    if not nodes:
        raise DocumentError([Problem(shown, 1, 1, "the file is empty: expected a drsim document (apiVersion, kind, metadata)")])
    if len(nodes) > 1:
        second = nodes[1]
        raise DocumentError([Problem(shown, second.line + 1, second.column + 1, "one document per file: remove the second '---' document")])
    root = nodes[0]
    source = Source(shown, root)
    try:
        data = _plain(root, 0, [0])
    except _Abort as abort:
        where = abort.node
        raise DocumentError([Problem(shown, where.line + 1 if where else 1, where.column + 1 if where else 1, abort.message)]) from None
    except RecursionError:
        raise DocumentError([Problem(shown, 1, 1, f"the document is nested more than {MAX_DEPTH} levels deep")]) from None
    return data, source


def _message(error: ErrorDetails, field: str) -> str:
    """A user-facing message for one pydantic error on `field`."""
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        return f"unknown key '{loc[-1]}'"
    if kind == "missing":
        return f"{field}: missing required key '{loc[-1]}'" if field else f"missing required key '{loc[-1]}'"
    if kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        return f"unknown action {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return "missing required key 'action'"
    ctx = error.get("ctx") or {}
    if kind == "too_short":
        count = ctx.get("min_length")
        message = f"needs at least {count} item{'s' if count != 1 else ''}"
        return f"{field}: {message}" if field else message
    if kind == "too_long":
        count = ctx.get("max_length")
        message = f"takes at most {count} item{'s' if count != 1 else ''}"
        return f"{field}: {message}" if field else message
    if kind == "string_pattern_mismatch" and ctx.get("pattern") in PATTERN_HELP:
        message = f"{error.get('input')!r} is not {PATTERN_HELP[ctx['pattern']]}"
        return f"{field}: {message}" if field else message
    if kind == "ip_v4_network":
        message = f"{error.get('input')!r} is not an IPv4 network in CIDR form with no host bits set, e.g. 10.250.0.0/16"
        return f"{field}: {message}" if field else message
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    message = message.replace("Input should be", "expected")
    message = message.replace("a valid tuple", "a list").replace("a valid list", "a list").replace("a valid dictionary", "a mapping")
    if kind in ("literal_error", "enum") or message.startswith("expected"):
        message = f"{message}, got {error.get('input')!r}"
    return f"{field}: {message}" if field else message


def _spurious(error: ErrorDetails) -> bool:
    """pydantic also reports a list as too short when its items failed: only the items' errors count."""
    if error["type"] != "too_short":
        return False
    given = error.get("input")
    minimum = (error.get("ctx") or {}).get("min_length", 0)
    return isinstance(given, list | tuple) and len(given) >= minimum


def _at_key(source: Source, loc: tuple[int | str, ...], keys: tuple[str, ...]) -> tuple[int | str, ...]:
    """`loc` extended by the first of `keys` the document writes in the mapping at `loc` (else `loc`)."""
    for key in keys:
        _, found = source.resolve((*loc, key))
        if found and found[-1] == key:
            return (*loc, key)
    return loc


def problems_from_validation(source: Source, exc: ValidationError) -> list[Problem]:
    """Locate every pydantic error in the YAML; alternatives of one union become one problem."""
    # Errors that differ only in union members pydantic tried (parts of `loc` not in the YAML) are
    # alternatives of one problem; errors at different keys are separate problems.
    merged: dict[tuple[int, int, str, tuple[int | str, ...]], list[str]] = {}
    for error in exc.errors(include_url=False):
        if _spurious(error):
            continue
        loc = tuple(error["loc"])
        if isinstance(cause := (error.get("ctx") or {}).get("error"), KeyProblem):
            loc = _at_key(source, loc, cause.keys)
        if error["type"] == "union_tag_invalid":
            loc = (*loc, "action")  # the unknown action is reported where it is written, not at its step
        at_key = error["type"] == "extra_forbidden"
        where = loc[:-1] if error["type"] == "missing" else loc
        node, found = source.resolve(where, key=at_key)
        # A problem of a whole list item (a model-level check) names no field; others name their key.
        field = str(found[-1]) if found and isinstance(found[-1], str) else ""
        identity = (*found, loc[-1]) if error["type"] in ("missing", "extra_forbidden") and loc else found
        line, col = (node.line + 1, node.column + 1) if node is not None else (1, 1)
        message = _message(error, field)
        alternatives = merged.setdefault((line, col, field, identity), [])
        text = message.removeprefix(f"{field}: ") if alternatives and field else message
        if text not in alternatives:
            alternatives.append(text)
    return [Problem(source.path, line, col, " or ".join(texts)) for (line, col, _, _), texts in merged.items()]


def parse_document(data: Any, source: Source, expected: type[D] | None = None) -> D:
    """Validate plain data as the document its `kind` names (or `expected`)."""
    if not isinstance(data, dict):
        raise DocumentError([source.problem((), "expected a mapping with apiVersion, kind and metadata")])
    problems: list[Problem] = []
    api = data.get("apiVersion")
    if api != "drsim/v1":
        where = ("apiVersion",) if "apiVersion" in data else ()
        problems.append(
            source.problem(
                where, f"apiVersion must be drsim/v1, got {api!r}" if api is not None else "missing required key 'apiVersion' (drsim/v1)"
            )
        )
    kind = data.get("kind")
    model: type[BaseModel] | None = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        where = ("kind",) if "kind" in data else ()
        expected_kinds = ", ".join(KINDS)
        problems.append(
            source.problem(
                where,
                f"unknown kind {kind!r}; expected one of {expected_kinds}"
                if kind is not None
                else f"missing required key 'kind' ({expected_kinds})",
            )
        )
    elif expected is not None and model is not expected:
        article = "an" if expected.__name__[0] in "AEIOU" else "a"
        problems.append(source.problem(("kind",), f"expected {article} {expected.__name__} here, got kind {kind}"))
    if problems:
        raise DocumentError(problems)
    assert model is not None
    try:
        doc = model.model_validate(data)
    except ValidationError as exc:
        total = exc.error_count()
        if total <= MAX_PROBLEMS:
            raise DocumentError(problems_from_validation(source, exc)) from None
    except RecursionError:
        raise DocumentError([source.problem((), "the document is nested too deeply")]) from None
    else:
        return doc  # type: ignore[return-value]
    # Thousands of problems: listing them all would take more memory than the document (pydantic's
    # details of each, then a message of each; the first are freed as the except block ends). The
    # first items of every list tell the same story.
    raise DocumentError(_preview_problems(model, data, source, total))


def _field_names(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[str]:
    """Every key (field name and alias) of a model and the models inside it."""
    seen = set() if seen is None else seen
    if model in seen:
        return set()
    seen.add(model)
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        if info.alias:
            names.add(info.alias)
        for inner in _inner_models(info.annotation):
            names |= _field_names(inner, seen)
    return names


def _inner_models(hint: Any) -> list[type[BaseModel]]:
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return [hint]
    return [m for arg in getattr(hint, "__args__", ()) for m in _inner_models(arg)]


_KEYS = frozenset(name for model in KINDS.values() for name in _field_names(model))


def _preview(data: Any) -> Any:
    """`data` with every list cut to its first items and every mapping to its first entries (keys that
    are drsim keys are kept): each problem pydantic finds in it is one of the whole document's."""
    if isinstance(data, list):
        return [_preview(item) for item in data[:_PREVIEW_ITEMS]]
    if isinstance(data, dict):
        kept = {k: v for i, (k, v) in enumerate(data.items()) if i < _PREVIEW_ITEMS or k in _KEYS}
        return {k: _preview(v) for k, v in kept.items()}
    return data


def _preview_problems(model: type[BaseModel], data: Any, source: Source, total: int) -> list[Problem]:
    """The first MAX_PROBLEMS problems of the first items of every list, and one line saying how many there are."""
    summary = f"{total:,} problems in this document; drsim lists the first {MAX_PROBLEMS} of the first {_PREVIEW_ITEMS} items of each list"
    try:
        model.model_validate(_preview(data))
    except ValidationError as exc:
        problems = problems_from_validation(source, exc)[:MAX_PROBLEMS]
    else:
        problems = []
        summary = f"{total:,} problems in this document, all beyond the first {_PREVIEW_ITEMS} items of its lists"
    return [*problems, source.problem((), summary)]


def load(path: str | os.PathLike[str], expected: type[D] | None = None) -> Loaded[D]:
    """Load one document; every problem in it is raised together as a DocumentError."""
    data, source = read_yaml(path)
    doc = parse_document(data, source, expected)
    return Loaded(doc, source)
