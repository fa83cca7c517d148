"""SHA-256 without importing hashlib: its import (OpenSSL's constructors) is a twentieth of a cold
``compile``, and every workload's digest needs only SHA-256, which CPython builds in."""

from __future__ import annotations

try:
    from _sha256 import sha256  # type: ignore[import-not-found]  # CPython 3.11
except ImportError:  # another interpreter or version: the same digests, through hashlib
    from hashlib import sha256

__all__ = ["sha256"]
