"""Diagnostics for people and machines (text, json, github, sarif), and progress on a terminal.

The JSON structure is documented, with its schema, in docs/check-output.md; ``CHECK_OUTPUT_SCHEMA``
is that schema and tests keep the two equal.
"""

from __future__ import annotations

import contextlib
import os
import sys

from ..diagnostics import CODES, Diagnostic, Severity
from .constants import FORMATS  # noqa: F401  (the formats these renderers print)

CHECK_OUTPUT_VERSION = 1
SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
PROGRESS_MIN_ITEMS = 10

# ---------------------------------------------------------------------------------------------
# text


def text_line(d: Diagnostic) -> str:
    path = f" {d.path}:" if d.path else ""
    return f"{d.location}: {d.severity.value}[{d.code}]{path} {d.message}{related_text(d)}"


def related_text(d: Diagnostic) -> str:
    """`` (policy team-a-limits at policies/team-a.yaml:11:5; value set by the workload)``"""
    related = "; ".join(
        f"{r.message}{' at ' + str(r.location) if r.location else ''}" for r in d.related
    )
    return f" ({related})" if related else ""


def as_text(diagnostics: list[Diagnostic]) -> str:
    return "".join(text_line(d) + "\n" for d in diagnostics)


def counts(diagnostics: list[Diagnostic]) -> dict:
    return {
        "errors": sum(d.severity is Severity.ERROR for d in diagnostics),
        "warnings": sum(d.severity is Severity.WARNING for d in diagnostics),
        "infos": sum(d.severity is Severity.INFO for d in diagnostics),
    }


def summary_line(diagnostics: list[Diagnostic], files: list[str]) -> str:
    n = counts(diagnostics)
    return (
        f"{len(files)} file{'s' if len(files) != 1 else ''} checked: "
        f"{n['errors']} error{'s' if n['errors'] != 1 else ''}, "
        f"{n['warnings']} warning{'s' if n['warnings'] != 1 else ''}"
    )


# ---------------------------------------------------------------------------------------------
# json (docs/check-output.md)

_LOCATION_PROPERTIES = {
    "file": {
        "type": "string",
        "description": "the file as given on the command line (or <stdin>, <--set>)",
    },
    "line": {"type": "integer", "minimum": 1, "description": "1-based"},
    "column": {"type": "integer", "minimum": 1, "description": "1-based, in characters"},
}

CHECK_OUTPUT_SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:manifest-compiler:check-output:1",
    "title": "compile check --format json, version 1",
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "summary", "files", "diagnostics"],
    "properties": {
        "version": {
            "const": 1,
            "description": "the version of this structure; any change to it increments the number",
        },
        "summary": {
            "type": "object",
            "additionalProperties": False,
            "required": ["files", "errors", "warnings", "infos"],
            "properties": {
                "files": {"type": "integer", "minimum": 0, "description": "manifest files checked"},
                "errors": {"type": "integer", "minimum": 0},
                "warnings": {"type": "integer", "minimum": 0},
                "infos": {"type": "integer", "minimum": 0},
            },
        },
        "files": {
            "type": "array",
            "description": "every file checked, in the order checked, with its own counts",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["file", "errors", "warnings"],
                "properties": {
                    "file": {"type": "string"},
                    "errors": {"type": "integer", "minimum": 0},
                    "warnings": {"type": "integer", "minimum": 0},
                },
            },
        },
        "diagnostics": {
            "type": "array",
            "description": "sorted by file, line, column, code",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "file",
                    "line",
                    "column",
                    "severity",
                    "code",
                    "title",
                    "path",
                    "message",
                    "related",
                ],
                "properties": {
                    **_LOCATION_PROPERTIES,
                    "severity": {"enum": ["error", "warning", "info"]},
                    "code": {
                        "type": "string",
                        "pattern": "^[EWI][0-9]{3}$",
                        "description": "stable; see the README's table",
                    },
                    "title": {"type": "string", "description": "what the code means, in general"},
                    "path": {
                        "type": "string",
                        "description": "the field path, such as spec.types.worker.count; empty when the problem is not about one field",
                    },
                    "message": {"type": "string"},
                    "related": {
                        "type": "array",
                        "description": "other places the diagnostic refers to: the policy rule broken, the earlier duplicate",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["message"],
                            "properties": {"message": {"type": "string"}, **_LOCATION_PROPERTIES},
                        },
                    },
                },
            },
        },
    },
}


def as_dict(d: Diagnostic) -> dict:
    return {
        "file": d.location.file,
        "line": max(d.location.line, 1),
        "column": max(d.location.column, 1),
        "severity": d.severity.value,
        "code": d.code,
        "title": CODES.get(d.code, ""),
        "path": d.path,
        "message": d.message,
        "related": [_related_dict(r) for r in d.related],
    }


def _related_dict(related) -> dict:
    out = {"message": related.message}
    if related.location:
        out.update(
            file=related.location.file,
            line=max(related.location.line, 1),
            column=max(related.location.column, 1),
        )
    return out


