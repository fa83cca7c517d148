"""YAML 1.2 (core schema) to plain data with source positions.

libyaml (through PyYAML's C parser) does the scanning; this module composes the event stream
itself, iteratively, so that hostile input meets limits instead of a recursion crash:

- plain scalars are resolved by the YAML 1.2 core schema, so ``1.10`` is a float only where the
  schema says so and ``yes``/``on`` stay strings (YAML 1.1 loaders turn them into booleans);
- duplicate keys, complex keys, custom tags and ``<<`` merge keys are diagnostics;
- nesting depth, alias expansion and the number of nodes are bounded.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import yaml
from yaml import events as ev

from ..diagnostics import Diagnostic, Location, Related, error, warning
from .syntax import Explained, explain

TYPE_CHECKING = False  # typing is for the type checker: a cold start never imports it
if TYPE_CHECKING:
    from typing import Any, TypeVar

    Path = tuple[Any, ...]  # of str (mapping keys) and int (sequence indices)
    Mark = Any  # a PyYAML mark: line, column and index, 0-based
    _Number = TypeVar("_Number", "YamlInt", "YamlFloat")
else:
    Path = tuple

MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 100_000  # a real manifest has well under 100 nodes

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT8 = re.compile(r"^0o[0-7]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")

# The first characters of every null, number, infinity and NaN above (and "" and "\n", which
# _NULL's ``^$`` matches): a plain scalar starting otherwise is a bool or a string, and most are.
_NOT_ONLY_TEXT = frozenset("~nN0123456789+-.\n")
_COLLECTION_START = (ev.MappingStartEvent, ev.SequenceStartEvent)
_COLLECTION_END = (ev.MappingEndEvent, ev.SequenceEndEvent)

_STD = "tag:yaml.org,2002:"


class NumberTooLong(ValueError):
    """A plain scalar is an integer too long to convert."""


class InputLimit(Exception):
    """Raised inside the composer when the input crosses a safety limit."""

    def __init__(self, message: str, mark: Mark | None = None):
        super().__init__(message)
        self.mark = mark


class _LibyamlDepthStop(Exception):
    """libyaml stopped at its own nesting limit before ours could be checked."""

    def __init__(self, index: int):
        super().__init__(index)
        self.index = index


# libyaml (PyYAML >= 6.0.3's bundled copy) stops at nesting depth 1000 while it scans ahead, which
# can come before the parser hands us the event at our own limit. That is the only libyaml limit
# below ours; when it trips, the file is read again by PyYAML's pure-Python scanner (which has no
# such limit), so the diagnostic is ours, at the same place, whatever libyaml version is installed.
_LIBYAML_DEPTH = "maximum nesting depth"


@dataclass
class Positions:
    """Where each value (and the key that introduced it) stands in the source; 1-based."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def value(self, path: Path) -> Location | None:
        at = self.values.get(tuple(path))
        return Location(self.file, *at) if at else None

    def key(self, path: Path) -> Location | None:
        at = self.keys.get(tuple(path))
        return Location(self.file, *at) if at else None

    def nearest(self, path: Path, prefer_key: bool = False) -> Location:
        """The position of ``path`` or, failing that, of its closest ancestor that exists."""
        path = tuple(path)
        while True:
            found = (
                (self.key(path) or self.value(path))
                if prefer_key
                else (self.value(path) or self.key(path))
            )
            if found or not path:
                return found or Location(self.file, 1, 1)
            path = path[:-1]


@dataclass
class Document:
    """One YAML document of a file: its data and where each value came from."""

    data: object
    positions: Positions
    index: int  # 0-based position of the document in its file

    @property
    def file(self) -> str:
        return self.positions.file


class YamlInt(int):
    """An int that remembers how it was written, so a string field can take ``007`` back as written."""

    text: str


class YamlFloat(float):
    """A float that remembers how it was written: ``rayVersion: 2.10`` must stay ``"2.10"``."""

    text: str


def _number(kind: type[_Number], value: float, text: str) -> _Number:
    number = kind(value)
    number.text = text
    return number


