"""Where the cluster is and who we are to it, read as kubectl reads it.

The kubeconfig is ``KUBECONFIG`` (files joined by ``:``, merged as kubectl merges them: the first
file that names a cluster, user or context, or sets ``current-context``, wins), else
``~/.kube/config``, else the in-cluster service account. A context is ``--context`` or the current
one; its namespace, unless ``--namespace`` says otherwise.

What a user entry may hold: a bearer ``token`` or ``tokenFile``, ``username``/``password``, a client
certificate and key (``client-certificate[-data]``, ``client-key[-data]``), an ``exec`` credential
plugin (client.authentication.k8s.io v1 or v1beta1: a token or a certificate), or an
``auth-provider`` whose ``config`` already holds a token (``id-token``, ``access-token``; no
refresh). A cluster entry: ``server``, ``certificate-authority[-data]``,
``insecure-skip-tls-verify``, ``tls-server-name``, ``proxy-url`` (http).

Everything read stays in memory (:class:`Target`); nothing is written anywhere.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field, replace

from .errors import ClusterUnavailable, one_line

SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


@dataclass(frozen=True)
class Target:
    """The API server and the credentials for it, in memory."""

    server: str
    namespace: str | None = None
    where: str = ""
    ca: bytes | None = None  # PEM or DER
    insecure: bool = False
    server_name: str | None = None  # tls-server-name
    client_cert: bytes | None = None  # PEM: the certificate (and chain)
    client_key: bytes | None = None  # PEM
    headers: dict[str, str] = field(default_factory=dict)  # Authorization
    proxy: str | None = None


class _Invalid(Exception):
    """The kubeconfig lacks or garbles something (said as the kubernetes client says it)."""


def kubeconfig_paths() -> list[str]:
    env = os.environ.get("KUBECONFIG")
    if env:
        return [os.path.expanduser(path) for path in env.split(os.pathsep) if path]
    return [os.path.expanduser("~/.kube/config")]


def load_target(context: str | None) -> Target:
    """The target of ``context`` (default: the current one); ClusterUnavailable when there is none."""
    import yaml

    paths = [path for path in kubeconfig_paths() if os.path.exists(path)]
    if not paths:
        if os.environ.get("KUBERNETES_SERVICE_HOST") and context is None:
            return _in_cluster()
        where = os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise ClusterUnavailable(
            f"no kubeconfig found ({where} does not exist) and not running in a cluster"
        )
    joined = os.pathsep.join(paths)
    try:
        merged = _merge(paths, yaml)
        return _target_of(merged, context, joined)
    except _Invalid as exc:
        raise ClusterUnavailable(f"cannot use the kubeconfig {joined}: {one_line(exc)}") from None
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        raise ClusterUnavailable(f"cannot read the kubeconfig {joined}: {one_line(exc)}") from None


def context_names() -> set[str]:
    """The contexts the user's kubeconfig names (none when there is no kubeconfig)."""
    import yaml

    paths = [path for path in kubeconfig_paths() if os.path.exists(path)]
    try:
        return set(_merge(paths, yaml)["contexts"]) if paths else set()
    except (_Invalid, yaml.YAMLError, OSError, UnicodeDecodeError):
        return set()


# what a kubeconfig read from a Secret may not use: each would run a program or read a file on
# this machine that the Secret's writer chose (Kueue refuses the same in MultiKueue kubeconfigs)
_NOT_FROM_A_SECRET = (
    ("users", "exec"),
    ("users", "auth-provider"),
    ("users", "tokenFile"),
    ("users", "client-certificate"),
    ("users", "client-key"),
    ("clusters", "certificate-authority"),
)


def target_from_text(text: str, where: str, namespace: str | None = None) -> Target:
    """The current context of a kubeconfig given as text (a Secret's), with inline credentials
    only; ClusterUnavailable when it cannot be used."""
    import yaml

    try:
        data = yaml.safe_load(text)
        if not isinstance(data, dict):
            raise _Invalid("it does not hold a mapping")
        for section, key in _NOT_FROM_A_SECRET:
            for entry in data.get(section) or []:
                inner = (entry or {}).get(section[:-1]) if isinstance(entry, dict) else None
                if isinstance(inner, dict) and inner.get(key):
                    raise _Invalid(f"it uses {key}, which is read only from your own kubeconfig")
        merged = _merged_data(
            {"current-context": None, "clusters": {}, "users": {}, "contexts": {}}, data, "", where
        )
        target = _target_of(merged, None, where)
    except _Invalid as exc:
        raise ClusterUnavailable(f"cannot use the kubeconfig of {where}: {one_line(exc)}") from None
    except yaml.YAMLError as exc:
        raise ClusterUnavailable(
            f"cannot read the kubeconfig of {where}: {one_line(exc)}"
        ) from None
    return replace(target, where=where, namespace=namespace or target.namespace)