def as_json(diagnostics: list[Diagnostic], files: list[str]) -> str:
    import json

    per_name = {f: {"errors": 0, "warnings": 0} for f in dict.fromkeys(files)}
    for d in diagnostics:
        count = per_name.get(d.location.file)
        if count is not None and d.severity is Severity.ERROR:
            count["errors"] += 1
        elif count is not None and d.severity is Severity.WARNING:
            count["warnings"] += 1
    per_file = [{"file": f, **count} for f, count in per_name.items()]
    document = {
        "version": CHECK_OUTPUT_VERSION,
        "summary": {"files": len(per_file), **counts(diagnostics)},
        "files": per_file,
        "diagnostics": [as_dict(d) for d in diagnostics],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------
# GitHub Actions workflow commands


def _github_escape(text: str, is_property: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if is_property:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def github_line(d: Diagnostic) -> str:
    level = {Severity.ERROR: "error", Severity.WARNING: "warning"}.get(d.severity, "notice")
    props = []
    if not _is_pseudo_file(d.location.file):
        props += [
            f"file={_github_escape(d.location.file, True)}",
            f"line={max(d.location.line, 1)}",
            f"col={max(d.location.column, 1)}",
        ]
    title = f"{d.code} {CODES[d.code]}" if d.code in CODES else d.code
    props.append(f"title={_github_escape(title, True)}")
    return f"::{level} {','.join(props)}::{_github_escape(_full_message(d))}"


def as_github(diagnostics: list[Diagnostic], files: list[str] | None = None) -> str:
    lines = [github_line(d) for d in diagnostics]
    if files is not None:
        lines.append(summary_line(diagnostics, files))
    return "".join(line + "\n" for line in lines)


def _full_message(d: Diagnostic) -> str:
    return (f"{d.path}: {d.message}" if d.path else d.message) + related_text(d)


def _is_pseudo_file(name: str) -> bool:
    return name.startswith("<") and name.endswith(">")


# ---------------------------------------------------------------------------------------------
# SARIF 2.1.0


def artifact_uri(path: str) -> str:
    """A URI reference for a path: relative paths stay relative (to the repository root in CI)."""
    from urllib.parse import quote

    posix = path.replace("\\", "/")
    if os.path.isabs(path):
        return "file://" + quote(posix if posix.startswith("/") else "/" + posix)
    return quote(posix)


def _physical_location(location) -> dict:
    return {
        "artifactLocation": {"uri": artifact_uri(location.file)},
        "region": {"startLine": max(location.line, 1), "startColumn": max(location.column, 1)},
    }


def _sarif_result(d: Diagnostic, rule_index: int) -> dict:
    result = {
        "ruleId": d.code,
        "ruleIndex": rule_index,
        "level": {Severity.ERROR: "error", Severity.WARNING: "warning"}.get(d.severity, "note"),
        "message": {"text": _full_message(d)},
    }
    location: dict = {}
    if not _is_pseudo_file(d.location.file):
        location["physicalLocation"] = _physical_location(d.location)
    if d.path:
        location["logicalLocations"] = [{"fullyQualifiedName": d.path, "kind": "member"}]
    if location:
        result["locations"] = [location]
    related = [r for r in d.related if r.location and not _is_pseudo_file(r.location.file)]
    if related:
        result["relatedLocations"] = [
            {
                "id": i,
                "message": {"text": r.message},
                "physicalLocation": _physical_location(r.location),
            }
            for i, r in enumerate(related)
        ]
    return result


def sarif_log(diagnostics: list[Diagnostic], version: str) -> dict:
    used = sorted({d.code for d in diagnostics})
    rule_index = {code: index for index, code in enumerate(used)}
    rules = [
        {
            "id": code,
            "name": code,
            "shortDescription": {"text": CODES.get(code, code)},
            "defaultConfiguration": {"level": "warning" if code.startswith("W") else "error"},
        }
        for code in used
    ]
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {"name": "manifest-compiler", "version": version, "rules": rules}
                },
                "columnKind": "unicodeCodePoints",
                "results": [_sarif_result(d, rule_index[d.code]) for d in diagnostics],
            }
        ],
    }


def as_sarif(diagnostics: list[Diagnostic], version: str) -> str:
    import json

    return json.dumps(sarif_log(diagnostics, version), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------
# progress: on a terminal only; nothing in a pipe or in CI


def progress_wanted(count: int, stream=None, environ=None) -> bool:
    stream = sys.stderr if stream is None else stream
    environ = os.environ if environ is None else environ
    in_ci = environ.get("CI", "").strip().lower() not in ("", "0", "false")
    is_terminal = getattr(stream, "isatty", lambda: False)()
    return count >= PROGRESS_MIN_ITEMS and not in_ci and is_terminal


@contextlib.contextmanager
def progress(items, label: str):
    """Iterate ``items``; on a terminal, with a progress bar on stderr."""
    items = list(items)
    if not progress_wanted(len(items)):
        yield items
        return
    import click

    with click.progressbar(items, label=label, file=sys.stderr) as bar:
        yield bar


# ---------------------------------------------------------------------------------------------
# writing: what click.echo does with text, for the commands that run without click (direct.py)

_ANSI = r"\033\[[;?0-9]*[a-zA-Z]"


def echo(message: str, err: bool = False, nl: bool = True) -> None:
    """``message`` on stdout (stderr with ``err``), flushed; like ``click.echo``, escape sequences
    are dropped when the stream is not a terminal."""
    stream = sys.stderr if err else sys.stdout
    if nl:
        message += "\n"
    if "\033" in message and not getattr(stream, "isatty", lambda: False)():
        import re

        message = re.sub(_ANSI, "", message)
    if message:
        stream.write(message)
    stream.flush()
