"""What can go wrong between a cluster command and the API server, and its exit code.

One table for every command (README, *Exit codes of the cluster commands*):

| what | exit |
| --- | --- |
| no cluster: no kubeconfig, refused, TLS, no answer within ``--timeout`` | 3 |
| not a Kubernetes API server: an answer of the wrong shape | 3 |
| 401: the credentials are not accepted; 403: not allowed (which permission is missing) | 3 |
| 404 of an API group or resource: its controller (CRD) is not installed | 3 |
| 429 and 5xx: the API server failed | 3 |
| any other refusal (400, 409, 422 ...): the objects or the request are wrong | 1 |

Pure: no client, no I/O. Every message is one line.
"""

from __future__ import annotations

from .kinds import split_path

EXIT_FAILED, EXIT_ENV = 1, 3


def one_line(text: object, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class ClusterError(Exception):
    """A failure of a cluster command, told in one line (``line``) with its exit code (``code``)."""

    code = EXIT_ENV

    @property
    def line(self) -> str:
        return one_line(str(self), 400)


class ClusterUnavailable(ClusterError):
    """No cluster to talk to: no kubeconfig, an unknown context, or the API server does not answer."""

    @property
    def line(self) -> str:
        return one_line(f"no reachable cluster: {self}", 400)


class NotKubernetes(ClusterUnavailable):
    """The server answered, but not as a Kubernetes API server does (HTML, a JSON list...)."""

    def __init__(self, url: str, why: str):
        super().__init__(f"{url}: {why}")
        self.url = url
        self.why = why

    @property
    def line(self) -> str:
        return one_line(f"not a Kubernetes API server: {self}", 400)


_VERBS = {"GET": "get", "PATCH": "patch", "DELETE": "delete", "POST": "create", "PUT": "update"}


def _resource_of(path: str) -> tuple[str, str, str]:
    """(resource as RBAC names it, e.g. ``jobsets.jobset.x-k8s.io`` or ``pods/log``; the
    namespace, or ""; the object's name, or "") from an API path."""
    split = split_path(path)
    if split is None or not split[2]:
        return "", split[1] if split else "", ""
    group, namespace, rest = split
    suffix = f".{group}" if group else ""
    name = rest[1] if len(rest) > 1 else ""
    if len(rest) > 2:
        return f"{rest[0]}/{rest[2]}{suffix}", namespace, name
    return rest[0] + suffix, namespace, name


def permission(method: str, path: str, watch: bool = False) -> str:
    """The RBAC permission a request needs: ``list jobsets.jobset.x-k8s.io in namespace team-a``."""
    resource, namespace, name = _resource_of(path)
    if not resource:
        return f"{method} {path}"
    verb = _VERBS.get(method, method.lower())
    if method == "GET" and not name:
        verb = "watch" if watch else "list"
    where = f" in namespace {namespace}" if namespace else ""
    return f"{verb} {resource}{where}"


class ApiError(ClusterError):
    """The API server answered with an HTTP error and a Kubernetes ``Status``.

    ``group_missing``: a 404 of the resource itself, not of one object (the API group is not
    served: its CRD, so its controller, is not installed)."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        method: str = "GET",
        path: str = "",
        group_missing: bool = False,
        watch: bool = False,
    ):
        super().__init__(message or reason)
        self.status = status
        self.reason = reason
        self.message = message or reason
        self.method = method
        self.path = path
        self.group_missing = group_missing
        self.watch = watch

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def gone(self) -> bool:
        return self.status == 410

    @property
    def code(self) -> int:  # type: ignore[override]  # by the status, see the module's table
        if self.status in (401, 403, 429) or self.status >= 500 or self.group_missing:
            return EXIT_ENV
        return EXIT_FAILED

    @property
    def line(self) -> str:
        said = one_line(self.message)
        if self.status == 401:
            text = f"the API server does not accept these credentials (401): {said}"
        elif self.status == 403:
            needs = permission(self.method, self.path, self.watch)
            text = f"not allowed: these credentials may not {needs} (403): {said}"
        elif self.group_missing:
            resource = _resource_of(self.path)[0] or self.path
            text = (
                f"the API server does not serve {resource}: its controller is not installed "
                f"on this cluster (404): {said}"
            )
        elif self.status == 429 or self.status >= 500:
            text = f"the API server failed: {self.status} {self.reason}: {said}"
        else:
            text = f"the API server refused: {self.status} {self.reason}: {said}"
        return one_line(text, 400)