def resolve_plain(text: str) -> object:
    """The YAML 1.2 core schema for an untagged plain scalar."""
    if text and text[0] not in _NOT_ONLY_TEXT:
        return _BOOL.get(text, text)
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT10.match(text):
        try:
            return _number(YamlInt, int(text), text)
        except ValueError:  # Python refuses to convert more than ~4300 digits
            raise NumberTooLong(
                f"an integer of {len(text):,} digits is beyond any limit this product has"
            ) from None
    if _INT8.match(text):
        return _number(YamlInt, int(text[2:], 8), text)
    if _INT16.match(text):
        return _number(YamlInt, int(text[2:], 16), text)
    if _FLOAT.match(text):
        return _number(YamlFloat, float(text), text)
    if _INF.match(text):
        return _number(YamlFloat, -math.inf if text.startswith("-") else math.inf, text)
    if _NAN.match(text):
        return _number(YamlFloat, math.nan, text)
    return text


def _tagged(value: str, tag: str, at: Location) -> object:
    short = tag[len(_STD) :] if tag.startswith(_STD) else tag
    if short == "str":
        return value
    if short in ("int", "float", "bool", "null"):
        resolved = resolve_plain(value)
        wanted: dict[str, type | tuple[type, ...]] = {
            "int": int,
            "float": (float, int),
            "bool": bool,
            "null": type(None),
        }
        if isinstance(resolved, wanted[short]) and not (
            short == "int" and isinstance(resolved, bool)
        ):
            return float(resolved) if short == "float" else resolved  # type: ignore[arg-type]
        raise _Problem(error("E102", f"{value!r} is not a valid !!{short}", at))
    raise _Problem(error("E005", f"custom tag {tag!r} is not supported; write the plain value", at))


class _Problem(Exception):
    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


