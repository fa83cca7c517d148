"""Which rules an object was compiled under: a digest of the policies and the template in force.

Canonical, so that only a change of meaning changes it: computed from the parsed documents (not
their bytes), with keys sorted, whole floats written as integers, and the policies in an order of
their own content (not of files or of the command line). Comments, formatting, key order, file
names and the order of ``-p`` paths do not count; any changed value does.
"""

from __future__ import annotations

import json
import math

from . import __version__
from .digests import sha256

COMPILER_VERSION = __version__


def normalised(value):
    """``value`` with mappings' keys as strings and whole floats as integers (``96.0`` is ``96``)."""
    if isinstance(value, dict):
        return {str(key): normalised(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalised(item) for item in value]
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def canonical_json(value) -> str:
    return json.dumps(
        normalised(value), sort_keys=True, separators=(",", ":"), default=str, allow_nan=True
    )


def rules_digest(policies: list, base: object | None) -> str:
    """``sha256:…`` of the policy documents' data (any order) and the base workload's, if any."""
    payload = {
        "policies": sorted(canonical_json(policy) for policy in policies),
        "base": canonical_json(base) if base is not None else None,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return "sha256:" + sha256(text.encode()).hexdigest()
