"""Stage 1: bytes to documents with positions. See :mod:`compiler.parse.yaml12`."""

from .yaml12 import Document, Path, Positions, YamlFloat, YamlInt, load_documents, resolve_plain

__all__ = [
    "Document",
    "Path",
    "Positions",
    "YamlFloat",
    "YamlInt",
    "load_documents",
    "resolve_plain",
]