def _merge(paths: list[str], yaml) -> dict:
    """One kubeconfig from several: named entries and current-context, the first one wins.
    Each entry remembers its file's directory (relative paths are relative to it)."""
    merged: dict = {"current-context": None, "clusters": {}, "users": {}, "contexts": {}}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        merged = _merged_data(merged, data, os.path.dirname(os.path.abspath(path)), path)
    return merged


def _merged_data(merged: dict, data, base: str, path: str) -> dict:
    """``merged`` with one kubeconfig document's entries added (the first of a name wins)."""
    if data is None:
        raise _Invalid(f"{path} file is empty")
    if not isinstance(data, dict):
        raise _Invalid(f"Expected {path} to hold a mapping")
    if not merged["current-context"] and data.get("current-context"):
        merged["current-context"] = str(data["current-context"])
    for section in ("clusters", "users", "contexts"):
        entries = data.get(section) or []
        if not isinstance(entries, list):
            raise _Invalid(f"Expected {section} to be a list")
        for entry in entries:
            if not isinstance(entry, dict) or "name" not in entry:
                raise _Invalid(f"Expected all values in {section} list to have 'name' key")
            merged[section].setdefault(str(entry["name"]), (entry, base))
    return merged


def _named(merged: dict, section: str, name: str, key: str) -> tuple[dict, str]:
    found = merged[section].get(name)
    if found is None:
        raise _Invalid(f"Expected object with name {name} in {section} list")
    entry, base = found
    value = entry.get(key)
    if not isinstance(value, dict):
        raise _Invalid(f"Expected key {key} in {section}[name={name}]")
    return value, base


def _target_of(merged: dict, context: str | None, joined: str) -> Target:
    name = context or merged["current-context"]
    if not name:
        raise _Invalid("Expected key current-context in kube-config (or choose one with --context)")
    chosen, _ = _named(merged, "contexts", name, "context")
    cluster_name, user_name = chosen.get("cluster"), chosen.get("user")
    if not cluster_name:
        raise _Invalid(f"Expected key cluster in contexts[name={name}]")
    cluster, cluster_base = _named(merged, "clusters", str(cluster_name), "cluster")
    user, user_base = (
        _named(merged, "users", str(user_name), "user") if user_name else ({}, cluster_base)
    )
    server = cluster.get("server")
    if not server:
        raise _Invalid(f"Expected key server in clusters[name={cluster_name}]")
    cert, key, headers = _credentials(user, user_base, cluster)
    return Target(
        server=str(server).rstrip("/"),
        namespace=chosen.get("namespace") or None,
        where=f"context {name!r} of {joined}",
        ca=_data_or_file(cluster, "certificate-authority", cluster_base),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        server_name=cluster.get("tls-server-name") or None,
        client_cert=cert,
        client_key=key,
        headers=headers,
        proxy=cluster.get("proxy-url") or None,
    )


def _data_or_file(entry: dict, key: str, base: str) -> bytes | None:
    """``KEY-data`` (base64) or the file ``KEY`` names (relative to its kubeconfig)."""
    data = entry.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=False)
        except (binascii.Error, ValueError) as exc:
            raise _Invalid(f"{key}-data is not base64: {exc}") from None
    path = entry.get(key)
    if not path:
        return None
    with open(os.path.join(base, os.path.expanduser(str(path))), "rb") as handle:
        return handle.read()


