"""Kubernetes quantities as Kueue counts them: CPU in millicores, everything else in units,
rounded up (resources.ResourceValue)."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")
_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    **{
        suffix: Decimal(1024**power)
        for power, suffix in enumerate(["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"], 1)
    },
}
CPU = "cpu"


def parse(value) -> Decimal | None:
    """The value of a quantity (``"500m"``, ``"16Gi"``, ``4``), None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    match = _QUANTITY.match(str(value).strip())
    if match is None or match.group(2) not in _SUFFIXES:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]
    except InvalidOperation:
        return None


def amount(resource: str, value) -> int | None:
    """What Kueue counts of ``value`` for ``resource``: millicores for cpu, else units, rounded up."""
    parsed = parse(value)
    if parsed is None:
        return None
    return math.ceil(parsed * 1000) if resource == CPU else math.ceil(parsed)


def shown(resource: str, value: int) -> str:
    """An amount as people read it: ``2500m`` CPU as ``2.5``, memory in Gi when whole."""
    if resource == CPU:
        return f"{value / 1000:g}" if value % 1000 else str(value // 1000)
    if resource == "memory" or resource.endswith("memory"):
        for suffix, size in (("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
            if value and value % size == 0:
                return f"{value // size}{suffix}"
    return str(value)
