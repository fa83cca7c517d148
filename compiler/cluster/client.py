"""The only door to the API server: plain-dict REST over the kubernetes client's configuration.

The kubeconfig is found as kubectl finds it (``KUBECONFIG``, else ``~/.kube/config``, else the
in-cluster service account), with ``--context`` and ``--namespace``. The kubernetes package is
imported inside :func:`connect`, never at module level, so ``compile`` starts without it.
Connection problems become :class:`ClusterUnavailable` (one line, exit 3); HTTP errors
:class:`ApiError` with the server's own message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds


class ClusterUnavailable(Exception):
    """No cluster to talk to: no kubeconfig, an unknown context, or the API server does not answer."""


class ApiError(Exception):
    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message or reason)
        self.status = status
        self.reason = reason
        self.message = message or reason

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def gone(self) -> bool:
        return self.status == 410


def _one_line(text: object, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _kubeconfig_paths() -> list[str]:
    env = os.environ.get("KUBECONFIG")
    if env:
        return [path for path in env.split(os.pathsep) if path]
    return [os.path.expanduser("~/.kube/config")]


def _load_configuration(context: str | None):
    """(kubernetes Configuration, the context's namespace or None, a description of where from)."""
    import yaml
    from kubernetes import config as kube_config
    from kubernetes.client import Configuration
    from kubernetes.config.config_exception import ConfigException

    configuration = Configuration()
    paths = [path for path in _kubeconfig_paths() if os.path.exists(path)]
    if not paths:
        if os.environ.get("KUBERNETES_SERVICE_HOST") and context is None:
            try:
                kube_config.load_incluster_config(client_configuration=configuration)
            except ConfigException as exc:
                raise ClusterUnavailable(
                    f"no kubeconfig and the in-cluster configuration fails: {_one_line(exc)}"
                ) from None
            return configuration, _incluster_namespace(), "in-cluster service account"
        where = os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise ClusterUnavailable(
            f"no kubeconfig found ({where} does not exist) and not running in a cluster"
        )
    joined = os.pathsep.join(paths)
    try:
        context = context or _first_current_context(paths, yaml)
        kube_config.load_kube_config(
            config_file=joined,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
        contexts, active = kube_config.list_kube_config_contexts(config_file=joined)
    except ConfigException as exc:
        raise ClusterUnavailable(f"cannot use the kubeconfig {joined}: {_one_line(exc)}") from None
    except (yaml.YAMLError, OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ClusterUnavailable(f"cannot read the kubeconfig {joined}: {_one_line(exc)}") from None
    chosen = next((c for c in contexts if c.get("name") == context), active) if context else active
    namespace = ((chosen or {}).get("context") or {}).get("namespace")
    return configuration, namespace, f"context {(chosen or {}).get('name')!r} of {joined}"


def _first_current_context(paths: list[str], yaml) -> str | None:
    """As kubectl merges KUBECONFIG: the first file that sets current-context decides it
    (the Python client would let the last one win)."""
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        if isinstance(data, dict) and data.get("current-context"):
            return data["current-context"]
    return None


def _incluster_namespace() -> str | None:
    path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def connect(context: str | None = None, namespace: str | None = None) -> Kube:
    """A client for the cluster of ``context`` (default: the current one)."""
    from kubernetes.client import ApiClient

    configuration, context_namespace, where = _load_configuration(context)
    configuration.retries = (
        False  # the watcher retries by itself; a refused connection fails at once
    )
    api = ApiClient(configuration)
    return Kube(api, namespace or context_namespace or "default", configuration.host, where)


@dataclass
class Kube:
    api: Any  # kubernetes.client.ApiClient, imported only here and only when used
    namespace: str
    host: str
    where: str

    # -- plain requests ---------------------------------------------------------------------

    def _send(
        self, method: str, path: str, query: dict | None, body, content_type: str | None, timeout
    ):
        import urllib3

        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        query_items = [(k, v) for k, v in (query or {}).items() if v is not None]
        url_path = path + ("?" + urlencode(query_items) if query_items else "")
        try:
            method, url, headers, body, _ = self.api.param_serialize(
                method, url_path, header_params=headers, body=body, auth_settings=["BearerToken"]
            )
            response = self.api.call_api(
                method, url, header_params=headers, body=body, _request_timeout=timeout
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterUnavailable(
                f"cannot reach the Kubernetes API server at {self.host}: {_reason(exc)}"
            ) from None
        return response.response  # the urllib3 response, not read yet

    def request(
        self,
        method: str,
        path: str,
        query: dict | None = None,
        body=None,
        content_type: str | None = None,
        timeout=DEFAULT_TIMEOUT,
    ) -> dict:
        import urllib3

        raw = self._send(method, path, query, body, content_type, timeout)
        try:
            data = raw.data
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterUnavailable(
                f"lost the connection to {self.host}: {_reason(exc)}"
            ) from None
        finally:
            raw.release_conn()
        return _decode(raw.status, raw.reason, data)

    def get(self, path: str, **query) -> dict:
        return self.request("GET", path, query)

    def stream_lines(
        self, path: str, query: dict | None = None, timeout=DEFAULT_TIMEOUT
    ) -> Iterator[bytes]:
        """The response body line by line as it arrives (a watch, a followed log).

        Ends when the server closes the stream; a broken connection raises ClusterUnavailable."""
        import urllib3

        raw = self._send("GET", path, query, None, None, timeout)
        if not 200 <= raw.status < 300:
            data = raw.data
            raw.release_conn()
            _decode(raw.status, raw.reason, data)
        pending = b""
        try:
            for chunk in raw.stream(4096, decode_content=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                yield from lines
            if pending:
                yield pending
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterUnavailable(
                f"lost the connection to {self.host}: {_reason(exc)}"
            ) from None
        finally:
            raw.release_conn()


_CLOSED = ("ProtocolError", "InvalidChunkLength", "IncompleteRead", "RemoteDisconnected")


def _reason(exc: BaseException) -> str:
    """The root cause of a urllib3 error, in a few words (``Connection refused``)."""
    if type(exc).__name__ in _CLOSED:
        return "the server closed the connection"
    seen = exc
    while True:
        inner = getattr(seen, "reason", None) or seen.__context__ or seen.__cause__
        if not isinstance(inner, BaseException) or inner is seen:
            break
        seen = inner
    text = getattr(seen, "strerror", None) or str(seen)
    return _one_line(
        text.split(": ", 1)[-1]
        if isinstance(seen, OSError) and not getattr(seen, "strerror", None)
        else text
    )


def _decode(status: int, reason: str, data: bytes) -> dict:
    try:
        body = json.loads(data) if data else {}
    except ValueError:
        body = {"message": data.decode("utf-8", "replace")[:500]}
    if 200 <= status < 300:
        return body
    message = body.get("message") if isinstance(body, dict) else None
    raise ApiError(
        status,
        (body.get("reason") if isinstance(body, dict) else None) or reason,
        message or reason,
    )
