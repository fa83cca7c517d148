"""The only door to the API server: plain-dict REST over the standard library (transport.py).

The kubeconfig is found as kubectl finds it (kubeconfig.py: ``KUBECONFIG``, else
``~/.kube/config``, else the in-cluster service account), with ``--context`` and ``--namespace``.
Connection problems become :class:`ClusterUnavailable` (one line, exit 3); HTTP errors
:class:`ApiError` with the server's own message; an answer that is not what a Kubernetes API server
sends, :class:`NotKubernetes` (``responses.py`` checks every answer before anything reads it).

Every wait is bounded by the command's ``--timeout`` (:attr:`Kube.timeout`): connecting, and each
answer's headers; on a stream, silence. A list is read page by page (``limit``/``continue``) and
an answer larger than :data:`MAX_BODY` is not read at all, so memory does not grow with the cluster.

Credentials stay in memory: nothing is written to disk (transport.py says how TLS gets them).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .errors import ApiError, ClusterError, ClusterUnavailable, NotKubernetes
from .kinds import answer_of_path
from .responses import checked, checked_event, decoded, error_status
from .transport import Broken, Timeout, Transport, exit_on_termination, read_chunk

__all__ = ["ApiError", "ClusterError", "ClusterUnavailable", "Kube", "NotKubernetes", "connect"]

DEFAULT_TIMEOUT = 30.0  # seconds: --timeout, or COMPILE_TIMEOUT
TIMEOUT_ENV = "COMPILE_TIMEOUT"
MAX_BODY = 8 << 20  # bytes of one answer (one object is at most ~1.5 MiB in etcd)
PAGE_LIMIT = 250  # objects a list page asks for
CHUNK = 1 << 16


class StreamSilent(ClusterUnavailable):
    """A stream (a watch, a followed log) said nothing for longer than it may."""


class _TooLarge(Exception):
    pass


def connect(
    context: str | None = None, namespace: str | None = None, timeout: float | None = None
) -> Kube:
    """A client for the cluster of ``context`` (default: the current one); every wait on the
    API server is bounded by ``timeout`` seconds (default: ``COMPILE_TIMEOUT``, else 30)."""
    from .kubeconfig import load_target

    exit_on_termination()
    target = load_target(context)
    return Kube(
        Transport(target),
        namespace or target.namespace or "default",
        target.server,
        target.where,
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
    api: Any  # transport.Transport: the connections to the API server
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
        accept: str = "application/json",
    ):
        """The response with its headers read (its body not yet)."""
        headers = {"Accept": accept}
        if body is not None and not isinstance(body, bytes | str):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        query_items = [(k, v) for k, v in (query or {}).items() if v is not None]
        url_path = path + ("?" + urlencode(query_items) if query_items else "")
        wait = read_timeout if read_timeout is not None else self.timeout
        try:
            return self.api.send(
                method, url_path, headers, body, self.timeout, wait, keep=read_timeout is None
            )
        except Timeout:
            raise ClusterUnavailable(
                f"the Kubernetes API server at {self.host} did not answer within {wait:g}s"
            ) from None
        except Broken as exc:
            raise ClusterUnavailable(
                f"cannot reach the Kubernetes API server at {self.host}: {exc.reason}"
            ) from None

    def _body(self, raw, path: str) -> bytes:
        """The whole answer, at most MAX_BODY bytes (_TooLarge beyond)."""
        declared = raw.getheader("Content-Length")
        try:
            if declared and declared.isdigit() and int(declared) > MAX_BODY:
                raise _TooLarge()
            chunks, size = [], 0
            while True:
                chunk = read_chunk(raw, CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_BODY:
                    raise _TooLarge()
                chunks.append(chunk)
        except Timeout:
            raise ClusterUnavailable(
                f"the Kubernetes API server at {self.host} stopped answering {path} "
                f"for {self.timeout:g}s"
            ) from None
        except Broken as exc:
            raise ClusterUnavailable(f"lost the connection to {self.host}: {exc.reason}") from None
        finally:
            self.api.release(raw)
        return b"".join(chunks)

    def _answer(self, raw, method: str, path: str, watch: bool = False) -> dict:
        """The checked answer of a request; ApiError for an HTTP error."""
        url = self.url(path)
        try:
            data = self._body(raw, path)
        except _TooLarge:
            raise NotKubernetes(url, f"the answer is larger than {MAX_BODY >> 20} MiB") from None
        content_type = raw.getheader("Content-Type") or ""
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
        listed, limit = self._page(path, query, None, PAGE_LIMIT)
        pool = None
        try:
            while True:
                token = (listed.get("metadata") or {}).get("continue")
                following = None
                if token:
                    if pool is None:  # one page (most lists) needs no thread
                        from concurrent.futures import ThreadPoolExecutor

                        pool = ThreadPoolExecutor(1, thread_name_prefix="compile-page")
                    following = pool.submit(self._page, path, query, token, limit)
                items = listed.pop("items", None) or []
                items.reverse()
                while items:  # each object freed once used
                    yield items.pop()
                if following is None:
                    return
                listed, limit = following.result()
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

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
        wait = silence if silence is not None else self.timeout
        raw = self._send("GET", path, query, None, None, wait)
        if not 200 <= raw.status < 300:
            self._answer(raw, "GET", path, watch=bool((query or {}).get("watch")))
        pending = b""
        try:
            while chunk := read_chunk(raw, CHUNK):
                pending += chunk
                if len(pending) > MAX_BODY:
                    raise NotKubernetes(self.url(path), "a line longer than 8 MiB")
                *lines, pending = pending.split(b"\n")
                yield from lines
            if pending:
                yield pending
        except Timeout:
            raise StreamSilent(
                f"the Kubernetes API server at {self.host} said nothing for {wait:g}s"
            ) from None
        except Broken as exc:
            raise ClusterUnavailable(f"lost the connection to {self.host}: {exc.reason}") from None
        finally:
            self.api.release(raw)

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