def _credentials(
    user: dict, base: str, cluster: dict
) -> tuple[bytes | None, bytes | None, dict[str, str]]:
    """(client certificate, client key, request headers) of a kubeconfig user."""
    cert = _data_or_file(user, "client-certificate", base)
    key = _data_or_file(user, "client-key", base)
    token = user.get("token")
    if not token and user.get("tokenFile"):
        with open(os.path.join(base, str(user["tokenFile"])), encoding="utf-8") as handle:
            token = handle.read().strip()
    if not token and isinstance(user.get("exec"), dict):
        status = _run_exec_plugin(user["exec"], base, cluster)
        token = status.get("token")
        if status.get("clientCertificateData") and status.get("clientKeyData"):
            cert = str(status["clientCertificateData"]).encode()
            key = str(status["clientKeyData"]).encode()
    if not token and isinstance(user.get("auth-provider"), dict):
        token = _auth_provider_token(user["auth-provider"])
    if token:
        return cert, key, {"Authorization": f"Bearer {token}"}
    if user.get("username") and user.get("password"):
        pair = f"{user['username']}:{user['password']}".encode()
        return cert, key, {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return cert, key, {}


def _auth_provider_token(provider: dict) -> str:
    config = provider.get("config") or {}
    token = config.get("id-token") or config.get("access-token")
    if not token:
        raise _Invalid(
            f"auth-provider {provider.get('name')!r} holds no token and is not supported "
            "(kubectl dropped these providers too): use an exec credential plugin"
        )
    return str(token)


def _run_exec_plugin(spec: dict, base: str, cluster: dict) -> dict:
    """An exec credential plugin's ``status`` (client.authentication.k8s.io)."""
    for key in ("command", "apiVersion"):
        if key not in spec:
            raise _Invalid(f"exec: malformed request. missing key '{key}'")
    interactive = sys.stdin.isatty() and spec.get("interactiveMode") != "Never"
    info: dict = {
        "apiVersion": spec["apiVersion"],
        "kind": "ExecCredential",
        "spec": {"interactive": interactive},
    }
    if spec.get("provideClusterInfo"):
        info["spec"]["cluster"] = {
            key: cluster[key]
            for key in ("server", "tls-server-name", "insecure-skip-tls-verify")
            if key in cluster
        }
    env = dict(os.environ)
    env.update({str(v["name"]): str(v["value"]) for v in spec.get("env") or []})
    env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
    command = str(spec["command"])
    if os.sep in command and not os.path.isabs(command):
        command = os.path.join(base, command)
    try:
        done = subprocess.run(
            [command, *[str(arg) for arg in spec.get("args") or []]],
            env=env,
            stdin=None if interactive else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=None if interactive else subprocess.PIPE,
            text=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        hint = spec.get("installHint")
        raise _Invalid(f"exec: {exc}" + (f"; {hint}" if hint else "")) from None
    if done.returncode != 0:
        said = one_line(done.stderr or "") if done.stderr else ""
        raise _Invalid(f"exec: process returned {done.returncode}" + (f". {said}" if said else ""))
    try:
        answer = json.loads(done.stdout)
    except ValueError as exc:
        raise _Invalid(f"exec: failed to decode process output: {exc}") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("status"), dict):
        raise _Invalid("exec: malformed response. missing key 'status'")
    if answer.get("apiVersion") != spec["apiVersion"]:
        raise _Invalid(
            f"exec: plugin api version {answer.get('apiVersion')} does not match "
            f"{spec['apiVersion']}"
        )
    return answer["status"]


def _in_cluster() -> Target:
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT"),
    )
    if not host or not port:
        raise ClusterUnavailable(
            "no kubeconfig and the in-cluster configuration fails: Service host/port is not set."
        )
    try:
        with open(f"{SERVICE_ACCOUNT}/token", encoding="utf-8") as handle:
            token = handle.read().strip()
        with open(f"{SERVICE_ACCOUNT}/ca.crt", "rb") as handle:
            ca = handle.read()
    except OSError as exc:
        raise ClusterUnavailable(
            f"no kubeconfig and the in-cluster configuration fails: {one_line(exc)}"
        ) from None
    namespace = None
    try:
        with open(f"{SERVICE_ACCOUNT}/namespace", encoding="utf-8") as handle:
            namespace = handle.read().strip() or None
    except OSError:
        pass
    address = f"[{host}]" if ":" in host else host
    return Target(
        server=f"https://{address}:{port}",
        namespace=namespace,
        where="in-cluster service account",
        ca=ca,
        headers={"Authorization": f"Bearer {token}"},
    )
