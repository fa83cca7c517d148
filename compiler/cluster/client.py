"""The only door to the API server: plain-dict REST over the kubernetes client's configuration.

The kubeconfig is found as kubectl finds it (``KUBECONFIG``, else ``~/.kube/config``, else the
in-cluster service account), with ``--context`` and ``--namespace``. The kubernetes package is
imported inside :func:`connect`, never at module level, so ``compile`` starts without it.
Connection problems become :class:`ClusterUnavailable` (one line, exit 3); HTTP errors
:class:`ApiError` with the server's own message; an answer that is not what a Kubernetes API server
sends, :class:`NotKubernetes` (``responses.py`` checks every answer before anything reads it).

Every wait is bounded by the command's ``--timeout`` (:attr:`Kube.timeout`): connecting, and each
answer's headers; on a stream, silence. A list is read page by page (``limit``/``continue``) and
an answer larger than :data:`MAX_BODY` is not read at all, so memory does not grow with the cluster.

Credentials never outlive the process: the kubernetes client writes a kubeconfig's embedded
certificate and key to files; here they go to a private directory, are loaded into an in-memory
TLS context and removed before the first request, SIGTERM and SIGHUP included.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .errors import ApiError, ClusterError, ClusterUnavailable, NotKubernetes
from .errors import one_line as _one_line
from .kinds import answer_of_path
from .responses import checked, checked_event, decoded, error_status

__all__ = ["ApiError", "ClusterError", "ClusterUnavailable", "Kube", "NotKubernetes", "connect"]

DEFAULT_TIMEOUT = 30.0  # seconds: --timeout, or COMPILE_TIMEOUT
TIMEOUT_ENV = "COMPILE_TIMEOUT"
MAX_BODY = 8 << 20  # bytes of one answer (one object is at most ~1.5 MiB in etcd)
PAGE_LIMIT = 250  # objects a list page asks for


class StreamSilent(ClusterUnavailable):
    """A stream (a watch, a followed log) said nothing for longer than it may."""


class _TooLarge(Exception):
    pass


def _kubeconfig_paths() -> list[str]:
    env = os.environ.get("KUBECONFIG")
    if env:
        return [path for path in env.split(os.pathsep) if path]
    return [os.path.expanduser("~/.kube/config")]


def _load_configuration(context: str | None, private_dir: str):
    """(kubernetes Configuration, the context's namespace or None, a description of where from).

    Files the client writes (embedded certificates and keys) go to ``private_dir``."""
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
            temp_file_path=private_dir,
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


# ---------------------------------------------------------------------------------------------
# credentials: in memory, their files removed before the first request


def _exit_on(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


def exit_on_termination() -> None:
    """SIGTERM and SIGHUP (a cancelled CI job, ``timeout``, a closed terminal) end the command as
    ``sys.exit`` does, so that every ``finally`` and exit handler runs (and files are removed)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, _exit_on)


@contextlib.contextmanager
def _private_directory() -> Iterator[str]:
    """A directory only this user can read, removed on the way out whatever happens."""
    import shutil
    import tempfile

    exit_on_termination()
    directory = tempfile.mkdtemp(prefix="compile-kube-")
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        _forget_files(directory)


def _forget_files(directory: str) -> None:
    """The kubernetes client caches the files it wrote by content; they are gone now."""
    try:
        from kubernetes.config import kube_config
    except ImportError:  # pragma: no cover - the client is a dependency
        return
    cache = getattr(kube_config, "_temp_files", None)
    if isinstance(cache, dict):
        for key, path in list(cache.items()):
            if str(path).startswith(directory + os.sep):
                del cache[key]


