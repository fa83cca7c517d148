"""Canonical Kubernetes quantities: ``500m`` and ``4`` for CPU, ``16Gi`` and ``1536Mi`` for memory."""

from __future__ import annotations

_BINARY = (("Ei", 60), ("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10))


def cpu_millis(cpus: float) -> int:
    return round(cpus * 1000)


def cpu(cpus: float) -> str:
    millis = cpu_millis(cpus)
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def memory_bytes(gigabytes: float) -> int:
    """AIchor's GB are binary gigabytes: ``ramRatio: 4`` with 4 CPUs is ``16Gi``."""
    return round(gigabytes * (1 << 30))


def memory(gigabytes: float) -> str:
    size = memory_bytes(gigabytes)
    for suffix, shift in _BINARY:
        if size >= (1 << shift) and size % (1 << shift) == 0:
            return f"{size >> shift}{suffix}"
    return str(size)
