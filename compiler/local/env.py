"""A container's environment and command line, resolved as the kubelet resolves them.

Pure functions over plain pod dicts (the API's JSON). The rules, from the Kubernetes docs
("Define dependent environment variables", "Expose pod information through environment
variables") and the kubelet (pkg/kubelet/kubelet_pods.go makeEnvironmentVariables,
third_party/forked/golang/expansion):

- ``envFrom`` sources come first, in order, each key (with the source's ``prefix``) set as is;
  keys that are not valid variable names are skipped; a later source wins.
- then ``env``, in order: a literal ``value`` is expanded with ``$(VAR)`` against the variables
  defined so far (envFrom and earlier ``env`` entries, then the service variables); a
  ``valueFrom`` value is never expanded. A later entry with the same name wins.
- ``$(VAR)`` of an undefined variable stays as written; ``$$`` is one ``$`` (so ``$$(VAR)``
  is the literal ``$(VAR)``); a ``$`` before anything else, or an unclosed ``$(``, stays.
- ``command`` and ``args`` are expanded against the final environment, by the same rules.
- an ``optional`` ConfigMap/Secret (or key) that is missing leaves the variable unset; a missing
  required one is an error (the kubelet reports CreateContainerConfigError).
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

OPERATOR = "$"
OPENER = "("
CLOSER = ")"

#: lookup(kind, namespace, name) -> the object's data as text, or None when it does not exist;
#: kind is "configmap" or "secret" (secret values already base64-decoded)
Lookup = Callable[[str, str, str], "Mapping[str, str] | None"]


class EnvError(Exception):
    """The container cannot start: the kubelet's CreateContainerConfigError."""


def expand(text: str, mapping: Callable[[str], str]) -> str:
    """Expand ``$(NAME)`` references in `text` with `mapping` (kubelet expansion syntax)."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == OPERATOR and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            read, is_var, advance = _read_reference(text[cursor + 1 :])
            out.append(mapping(read) if is_var else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def _read_reference(rest: str) -> tuple[str, bool, int]:
    """(text to write or variable name, whether it is a variable, characters consumed)."""
    first = rest[0]
    if first == OPERATOR:
        return OPERATOR, False, 1
    if first == OPENER:
        end = rest.find(CLOSER, 1)
        if end != -1:
            return rest[1:end], True, end + 1
        return OPERATOR + OPENER, False, 1
    return OPERATOR + first, False, 1


def mapping_for(*contexts: Mapping[str, str]) -> Callable[[str], str]:
    """The first context defining a name gives its value; undefined names stay ``$(NAME)``."""

    def mapping(name: str) -> str:
        for context in contexts:
            if name in context:
                return context[name]
        return OPERATOR + OPENER + name + CLOSER

    return mapping


_ENV_NAME = re.compile(r"^[^=\x00-\x1f\x7f]+$")  # relaxed names: printable, no '=' (k8s >= 1.34)


def valid_env_name(name: str) -> bool:
    return bool(_ENV_NAME.match(name)) and name.isascii()


@dataclass(frozen=True)
class PodContext:
    """What the kubelet knows about a pod beyond its spec when it starts a container."""

    pod_ip: str
    host_ip: str
    node_name: str
    node_allocatable: Mapping[str, str]


def resolve_env(
    pod: Mapping,
    container: Mapping,
    context: PodContext,
    lookup: Lookup,
    service_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The container's environment (name -> value), as the kubelet builds it."""
    namespace = pod.get("metadata", {}).get("namespace", "default")
    service_env = dict(service_env or {})
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        env.update(_env_from(source, namespace, lookup))
    for var in container.get("env") or []:
        name = var["name"]
        if var.get("valueFrom"):
            value = _value_from(var["valueFrom"], pod, container, context, namespace, lookup)
            if value is None:
                continue  # an optional source that is missing: the variable is not set
        else:
            value = var.get("value") or ""
            if value:
                value = expand(value, mapping_for(env, service_env))
        env[name] = value
    for name, value in service_env.items():
        env.setdefault(name, value)
    return env


