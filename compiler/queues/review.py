"""A quota change as a reviewer reads it: ``team-a: gpus 16 → 8``."""

from __future__ import annotations


def quota_changes(before: dict, after: dict) -> list[str]:
    """Lines for every project and quantity that differ between two ``quota_summary`` results."""
    lines = []
    for project in sorted(set(before) | set(after)):
        old, new = before.get(project), after.get(project)
        if old is None and new is not None:
            lines.append(f"{project}: new quota " + _listing(new))
        elif new is None and old is not None:
            lines.append(f"{project}: quota removed (was " + _listing(old) + ")")
        elif old is not None and new is not None:
            for name in list(new) + [n for n in old if n not in new]:
                if old.get(name) != new.get(name):
                    lines.append(f"{project}: {name} {old.get(name, '-')} → {new.get(name, '-')}")
    return lines


def _listing(values: dict) -> str:
    return ", ".join(f"{name} {value}" for name, value in values.items())