def _read_bytes(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ClusterUnavailable(f"cannot read the kubeconfig's {what} {path}: {exc}") from None


def _in_memory_tls(configuration) -> Any:
    """Move the certificate authority into ``ca_cert_data`` and the client certificate and key
    into an SSL context, so that no request needs their files; the context, or None."""
    import ssl

    if configuration.ssl_ca_cert:
        data = _read_bytes(configuration.ssl_ca_cert, "certificate authority")
        try:
            configuration.ca_cert_data = data.decode("ascii")  # PEM
        except UnicodeDecodeError:
            configuration.ca_cert_data = data  # DER
        configuration.ssl_ca_cert = None
    if not configuration.cert_file:
        return None
    from urllib3.util.ssl_ import create_urllib3_context

    context = create_urllib3_context()
    try:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ClusterUnavailable(
            f"cannot use the kubeconfig's client certificate: {_one_line(exc)}"
        ) from None
    configuration.cert_file = configuration.key_file = None
    return context


def connect(
    context: str | None = None, namespace: str | None = None, timeout: float | None = None
) -> Kube:
    """A client for the cluster of ``context`` (default: the current one); every wait on the
    API server is bounded by ``timeout`` seconds (default: ``COMPILE_TIMEOUT``, else 30)."""
    from kubernetes.client import ApiClient

    with _private_directory() as private:
        configuration, context_namespace, where = _load_configuration(context, private)
        ssl_context = _in_memory_tls(configuration)
    configuration.retries = (
        False  # the watcher retries by itself; a refused connection fails at once
    )
    api = ApiClient(configuration)
    if ssl_context is not None:
        pool_manager = api.rest_client.pool_manager
        pool_manager.connection_pool_kw["ssl_context"] = ssl_context
        pool_manager.clear()
    return Kube(
        api,
        namespace or context_namespace or "default",
        configuration.host,
        where,
        timeout if timeout is not None else default_timeout(),
    )


def default_timeout() -> float:
    """``COMPILE_TIMEOUT`` when it holds a positive number of seconds, else 30."""
    try:
        value = float(os.environ.get(TIMEOUT_ENV, ""))
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if 0 < value < 1e6 else DEFAULT_TIMEOUT


# ---------------------------------------------------------------------------------------------
# requests


@dataclass
class Kube:
    api: Any  # kubernetes.client.ApiClient, imported only here and only when used
    namespace: str
    host: str
    where: str
    timeout: float = DEFAULT_TIMEOUT  # seconds: connecting, an answer's headers, a silent stream

    def url(self, path: str) -> str:
        return self.host.rstrip("/") + path

    def _send(
        self,
        method: str,
        path: str,
        query: dict | None,
        body,
        content_type: str | None,
        read_timeout: float | None = None,
    ):
        import urllib3
        from kubernetes.client.exceptions import ApiException

        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        query_items = [(k, v) for k, v in (query or {}).items() if v is not None]
        url_path = path + ("?" + urlencode(query_items) if query_items else "")
        wait = read_timeout if read_timeout is not None else self.timeout
        try:
            method, url, headers, body, _ = self.api.param_serialize(
                method, url_path, header_params=headers, body=body, auth_settings=["BearerToken"]
            )
            response = self.api.call_api(
                method, url, header_params=headers, body=body, _request_timeout=(self.timeout, wait)
            )
        except urllib3.exceptions.ReadTimeoutError:
            raise ClusterUnavailable(
                f"the Kubernetes API server at {self.host} did not answer within {wait:g}s"
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterUnavailable(
                f"cannot reach the Kubernetes API server at {self.host}: {_reason(exc)}"
            ) from None
        except ApiException as exc:  # the client turns TLS failures into these (status 0)
            raise ClusterUnavailable(
                f"cannot reach the Kubernetes API server at {self.host}: "
                f"{_one_line(exc.reason or exc)}"
            ) from None
        return response.response  # the urllib3 response, not read yet

    def _body(self, raw, path: str) -> bytes:
        """The whole answer, at most MAX_BODY bytes (_TooLarge beyond)."""
        import urllib3

        declared = raw.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY:
            raise _TooLarge()
        chunks, size = [], 0
        try:
            while True:
                chunk = raw.read(1 << 16)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_BODY:
                    raise _TooLarge()
                chunks.append(chunk)
        except urllib3.exceptions.ReadTimeoutError:
            raise ClusterUnavailable(
                f"the Kubernetes API server at {self.host} stopped answering {path} "
                f"for {self.timeout:g}s"
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterUnavailable(
                f"lost the connection to {self.host}: {_reason(exc)}"
            ) from None
        finally:
            raw.release_conn()
        return b"".join(chunks)

    def _answer(self, raw, method: str, path: str, watch: bool = False) -> dict:
        """The checked answer of a request; ApiError for an HTTP error."""
        url = self.url(path)
        try:
            data = self._body(raw, path)
        except _TooLarge:
            raise NotKubernetes(url, f"the answer is larger than {MAX_BODY >> 20} MiB") from None
        content_type = raw.headers.get("Content-Type") or ""
        if 200 <= raw.status < 300:
            kind, listing = answer_of_path(path)
            if method != "GET":  # a POST to a collection answers the object it made
                listing = None if listing else listing
            return checked(decoded(data, content_type, url), url, kind, listing)
        raise _error(raw.status, raw.reason, data, content_type, method, path, url, watch)

    def request(
        self,
        method: str,
        path: str,
        query: dict | None = None,
        body=None,
        content_type: str | None = None,
    ) -> dict:
        raw = self._send(method, path, query, body, content_type)
        return self._answer(raw, method, path)

    def get(self, path: str, **query) -> dict:
        return self.request("GET", path, query)

    def pages(self, path: str, **query) -> Iterator[dict]:
        """Every item of a list, read page by page (``limit``/``continue``): memory holds the
        page being read and the next one, asked for while this one is used."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1, thread_name_prefix="compile-page") as pool:
            listed, limit = self._page(path, query, None, PAGE_LIMIT)
            while True:
                token = (listed.get("metadata") or {}).get("continue")
                following = pool.submit(self._page, path, query, token, limit) if token else None
                items = listed.pop("items", None) or []
                items.reverse()
                while items:  # each object freed once used
                    yield items.pop()
                if following is None:
                    return
                listed, limit = following.result()

    def _page(self, path: str, query: dict, token: str | None, limit: int) -> tuple[dict, int]:
        """One page of a list, and the limit it was asked with: a page larger than MAX_BODY
        is asked again with a smaller limit."""
        while True:
            raw = self._send(
                "GET", path, {**query, "limit": str(limit), "continue": token}, None, None
            )
            try:
                listed = self._answer(raw, "GET", path)
            except NotKubernetes as exc:
                if "larger than" not in exc.why or limit == 1:
                    raise
                limit = max(1, limit // 10)
                continue
            items = listed.get("items") or []
            if len(items) > limit:
                raise NotKubernetes(
                    self.url(path), f"asked for at most {limit} items, got {len(items)}"
                )
            return listed, limit

    def stream_lines(
        self, path: str, query: dict | None = None, silence: float | None = None
    ) -> Iterator[bytes]:
        """The response body line by line as it arrives (a watch, a followed log).

        Ends when the server closes the stream; a broken connection raises ClusterUnavailable, a
        stream silent for ``silence`` seconds (default: the timeout) StreamSilent."""
        import urllib3

        wait = silence if silence is not None else self.timeout
        raw = self._send("GET", path, query, None, None, wait)
        if not 200 <= raw.status < 300:
            self._answer(raw, "GET", path, watch=bool((query or {}).get("watch")))
        pending = b""
        try:
            for chunk in raw.stream(4096, decode_content=True):
                pending += chunk
                if len(pending) > MAX_BODY:
                    raise NotKubernetes(self.url(path), "a line longer than 8 MiB")
                *lines, pending = pending.split(b"\n")
                yield from lines
            if pending:
                yield pending
        except urllib3.exceptions.ReadTimeoutError:
            raise StreamSilent(
                f"the Kubernetes API server at {self.host} said nothing for {wait:g}s"
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterUnavailable(
                f"lost the connection to {self.host}: {_reason(exc)}"
            ) from None
        finally:
            raw.release_conn()

    def events(
        self, path: str, query: dict, silence: float | None = None
    ) -> Iterator[tuple[str, dict]]:
        """A watch's events, (type, object), each checked."""
        url, kind = self.url(path), answer_of_path(path)[0]
        for line in self.stream_lines(path, query, silence):
            if line.strip():
                yield checked_event(line, url, kind)


def _error(
    status: int,
    reason: str,
    data: bytes,
    content_type: str,
    method: str,
    path: str,
    url: str,
    watch: bool,
) -> ClusterError:
    """An HTTP error as the exception it is (see errors.py for the exit codes)."""
    if status >= 500 or status == 429:  # whatever sits in front of the server may have said it
        try:
            said = error_status(data, content_type, url) or {}
        except NotKubernetes:
            said = {}
        message = said.get("message") or reason
        return ApiError(status, said.get("reason") or reason, message, method=method, path=path)
    body = error_status(data, content_type, url)
    if body is None:  # Go's "404 page not found": a path the server does not serve
        return ApiError(
            status,
            reason,
            "404 page not found",
            method=method,
            path=path,
            group_missing=status == 404,
        )
    details = body.get("details") or {}
    return ApiError(
        status,
        body.get("reason") or reason,
        body.get("message") or reason,
        method=method,
        path=path,
        group_missing=status == 404 and not details.get("name"),
        watch=watch,
    )


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
