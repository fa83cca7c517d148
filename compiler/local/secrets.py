"""``--secrets DIR``: the Secrets and ConfigMaps a workload reads, from a local folder (the edge;
the plan gets plain data).

Two forms, mixed freely:

- ``DIR/<name>/<key>``: a folder per Secret or ConfigMap, a file per key (the layout a mounted
  Secret volume has, and what ``kubectl create secret generic NAME --from-file=DIR/NAME`` reads);
- ``DIR/*.yaml`` (or ``.yml``): Secret and ConfigMap documents as ``kubectl get -o yaml`` prints
  them (``data`` base64-encoded for a Secret, ``stringData`` as text; a ConfigMap's ``data`` as
  text, ``binaryData`` base64-encoded).

A name is either a Secret or a ConfigMap, as in one namespace of a cluster; a later source of the
same name adds its keys. Hidden files (``..data`` links of a mounted volume included) are skipped.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

Sources = dict[str, dict[str, str]]


class SecretsError(Exception):
    """The folder or one of its files cannot be read as Secrets or ConfigMaps."""


def read_sources(folder: Path) -> Sources:
    if not folder.is_dir():
        raise SecretsError(f"{folder}: not a directory")
    sources: Sources = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            sources.setdefault(entry.name, {}).update(_keys(entry))
        elif entry.suffix in (".yaml", ".yml"):
            for name, data in _documents(entry):
                sources.setdefault(name, {}).update(data)
    return sources


def _keys(folder: Path) -> dict[str, str]:
    keys = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        try:
            keys[path.name] = path.read_bytes().decode("utf-8", "replace")
        except OSError as e:
            raise SecretsError(f"{path}: {e.strerror}") from e
    return keys


def _documents(path: Path) -> list[tuple[str, dict[str, str]]]:
    import yaml

    try:
        documents = list(yaml.safe_load_all(path.read_text()))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise SecretsError(f"{path}: {e}") from e
    found = []
    for document in documents:
        if not isinstance(document, dict) or document.get("kind") not in ("Secret", "ConfigMap"):
            continue
        name = (document.get("metadata") or {}).get("name")
        if not isinstance(name, str):
            raise SecretsError(f"{path}: a {document['kind']} without metadata.name")
        found.append((name, _data(path, document)))
    return found


def _data(path: Path, document: dict) -> dict[str, str]:
    encoded, plain = (
        ("data", "stringData") if document["kind"] == "Secret" else ("binaryData", "data")
    )
    data = {}
    for key, value in (document.get(encoded) or {}).items():
        try:
            data[str(key)] = base64.b64decode(str(value), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError) as e:
            raise SecretsError(f"{path}: {encoded}.{key} is not base64") from e
    data.update(
        {str(k): "" if v is None else str(v) for k, v in (document.get(plain) or {}).items()}
    )
    return data