def expand_command(container: Mapping, env: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """``command`` and ``args`` with ``$(VAR)`` expanded against the final environment."""
    mapping = mapping_for(env)
    command = [expand(c, mapping) for c in container.get("command") or []]
    args = [expand(a, mapping) for a in container.get("args") or []]
    return command, args


def _env_from(source: Mapping, namespace: str, lookup: Lookup) -> dict[str, str]:
    prefix = source.get("prefix") or ""
    if "configMapRef" in source:
        ref, kind = source["configMapRef"], "configmap"
    elif "secretRef" in source:
        ref, kind = source["secretRef"], "secret"
    else:
        return {}
    data = lookup(kind, namespace, ref["name"])
    if data is None:
        if ref.get("optional"):
            return {}
        raise EnvError(f'{kind} "{ref["name"]}" not found')
    return {prefix + k: v for k, v in data.items() if valid_env_name(prefix + k)}


def _value_from(
    source: Mapping,
    pod: Mapping,
    container: Mapping,
    context: PodContext,
    namespace: str,
    lookup: Lookup,
) -> str | None:
    if "fieldRef" in source:
        return field_value(pod, source["fieldRef"]["fieldPath"], context)
    if "resourceFieldRef" in source:
        return resource_value(container, source["resourceFieldRef"], context)
    for key, kind in (("configMapKeyRef", "configmap"), ("secretKeyRef", "secret")):
        if key in source:
            ref = source[key]
            data = lookup(kind, namespace, ref["name"])
            if data is None or ref["key"] not in data:
                if ref.get("optional"):
                    return None
                what = f'{kind} "{ref["name"]}"'
                if data is None:
                    raise EnvError(f"{what} not found")
                raise EnvError(f"couldn't find key {ref['key']} in {what}")
            return data[ref["key"]]
    raise EnvError(f"unsupported valueFrom {sorted(source)}")


_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.*)'\]$")


def field_value(pod: Mapping, path: str, context: PodContext) -> str:
    """The downward API's value for a ``fieldRef.fieldPath`` (environment variables)."""
    meta = pod.get("metadata", {})
    spec = pod.get("spec", {})
    match = _SUBSCRIPT.match(path)
    if match:
        return (meta.get(match.group(1)) or {}).get(match.group(2), "")
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName") or context.node_name,
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": context.host_ip,
        "status.hostIPs": context.host_ip,
        "status.podIP": context.pod_ip,
        "status.podIPs": context.pod_ip,
    }
    if path not in simple:
        raise EnvError(f"unsupported fieldPath {path!r}")
    return simple[path]


def resource_value(container: Mapping, ref: Mapping, context: PodContext) -> str:
    """``resourceFieldRef``: a limit (or, without one, the node's allocatable) or a request,
    divided by ``divisor`` and rounded up, as the kubelet does."""
    resource = ref["resource"]
    kind, _, name = resource.partition(".")
    resources = container.get("resources") or {}
    value = (resources.get(kind) or {}).get(name)
    if value is None:
        if kind == "limits":
            value = context.node_allocatable.get(name, "0")
        else:
            value = "0"
    divisor = parse_quantity(str(ref.get("divisor") or "1"))
    amount = parse_quantity(str(value))
    if divisor == 0:
        raise EnvError(f"divisor of {resource} is zero")
    return str(math.ceil(amount / divisor))


_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


def parse_quantity(text: str) -> Decimal:
    match = re.match(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$", text.strip())
    if not match or match.group(2) not in _SUFFIXES:
        raise EnvError(f"bad quantity {text!r}")
    return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]


def decode_secret(data: Mapping[str, str]) -> dict[str, str]:
    """A Secret's ``data`` (base64) as text."""
    return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in data.items()}
