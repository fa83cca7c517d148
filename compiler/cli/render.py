"""Diagnostics for people and machines: text, json, github, sarif."""

from __future__ import annotations

import json

from ..diagnostics import CODES, Diagnostic

FORMATS = ("text", "json", "github", "sarif")


def text_line(d: Diagnostic) -> str:
    path = f" {d.path}:" if d.path else ""
    related = "".join(f" ({r.message}{' at ' + str(r.location) if r.location else ''})" for r in d.related)
    return f"{d.location}: {d.severity.value}[{d.code}]{path} {d.message}{related}"


def as_text(diagnostics: list[Diagnostic]) -> str:
    return "".join(text_line(d) + "\n" for d in diagnostics)


def as_dict(d: Diagnostic) -> dict:
    return {
        "file": d.location.file,
        "line": d.location.line,
        "column": d.location.column,
        "severity": d.severity.value,
        "code": d.code,
        "path": d.path,
        "message": d.message,
        "related": [
            {"message": r.message, **({"file": r.location.file, "line": r.location.line, "column": r.location.column} if r.location else {})}
            for r in d.related
        ],
    }


def as_json(diagnostics: list[Diagnostic], files: list[str]) -> str:
    errors = sum(d.is_error for d in diagnostics)
    document = {
        "version": 1,
        "summary": {"files": len(files), "errors": errors, "warnings": len(diagnostics) - errors},
        "diagnostics": [as_dict(d) for d in diagnostics],
    }
    return json.dumps(document, indent=2) + "\n"


def _github_escape(text: str, property_: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def as_github(diagnostics: list[Diagnostic]) -> str:
    lines = []
    for d in diagnostics:
        level = {"error": "error", "warning": "warning"}.get(d.severity.value, "notice")
        props = f"file={_github_escape(d.location.file, True)},line={d.location.line},col={d.location.column},title={_github_escape(d.code, True)}"
        message = f"{d.path}: {d.message}" if d.path else d.message
        lines.append(f"::{level} {props}::{_github_escape(message)}")
    return "".join(line + "\n" for line in lines)


def as_sarif(diagnostics: list[Diagnostic], version: str) -> str:
    used = sorted({d.code for d in diagnostics})
    rules = [{"id": code, "shortDescription": {"text": CODES.get(code, code)}} for code in used]
    results = []
    for d in diagnostics:
        result = {
            "ruleId": d.code,
            "ruleIndex": used.index(d.code),
            "level": {"error": "error", "warning": "warning"}.get(d.severity.value, "note"),
            "message": {"text": f"{d.path}: {d.message}" if d.path else d.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": d.location.file},
                "region": {"startLine": max(d.location.line, 1), "startColumn": max(d.location.column, 1)},
            }}],
        }
        if d.related:
            result["relatedLocations"] = [
                {"id": i, "message": {"text": r.message}, "physicalLocation": {
                    "artifactLocation": {"uri": r.location.file},
                    "region": {"startLine": max(r.location.line, 1), "startColumn": max(r.location.column, 1)}}}
                for i, r in enumerate(d.related) if r.location
            ]
        results.append(result)
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "manifest-compiler", "version": version, "informationUri": "https://example.invalid/manifest-compiler", "rules": rules}},
            "results": results,
        }],
    }
    return json.dumps(log, indent=2) + "\n"