class _Composer:
    """Builds plain data from parser events with an explicit stack (no recursion)."""

    def __init__(self, filename: str):
        self.filename = filename
        self.nodes = 0

    def at(self, mark: Mark) -> Location:
        return Location(self.filename, mark.line + 1, mark.column + 1)

    def document(self, parser: Any, index: int) -> tuple[Document, list[Diagnostic]]:
        positions = Positions(self.filename)
        anchors: dict[str, tuple[object, int]] = {}
        problems: list[Diagnostic] = []
        # Each frame: [container, path, pending_key, key_location, seen_keys, anchor, size]
        stack: list[list[Any]] = []
        root: object = None

        def place(value: object, path: Path, mark: Mark, size: int) -> None:
            nonlocal root
            self.nodes += size
            if self.nodes > MAX_NODES:
                raise InputLimit(
                    f"more than {MAX_NODES} nodes (alias expansion or a huge document)", mark
                )
            positions.values[path] = (mark.line + 1, mark.column + 1)
            if not stack:
                root = value
                return
            frame = stack[-1]
            frame[6] += size
            container = frame[0]
            if isinstance(container, list):
                container.append(value)
                return
            key = frame[2]
            frame[2] = _NO_KEY
            if key is _SKIP:
                return
            container[key] = value

        def child_path() -> Path:
            frame = stack[-1]
            parent: Path = frame[1]
            if isinstance(frame[0], list):
                return (*parent, len(frame[0]))
            return (*parent, frame[2])

        def take_key(event: Any) -> None:
            frame = stack[-1]
            mark = event.start_mark
            if not isinstance(event, ev.ScalarEvent):
                raise _Problem(
                    error(
                        "E005",
                        "complex mapping keys are not supported; keys must be plain strings",
                        self.at(mark),
                    )
                )
            key = event.value
            if key == "<<" and event.implicit[0]:
                raise _Problem(
                    error(
                        "E005",
                        "'<<' merge keys are YAML 1.1 and not part of YAML 1.2; write the keys out",
                        self.at(mark),
                    )
                )
            path = frame[1] + (key,)
            if key in frame[4]:
                first = frame[4][key]
                problems.append(
                    error(
                        "E002",
                        f"duplicate key {key!r}",
                        self.at(mark),
                        ".".join(map(str, path)),
                        related=[Related("first defined here", Location(self.filename, *first))],
                    )
                )
                frame[2] = _SKIP
                return
            frame[4][key] = positions.keys[path] = (mark.line + 1, mark.column + 1)
            frame[2] = key

        get_event = parser.get_event
        while True:
            event = get_event()
            if isinstance(event, ev.DocumentEndEvent):
                return Document(root, positions, index), problems
            expecting_key = stack and stack[-1][2] is _NO_KEY and isinstance(stack[-1][0], dict)
            if expecting_key and not isinstance(event, ev.MappingEndEvent):
                if isinstance(event, _COLLECTION_START):
                    raise _Problem(
                        error(
                            "E005",
                            "complex mapping keys are not supported; keys must be plain strings",
                            self.at(event.start_mark),
                        )
                    )
                if isinstance(event, ev.AliasEvent):
                    raise _Problem(
                        error(
                            "E005",
                            "aliases as mapping keys are not supported",
                            self.at(event.start_mark),
                        )
                    )
                take_key(event)
                continue
            if isinstance(event, ev.ScalarEvent):
                path = child_path() if stack else ()
                try:
                    if event.tag and event.tag != "!":
                        value = _tagged(event.value, event.tag, self.at(event.start_mark))
                    elif event.implicit[0] and not event.style:
                        value = resolve_plain(event.value)
                    else:
                        value = event.value
                except NumberTooLong as exc:
                    raise _Problem(error("E003", str(exc), self.at(event.start_mark))) from None
                if event.anchor:
                    anchors[event.anchor] = (value, 1)
                place(value, path, event.start_mark, 1)
            elif isinstance(event, _COLLECTION_START):
                if len(stack) >= MAX_DEPTH:
                    raise InputLimit(f"nesting deeper than {MAX_DEPTH} levels", event.start_mark)
                tag = event.tag
                if tag and tag not in ("!", _STD + "map", _STD + "seq"):
                    raise _Problem(
                        error(
                            "E005",
                            f"custom tag {tag!r} is not supported",
                            self.at(event.start_mark),
                        )
                    )
                path = child_path() if stack else ()
                container: dict[Any, Any] | list[Any] = (
                    {} if isinstance(event, ev.MappingStartEvent) else []
                )
                stack.append(
                    [container, path, _NO_KEY, None, {}, event.anchor, 1, event.start_mark]
                )
            elif isinstance(event, _COLLECTION_END):
                frame = stack.pop()
                container, path, _, _, _, anchor, size, mark = frame
                if anchor:
                    anchors[anchor] = (container, size)
                self.nodes -= size - 1  # children were counted already; count them once, here
                place(container, path, mark, size)
            elif isinstance(event, ev.AliasEvent):
                at = self.at(event.start_mark)
                if event.anchor not in anchors:
                    raise _Problem(error("E001", f"alias *{event.anchor} refers to no anchor", at))
                value, size = anchors[event.anchor]
                path = child_path() if stack else ()
                place(value, path, event.start_mark, size)


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


_NO_KEY = _Marker("<no key>")
_SKIP = _Marker("<skip duplicate>")


def load_documents(source: bytes | str, filename: str) -> tuple[list[Document], list[Diagnostic]]:
    """Parse every document of ``source``. Never raises for bad input: problems come back as diagnostics.

    ``source`` is bytes when it is a file's content (an empty file is then an error) and text for
    values such as ``--set``'s."""
    if isinstance(source, bytes):
        if len(source) > MAX_BYTES:
            return [], [
                error(
                    "E003",
                    f"file is larger than {MAX_BYTES:,} bytes, the limit",
                    Location(filename),
                )
            ]
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = source.count(b"\n", 0, exc.start) + 1
            line_start = source.rfind(b"\n", 0, exc.start) + 1
            column = (
                len(source[line_start : exc.start].decode("utf-8", "replace")) + 1
            )  # in characters, as editors count
            return [], [
                error(
                    "E004",
                    f"byte 0x{source[exc.start]:02x} is not valid UTF-8; save the file as UTF-8",
                    Location(filename, line, column),
                )
            ]
    else:
        text = source
        if len(text) > MAX_BYTES:
            return [], [
                error(
                    "E003",
                    f"input is {len(text):,} characters; the limit is {MAX_BYTES:,}",
                    Location(filename),
                )
            ]
    text = text.lstrip("\ufeff")

    loader = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
    try:
        documents, diagnostics = _read(text, filename, loader)
    except _LibyamlDepthStop as stop:
        documents, diagnostics = _read_past_libyaml_depth(text, filename, stop.index)
    if isinstance(source, bytes) and not diagnostics and all(doc.data is None for doc in documents):
        diagnostics.append(
            error(
                "E011",
                "the file holds no YAML document (it is empty or only comments)",
                Location(filename),
            )
        )
    return documents, diagnostics


def _read(text: str, filename: str, loader: Any) -> tuple[list[Document], list[Diagnostic]]:
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    composer = _Composer(filename)
    parser = loader(text)
    try:
        while True:
            event = parser.get_event()
            if isinstance(event, ev.StreamEndEvent):
                break
            if isinstance(event, ev.DocumentStartEvent):
                if event.version and tuple(event.version) < (1, 2):
                    diagnostics.append(
                        warning(
                            "W105",
                            f"%YAML {event.version[0]}.{event.version[1]} directive: this file is read as YAML 1.2 "
                            "(yes/no/on/off stay strings, 0777 is 777)",
                            composer.at(event.start_mark),
                        )
                    )
                document, problems = composer.document(parser, len(documents))
                documents.append(document)
                diagnostics.extend(problems)
    except _Problem as problem:
        diagnostics.append(problem.diagnostic)
    except InputLimit as limit:
        at = composer.at(limit.mark) if limit.mark else Location(filename)
        diagnostics.append(error("E003", f"input rejected: {limit}", at))
    except yaml.MarkedYAMLError as exc:
        if loader is not yaml.SafeLoader and _LIBYAML_DEPTH in str(exc.problem):
            raise _LibyamlDepthStop(
                exc.problem_mark.index if exc.problem_mark else len(text)
            ) from None
        mark = exc.problem_mark or exc.context_mark
        explained = _explained(exc, text)
        if explained is not None:
            at = Location(filename, explained.line + 1, explained.column + 1)
            diagnostics.append(error("E001", f"YAML syntax error: {explained.message}", at))
            return documents, diagnostics
        at = Location(filename, mark.line + 1, mark.column + 1) if mark else Location(filename)
        what = exc.problem or exc.context or "invalid YAML"
        related = []
        if exc.problem and exc.context and exc.context_mark and exc.context_mark is not mark:
            related.append(
                Related(
                    exc.context,
                    Location(filename, exc.context_mark.line + 1, exc.context_mark.column + 1),
                )
            )
        diagnostics.append(error("E001", f"YAML syntax error: {what}", at, related=related))
    except yaml.reader.ReaderError as exc:  # a control character such as NUL
        diagnostics.append(
            error(
                "E001",
                f"YAML syntax error: character U+{exc.character:04X} is not allowed in YAML",
                _offset_location(text, exc.position, filename),
            )
        )
    except yaml.YAMLError as exc:
        diagnostics.append(
            error("E001", f"YAML syntax error: {' '.join(str(exc).split())}", Location(filename))
        )
    finally:
        parser.dispose()
    return documents, diagnostics


def _explained(exc: yaml.MarkedYAMLError, text: str) -> Explained | None:
    if not exc.problem or exc.problem_mark is None:
        return None
    context_at = (exc.context_mark.line, exc.context_mark.column) if exc.context_mark else None
    return explain(
        exc.problem,
        (exc.problem_mark.line, exc.problem_mark.column),
        exc.context or "",
        context_at,
        text,
    )


def _read_past_libyaml_depth(
    text: str, filename: str, stop: int
) -> tuple[list[Document], list[Diagnostic]]:
    """Our depth limit lies before the place libyaml stopped, so reading up to there with the
    pure-Python scanner finds it quickly; the whole text is read only if that prefix does not."""
    documents, diagnostics = _read(text[:stop], filename, yaml.SafeLoader)
    if any(d.code == "E003" for d in diagnostics):
        return documents, [d for d in diagnostics if d.code in ("E003", "W105")]
    return _read(text, filename, yaml.SafeLoader)


def _offset_location(text: str, offset: int, filename: str) -> Location:
    line = text.count("\n", 0, offset) + 1
    return Location(filename, line, offset - (text.rfind("\n", 0, offset) + 1) + 1)
